"""Reading the files an index run must look at: hash the bytes, and for new or changed content load, clean,
chunk, hash the chunks and extract the facts (quotations, dates). Everything here depends on one file only, so
when many files changed (a first index, a rebuild, a big drop of articles) it runs in worker processes, one
per core: on a GPU machine this host-side work, not the embedding, is what bounds an index run.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import facts
from .chunking import chunk_hash, chunk_spans
from .loaders import DocumentError, load_document
from .processes import can_spawn, spawn
from .records import Document
from .sentences import split_sentences

log = logging.getLogger(__name__)

PARALLEL_MIN = 100  # files to read before worker processes pay for their start (~0.2 s each)


@dataclass
class Prepared:
    """A document ready to commit: its chunks' character spans and text hashes, each chunk's sentence spans
    (relative to the chunk, as the embedder pools them), its facts (JSON, as stored), and the file's stat when it
    was hashed (None: too recent to be trusted)."""

    doc: Document
    spans: list[tuple[int, int]]
    hashes: list[str]
    sentences: list[list[tuple[int, int]]]
    facts: str
    size: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None


@dataclass
class Outcome:
    """What reading one file gave. `kind`: "ok" (`prep` is set), "same" (content hash unchanged), "unreadable"
    (the bytes could not be read) or "failed" (read, but no document came of it); `reason` says why for the
    last two."""

    name: str
    kind: str
    reason: str = ""
    prep: Prepared | None = None


@dataclass(frozen=True)
class Job:
    corpus: str
    name: str
    old_hash: str | None  # the indexed content's hash; None: new, or a rebuild
    max_bytes: int
    chunk_words: int
    max_chunk_words: int


def prepare(job: Job) -> Outcome:
    """Never raises for a bad file: a loader bug (or a native library's panic) becomes a "failed" outcome with its
    type and message."""
    path = Path(job.corpus) / job.name
    try:
        h = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return Outcome(job.name, "unreadable", f"unreadable: {exc.strerror or exc}")
    if job.old_hash == h:
        return Outcome(job.name, "same")
    try:
        doc = load_document(path, Path(job.corpus), max_bytes=job.max_bytes)
        spans = chunk_spans(doc.text, target_words=job.chunk_words, max_words=job.max_chunk_words)
        if not spans:
            return Outcome(job.name, "failed", "no text left after cleaning")
        texts = [doc.text[s.start : s.end] for s in spans]
        prep = Prepared(doc, [(s.start, s.end) for s in spans], [chunk_hash(t) for t in texts],
                        [chunk_sentences(t) for t in texts], facts.dumps(facts.extract(doc.text, doc.date)))
    except DocumentError as exc:
        return Outcome(job.name, "failed", str(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a bug, or a native library's panic (a BaseException), must not abort the run
        log.exception("failed to read %s", job.name)
        return Outcome(job.name, "failed", f"could not be read ({type(exc).__name__}: {exc})")
    return Outcome(job.name, "ok", prep=prep)


def chunk_sentences(text: str) -> list[tuple[int, int]]:
    """A chunk's sentences as (start, end) in the chunk's own text: the spans its sentence vectors pool."""
    return [(sp.start, sp.end) for sp in split_sentences(text)]


def prepare_all(jobs: list[Job], workers: int) -> Iterator[Outcome]:
    """`prepare` for each job, in order: in this process for a few files or `workers` <= 1, else in up to
    `workers` spawned processes (0: one per core). A pool that breaks (a worker killed) finishes in this
    process."""
    n = min(workers if workers > 0 else (os.cpu_count() or 1), len(jobs) // (PARALLEL_MIN // 2) or 1)
    if n <= 1 or len(jobs) < PARALLEL_MIN or not can_spawn():
        yield from map(prepare, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    done = 0
    log.info("reading %d files in %d worker processes", len(jobs), n)
    try:
        with ProcessPoolExecutor(n, mp_context=spawn()) as pool:
            for out in pool.map(prepare, jobs, chunksize=8):
                yield out
                done += 1
    except BrokenProcessPool as exc:
        log.warning("a worker process reading files died (%s); reading the other %d files here", exc,
                    len(jobs) - done)
        yield from map(prepare, jobs[done:])
