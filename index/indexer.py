"""One index run: scan the corpus, embed only new chunk text, write the next generation atomically."""
from __future__ import annotations

import contextlib
import logging
import operator
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Container, Iterator

import faiss
import numpy as np
from filelock import FileLock, Timeout

from . import vectors
from .chunking import chunking_key
from .embedding import Embedder, set_threads
from .lexical import LexicalIndex, SegmentedLexical
from .acceptance import max_bytes as size_limit
from .acceptance import refusal
from .loaders import inside, not_regular
from .preparing import Job, Limits, Prepared, prepare_all, start_workers
from .records import IndexReport, Skipped
from .settings import Settings
from .errors import IndexLocked, IndexProblem
from .store import (FORMAT_VERSION, IndexDamaged, Store, damage_reported, dir_sha256, file_sha256,
                    fsync_dir, is_corrupt, meta_int, now_iso, remembered_sums, set_aside, trust_sums)

log = logging.getLogger(__name__)

DELTA_MIN, DELTA_MAX = 1_000, 20_000  # bounds of a delta before compaction (see compact_limit)
EMBED_BLOCK = 256  # chunks embedded, then committed to the cache, at a time on a CPU (a killed run resumes)
FULL_SCAN_KEY = "full_scan_at"  # manifest: when a run last looked at the whole corpus (absent: never)
MTIME_TRUST_NS = 2_000_000_000  # a file modified this recently may change again within the same mtime tick


def is_candidate(path: Path) -> bool:
    """Files the scanner looks at: not hidden, not an editor's temporary or backup file."""
    return _candidate_name(path.name)


_HIDDEN_START = (".", "~")
_TEMP_ENDS = ("~", ".swp", ".swx", ".tmp", ".part", ".crdownload")


def _candidate_name(name: str) -> bool:
    return not (
        name.startswith(_HIDDEN_START)
        or name.endswith(_TEMP_ENDS)
        or (name.startswith("#") and name.endswith("#"))
    )


def scan(corpus: Path) -> Iterator[tuple[str, os.stat_result | OSError | str]]:
    """The candidate files under `corpus` (hidden folders left out) as (relative POSIX name, stat, or the error stat
    raised, or why the entry is left out), in `os.walk` order with sorted names: a folder's files, then its
    subfolders'. Only regular files inside the corpus are read: a symlink counts when its target is a file inside
    the corpus folder; a symlink out of it, a dangling one, a symlinked folder (not followed), a FIFO, socket or
    device, and an unreadable folder each come with their reason. One stat a file (os.scandir knows which entries
    are plain files), relative to an open folder where the platform allows it. Lean and streamed (nothing kept, so
    no garbage-collector passes over a growing list) because a cron-style full scan of a million-chunk corpus stats
    ~250k files."""
    by_name = operator.attrgetter("name")
    by_fd = os.scandir in os.supports_fd and os.open in os.supports_dir_fd
    root = os.path.realpath(corpus)

    def walk(folder: str, prefix: str, parent_fd: int | None,
             path: str) -> Iterator[tuple[str, os.stat_result | OSError | str]]:
        fd = None
        try:
            if by_fd:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0), dir_fd=parent_fd)
            with os.scandir(folder if fd is None else fd) as it:
                entries = sorted(it, key=by_name)
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            if prefix:  # the corpus folder itself is checked by the caller
                yield prefix.rstrip("/"), f"unreadable folder ({exc.strerror or exc}): its files are left out"
            return
        try:
            subfolders = []
            for e in entries:
                name = e.name
                try:
                    if not e.is_symlink():
                        if e.is_dir():
                            if name[0] != ".":
                                subfolders.append(name)
                            continue
                        if not _candidate_name(name):
                            continue
                        st: os.stat_result | OSError | str = e.stat() if e.is_file() else classify(
                            os.path.join(path, name), root)
                    elif not _candidate_name(name):
                        continue
                    else:
                        st = classify(os.path.join(path, name), root)
                except OSError as exc:
                    st = exc
                yield prefix + name, st
            for sub in subfolders:
                yield from walk(sub if fd is not None else os.path.join(folder, sub), prefix + sub + "/", fd,
                                os.path.join(path, sub))
        finally:
            if fd is not None:
                os.close(fd)

    return walk(str(corpus), "", None, str(corpus))


