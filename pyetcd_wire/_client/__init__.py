"""What the sync and the asyncio client share and neither driver owns
(ARCHITECTURE.md, "Layers"): it imports no driver, and both import it."""
