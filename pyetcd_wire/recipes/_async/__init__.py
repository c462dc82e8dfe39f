"""The recipes: the asyncio modules here are the source; scripts/unasync.py
makes the sync twins in `recipes/_sync` from them."""