def classify(path: str, root: str) -> os.stat_result | str:
    """The stat of `path` when it is a regular file inside the folder `root` (real path), following a symlink;
    otherwise why it is left out. Raises OSError when it cannot be looked at."""
    lst = os.lstat(path)
    if not stat.S_ISLNK(lst.st_mode):
        return not_regular(lst.st_mode) or lst
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"dangling symlink (its target {os.readlink(path)!r} does not exist)"
    except OSError as exc:
        return f"symlink whose target cannot be read ({exc.strerror or exc})"
    if not inside(path, root):
        return "symlink to a file outside the corpus folder (not read)"
    if stat.S_ISDIR(st.st_mode):
        return "symlinked folder (not followed)"
    return not_regular(st.st_mode) or st


def scan_paths(corpus: Path, names: list[str]) -> list[tuple[str, os.stat_result | OSError | str]]:
    """As `scan`, but only at the corpus-relative `names` (files, or folders scanned whole); a name that does not
    exist, or lies in a hidden folder or outside the corpus, gives nothing."""
    out: dict[str, os.stat_result | OSError | str] = {}
    root = os.path.realpath(corpus)
    for name in names:
        p = corpus / name
        parts = Path(name).parts
        if not parts or any(part.startswith(".") for part in parts[:-1]) or ".." in parts:
            continue
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        except OSError as exc:
            out[name] = exc
            continue
        if stat.S_ISDIR(st.st_mode):
            if not parts[-1].startswith("."):
                out.update((f"{name}/{sub}", s) for sub, s in scan(p))
        elif _candidate_name(parts[-1]):
            try:
                out[name] = classify(str(p), root)
            except OSError as exc:
                out[name] = exc
    return sorted(out.items())


def normalize_names(corpus: Path, paths: list[str | Path]) -> list[str] | None:
    """Corpus-relative POSIX names for `paths` (absolute, or relative to the corpus), or None when one lies
    outside the corpus (the caller then scans everything)."""
    root = corpus.resolve()
    out = []
    for p in paths:
        p = Path(p)
        full = p if p.is_absolute() else root / p
        try:
            rel_name = Path(os.path.normpath(full)).relative_to(root).as_posix()
        except ValueError:
            return None
        if rel_name in ("", "."):
            return None  # the corpus itself: everything
        out.append(rel_name)
    return sorted(set(out))


def rel(path: Path, corpus: Path) -> str:
    return path.relative_to(corpus).as_posix()


def lock_for(data: Path) -> FileLock:
    data.mkdir(parents=True, exist_ok=True)
    return FileLock(str(data / "index.lock"))


def run_index(
    settings: Settings,
    get_embedder: Callable[[], Embedder],
    *,
    rebuild: bool = False,
    progress: bool | None = None,
    lock_timeout: float = 10.0,
    paths: list[str | Path] | None = None,
) -> IndexReport:
    """Bring the index in `settings.data` up to date with the corpus. With `paths` (files or folders, absolute or
    corpus-relative) only those are looked at: a file there is added or updated, an indexed document there that
    is gone is removed, the rest of the corpus is not scanned (the watcher and uploads know what changed)."""
    t0 = time.perf_counter()
    corpus = Path(settings.corpus)
    data = Path(settings.data)
    with exclusive_run(settings, lock_timeout):
        names = None if paths is None else normalize_names(corpus, paths)
        for attempt in (1, 2):
            store = _open_store(data, rebuild)
            try:
                with damage_reported(data):
                    report = _run(store, settings, get_embedder, rebuild=rebuild,
                                  progress=settings.progress if progress is None else progress, names=names)
                break
            except IndexDamaged as exc:
                if not (rebuild and attempt == 1 and is_corrupt(exc.__cause__)):
                    raise
                store.close()
                set_aside(data)  # damage the quick check did not see, met while rebuilding: once more afresh
            finally:
                store.close()
    return finished(report, t0)


