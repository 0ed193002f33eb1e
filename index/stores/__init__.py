"""Where the index lives, chosen from settings (`NEWSDESK_STORE`): `embedded` (the default: FAISS + SQLite in the
data folder) or a Milvus server (`milvus://host:19530`). The Milvus module, and pymilvus, are imported only when
chosen, so the default path loads nothing new."""
from __future__ import annotations

from ..settings import Settings
from .base import IndexStore, IndexView, StoreUnavailable

__all__ = ["IndexStore", "IndexView", "StoreUnavailable", "open_store"]

MILVUS_SCHEMES = ("milvus://", "http://", "https://", "tcp://")


def open_store(settings: Settings) -> IndexStore:
    """The store `settings.store` names. Opening connects to nothing yet (the first request does)."""
    name = settings.store.strip()
    if name in ("", "embedded"):
        from .embedded import EmbeddedStore

        return EmbeddedStore(settings)
    if name.startswith(MILVUS_SCHEMES):
        from .milvus import MilvusStore

        return MilvusStore(settings)
    raise ValueError(f"unknown NEWSDESK_STORE {settings.store!r}: use embedded, or milvus://host:19530 for Milvus")
