"""One index run: scan the corpus, embed only new chunk text, write the next generation atomically."""
from __future__ import annotations

import hashlib
import json
import shutil
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from filelock import FileLock, Timeout

from . import facts, vectors
from .chunking import chunk_hash, chunk_spans
from .embedding import Embedder, set_threads
from .lexical import LexicalIndex
from .loaders import SUPPORTED_SUFFIXES, DocumentError, load_document
from .records import Document, IndexReport, Skipped
from .sentences import split_sentences
from .settings import Settings
from .store import FORMAT_VERSION, IndexDamaged, IndexError_, Store, dir_sha256, file_sha256, fsync_dir, now_iso

log = logging.getLogger(__name__)

EMBED_BLOCK = 256  # chunks embedded, then committed to the cache, at a time (a killed run resumes)
MTIME_TRUST_NS = 2_000_000_000  # a file modified this recently may change again within the same mtime tick


class IndexLocked(IndexError_):
    pass


def is_candidate(path: Path) -> bool:
    """Files the scanner looks at: not hidden, not an editor's temporary or backup file."""
    return _candidate_name(path.name)


def _candidate_name(name: str) -> bool:
    return not (
        name.startswith(".")
        or name.startswith("~")
        or name.endswith("~")
        or (name.startswith("#") and name.endswith("#"))
        or name.endswith((".swp", ".swx", ".tmp", ".part", ".crdownload"))
    )


def scan(corpus: Path) -> list[tuple[str, os.stat_result | OSError]]:
    """The candidate files under `corpus` (hidden folders and symlinked folders left out) as (relative POSIX
    name, stat, or the error stat raised), in `os.walk` order with sorted names: a folder's files, then its
    subfolders'. One stat a file (os.scandir knows which entries are files)."""
    out: list[tuple[str, os.stat_result | OSError]] = []

    def walk(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return  # as os.walk: an unreadable folder is passed over
        subfolders = []
        for e in entries:
            try:
                if e.is_dir():
                    if not e.name.startswith(".") and not e.is_symlink():
                        subfolders.append(e)
                    continue
                if not _candidate_name(e.name) or not e.is_file():
                    continue
                out.append((prefix + e.name, e.stat()))
            except OSError as exc:
                out.append((prefix + e.name, exc))
        for d in subfolders:
            walk(d.path, prefix + d.name + "/")

    walk(str(corpus), "")
    return out


def _suffix(name: str) -> str:
    """Path(name).suffix"""
    ext = os.path.splitext(name.rsplit("/", 1)[-1])[1]
    return "" if ext == "." else ext


def rel(path: Path, corpus: Path) -> str:
    return path.relative_to(corpus).as_posix()


@dataclass
class _Prepared:
    doc: Document
    spans: list[tuple[int, int]]
    hashes: list[str]
    size: int | None = None  # the file's stat when it was hashed (None: not to be trusted)
    mtime_ns: int | None = None


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
) -> IndexReport:
    t0 = time.perf_counter()
    corpus = Path(settings.corpus)
    data = Path(settings.data)
    if not corpus.is_dir():
        raise IndexError_(f"corpus folder not found: {corpus}")
    lock = lock_for(data)
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise IndexLocked(
            f"another index run is writing to {data} (lock {data / 'index.lock'}); "
            "wait for it to finish and try again"
        ) from None
    try:
        store = Store(data)
        try:
            report = _run(store, settings, get_embedder, rebuild=rebuild,
                          progress=settings.progress if progress is None else progress)
        finally:
            store.close()
    finally:
        lock.release()
    report.seconds = time.perf_counter() - t0
    for s in report.skipped:
        log.warning("skipped %s: %s", s.path, s.reason)
    return report


