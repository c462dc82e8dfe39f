"""The asyncio driver: the same sans-IO core and policies as `_sync`, with
the event loop doing the I/O."""
