"""A stand-in embedder for tests where the model is not the point (index runs, the data folder, upgrades).

Each text's vector is a unit vector drawn from a generator seeded by the text's sha256: the same text always
gets the same vector (so the embeddings cache, checksums and a re-run behave as with the model), different
texts get nearly orthogonal ones. It has the `Embedder` methods the indexer and the engine call, and the
model's name and dimension, so an index it writes passes the model check of a later run with it.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

MODEL = "all-MiniLM-L6-v2"  # the default model's name and dimension: Settings() needs no override
DIM = 384


class FakeEmbedder:
    """Deterministic text-seeded unit vectors in place of the sentence-transformers model."""

    def __init__(self, name: str = MODEL, dim: int = DIM) -> None:
        self.name, self.dim = name, dim

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts: Sequence[str], **_kw: object) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dim)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def encode_chunks(self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]],
                      **_kw: object) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.encode(texts), [self.encode([t[s:e] for s, e in spans]) for t, spans in zip(texts, sentences)]

    def block_size(self, batch_size: int, cpu_block: int) -> int:
        return cpu_block