def _run(store: Store, settings: Settings, get_embedder: Callable[[], Embedder], *, rebuild: bool,
         progress: bool) -> IndexReport:
    corpus = Path(settings.corpus)
    report = IndexReport()
    meta = store.meta()
    if meta.get("model") and meta["model"] != settings.model and not rebuild:
        log.warning("index was built with %s; rebuilding with %s", meta["model"], settings.model)
        rebuild = True
    if rebuild and meta.get("model") != settings.model:
        with store.conn:
            store.conn.execute("BEGIN")
            store.conn.execute("DELETE FROM embeddings")
    if meta.get("generation") and int(meta.get("format_version") or 0) != FORMAT_VERSION and not rebuild:
        log.warning("index format %s is not this newsdesk's (%d); rebuilding", meta.get("format_version"),
                    FORMAT_VERSION)
        rebuild = True
    stats = store.document_stats()  # path -> (content hash, size, mtime_ns when hashed)
    old = {p: st[0] for p, st in stats.items()}
    restat: list[tuple[int, int | None, str]] = []
    max_bytes = int(settings.max_file_mb * 1024 * 1024)

    seen: set[str] = set()
    changed: list[_Prepared] = []
    kept_broken: set[str] = set()
    for name, st in scan(corpus):
        suffix = _suffix(name)
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            report.skipped.append(Skipped(name, f"unsupported file type {suffix or '(none)'}"))
            continue
        if isinstance(st, OSError):
            report.skipped.append(Skipped(name, f"unreadable: {st.strerror or st}"))
            continue
        size = st.st_size
        if size > max_bytes:
            reason = f"file too large ({size / 1048576:.1f} MB > {settings.max_file_mb:g} MB)"
            _skip(report, name, reason, old, kept_broken)
            continue
        prev = stats.get(name)
        if not rebuild and prev is not None and prev[1] == size and prev[2] == st.st_mtime_ns:
            seen.add(name)  # same size and mtime as when it was hashed: not read again
            report.unchanged += 1
            continue
        path = corpus / name
        try:
            h = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            _skip(report, name, f"unreadable: {exc.strerror or exc}", old, kept_broken)
            continue
        seen.add(name)
        mtime_ns = st.st_mtime_ns if time.time_ns() - st.st_mtime_ns > MTIME_TRUST_NS else None
        if not rebuild and old.get(name) == h:
            report.unchanged += 1
            if prev is not None and (prev[1], prev[2]) != (size, mtime_ns):
                restat.append((size, mtime_ns, name))  # touched, not changed: remember the new stat
            continue
        try:
            doc = load_document(path, corpus, max_bytes=max_bytes)
        except DocumentError as exc:
            _skip(report, name, str(exc), old, kept_broken)
            seen.discard(name)
            continue
        except Exception as exc:  # a loader bug must not abort the run
            log.exception("failed to load %s", name)
            _skip(report, name, f"could not be read ({type(exc).__name__}: {exc})", old, kept_broken)
            seen.discard(name)
            continue
        spans = chunk_spans(doc.text, target_words=settings.chunk_words, max_words=settings.max_chunk_words)
        if not spans:
            _skip(report, name, "no text left after cleaning", old, kept_broken)
            seen.discard(name)
            continue
        hashes = [chunk_hash(doc.text[s.start : s.end]) for s in spans]
        changed.append(_Prepared(doc, [(s.start, s.end) for s in spans], hashes, size, mtime_ns))
        if name in old:
            report.updated += 1
        else:
            report.added += 1

    removed = [p for p in old if p not in seen and p not in kept_broken]
    report.removed = len(removed)
    if restat:  # not part of the index's content: no new generation needed
        with store.conn:
            store.conn.execute("BEGIN")
            store.conn.executemany("UPDATE documents SET size=?, mtime_ns=? WHERE path=?", restat)

    # Embed chunk text never embedded before (the cache is keyed by the text's hash).
    needed: dict[str, str] = {}
    for prep in changed:
        for (s, e), h in zip(prep.spans, prep.hashes):
            needed.setdefault(h, prep.doc.text[s:e])
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
        report.documents, report.chunks = _counts(store)
        return report

    dim = int(store.meta().get("dimension") or 0) or (embedder or get_embedder()).dim
    _commit(store, settings, changed, removed, rebuild or not faiss_ok, dim)
    report.documents, report.chunks = _counts(store)
    return report


def _skip(report: IndexReport, name: str, reason: str, old: dict[str, str], kept: set[str]) -> None:
    if name in old:
        kept.add(name)
        reason += " (the previously indexed version is kept)"
    report.skipped.append(Skipped(name, reason))


def _counts(store: Store) -> tuple[int, int]:
    d = store.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    c = store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return int(d), int(c)


def _embed(store: Store, embedder: Embedder, missing: list[str], texts: dict[str, str], settings: Settings,
           progress: bool) -> None:
    from tqdm.auto import tqdm

    set_threads(settings.index_threads)
    try:
        bar = tqdm(total=len(missing), desc="embedding", unit="chunk", disable=not progress, leave=False)
        for i in range(0, len(missing), EMBED_BLOCK):
            part = missing[i : i + EMBED_BLOCK]
            chunk_texts = [texts[h] for h in part]
            spans = [[(sp.start, sp.end) for sp in split_sentences(t)] for t in chunk_texts]
            vecs, sent_vecs = embedder.encode_chunks(chunk_texts, spans, batch_size=settings.batch_size)
            store.put_embeddings(part, vecs, [(np.array(sp, dtype=np.int32).reshape(-1, 2), sv)
                                              for sp, sv in zip(spans, sent_vecs)])
            bar.update(len(part))
        bar.close()
    finally:
        set_threads(settings.query_threads)


def _files_ok(store: Store, gen: int, meta: dict[str, str]) -> bool:
    """The generation's files exist and match the manifest's checksums."""
    try:
        f = store.faiss_file(gen)
        b = store.bm25_dir(gen)
        return (f.exists() and b.is_dir() and file_sha256(f) == meta.get("faiss_sha256")
                and dir_sha256(b) == meta.get("bm25_sha256"))
    except OSError:
        return False


