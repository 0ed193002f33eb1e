"""The one read/write interface of an index, whatever holds it.

An `IndexStore` is where an index lives (the embedded FAISS + SQLite data folder, or a Milvus server): it runs
index runs (`index`), says which generation is current, opens an `IndexView` of it, and reports what is indexed.
An `IndexView` is everything a question reads from one generation: hybrid retrieval (`retriever`), chunk rows
with their documents, sentence spans and vectors, and BM25 term statistics (`df`, `idf`) for the answer
builder's coverage features, and the per-generation tables of news questions: when each chunk was published
(`timeline`: the as-of filter and pinned days), who is quoted where (`speakers`), the stored vectors of the
chunks those reach (`chunk_vectors`), and the documents' bylines (`titles`, `document`: "who wrote ...").
`index/stores/__init__.py` chooses the implementation from `NEWSDESK_STORE`.
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
    from ..speaker_index import SpeakerIndex
    from ..timeline import Timeline


class StoreUnavailable(IndexProblem):
    """The index's server cannot be reached or refuses this client (down, wrong address, bad credentials)."""


class Searcher(Protocol):
    def search(self, query_vec: np.ndarray, query_text: str, k: int = 30,
               allow: Callable[[np.ndarray], np.ndarray] | None = None) -> list["Candidate"]:
        """The best `k` chunks for a question by dense and BM25 retrieval, fused; `allow(ids)` (a boolean mask)
        keeps only some chunks (those published by the time the question was asked; a `timeline.AsOf` a store
        may apply inside its own search)."""
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

    def timeline(self) -> "Timeline":
        """When each live chunk was published (read from the index; the caller keeps it for the generation)."""
        ...

    def speakers(self) -> "SpeakerIndex":
        """The attributed quotations of the live documents by speaker (read from the index; kept by the caller)."""
        ...

    def chunk_vectors(self, ids: list[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored dense vectors of these chunk ids: (ids found, n x dim float32)."""
        ...

    def titles(self) -> list[tuple[str, str | None, str | None]]:
        """Per live document: (path, title, author), for finding an article by its name."""
        ...

    def document(self, path: str) -> DocRow | None:
        """The live document at `path` (None when not indexed)."""
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

    def indexed(self, names: list[str]) -> list[str]:
        """The indexed document paths at these corpus-relative paths or inside these folders."""
        ...

    def document(self, path: str) -> DocRow | None:
        """The indexed document at `path` as it is now (None when not indexed)."""
        ...
