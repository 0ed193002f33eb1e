"""Values computed in batches and remembered by key in a bounded LRU map (cachetools), for work that has a fixed
cost per call and comes back for the same keys: the terms of short texts (`lexical.terms_of`) and the vectors of
returned quotes (`vector_cache.TextVectors`)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchMemo(Generic[K, V]):
    """`get(keys)`: one value per key, from the map or from `compute` (called once, with the missing keys only,
    each once, in first-seen order); computed values are remembered when `keep(key)` allows. Thread-safe."""

    def __init__(self, compute: Callable[[list[K]], Sequence[V]], size: int,
                 keep: Callable[[K], bool] | None = None) -> None:
        self._compute = compute
        self._keep = keep
        self._map: LRUCache[K, V] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, keys: Sequence[K]) -> list[V]:
        with self._lock:
            found = [self._map.get(k) for k in keys]
        missing = list(dict.fromkeys(k for k, v in zip(keys, found) if v is None))
        if not missing:
            return found  # type: ignore[return-value]
        new = dict(zip(missing, self._compute(missing)))
        with self._lock:
            for k, v in new.items():
                if self._keep is None or self._keep(k):
                    self._map[k] = v
        return [new[k] if v is None else v for k, v in zip(keys, found)]
