"""Optional parts of polyfleet (the `probe`, `run` and `serve` extras), imported only when a
command needs them: one missing is one MissingExtraError naming the extra to install, never a
raw ModuleNotFoundError."""

from __future__ import annotations

import importlib
from types import ModuleType

from polyfleet.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """`module`, imported; a MissingExtraError saying that `what` needs `extra` if it cannot be
    (it, or a module it needs, is not installed)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(what, extra=extra, missing=exc.name or module) from None
