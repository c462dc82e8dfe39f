"""The recipes: the asyncio modules here are the source; scripts/gen_recipes.py
makes the sync twins in `recipes/_sync` from them."""
