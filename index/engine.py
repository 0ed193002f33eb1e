"""The engine facade every front end uses: index, ask, status, add_file. Knows nothing of Discord.

All methods block (model and index work); async front ends call them with `asyncio.to_thread`.
They are safe to call from several threads at once: asks run concurrently, index runs are serialized
(across processes too, by a lock in the data folder). Each ask first checks, with one cheap query,
whether another writer committed a newer index generation, and if so loads it (live reload).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import vectors
from .answers import AnswerBuilder
from .embedding import Embedder, set_threads
from .indexer import run_index, verify
from .lexical import LexicalIndex, SegmentedLexical
from .questions import analyze
from .loaders import SUPPORTED_SUFFIXES
from .records import Answer, IndexReport, IndexStatus, SourceInfo
from .retrieval import Retriever, make_fusion
from .settings import Settings
from .store import IndexError_, Snapshot, Store

log = logging.getLogger(__name__)

__all__ = ["Engine", "IndexError_"]


@dataclass
class _View:
    snapshot: Snapshot
    retriever: Retriever
    builder: AnswerBuilder


class Engine:
    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._cross_encoder = None
        self._view: _View | None = None
        self._base: tuple | None = None  # (key, base vectors, base BM25) of the loaded generation
        self._view_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        set_threads(self.settings.query_threads)

    # --- resources --------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = Embedder.from_settings(self.settings)
            return self._embedder

    @property
    def cross_encoder(self):
        """The optional CrossEncoder reranker (NEWSDESK_RERANKER), loaded once."""
        if not self.settings.reranker:
            return None
        with self._embedder_lock:
            if self._cross_encoder is None:
                from sentence_transformers import CrossEncoder

                log.info("loading reranker %s", self.settings.reranker)
                self._cross_encoder = CrossEncoder(self.settings.reranker, device=self.settings.device)
            return self._cross_encoder

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(Path(self.settings.data))
            self._local.store = store
        return store

    # --- writing ----------------------------------------------------------------------------------
    def index(self, *, rebuild: bool = False, progress: bool | None = None,
              paths: list[str | Path] | None = None) -> IndexReport:
        """Bring the index up to date with the corpus folder (only at `paths`, files or folders, when given);
        returns what changed."""
        with self._write_lock:
            report = run_index(self.settings, lambda: self.embedder, rebuild=rebuild, progress=progress,
                               lock_timeout=self.settings.lock_timeout, paths=paths)
        self._refresh(force=False)
        return report

    def add_file(self, name: str, data: bytes) -> tuple[Path, IndexReport]:
        """Save `data` as `name` in the corpus folder and index it. Raises ValueError with a user-facing
        reason for an unsupported, empty or oversized file."""
        safe = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .")
        suffix = Path(safe).suffix.lower()
        if not safe or suffix not in SUPPORTED_SUFFIXES:
            raise ValueError(
                f"unsupported file type {suffix or '(none)'}: send one of {', '.join(sorted(SUPPORTED_SUFFIXES))}"
            )
        limit = self.settings.max_file_mb * 1024 * 1024
        if len(data) > limit:
            raise ValueError(f"file too large ({len(data) / 1048576:.1f} MB > {self.settings.max_file_mb:g} MB)")
        if not data.strip():
            raise ValueError("the file is empty")
        corpus = Path(self.settings.corpus)
        corpus.mkdir(parents=True, exist_ok=True)
        target = corpus / safe
        tmp = corpus / f".{safe}.part"
        tmp.write_bytes(data)
        tmp.replace(target)
        rel = target.relative_to(corpus).as_posix()
        report = self.index(progress=False, paths=[rel])
        bad = [s for s in report.skipped if s.path == rel]
        if bad:
            target.unlink(missing_ok=True)
            self.index(progress=False, paths=[rel])
            raise ValueError(f"{safe} could not be indexed: {bad[0].reason}")
        return target, report

    # --- reading ----------------------------------------------------------------------------------
    def _refresh(self, force: bool) -> _View | None:
        store = self._store()
        gen = store.generation()
        with self._view_lock:
            if self._view is not None and self._view.snapshot.generation == gen and not force:
                return self._view
            if gen == 0:
                self._view = None
                return None
            verify(store)
            self._view = self._load(store)
            return self._view

    def _load(self, store: Store) -> _View:
        meta = store.meta()
        if meta.get("model") != self.settings.model:
            store.check_model(self.settings.model, int(meta.get("dimension", 0)))
        for attempt in range(3):
            snap = store.snapshot(self._store)
            try:
                vecs, lexical = self._open(snap)
                break
            except (OSError, RuntimeError, ValueError):
                if attempt == 2:
                    raise
                log.info("index generation %d replaced while loading; retrying", snap.generation)
        log.info("loaded index generation %d (%d chunks)", snap.generation, vecs.ntotal)
        dim = int(meta.get("dimension", 0))
        return _View(snap, Retriever(vecs, lexical, make_fusion(self.settings.fusion)),
                     AnswerBuilder(snap, lexical, lambda hashes: self._store().get_sentences(hashes, dim),
                                   cross_encoder=self.cross_encoder, embed_quotes=self._embed_quotes,
                                   quote_weight=self.settings.quote_weight,
                                   conn_of=lambda: self._store().conn))

    def _embed_quotes(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts, batch_size=max(1, len(texts)))

    def _open(self, snap: Snapshot) -> tuple[vectors.VectorSet, SegmentedLexical]:
        """A generation's vectors and BM25: its base (memory-mapped; kept from the previous generation when it
        is the same base, by name and checksum) and its delta."""
        assert snap.faiss_path and snap.bm25_path and snap.delta_path
        key = (str(snap.faiss_path), snap.meta.get("faiss_sha256"), snap.meta.get("bm25_sha256"))
        cached = self._base
        if cached is None or cached[0] != key:
            cached = self._base = (key, vectors.load(snap.faiss_path), LexicalIndex.load(snap.bm25_path, mmap=True))
        return (vectors.VectorSet.load_delta(snap.delta_path, cached[1]),
                SegmentedLexical.load(snap.delta_path, base=cached[2]))

    def ask(self, question: str, *, k: int | None = None,
            asked_at: dt.datetime | dt.date | None = None) -> Answer:
        """Answer with verbatim quotes. Indexes first when there is no index yet."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        k = k or self.settings.top_k
        view = self._refresh(force=False)
        if view is None:
            self.index()
            view = self._refresh(force=False)
        if view is None:
            return Answer(question, True, [])
        info = analyze(question, asked_at or dt.datetime.now())
        qvec = self.embedder.encode_query(question)
        candidates = view.retriever.search(qvec, question, k=30, allow=view.builder.allow_for(info))
        return view.builder.build(info, qvec, candidates, k)

    def status(self) -> IndexStatus:
        """What is indexed: counts, last update time, per-document info."""
        store = self._store()
        meta = store.meta()
        rows = store.conn.execute(
            "SELECT d.path, d.title, d.source, d.date, d.url, COUNT(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.path = d.path GROUP BY d.path ORDER BY d.path"
        ).fetchall()
        sources = [SourceInfo(*r) for r in rows]
        return IndexStatus(
            documents=len(sources),
            chunks=sum(s.chunks for s in sources),
            updated_at=meta.get("updated_at"),
            model=meta.get("model", self.settings.model),
            sources=sources,
        )
