"""Instance checks against the classes of modules loaded only when needed
(ssl, asyncio, the TLS socket), without importing them: until a module is
loaded, nothing can be an instance of its classes."""

from __future__ import annotations

import sys


def instance_of_loaded(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)``, False while `module` is not loaded."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


__all__ = ["instance_of_loaded"]
