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

from .answers import AnswerBuilder
from .embedding import Embedder, set_threads
from .questions import analyze
from .loaders import SUPPORTED_SUFFIXES
from .records import Answer, IndexReport, IndexStatus
from .settings import Settings
from .store import DocRow, IndexError_, Store
from .stores import IndexStore, IndexView, open_store
from .stores.base import Searcher

log = logging.getLogger(__name__)

__all__ = ["Engine", "IndexError_"]


@dataclass
class _View:
    snapshot: IndexView  # the store's view of the loaded generation
    retriever: Searcher
    builder: AnswerBuilder


class Engine:
    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._cross_encoder = None
        self.store: IndexStore = open_store(self.settings)
        self._view: _View | None = None
        self._view_lock = threading.Lock()
        self._write_lock = threading.Lock()
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
        """This thread's SQLite access to the embedded store's data folder (tests and tools)."""
        return self.store.sql()  # type: ignore[attr-defined]

    # --- writing ----------------------------------------------------------------------------------
    def index(self, *, rebuild: bool = False, progress: bool | None = None,
              paths: list[str | Path] | None = None) -> IndexReport:
        """Bring the index up to date with the corpus folder (only at `paths`, files or folders, when given);
        returns what changed."""
        with self._write_lock:
            report = self.store.index(lambda: self.embedder, rebuild=rebuild, progress=progress, paths=paths)
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
        gen = self.store.generation()
        with self._view_lock:
            if self._view is not None and self._view.snapshot.generation == gen and not force:
                return self._view
            if gen == 0:
                self._view = None
                return None
            view = self.store.open_view()
            self._view = _View(view, view.retriever,
                               AnswerBuilder(view, view, view.sentences, cross_encoder=self.cross_encoder,
                                             embed_quotes=self._embed_quotes, quote_weight=self.settings.quote_weight))
            return self._view

    def _embed_quotes(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts, batch_size=max(1, len(texts)))

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
        candidates = view.retriever.search(qvec, question, k=30)
        return view.builder.build(info, qvec, candidates, k)

    def status(self) -> IndexStatus:
        """What is indexed: counts, last update time, per-document info."""
        return self.store.status()

    def document(self, path: str) -> DocRow | None:
        """The indexed document at `path` (its clean text all quote offsets refer to), or None."""
        return self.store.document(path)
