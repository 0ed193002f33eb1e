"""Reading the files an index run must look at: hash the bytes, and for new or changed content load, clean,
chunk, hash the chunks and extract the facts (quotations, dates). Everything here depends on one file only.

Files are untrusted (a corpus folder anyone can drop into, a Discord upload), so they are read in worker
processes: each file within a time limit (`NEWSDESK_FILE_TIMEOUT`: the worker is killed and replaced past it) and
each worker within a memory cap (`NEWSDESK_FILE_MEMORY_MB`), so a parser bomb costs one skipped file with its
reason, never the run or the bot. Workers die with their parent. A process keeps one worker between runs (an
upload or a watcher's batch does not wait for a new one); when many files changed (a first index, a rebuild, a
big drop of articles) a run reads them in one worker per core: on a GPU machine this host-side work, not the
embedding, is what bounds an index run.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
from collections import deque
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import facts
from .chunking import chunk_hash, chunk_spans
from .loaders import DocumentError, load_document, read_regular
from .processes import can_spawn, die_with_parent, limit_memory, spawn
from .records import Document
from .sentences import split_sentences

log = logging.getLogger(__name__)

PARALLEL_MIN = 100  # files to read before more worker processes pay for their start (~0.2 s each)
AHEAD = 16  # files handed to each worker ahead of the one being collected


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
        data = read_regular(path, Path(job.corpus), job.max_bytes)
    except DocumentError as exc:
        return Outcome(job.name, "unreadable", str(exc))
    h = hashlib.sha256(data).hexdigest()
    if job.old_hash == h:
        return Outcome(job.name, "same")
    try:
        doc = load_document(path, Path(job.corpus), max_bytes=job.max_bytes, data=data)
        spans = chunk_spans(doc.text, target_words=job.chunk_words, max_words=job.max_chunk_words)
        if not spans:
            return Outcome(job.name, "failed", "no text left after cleaning")
        texts = [doc.text[s.start : s.end] for s in spans]
        prep = Prepared(doc, [(s.start, s.end) for s in spans], [chunk_hash(t) for t in texts],
                        [chunk_sentences(t) for t in texts], facts.dumps(facts.extract(doc.text, doc.date)))
    except DocumentError as exc:
        return Outcome(job.name, "failed", str(exc))
    except MemoryError:
        return Outcome(job.name, "failed", "reading it needed more memory than a file may use (NEWSDESK_FILE_MEMORY_MB)")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a bug, or a native library's panic (a BaseException), must not abort the run
        log.exception("failed to read %s", job.name)
        return Outcome(job.name, "failed", f"could not be read ({type(exc).__name__}: {exc})")
    return Outcome(job.name, "ok", prep=prep)


def chunk_sentences(text: str) -> list[tuple[int, int]]:
    """A chunk's sentences as (start, end) in the chunk's own text: the spans its sentence vectors pool."""
    return [(sp.start, sp.end) for sp in split_sentences(text)]


@dataclass(frozen=True)
class Limits:
    """What one file may cost its worker: seconds (0: no limit) and megabytes of address space (0: no cap)."""

    seconds: float = 120.0
    memory_mb: int = 4096


def _worker_start(memory_mb: int) -> None:
    die_with_parent()
    limit_memory(memory_mb)


_pools: dict[tuple[int, int], object] = {}  # (workers, memory cap) -> pebble ProcessPool; only 1-worker pools kept
_pools_lock = threading.Lock()


def _pool(n: int, memory_mb: int):
    """A pool of `n` spawned workers with the memory cap; the 1-worker pool is kept for the next run."""
    from pebble import ProcessPool

    with _pools_lock:
        pool = _pools.get((n, memory_mb))
        if pool is None or not pool.active:
            pool = ProcessPool(n, initializer=_worker_start, initargs=(memory_mb,), context=spawn())
            if n == 1:
                _start_in_keeper(pool)
                _pools[(n, memory_mb)] = pool
        return pool


_forever = threading.Event()  # never set: what the keeper threads wait on


def _start_in_keeper(pool) -> None:
    """Start a kept pool from a thread that lives as long as the process. A worker dies with the *thread* that
    started it (PR_SET_PDEATHSIG), and pebble starts a pool's first workers in the thread that first schedules on
    it: started by a run in a short-lived thread (a stopped watcher, a request's thread), the kept worker would be
    killed when that thread ends, breaking the pool for the next run. (pebble's own manager thread, which lives
    with the pool, starts any replacement.)"""
    started = threading.Event()

    def keep() -> None:
        pool.schedule(os.getpid)
        started.set()
        _forever.wait()

    threading.Thread(target=keep, name="newsdesk-reader-keeper", daemon=True).start()
    started.wait()


def start_workers(limits: Limits) -> None:
    """Start the kept worker now, without waiting for it: a new process's first run then scans the corpus (and
    opens its index) while the worker starts and imports the readers, instead of after."""
    if can_spawn():
        _pool(1, limits.memory_mb).schedule(os.getpid)


@atexit.register
def stop_workers() -> None:
    """Stop the kept worker processes (at exit; also after a test that must see none left)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.stop()
        pool.join()


def _collect(job: Job, future, limits: Limits) -> Outcome:
    """The worker's outcome for `job`, or why it has none (the file took too long, or killed its worker)."""
    from pebble import ProcessExpired

    try:
        return future.result()
    except FutureTimeout:
        return Outcome(job.name, "failed", f"reading it took longer than {limits.seconds:g} s (NEWSDESK_FILE_TIMEOUT); "
                                           "a hostile or broken file?")
    except ProcessExpired as exc:
        code = exc.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return Outcome(job.name, "failed", f"its reader process died ({how}); a hostile or broken file?")
    except (BrokenProcessPool, RuntimeError, OSError) as exc:  # the pool itself failed: not this file's fault
        log.error("worker processes reading files failed: %r", exc)
        with _pools_lock:
            for key in [k for k, p in _pools.items() if not p.active]:
                del _pools[key]
        return Outcome(job.name, "unreadable", f"not read: the worker process reading files failed ({exc!r})")


def prepare_all(jobs: list[Job], workers: int, limits: Limits = Limits()) -> Iterator[Outcome]:
    """`prepare` for each job, in order, in spawned worker processes bounded by `limits`: one for a few files, up to
    `workers` (0: one per core) for many. In this process only where a worker cannot be spawned (a script read
    from stdin; the files are then read without bounds, and a warning says so)."""
    if not jobs:
        return
    if not can_spawn():
        log.warning("reading %d files in this process (no worker process can be spawned): not bounded in time "
                    "or memory", len(jobs))
        yield from map(prepare, jobs)
        return
    n = max(1, min(workers if workers > 0 else (os.cpu_count() or 1), len(jobs) // (PARALLEL_MIN // 2) or 1))
    if len(jobs) < PARALLEL_MIN:
        n = 1
    if n > 1:
        log.info("reading %d files in %d worker processes", len(jobs), n)
    pool = _pool(n, limits.memory_mb)
    timeout = limits.seconds or None
    pending: deque = deque()
    todo = iter(jobs)
    try:
        for job in todo:
            pending.append((job, pool.schedule(prepare, (job,), timeout=timeout)))
            if len(pending) >= AHEAD * n:
                break
        while pending:
            job, future = pending.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.schedule(prepare, (nxt,), timeout=timeout)))
            yield _collect(job, future, limits)
    finally:
        for _, future in pending:
            future.cancel()
        if n > 1:
            pool.stop()
            pool.join()