@contextlib.contextmanager
def exclusive_run(settings: Settings, lock_timeout: float) -> Iterator[None]:
    """What every index run, whatever the store, holds: an existing corpus folder and the data folder's lock
    (one writer at a time)."""
    corpus = Path(settings.corpus)
    data = Path(settings.data)
    if not corpus.is_dir():
        raise IndexProblem(f"corpus folder not found: {corpus}")
    lock = lock_for(data)
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise IndexLocked(
            f"another index run is writing to {data} (lock {data / 'index.lock'}); "
            "wait for it to finish and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def finished(report: IndexReport, t0: float) -> IndexReport:
    """The report with the run's time, its skipped files logged."""
    report.seconds = time.perf_counter() - t0
    for s in report.skipped:
        log.warning("skipped %s: %s", s.path, s.reason)
    return report


def _open_store(data: Path, rebuild: bool) -> Store:
    """The data folder's Store. For a rebuild, a damaged one is repaired first: a manifest holding garbage is reset
    (documents and the embeddings cache kept), a database with damaged pages is moved aside and started anew; a
    rebuild then always runs. Otherwise damage raises IndexDamaged with the rebuild command."""
    try:
        store = Store(data)
    except IndexDamaged:
        if not rebuild:
            raise
        set_aside(data)
        store = Store(data)
    if rebuild:
        try:
            store.check_health()
        except IndexDamaged as exc:
            if is_corrupt(exc.__cause__) or "database" in str(exc):
                store.close()
                set_aside(data)
                store = Store(data)
            else:
                store.reset_manifest()
    _forget_temporary_files(store)
    return store


def _forget_temporary_files(store: Store) -> None:
    """Under the writer lock: remove what a killed run left behind: the `.tmp-*` files and folders it was writing,
    and generation files newer than the committed generation (written, never committed: no manifest names them)."""
    try:
        gen = store.generation()
    except IndexDamaged:
        gen = None  # reported by whoever reads the manifest next
    for p in store.dir.iterdir():
        number = p.name.split("-", 1)[1].split(".")[0] if p.name.startswith(("vectors-", "bm25-", "delta-")) else ""
        if p.name.startswith(".tmp-") or (gen is not None and number.isdigit() and int(number) > gen):
            log.info("removing %s, left by a run that did not finish", p.name)
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _run(store: Store, settings: Settings, get_embedder: Callable[[], Embedder], *, rebuild: bool,
         progress: bool, names: list[str] | None = None) -> IndexReport:
    meta = store.meta()
    if meta.get("model") and meta["model"] != settings.model and not rebuild:
        log.warning("index was built with %s; rebuilding with %s", meta["model"], settings.model)
        rebuild = True
    if rebuild and meta.get("model") != settings.model:
        with store.transaction():
            store.forget_embeddings()
    if meta.get("generation") and meta_int(meta, "format_version", store.dir) != FORMAT_VERSION and not rebuild:
        log.warning("index format %s is not this newsdesk's (%d); rebuilding", meta.get("format_version"),
                    FORMAT_VERSION)
        rebuild = True
    chunking = chunking_key(settings.chunk_words, settings.max_chunk_words)
    if meta.get("generation") and meta.get("chunking") != chunking and not rebuild:
        log.warning("index was chunked as %s, this newsdesk chunks as %s; re-chunking every document (only "
                    "changed chunks are embedded)", meta.get("chunking"), chunking)
        rebuild = True
    if rebuild:
        names = None  # a rebuild looks at the whole corpus, whatever was named
    if names is not None and not meta.get(FULL_SCAN_KEY):
        # The first run on a fresh data folder (`newsdesk index corpus/x.txt`, a bot's first /add) must not make an
        # index of that file alone: later named runs would never look at the rest of the corpus.
        log.info("this index has never seen the whole corpus: scanning all of it, not only %s", ", ".join(names[:3]))
        names = None
    # indexed path -> (size, mtime_ns, ctime_ns when its content was hashed)
    old = store.document_stats() if names is None else store.document_stats(under=names)
    failed_before = {} if rebuild else store.failures()  # a rebuild reads every file again
    plan = plan_run(settings, old, store.document_hash, names=names, rebuild=rebuild, failed_before=failed_before)
    report, changed, removed, restat = plan.report, plan.changed, plan.removed, plan.restat
    store.set_failures(plan.failed_now, plan.not_failing - {f[0] for f in plan.failed_now})
    if restat:  # not part of the index's content: no new generation needed
        with store.transaction():
            store.restat_documents(restat)

    # Embed chunk text never embedded before (the cache is keyed by the text's hash).
    needed: dict[str, tuple[str, list[tuple[int, int]]]] = {}  # chunk hash -> text, sentence spans
    for prep in changed:
        for (s, e), h, sents in zip(prep.spans, prep.hashes, prep.sentences):
            needed.setdefault(h, (prep.doc.text[s:e], sents))
    known = store.known_hashes(needed)
    missing = [h for h in needed if h not in known]
    embedder: Embedder | None = None
    if missing:
        embedder = get_embedder()
        if not rebuild:
            store.check_model(settings.model, embedder.dim)
        _embed(store, embedder, missing, needed, settings, progress)
        report.chunks_embedded = len(missing)

    gen = store.generation()
    faiss_ok = gen > 0 and _files_ok(store, gen, store.meta())
    if not (changed or removed or rebuild or not faiss_ok or gen == 0):
        if store.has_pending():  # a killed run's embeddings of text that changed back or went away
            with store.transaction():
                store.forget_pending()
        if names is None and not meta.get(FULL_SCAN_KEY):  # an index made by older code: it has now seen it all
            with store.transaction():
                store.put_meta({FULL_SCAN_KEY: now_iso()})
        report.documents, report.chunks = store.counts()
        return report

    dim = meta_int(store.meta(), "dimension", store.dir) or (embedder or get_embedder()).dim
    _commit(store, settings, changed, removed, rebuild or not faiss_ok, dim, full_scan=names is None)
    report.documents, report.chunks = store.counts()
    return report


@dataclass
class Plan:
    """What an index run will write, decided from the corpus and the indexed documents' stats and hashes:
    documents to add or update (read, cleaned and chunked), indexed paths to remove, and documents whose file
    was only touched (`restat`: size, mtime_ns, ctime_ns, path). `report` counts them and lists skipped files.
    `failed_now` are files that gave no document (remembered with their stat so they are not read again), and
    `not_failing` remembered failures that read fine now or are gone."""

    report: IndexReport
    changed: list[Prepared]
    removed: list[str]
    restat: list[tuple[int, int | None, int | None, str]]
    failed_now: list[tuple[str, int, int, int, str, str]]
    not_failing: set[str]


def plan_run(settings: Settings, old: dict[str, tuple[int | None, int | None, int | None]],
             old_hash: Callable[[str], str | None], *, names: list[str] | None, rebuild: bool,
             failed_before: dict[str, tuple] | None = None) -> Plan:
    """Scan the corpus (only `names` when given) against `old` (indexed path -> size, mtime_ns, ctime_ns when
    hashed; `old_hash(path)` gives its content hash) and read what may have changed, in bounded worker processes.
    `failed_before`: files remembered as giving no document (path -> size, mtime_ns, ctime_ns, reader key,
    reason), skipped unread while unchanged. Writes nothing, so every store's writer uses it."""
    corpus = Path(settings.corpus)
    report = IndexReport()
    failed_before = failed_before or {}
    reader = reader_key(settings)
    failed_now: list[tuple[str, int, int, int, str, str]] = []
    remembered = 0
    not_failing: set[str] = set()  # remembered failures read fine now, or gone
    if names is None:
        not_failing.update(failed_before)  # each still there and still failing is taken out below
    restat: list[tuple[int, int | None, int | None, str]] = []
    max_bytes = size_limit(settings)
    limits = Limits(settings.file_timeout, settings.file_memory_mb)

    seen: set[str] = set()
    same: list[str] = []  # the unchanged bulk, counted and added to `seen` after the loop
    changed: list[Prepared] = []
    kept_broken: set[str] = set()
    to_read: list[tuple[str, os.stat_result]] = []
    for name, st in (scan(corpus) if names is None else scan_paths(corpus, names)):
        if isinstance(st, str):  # not a regular file inside the corpus: never read, and not kept in the index
            report.skipped.append(Skipped(name, st))
            continue
        prev = old.get(name)
        if (prev is not None and not rebuild and not isinstance(st, OSError) and st.st_size <= max_bytes
                and prev == (st.st_size, st.st_mtime_ns, st.st_ctime_ns)):
            same.append(name)  # indexed, and the same size, mtime and ctime as when hashed: not read again
            continue
        if (reason := refusal(name, None, settings)) is not None:  # the type
            report.skipped.append(Skipped(name, reason))
            continue
        if isinstance(st, OSError):
            report.skipped.append(Skipped(name, f"unreadable: {st.strerror or st}"))
            continue
        if (reason := refusal(name, st.st_size, settings)) is not None:  # the size
            _skip(report, name, reason, old, kept_broken)
            continue
        failed = failed_before.get(name)
        if failed is not None and failed[:4] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, reader):
            not_failing.discard(name)
            remembered += 1
            _skip(report, name, failed[4], old, kept_broken)  # gave no document as it is: not read again
            continue
        if not to_read:
            start_workers(limits)  # it starts while the scan goes on; a run with nothing to read starts none
        to_read.append((name, st))

    # Read what may have changed (hash; load, clean, chunk and extract facts when the hash differs), in worker
    # processes when there are many.
    # (an absolute folder: a kept worker process has the working directory of when it started)
    jobs = [Job(str(Path(corpus).absolute()), name, None if rebuild or name not in old else old_hash(name), max_bytes,
                settings.chunk_words, settings.max_chunk_words) for name, _ in to_read]
    for (name, st), out in zip(to_read, prepare_all(jobs, settings.index_threads, limits)):
        if out.kind == "unreadable":
            _skip(report, name, out.reason, old, kept_broken)
            continue
        if name in failed_before:
            not_failing.add(name)  # read again (changed): forgotten unless it fails again
        size = st.st_size
        trusted = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > MTIME_TRUST_NS
        mtime_ns, ctime_ns = (st.st_mtime_ns, st.st_ctime_ns) if trusted else (None, None)
        if out.kind == "same":
            seen.add(name)
            report.unchanged += 1
            if old[name] != (size, mtime_ns, ctime_ns):
                restat.append((size, mtime_ns, ctime_ns, name))  # touched, not changed: remember the new stat
            continue
        if out.kind == "failed" or out.prep is None:
            _skip(report, name, out.reason, old, kept_broken)
            if trusted:
                failed_now.append((name, size, st.st_mtime_ns, st.st_ctime_ns, reader, out.reason))
            continue
        seen.add(name)
        prep = out.prep
        prep.size, prep.mtime_ns, prep.ctime_ns = size, mtime_ns, ctime_ns
        changed.append(prep)
        if name in old:
            report.updated += 1
        else:
            report.added += 1

    report.unchanged += len(same)
    seen.update(same)
    if remembered:
        log.info("%d files that gave no document were skipped unread (unchanged since)", remembered)
    removed = sorted(old.keys() - seen - kept_broken)
    report.removed = len(removed)
    return Plan(report, changed, removed, restat, failed_now, not_failing)


