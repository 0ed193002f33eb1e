"""The engine facade every front end uses: index, ask, status, add_file. Knows nothing of Discord.

All methods block (model and index work); async front ends call them with `asyncio.to_thread`.
They are safe to call from several threads at once: asks run concurrently, index runs are serialized
(across processes too, by a lock in the data folder). Each ask first checks, with one cheap query,
whether another writer committed a newer index generation, and if so loads it (live reload).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answers import AnswerBuilder
from .authorship import answer_author
from .embedding import Embedder, set_threads
from .questions import analyze
from .acceptance import max_bytes, plain_name, refusal
from .errors import IndexProblem
from .preparing import Job, Limits, prepare_all
from .records import Answer, IndexReport, IndexStatus, Warmup
from .settings import Settings
from .store import DocRow, Store, damage_reported
from .stores import IndexStore, IndexView, open_store
from .stores.base import Searcher
from .vector_cache import TextVectors

log = logging.getLogger(__name__)

__all__ = ["AddedFile", "Engine", "IndexProblem", "Warmup"]

UPLOAD_PREFIX = ".upload-"  # uploads being checked, in the corpus folder (hidden: never indexed)
STALE_UPLOAD_S = 3600.0  # a temporary upload this old was left by a killed process
WARM_ROUNDS = 3  # generations `warm` follows when index runs commit new ones while it loads


@dataclass
class AddedFile:
    """What `Engine.add_file` did: the file saved (`path`), the index run's report, the plain name asked for,
    whether that name was taken by another file so the upload was saved under a new one (`renamed`), and whether
    the same bytes were already there under that name (`unchanged`: nothing was written)."""

    path: Path
    report: IndexReport
    requested: str
    renamed: bool = False
    unchanged: bool = False


def _place(tmp: Path, corpus: Path, name: str, data: bytes) -> tuple[Path, bool, bool]:
    """Give the checked upload `tmp` its name in the corpus without replacing any file: (path, renamed, same bytes
    already there). A hard link never overwrites (another writer may take a name meanwhile); a copy is the fallback
    where links are not supported."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 10_000):
        target = corpus / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
                return target, n > 1, True
        except OSError:
            pass
        try:
            os.link(tmp, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: exclusive create, then write
            try:
                with open(target, "xb") as fh:
                    fh.write(data)
            except FileExistsError:
                continue
        return target, n > 1, False
    raise ValueError(f"too many files named like {name} in the corpus")


def _forget_stale_uploads(corpus: Path) -> None:
    """Remove temporary uploads a killed process left behind."""
    cutoff = time.time() - STALE_UPLOAD_S
    for p in corpus.glob(f"{UPLOAD_PREFIX}*"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


@dataclass
class LoadedIndex:
    """One loaded index generation as questions use it."""

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
        self._view: LoadedIndex | None = None
        self._view_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._add_lock = threading.Lock()
        # the returned quotes' own vectors, remembered by text (index/vector_cache.py)
        self._quote_vectors = TextVectors(lambda texts: self.embedder.encode(texts, batch_size=max(1, len(texts))))
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
        with damage_reported(Path(self.settings.data)):
            self._refresh(force=False)
        return report

    def recount_terms(self) -> None:
        """Recount the BM25 term counts a Milvus index keeps (`newsdesk index --recount-terms`). ValueError on
        the embedded store, whose counts are rebuilt with every index generation."""
        recount = getattr(self.store, "recount_terms", None)
        if recount is None:
            raise ValueError("--recount-terms is for a Milvus store (NEWSDESK_STORE=milvus://...); the embedded "
                             "store's term counts are rebuilt with every index run")
        with self._write_lock:
            recount()

    def add_file(self, name: str, data: bytes) -> "AddedFile":
        """Save `data` into the corpus folder under `name` (made a plain file name) and index it; never loses or
        replaces an article. The content is read first (in a bounded worker, as an index run reads) from a hidden
        temporary file: content that gives no document raises ValueError with the reason, and the corpus and the
        index are left exactly as they were. A name already taken by a different file is not overwritten: the
        upload is saved as `stem-2.ext` (the first free name; `AddedFile.renamed` says so). The same bytes under
        the same name change nothing. Raises ValueError with a user-facing reason for an unsupported, empty or
        oversized file."""
        safe = plain_name(name)
        if (reason := refusal(safe, len(data), self.settings, upload=True)) is not None:
            raise ValueError(reason)
        if not data.strip():
            raise ValueError("the file is empty")
        corpus = Path(self.settings.corpus)
        corpus.mkdir(parents=True, exist_ok=True)
        with self._add_lock:
            _forget_stale_uploads(corpus)
            tmp = corpus / f"{UPLOAD_PREFIX}{uuid.uuid4().hex[:12]}-{safe}"  # hidden: no scan or watcher reads it
            tmp.write_bytes(data)
            try:
                self._check_readable(tmp, safe)
                target, renamed, same = _place(tmp, corpus, safe, data)
            finally:
                tmp.unlink(missing_ok=True)
        rel = target.relative_to(corpus).as_posix()
        report = self.index(progress=False, paths=[rel])
        bad = [s for s in report.skipped if s.path == rel]
        if bad:  # read fine a moment ago, not now (a time limit on a loaded machine): take back the new file only
            if not same:
                target.unlink(missing_ok=True)
                self.index(progress=False, paths=[rel])
            raise ValueError(f"{safe} could not be indexed: {bad[0].reason}")
        return AddedFile(target, report, requested=safe, renamed=renamed, unchanged=same)

    def _check_readable(self, tmp: Path, safe: str) -> None:
        """Read an upload as an index run would (bounded worker); ValueError with the reason when it gives no
        document."""
        s = self.settings
        job = Job(str(tmp.parent.absolute()), tmp.name, None, max_bytes(s), s.chunk_words,
                  s.max_chunk_words)
        out = next(prepare_all([job], 1, Limits(s.file_timeout, s.file_memory_mb)))
        if out.kind != "ok":
            raise ValueError(f"{safe} could not be indexed: {out.reason}")

    # --- reading ----------------------------------------------------------------------------------
    def current_view(self) -> LoadedIndex | None:
        """The loaded index generation (a newer committed one is loaded first): its store view, retriever and
        answer builder, for tools that look inside an answer (scripts/fit_reranker.py); None before any index."""
        return self._refresh(force=False)

    def _refresh(self, force: bool) -> LoadedIndex | None:
        gen = self.store.generation()
        with self._view_lock:
            if self._view is not None and self._view.snapshot.generation == gen and not force:
                return self._view
            if gen == 0:
                self._view = None
                return None
            view = self.store.open_view()
            self._view = LoadedIndex(view, view.retriever,
                               AnswerBuilder(view, view, view.sentences, cross_encoder=self.cross_encoder,
                                             embed_quotes=self._embed_quotes, quote_weight=self.settings.quote_weight,
                                             passages=self.settings.passages, rerank_top=self.settings.rerank_top,
                                             tables=view))
            return self._view

    def warm(self) -> Warmup:
        """Load now what the first question would otherwise wait for: the model (with one tiny encode, so the
        ONNX or torch runtime is initialized), the current index generation's view (FAISS, BM25) and its
        answer builder's tables (timeline, speaker index). Returns at once, loading nothing, when there is no
        index yet (the first question indexes). Safe from a thread while questions are asked: everything is
        loaded once, the first users waiting for it. When an index run commits a newer generation meanwhile,
        that one is warmed too (a few rounds at most). Logs one INFO line with the parts and their times."""
        t0 = time.perf_counter()
        parts: dict[str, float] = {}
        gen = 0
        with damage_reported(Path(self.settings.data)):
            for _ in range(WARM_ROUNDS):
                if (gen := self.store.generation()) == 0:
                    break
                if "model" not in parts:
                    t = time.perf_counter()
                    self.embedder.encode_query("warm up")
                    parts["model"] = time.perf_counter() - t
                t = time.perf_counter()
                view = self._refresh(force=False)
                parts["index"] = parts.get("index", 0.0) + time.perf_counter() - t
                if view is None:
                    break
                t = time.perf_counter()
                view.builder.load_tables()
                parts["tables"] = parts.get("tables", 0.0) + time.perf_counter() - t
                gen = view.snapshot.generation
                if self.store.generation() == gen:
                    break
        done = Warmup(gen, parts, time.perf_counter() - t0)
        if gen == 0:
            log.info("warm-up: no index yet, nothing loaded (%.2f s)", done.total_s)
        else:
            log.info("warm-up: index generation %d ready in %.2f s (%s)", gen, done.total_s,
                     ", ".join(f"{name} {s:.2f} s" for name, s in parts.items()))
        return done

    def is_warm(self) -> bool:
        """Whether the model, an index generation and its tables are loaded (the generation loaded may be older
        than the index's current one: the next question loads the new one)."""
        view = self._view
        return self._embedder is not None and view is not None and view.builder.tables_loaded

    def _embed_quotes(self, texts: list[str]) -> np.ndarray:
        return self._quote_vectors.get(texts)

    def ask(self, question: str, *, k: int | None = None,
            asked_at: dt.datetime | dt.date | None = None) -> Answer:
        """Answer with verbatim quotes. Indexes first when there is no index yet."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        k = k or self.settings.top_k
        with damage_reported(Path(self.settings.data)):
            view = self._refresh(force=False)
            if view is None:
                self.index()
                view = self._refresh(force=False)
            if view is None:
                return Answer(question, True, [])
            if (by_author := answer_author(question, view.snapshot, k)) is not None:  # "who wrote the X article?"
                return by_author
            info = analyze(question, asked_at or dt.datetime.now())
            qvec = self.embedder.encode_query(question)
            candidates = view.retriever.search(qvec, question, k=self.settings.candidates,
                                                  allow=view.builder.allow_for(info))
            return view.builder.build(info, qvec, candidates, k)

    def status(self) -> IndexStatus:
        """What is indexed: counts, last update time, per-document info."""
        with damage_reported(Path(self.settings.data)):
            return self.store.status()

    def document(self, path: str) -> DocRow | None:
        """The indexed document at `path` (its clean text all quote offsets refer to), or None."""
        return self.store.document(path)
