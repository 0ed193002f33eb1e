"""The one read/write interface of an index, whatever holds it.

An `IndexStore` is where an index lives (the embedded FAISS + SQLite data folder, or a Milvus server): it runs
index runs (`index`), says which generation is current, opens an `IndexView` of it, and reports what is indexed.
An `IndexView` is everything a question reads from one generation: hybrid retrieval (`retriever`), chunk rows
with their documents, sentence spans and vectors, and BM25 term statistics (`df`, `idf`) for the answer
builder's coverage features. `index/stores/__init__.py` chooses the implementation from `NEWSDESK_STORE`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..records import IndexReport, IndexStatus
from ..errors import IndexProblem
from ..store import ChunkRow, DocRow

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..retrieval import Candidate


class StoreUnavailable(IndexProblem):
    """The index's server cannot be reached or refuses this client (down, wrong address, bad credentials)."""


class Searcher(Protocol):
    def search(self, query_vec: np.ndarray, query_text: str, k: int = 30,
               allow: Callable[[np.ndarray], np.ndarray] | None = None) -> list["Candidate"]:
        """The best `k` chunks for a question by dense and BM25 retrieval, fused; `allow(ids)` (a boolean mask)
        keeps only some chunks (those published by the time the question was asked)."""
        ...


class IndexView(Protocol):
    """One generation of an index, as a question reads it. Chunk ids a newer generation removed are simply
    absent from `chunks`' answer."""

    generation: int
    retriever: Searcher

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        """The rows of these chunk ids that still exist, each with its document."""
        ...

    def sentences(self, hashes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per chunk text hash: sentence spans (n x 2, chunk-relative) and float32 sentence vectors (n x dim)."""
        ...

    def df(self, term: str) -> int:
        """How many live chunks hold the BM25 term (`lexical.terms`' analysis)."""
        ...

    def idf(self, term: str) -> float:
        """The term's BM25 idf over the live chunks."""
        ...


class IndexStore(Protocol):
    def generation(self) -> int:
        """The current generation; 0 when nothing was indexed yet. Cheap: asked before every question."""
        ...

    def open_view(self) -> IndexView:
        """A view of the current generation. Raises an IndexProblem (with how to fix it) when the index is
        damaged, built with another model, or unreachable."""
        ...

    def index(self, get_embedder: Callable[[], "Embedder"], *, rebuild: bool = False, progress: bool | None = None,
              paths: list[str | Path] | None = None) -> IndexReport:
        """Bring the index up to date with the corpus folder (only at `paths` when given)."""
        ...

    def status(self) -> IndexStatus:
        ...

    def document(self, path: str) -> DocRow | None:
        """The indexed document at `path` as it is now (None when not indexed)."""
        ...