def reader_key(settings: Settings) -> str:
    """What reading a file depends on besides its bytes: a file that gave no document is read again when this
    changes (a newer newsdesk, a longer time limit, more memory, a larger size limit)."""
    return (f"{chunking_key(settings.chunk_words, settings.max_chunk_words)}/{settings.file_timeout:g}s/"
            f"{settings.file_memory_mb}MB/{settings.max_file_mb:g}MB")


def _skip(report: IndexReport, name: str, reason: str, old: Container[str], kept: set[str]) -> None:
    if name in old:
        kept.add(name)
        reason += " (the previously indexed version is kept)"
    report.skipped.append(Skipped(name, reason))


def _embed(store: Store, embedder: Embedder, missing: list[str],
           chunks: dict[str, tuple[str, list[tuple[int, int]]]], settings: Settings, progress: bool) -> None:
    from tqdm.auto import tqdm

    set_threads(settings.index_threads)
    try:
        bar = tqdm(total=len(missing), desc="embedding", unit="chunk", disable=not progress, leave=False)
        block = embedder.block_size(settings.batch_size, EMBED_BLOCK)
        for i in range(0, len(missing), block):
            part = missing[i : i + block]
            chunk_texts = [chunks[h][0] for h in part]
            spans = [chunks[h][1] for h in part]
            vecs, sent_vecs = embedder.encode_chunks(chunk_texts, spans, batch_size=settings.batch_size)
            store.put_embeddings(part, vecs, [(np.array(sp, dtype=np.int32).reshape(-1, 2), sv)
                                              for sp, sv in zip(spans, sent_vecs)])
            bar.update(len(part))
        bar.close()
    finally:
        set_threads(settings.query_threads)


