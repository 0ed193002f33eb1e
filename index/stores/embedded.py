"""The embedded store: FAISS + BM25 generation files and SQLite in the data folder (index/store.py,
index/indexer.py), behind the `IndexStore` interface. It wraps that code unchanged."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .. import vectors
from ..embedding import Embedder
from ..indexer import run_index, verify
from ..lexical import LexicalIndex, SegmentedLexical
from ..records import IndexReport, IndexStatus, SourceInfo
from ..retrieval import Retriever, make_fusion
from ..settings import Settings
from ..speaker_index import SpeakerIndex
from ..timeline import Timeline
from ..store import ChunkRow, DocRow, Snapshot, Store, meta_int

log = logging.getLogger(__name__)


class EmbeddedView:
    """One generation: its memory-mapped vectors and BM25, chunk rows read from SQLite when asked for."""

    def __init__(self, snapshot: Snapshot, vecs: vectors.VectorSet, lexical: SegmentedLexical, fusion: str,
                 sql: Callable[[], Store]) -> None:
        self.snapshot = snapshot
        self.generation = snapshot.generation
        self.vectors = vecs
        self.lexical = lexical
        self.retriever = Retriever(vecs, lexical, make_fusion(fusion))
        self._sql = sql
        self._dim = meta_int(snapshot.meta, "dimension", sql().dir)

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        return self.snapshot.chunks(ids)

    def sentences(self, hashes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return self._sql().get_sentences(hashes, self._dim)

    def sql(self) -> Store:
        """This thread's SQLite access to the data folder."""
        return self._sql()

    def timeline(self) -> Timeline:
        return Timeline.load(self._sql())

    def speakers(self) -> SpeakerIndex:
        return SpeakerIndex.load(self._sql())

    def chunk_vectors(self, ids: list[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        return self._sql().chunk_vectors(ids, dim)

    def titles(self) -> list[tuple[str, str | None, str | None]]:
        return self._sql().titles()

    def document(self, path: str) -> DocRow | None:
        return self._sql().document(path)

    def df(self, term: str) -> int:
        return self.lexical.df(term)

    def idf(self, term: str) -> float:
        return self.lexical.idf(term)


class EmbeddedStore:
    """The data folder of `settings.data`. Safe to use from several threads (one SQLite connection each)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._base: tuple | None = None  # (key, base vectors, base BM25) of the loaded generation

    def sql(self) -> Store:
        """This thread's SQLite access to the data folder."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(Path(self.settings.data))
            self._local.store = store
        return store

    def generation(self) -> int:
        return self.sql().generation()

    def index(self, get_embedder: Callable[[], Embedder], *, rebuild: bool = False, progress: bool | None = None,
              paths: list[str | Path] | None = None) -> IndexReport:
        return run_index(self.settings, get_embedder, rebuild=rebuild, progress=progress,
                         lock_timeout=self.settings.lock_timeout, paths=paths)

    def open_view(self) -> EmbeddedView:
        store = self.sql()
        verify(store)
        meta = store.meta()
        if meta.get("model") != self.settings.model:
            store.check_model(self.settings.model, meta_int(meta, "dimension", store.dir))
        for attempt in range(3):
            snap = store.snapshot(self.sql)
            try:
                vecs, lexical = self._open(snap)
                break
            except (OSError, RuntimeError, ValueError):
                if attempt == 2:
                    raise
                log.info("index generation %d replaced while loading; retrying", snap.generation)
        log.info("loaded index generation %d (%d chunks)", snap.generation, vecs.ntotal)
        return EmbeddedView(snap, vecs, lexical, self.settings.fusion, self.sql)

    def _open(self, snap: Snapshot) -> tuple[vectors.VectorSet, SegmentedLexical]:
        """A generation's vectors and BM25: its base (memory-mapped; kept from the previous generation when it
        is the same base, by name and checksum) and its delta."""
        assert snap.faiss_path and snap.bm25_path and snap.delta_path
        key = (str(snap.faiss_path), snap.meta.get("faiss_sha256"), snap.meta.get("bm25_sha256"))
        cached = self._base
        if cached is None or cached[0] != key:
            cached = self._base = (key, vectors.load(snap.faiss_path, gpu=self.settings.faiss_gpu),
                                   LexicalIndex.load(snap.bm25_path, mmap=True))
        return (vectors.VectorSet.load_delta(snap.delta_path, cached[1]),
                SegmentedLexical.load(snap.delta_path, base=cached[2]))

    def status(self) -> IndexStatus:
        store = self.sql()
        meta = store.meta()
        sources = [SourceInfo(*r) for r in store.sources()]
        return IndexStatus(
            documents=len(sources),
            chunks=sum(s.chunks for s in sources),
            updated_at=meta.get("updated_at"),
            model=meta.get("model", self.settings.model),
            sources=sources,
        )

    def indexed(self, names: list[str]) -> list[str]:
        return sorted(self.sql().document_stats(under=names))

    def document(self, path: str) -> DocRow | None:
        return self.sql().document(path)