def _commit(store: Store, settings: Settings, changed: list[_Prepared], removed: list[str], from_scratch: bool,
            dim: int) -> None:
    c = store.conn
    gen = store.generation()
    new_gen = gen + 1
    c.execute("BEGIN IMMEDIATE")
    try:
        drop_ids: list[int] = []
        drop_hashes: set[str] = set()
        for path in removed + [p.doc.path for p in changed]:
            for cid, h in c.execute("SELECT id, hash FROM chunks WHERE path=?", (path,)).fetchall():
                drop_ids.append(int(cid))
                drop_hashes.add(h)
            c.execute("DELETE FROM chunks WHERE path=?", (path,))
            c.execute("DELETE FROM documents WHERE path=?", (path,))
        add_ids: list[int] = []
        add_hashes: list[str] = []
        add_texts: list[str] = []
        ts = now_iso()
        for prep in changed:
            d = prep.doc
            c.execute(
                "INSERT INTO documents(path, content_hash, title, source, date, url, author, text, comments, "
                "facts, indexed_at, size, mtime_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (d.path, d.content_hash, d.title, d.source, d.date, d.url, d.author, d.text,
                 json.dumps([[s.start, s.end] for s in d.comments]),
                 facts.dumps(facts.extract(d.text, d.date)), ts, prep.size, prep.mtime_ns),
            )
            for (s, e), h in zip(prep.spans, prep.hashes):
                cur = c.execute("INSERT INTO chunks(path, start, end, hash) VALUES (?,?,?,?)", (d.path, s, e, h))
                add_ids.append(int(cur.lastrowid))
                add_hashes.append(h)
                add_texts.append(d.text[s:e])

        if from_scratch or gen == 0:
            rows = c.execute("SELECT id, hash FROM chunks ORDER BY id").fetchall()
            index = vectors.choose_index(len(rows), dim, settings)  # exact or IVF by size
            ids = [r[0] for r in rows]
            vectors.add(index, store.get_embeddings([r[1] for r in rows], dim), ids)
        else:
            index = vectors.load(store.faiss_file(gen), mmap=False)  # to modify: not memory-mapped
            vectors.remove(index, drop_ids)
            vectors.add(index, store.get_embeddings(add_hashes, dim), add_ids)
            index = vectors.maintain(index, settings)  # change type or retrain IVF when the size drifted

        lexical = _lexical(store, gen, from_scratch or gen == 0, drop_ids, add_texts, add_ids)

        fpath = store.faiss_file(new_gen)
        vectors.save(index, fpath)
        bdir = store.bm25_dir(new_gen)
        tmp = store.dir / f".tmp-bm25-{new_gen}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(bdir, ignore_errors=True)
        lexical.save(tmp)
        for p in tmp.iterdir():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, bdir)
        fsync_dir(store.dir)

        meta = {
            "format_version": str(FORMAT_VERSION),
            "model": settings.model,
            "dimension": str(dim),
            "generation": str(new_gen),
            "updated_at": ts,
            "faiss_sha256": file_sha256(fpath),
            "bm25_sha256": dir_sha256(bdir),
        }
        c.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(meta.items()))
        # Forget embeddings no chunk uses any more: the dropped chunks' (all of them on a rebuild).
        if from_scratch or gen == 0:
            c.execute("DELETE FROM embeddings WHERE hash NOT IN (SELECT hash FROM chunks)")
        else:
            c.executemany("DELETE FROM embeddings WHERE hash = ? AND NOT EXISTS "
                          "(SELECT 1 FROM chunks WHERE chunks.hash = ?)", [(h, h) for h in drop_hashes])
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    store.remove_old_generations(keep_from=new_gen - 1)
    log.info("index generation %d written (%d chunks)", new_gen, index.ntotal)


def _lexical(store: Store, gen: int, from_scratch: bool, drop_ids: list[int], add_texts: list[str],
             add_ids: list[int]) -> LexicalIndex:
    """The next generation's BM25: the current one's with the dropped chunks removed and the added ones
    appended (only those are analysed), or, from scratch, built over every chunk (inside the open transaction)."""
    if not from_scratch:
        try:
            return LexicalIndex.load(store.bm25_dir(gen)).update(drop_ids, add_texts, add_ids)
        except (OSError, ValueError) as exc:
            log.warning("could not update the BM25 index of generation %d (%s); building it anew", gen, exc)
    rows = store.conn.execute(
        "SELECT chunks.id, substr(documents.text, chunks.start + 1, chunks.end - chunks.start) "
        "FROM chunks JOIN documents ON documents.path = chunks.path ORDER BY chunks.id"
    ).fetchall()
    return LexicalIndex.build([r[1] for r in rows], np.array([r[0] for r in rows], dtype=np.int64))


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
