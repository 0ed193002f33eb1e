"""newsdesk's engine (installed as `newsdesk.index`): `from newsdesk.index import Engine`.

The engine is imported on first use, so importing a light module such as `newsdesk.index.records` does not
load FAISS or the model code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from .engine import Engine

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
