"""FAISS storage: IndexIDMap2 over inner product (normalized vectors, so cosine), ids are chunk ids."""
from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np


def new_index(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def save(index: faiss.Index, path: Path) -> None:
    """Write to a temporary name, fsync, then rename into place (atomic on POSIX)."""
    tmp = path.with_name(f".tmp-{path.name}")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove(index: faiss.Index, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def add(index: faiss.Index, vectors: np.ndarray, ids: list[int]) -> None:
    if ids:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if index.ntotal == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]