def _files_ok(store: Store, gen: int, meta: dict[str, str]) -> bool:
    """The generation's files (its base and its delta) exist and match the manifest's checksums."""
    trust_sums(store.dir, meta.get("sums"))
    try:
        base = meta_int(meta, "base", store.dir) or gen
        f, b, d = store.faiss_file(base), store.bm25_dir(base), store.delta_dir(gen)
        return (f.exists() and b.is_dir() and d.is_dir() and file_sha256(f) == meta.get("faiss_sha256")
                and dir_sha256(b) == meta.get("bm25_sha256") and dir_sha256(d) == meta.get("delta_sha256"))
    except OSError:
        return False


def compact_limit(base_chunks: int) -> int:
    """How many changed chunks (added since the base, or removed from it) a delta may hold before the writer
    compacts it into a new base: a quarter of the base, at least 1,000 and at most DELTA_MAX. Each update
    rewrites the delta, so its cost is bounded by this; a compaction rewrites everything, about once every
    DELTA_MAX changed chunks on a large index."""
    return max(DELTA_MIN, min(DELTA_MAX, base_chunks // 4))


def _commit(store: Store, settings: Settings, changed: list[Prepared], removed: list[str], from_scratch: bool,
            dim: int, *, full_scan: bool = False) -> None:
    gen = store.generation()
    old_meta = store.meta()
    old_base = meta_int(old_meta, "base", store.dir) or gen
    new_gen = gen + 1
    from_scratch = from_scratch or gen == 0
    with store.transaction(immediate=True):
        drop_ids: list[int] = []
        drop_hashes: set[str] = set()
        for path in removed + [p.doc.path for p in changed]:
            for cid, h in store.delete_document(path):
                drop_ids.append(cid)
                drop_hashes.add(h)
        add_ids: list[int] = []
        add_hashes: list[str] = []
        add_texts: list[str] = []
        ts = now_iso()
        for prep in changed:
            d = prep.doc
            store.add_document(d, prep.facts, ts, prep.size, prep.mtime_ns, prep.ctime_ns)
            for (s, e), h in zip(prep.spans, prep.hashes):
                add_ids.append(store.add_chunk(d.path, s, e, h))
                add_hashes.append(h)
                add_texts.append(d.text[s:e])

        base, vecs, lexical = None, None, None
        if not from_scratch:
            try:
                vecs, lexical = _updated(store, gen, old_base, drop_ids, add_ids, add_hashes, add_texts, dim)
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("could not update generation %d (%s); building the index anew", gen, exc)
                from_scratch = True
        if from_scratch:
            base, lex_base = _full_build(store, settings, dim)
        elif vecs.changed > compact_limit(vecs.base.ntotal):
            log.info("compacting %d changed chunks into a new base", vecs.changed)
            base = vecs.compact(vectors.load(store.faiss_file(old_base), mmap=False), settings)
            lex_base = lexical.compact()
        if base is not None:  # a new base: written under this generation's number, with an empty delta
            new_base = new_gen
            vectors.save(base, store.faiss_file(new_base))
            _write_dir(store, store.bm25_dir(new_base), lex_base.save)
            vecs = vectors.VectorSet(base)
            lexical = SegmentedLexical.empty_delta(lex_base)
            base_sums = {"faiss_sha256": file_sha256(store.faiss_file(new_base)),
                         "bm25_sha256": dir_sha256(store.bm25_dir(new_base))}
        else:
            new_base = old_base
            base_sums = {k: old_meta[k] for k in ("faiss_sha256", "bm25_sha256")}

        def write_delta(tmp: Path) -> None:
            vecs.save_delta(tmp)
            lexical.save(tmp)

        ddir = store.delta_dir(new_gen)
        _write_dir(store, ddir, write_delta)
        fsync_dir(store.dir)

        meta = {
            "format_version": str(FORMAT_VERSION),
            "chunking": chunking_key(settings.chunk_words, settings.max_chunk_words),
            "model": settings.model,
            "dimension": str(dim),
            "generation": str(new_gen),
            "base": str(new_base),
            "updated_at": ts,
            **base_sums,
            "delta_sha256": dir_sha256(ddir),
        }
        if full_scan:
            meta[FULL_SCAN_KEY] = ts
        meta["sums"] = remembered_sums(store.dir, [store.faiss_file(new_base), store.bm25_dir(new_base), ddir])
        store.put_meta(meta)
        # Forget embeddings no chunk uses any more: the dropped chunks' (all of them on a rebuild), and those a
        # killed run stored for text that is gone.
        store.forget_unused_embeddings(None if from_scratch else drop_hashes)
    store.remove_old_generations({gen: old_base, new_gen: new_base} if gen else {new_gen: new_base})
    log.info("index generation %d written (%d chunks; base %d, %d changed since)", new_gen, vecs.ntotal,
             new_base, vecs.changed)


def _updated(store: Store, gen: int, base: int, drop_ids: list[int], add_ids: list[int], add_hashes: list[str],
             add_texts: list[str], dim: int) -> tuple[vectors.VectorSet, SegmentedLexical]:
    """The current generation's vectors and BM25 with the dropped chunks removed and the added ones appended
    (only those are embedded-looked-up and analysed); the base files are read, memory-mapped, not copied."""
    ddir = store.delta_dir(gen)
    vecs = vectors.VectorSet.load_delta(ddir, vectors.load(store.faiss_file(base)))
    vecs = vecs.update(drop_ids, store.get_embeddings(add_hashes, dim), add_ids)
    lexical = SegmentedLexical.load(ddir, base=LexicalIndex.load(store.bm25_dir(base), mmap=True))
    return vecs, lexical.update(drop_ids, add_texts, add_ids)


def _full_build(store: Store, settings: Settings, dim: int) -> tuple[faiss.Index, LexicalIndex]:
    """Vectors and BM25 over every chunk (inside the open transaction)."""
    rows = store.chunk_texts()
    ids = [r[0] for r in rows]
    index = vectors.choose_index(len(rows), dim, settings)  # exact or IVF by size
    vectors.add(index, store.get_embeddings([r[1] for r in rows], dim), ids)
    return index, LexicalIndex.build([r[2] for r in rows], np.array(ids, dtype=np.int64))


def _write_dir(store: Store, target: Path, write: Callable[[Path], None]) -> None:
    """Write a folder under a temporary name, fsync its files, then rename it into place."""
    tmp = store.dir / f".tmp-{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    for p in tmp.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    os.replace(tmp, target)


def verify(store: Store) -> None:
    """Raise IndexDamaged when the current generation's files are missing or fail their checksums."""
    gen = store.generation()
    if gen:
        store.check_format()
    if gen and not _files_ok(store, gen, store.meta()):
        raise IndexDamaged(
            f"the index in {store.dir} is damaged (generation {gen} files missing or failing their checksums); "
            f"rebuild it with: newsdesk index --rebuild --data {store.dir}"
        )
