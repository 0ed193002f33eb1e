"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused by a strategy chosen from settings."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import faiss
import numpy as np

from . import vectors
from .lexical import LexicalIndex, SegmentedLexical

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    chunk_id: int
    score: float  # fused
    dense: float  # cosine, 0 when not retrieved densely
    bm25: float  # raw BM25, 0 when not retrieved lexically
    dense_rank: int | None
    bm25_rank: int | None


class Fusion(Protocol):
    name: str

    def fuse(self, dense: tuple[np.ndarray, np.ndarray], lexical: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
        ...


class RRF:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the lists a chunk appears in."""

    name = "rrf"

    def __init__(self, k: int = 60, dense_weight: float = 1.0, lexical_weight: float = 1.0) -> None:
        self.k = k
        self.weights = (dense_weight, lexical_weight)

    def fuse(self, dense, lexical):
        out: dict[int, float] = {}
        for (ids, _), w in zip((dense, lexical), self.weights):
            for rank, cid in enumerate(ids):
                out[int(cid)] = out.get(int(cid), 0.0) + w / (self.k + rank + 1)
        return out


class Convex:
    """Convex combination of the dense cosine and the max-normalized BM25 score."""

    name = "convex"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def fuse(self, dense, lexical):
        out: dict[int, float] = {}
        for cid, s in zip(*dense):
            out[int(cid)] = self.alpha * float(s)
        ids, scores = lexical
        top = float(scores.max()) if len(scores) else 0.0
        for cid, s in zip(ids, scores):
            out[int(cid)] = out.get(int(cid), 0.0) + (1 - self.alpha) * (float(s) / top if top else 0.0)
        return out


FUSIONS = {"rrf": RRF, "convex": Convex}


def make_fusion(name: str) -> Fusion:
    try:
        return FUSIONS[name]()
    except KeyError:
        raise ValueError(f"unknown fusion {name!r}; choose one of {', '.join(FUSIONS)}") from None


class Retriever:
    def __init__(self, index: "faiss.Index | vectors.VectorSet", lexical: "LexicalIndex | SegmentedLexical",
                 fusion: Fusion) -> None:
        self.index = index
        self.lexical = lexical
        self.fusion = fusion

    def search(self, query_vec: np.ndarray, query_text: str, k: int = 30,
               allow: Callable[[np.ndarray], np.ndarray] | None = None, oversample: int = 8) -> list[Candidate]:
        """The best `k` chunks by fused rank. `allow(ids)` (a boolean mask) keeps only some chunks (those
        published by the time a question was asked): each retriever then looks `oversample` times deeper
        and the others are dropped before fusion, so ranks count allowed chunks only."""
        depth = k * oversample if allow is not None else k
        dense = vectors.search(self.index, query_vec, depth)
        lex = self.lexical.search(query_text, depth)
        if allow is not None:
            dense = _keep(dense, allow, k)
            lex = _keep(lex, allow, k)
        return fuse(self.fusion, dense, lex, k)


def fuse(fusion: Fusion, dense: tuple[np.ndarray, np.ndarray], lex: tuple[np.ndarray, np.ndarray],
         k: int) -> list[Candidate]:
    """The best `k` candidates of a dense and a BM25 list of (ids, scores), each best first, fused by `fusion`
    (every store's retriever ends here)."""
    fused = fusion.fuse(dense, lex)
    dense_of = {int(c): (float(s), r) for r, (c, s) in enumerate(zip(*dense))}
    lex_of = {int(c): (float(s), r) for r, (c, s) in enumerate(zip(*lex))}
    out = []
    for cid, score in sorted(fused.items(), key=lambda kv: -kv[1])[:k]:
        d = dense_of.get(cid)
        b = lex_of.get(cid)
        out.append(Candidate(cid, score, d[0] if d else 0.0, b[0] if b else 0.0,
                             d[1] if d else None, b[1] if b else None))
    return out


def _keep(found: tuple[np.ndarray, np.ndarray], allow: Callable[[np.ndarray], np.ndarray],
          k: int) -> tuple[np.ndarray, np.ndarray]:
    ids, scores = found
    if not len(ids):
        return found
    m = allow(ids)
    return ids[m][:k], scores[m][:k]
