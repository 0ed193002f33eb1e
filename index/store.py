"""The data folder: SQLite (documents, chunks, embeddings, manifest) plus per-generation FAISS and BM25 files.

Layout of `data/`:
    newsdesk.sqlite        documents, chunks, embeddings (keyed by chunk hash), meta (the manifest)
    vectors-<base>.faiss   the base vectors: flat or IVF over inner product; ids are chunk ids
    bm25-<base>/           the base BM25 term counts (index/lexical.py: .npy arrays + vocab.txt); `ids.npy` maps
                           its rows to chunk ids
    delta-<gen>/           what changed since the base: the vectors added (vectors.faiss), the base chunk ids
                           removed (vectors-removed.npy, removed.npy) and the added chunks' BM25 term counts
    index.lock             one writer at a time

Every SQL statement on the database is a method here; its schema is built and upgraded by the named migrations
in index/migrations.py.

A generation is its base (written when the generation was compacted, then never modified) plus its own delta
folder; the manifest (`meta`) names both and holds their checksums. An ordinary update writes a new delta
(small: its cost follows the change) and keeps the base; when the delta grows past a share of the base, the
writer compacts both into a new base (index/indexer.py).

Atomicity: a writer writes the next generation's files under new names first, then commits the chunk
rows and the new generation number in one SQLite transaction. A reader reads the manifest, opens that
generation's files, and reads chunk rows by id when a question needs them (rows are never modified, ids
never reused). A generation's files stay on disk while it or the one after it is current (a reader may still
hold the previous one). A crash at any moment leaves the last committed generation intact.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .errors import IndexDamaged, IndexProblem, ModelMismatch
from .migrations import migrate
from .records import Span

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: BM25 as term counts (index/lexical.py); 3: base + delta generations
DB_NAME = "newsdesk.sqlite"

__all__ = ["IndexDamaged", "IndexError_", "IndexProblem", "ModelMismatch", "Snapshot", "Store"]

IndexError_ = IndexProblem  # deprecated alias (the old name), kept while other branches still import it

def rebuild_hint(data_dir: Path) -> str:
    return f"rebuild it with: newsdesk index --rebuild --data {data_dir}"


def meta_int(meta: dict[str, str], key: str, data_dir: Path, default: int = 0) -> int:
    """A number from the manifest; IndexDamaged (what is wrong, and the rebuild command) when it is not one."""
    value = meta.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise IndexDamaged(f"the index in {data_dir} is damaged: its manifest's {key} is {str(value)[:40]!r}, not a "
                           f"number; {rebuild_hint(data_dir)}") from None


def is_corrupt(exc: BaseException) -> bool:
    """Whether an sqlite3 error says the database file is damaged or not a database (not busy, not locked)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return isinstance(exc, sqlite3.DatabaseError) and any(
            m in str(exc) for m in ("malformed", "not a database", "file is encrypted"))
    return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (and their extended codes)


@contextmanager
def damage_reported(data_dir: Path) -> Iterator[None]:
    """Turn SQLite's report of a damaged database file into IndexDamaged with the rebuild command."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        raise IndexDamaged(f"the index database in {data_dir} is damaged ({exc}); {rebuild_hint(data_dir)} "
                           "(the damaged files are moved aside)") from exc


def holds_index(data: Path) -> bool:
    """Whether `data` has an index to lose: a database with a committed generation or any document. (Any reader,
    e.g. `newsdesk sources` or a health check, creates an empty database in a new data folder.)"""
    db = data / DB_NAME
    if not db.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            gen = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            docs = conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # unreadable: not ours to overwrite
    return bool(gen and int(gen[0])) or docs is not None


def copy_database(data: Path, target: Path) -> None:
    """Copy the data folder's database into folder `target` through SQLite's backup API: one consistent read of
    the whole database, while writers keep working."""
    source = sqlite3.connect(Path(data) / DB_NAME, timeout=30)
    copy = sqlite3.connect(Path(target) / DB_NAME)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()


INDEX_FILES = ("newsdesk.sqlite", "newsdesk.sqlite-wal", "newsdesk.sqlite-shm", "newsdesk.sqlite-journal")
GENERATION_PREFIXES = ("vectors-", "bm25-", "delta-", ".tmp-")


def set_aside(data_dir: Path) -> Path:
    """Move a damaged index (the SQLite files and every generation's files) into `damaged-<UTC time>/` inside the
    data folder, so a rebuild starts afresh and nothing is deleted; the model cache stays. Returns that folder."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = Path(data_dir) / f"damaged-{stamp}"
    aside.mkdir()
    for p in sorted(Path(data_dir).iterdir()):
        if p.name in INDEX_FILES or p.name.startswith(GENERATION_PREFIXES):
            os.replace(p, aside / p.name)
    fsync_dir(Path(data_dir))
    log.warning("moved the damaged index files aside to %s; rebuilding from the corpus", aside)
    return aside


_SHA_MEMO: dict[str, tuple[tuple[int, ...], str]] = {}  # path -> (stat key, sha256 hex), this process only


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_sha256(path: Path) -> str:
    """sha256 hex of a file's bytes. A process remembers the checksums it computed while the file keeps its
    inode, size, mtime and ctime (any write changes the ctime, which no one can set back): a generation file
    the writer just wrote, or a reader already checked, is not read again; a damaged or replaced one is."""
    key = _stat_key(os.stat(path))
    hit = _SHA_MEMO.get(str(path))
    if hit is not None and hit[0] == key:
        return hit[1]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    if _stat_key(os.stat(path)) == key:  # not written to while being read
        if len(_SHA_MEMO) > 512:
            _SHA_MEMO.clear()
        _SHA_MEMO[str(path)] = (key, digest)
    return digest


def pack_sentence_vectors(vectors: np.ndarray) -> bytes:
    """Sentence vectors as rows of a float32 scale (the row's largest magnitude / 127) and int8 values: 388
    bytes a 384-d sentence against 768 as float16, for a cosine to the float32 vector above 0.999 (about 12 sentences a chunk:
    they are the largest part of the data folder)."""
    v = np.asarray(vectors, dtype=np.float32)
    if not v.size:
        return b""
    v = v.reshape(len(v), -1)
    scale = np.abs(v).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    out = np.empty((len(v), 4 + v.shape[1]), dtype=np.uint8)
    out[:, :4] = scale.astype("<f4").view(np.uint8).reshape(-1, 4)
    out[:, 4:] = np.round(v / scale[:, None]).astype(np.int8).view(np.uint8)
    return out.tobytes()


def unpack_sentence_vectors(blob: bytes, n: int, dim: int) -> np.ndarray:
    """float32 n x dim from `pack_sentence_vectors` bytes (or the float16 rows older data folders hold)."""
    if not n:
        return np.zeros((0, dim), dtype=np.float32)
    if len(blob) == n * dim * 2:
        return np.frombuffer(blob, dtype=np.float16).reshape(n, dim).astype(np.float32)
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(n, 4 + dim)
    scale = rows[:, :4].copy().view("<f4").reshape(n)
    return rows[:, 4:].view(np.int8).astype(np.float32) * scale[:, None]


def remembered_sums(root: Path, paths: list[Path]) -> str:
    """The checksums of `paths` (files, or folders' files) with each file's stat key, as JSON for the
    manifest, so that another process can trust them while the files keep that stat (see `trust_sums`): a
    new reader or writer then does not read the whole base again (1.5 GB at 1M chunks). A file this process
    has not hashed yet is hashed now."""
    out = {}
    for p in paths:
        for f in sorted(p.iterdir()) if p.is_dir() else [p]:
            file_sha256(f)
            key, digest = _SHA_MEMO[str(f)]
            out[f.relative_to(root).as_posix()] = [*key, digest]
    return json.dumps(out, separators=(",", ":"))


def trust_sums(root: Path, sums: str | None) -> None:
    """Take the checksums a writer recorded (`remembered_sums`) as this process's own; `file_sha256` still
    reads any file whose inode, size, mtime or ctime differs from when it was hashed."""
    try:
        entries = json.loads(sums or "{}")
    except ValueError:
        return
    for name, rec in entries.items():
        key = str(root / name)
        if key not in _SHA_MEMO and isinstance(rec, list) and len(rec) == 6:
            _SHA_MEMO[key] = (tuple(int(x) for x in rec[:5]), str(rec[5]))


def dir_sha256(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.iterdir()):
        h.update(p.name.encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class DocRow:
    path: str
    content_hash: str
    title: str | None
    source: str | None
    date: str | None
    url: str | None
    author: str | None
    text: str
    comments: list[Span]
    facts: str = "{}"
    date_from_file: bool = False


@dataclass
class ChunkRow:
    """One indexed chunk and the document version it was cut from. A chunk id is never reused and a chunk row
    never changes (a changed document gets new chunks), so a row read at any time belongs to the generation
    that made it."""

    id: int
    path: str
    start: int
    end: int
    hash: str
    doc: DocRow

    @property
    def text(self) -> str:
        return self.doc.text[self.start : self.end]


DOC_CACHE = 512  # documents a snapshot keeps in memory (most recently used)


class Snapshot:
    """A read view of one generation: its manifest and file names. Chunk rows and documents are read from
    SQLite when a question needs them (`chunks`), not held in memory, so loading a generation costs the
    same at any size. A chunk a newer generation removed is simply absent from `chunks`' answer."""

    def __init__(self, generation: int, meta: dict[str, str], faiss_path: Path | None, bm25_path: Path | None,
                 delta_path: Path | None, store_of: "Callable[[], Store]") -> None:
        self.generation = generation
        self.meta = meta
        self.faiss_path = faiss_path  # the base's files
        self.bm25_path = bm25_path
        self.delta_path = delta_path  # this generation's delta folder
        self._store_of = store_of
        self._docs: OrderedDict[tuple[str, str], DocRow] = OrderedDict()
        self._lock = threading.Lock()

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        """The rows of these chunk ids that still exist, each with its document (one read transaction)."""
        want = list(dict.fromkeys(int(i) for i in ids))
        if not want:
            return {}
        c = self._store_of().conn
        c.execute("BEGIN")
        try:
            q = ("SELECT c.id, c.path, c.start, c.end, c.hash, d.content_hash FROM chunks c "
                 "JOIN documents d ON d.path = c.path WHERE c.id IN (%s)" % ",".join("?" * len(want)))
            rows = c.execute(q, want).fetchall()
            with self._lock:
                missing = sorted({(r[1], r[5]) for r in rows} - set(self._docs))
            fetched: dict[tuple[str, str], DocRow] = {}
            for i in range(0, len(missing), 500):
                part = [p for p, _ in missing[i : i + 500]]
                for r in c.execute(f"SELECT {_DOC_COLS} FROM documents WHERE path IN (%s)" % ",".join("?" * len(part)),
                                   part):
                    d = _docrow(r)
                    fetched[(d.path, d.content_hash)] = d
        finally:
            c.execute("COMMIT")
        out: dict[int, ChunkRow] = {}
        with self._lock:
            for key, d in fetched.items():
                self._docs[key] = d
            for r in rows:
                key = (r[1], r[5])
                doc = self._docs.get(key)
                if doc is None:
                    continue
                self._docs.move_to_end(key)
                out[int(r[0])] = ChunkRow(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], doc)
            while len(self._docs) > DOC_CACHE:
                self._docs.popitem(last=False)
        return out


class Store:
    """SQLite access for one data folder. Create one per thread (sqlite3 connections are not shared)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.dir / DB_NAME
        self.conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            with damage_reported(self.dir):
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.execute("PRAGMA foreign_keys=ON")
                migrate(self.conn)
        except BaseException:
            self.conn.close()
            raise

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[None]:
        """One SQLite transaction around the block: committed when it ends, rolled back when it raises.
        `immediate` takes the write lock at once (a writer that reads, then writes what it read)."""
        self.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # --- manifest -------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """The manifest; IndexDamaged (with the rebuild command) when its pages are damaged."""
        with damage_reported(self.dir):
            return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def put_meta(self, items: dict[str, str]) -> None:
        """Inside the caller's transaction: set these manifest keys."""
        self.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(items.items()))

    def generation(self) -> int:
        with damage_reported(self.dir):
            row = self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return meta_int({"generation": row[0]}, "generation", self.dir) if row else 0

    def check_health(self) -> None:
        """Raise IndexDamaged when the manifest holds a value that is not a number where one belongs, or when
        SQLite's quick check finds damaged pages (reads the whole database: for a rebuild, which reads it anyway)."""
        meta = self.meta()
        for key in ("generation", "base", "dimension", "format_version"):
            meta_int(meta, key, self.dir)
        with damage_reported(self.dir):
            problems = [r[0] for r in self.conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise IndexDamaged(f"the index database in {self.dir} is damaged ({'; '.join(problems[:3])}); "
                               f"{rebuild_hint(self.dir)}")

    def reset_manifest(self) -> None:
        """Forget the manifest and every generation's files (all derived from the rows), keeping the documents and
        the embeddings cache and, when they are sound, the model and dimension the cache was made with."""
        meta = self.meta()
        keep = {k: meta[k] for k in ("model", "dimension") if k in meta}
        if "dimension" in keep and not keep["dimension"].isdigit():
            keep.clear()
        with self.transaction():
            self.conn.execute("DELETE FROM meta")
            self.conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", list(keep.items()))
        for p in self.dir.iterdir():
            if p.name.startswith(GENERATION_PREFIXES):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        log.warning("the index manifest in %s was damaged: it is rebuilt from the stored documents", self.dir)

    def check_model(self, model: str, dim: int) -> None:
        m = self.meta()
        if not m.get("model"):
            return
        if m.get("model") != model or meta_int(m, "dimension", self.dir, dim) != dim:
            raise ModelMismatch(
                f"the index in {self.dir} was built with model {m.get('model')!r} "
                f"({m.get('dimension')}-d), not {model!r} ({dim}-d); "
                f"rebuild it with: newsdesk index --rebuild --data {self.dir}"
            )
        self.check_format(m)

    def check_format(self, meta: dict[str, str] | None = None) -> None:
        """Raise IndexDamaged, with the rebuild command, when the index was written in another format."""
        m = self.meta() if meta is None else meta
        if meta_int(m, "format_version", self.dir, FORMAT_VERSION) != FORMAT_VERSION:
            raise IndexDamaged(
                f"the index in {self.dir} has format {m.get('format_version')}, this newsdesk reads "
                f"{FORMAT_VERSION}; rebuild it with: newsdesk index --rebuild --data {self.dir}"
            )

    # --- documents ------------------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT path, content_hash FROM documents").fetchall())

    def document_stats(self, under: list[str] | None = None) -> dict[str, tuple[int | None, int | None, int | None]]:
        """Per document path: the file's size, mtime_ns and ctime_ns when its content hash was taken. With `under`,
        only the documents at those paths or inside those folders. (The hashes themselves are not read: a full
        scan of a 250k-document corpus compares only stats; `document_hash` serves the few that differ.)"""
        q = "SELECT path, size, mtime_ns, ctime_ns FROM documents"
        if under is None:
            return {p: (s, m, c) for p, s, m, c in self.conn.execute(q).fetchall()}
        out = {}
        for name in under:  # the name itself, and the range of paths "name/..." ('0' follows '/')
            for p, s, m, c in self.conn.execute(q + " WHERE path = ? OR (path > ? AND path < ?)",
                                                (name, name + "/", name + "0")):
                out[p] = (s, m, c)
        return out

    def failures(self) -> dict[str, tuple[int, int, int, str, str]]:
        """Per path of a file that gave no document: (size, mtime_ns, ctime_ns, reader key, reason)."""
        return {r[0]: tuple(r[1:]) for r in self.conn.execute(
            "SELECT path, size, mtime_ns, ctime_ns, reader, reason FROM failures")}

    def set_failures(self, failed: list[tuple[str, int, int, int, str, str]], forget: Iterable[str]) -> None:
        """Remember files that gave no document (path, size, mtime_ns, ctime_ns, reader key, reason) and forget
        the paths in `forget` (read fine since, or gone)."""
        gone = [(p,) for p in forget]
        if not failed and not gone:
            return
        with self.transaction():
            self.conn.executemany("DELETE FROM failures WHERE path = ?", gone)
            self.conn.executemany("INSERT OR REPLACE INTO failures(path, size, mtime_ns, ctime_ns, reader, reason) "
                                  "VALUES (?, ?, ?, ?, ?, ?)", failed)

    def document_hash(self, path: str) -> str | None:
        r = self.conn.execute("SELECT content_hash FROM documents WHERE path=?", (path,)).fetchone()
        return r[0] if r else None

    def document(self, path: str) -> DocRow | None:
        r = self.conn.execute(
            f"SELECT {_DOC_COLS} FROM documents WHERE path=?",
            (path,),
        ).fetchone()
        return _docrow(r) if r else None

    def sources(self) -> list[tuple[str, str | None, str | None, str | None, str | None, int]]:
        """Per document, by path: (path, title, source, date, url, number of chunks)."""
        return self.conn.execute(
            "SELECT d.path, d.title, d.source, d.date, d.url, COUNT(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.path = d.path GROUP BY d.path ORDER BY d.path"
        ).fetchall()

    def titles(self) -> list[tuple[str, str | None, str | None]]:
        """Per document: (path, title, author), for finding an article by its name."""
        return self.conn.execute("SELECT path, title, author FROM documents").fetchall()

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) indexed."""
        d = self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        c = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(d), int(c)

    def restat_documents(self, rows: list[tuple[int, int, int, str]]) -> None:
        """Inside the caller's transaction: record (size, mtime_ns, ctime_ns, path) for unchanged documents."""
        self.conn.executemany("UPDATE documents SET size=?, mtime_ns=?, ctime_ns=? WHERE path=?", rows)

    def delete_document(self, path: str) -> list[tuple[int, str]]:
        """Inside the caller's transaction: remove a document and its chunks; returns their (id, hash)."""
        dropped = [(int(cid), h) for cid, h in
                   self.conn.execute("SELECT id, hash FROM chunks WHERE path=?", (path,)).fetchall()]
        self.conn.execute("DELETE FROM chunks WHERE path=?", (path,))
        self.conn.execute("DELETE FROM documents WHERE path=?", (path,))
        return dropped

    def add_document(self, d: DocRow, facts: str, indexed_at: str, size: int | None, mtime_ns: int | None,
                     ctime_ns: int | None) -> None:
        """Inside the caller's transaction: store a document version (its chunks go in with `add_chunk`)."""
        self.conn.execute(
            "INSERT INTO documents(path, content_hash, title, source, date, url, author, text, comments, "
            "facts, indexed_at, size, mtime_ns, ctime_ns, date_from_file) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.path, d.content_hash, d.title, d.source, d.date, d.url, d.author, d.text,
             json.dumps([[s.start, s.end] for s in d.comments]),
             facts, indexed_at, size, mtime_ns, ctime_ns, int(d.date_from_file)),
        )

    def add_chunk(self, path: str, start: int, end: int, hash_: str) -> int:
        """Inside the caller's transaction: store one chunk of a document; returns its new (never reused) id."""
        cur = self.conn.execute("INSERT INTO chunks(path, start, end, hash) VALUES (?,?,?,?)", (path, start, end, hash_))
        return int(cur.lastrowid)

    def chunk_texts(self) -> list[tuple[int, str, str]]:
        """Every chunk as (id, text hash, text), by id (for building a generation from scratch)."""
        return self.conn.execute(
            "SELECT chunks.id, chunks.hash, substr(documents.text, chunks.start + 1, chunks.end - chunks.start) "
            "FROM chunks JOIN documents ON documents.path = chunks.path ORDER BY chunks.id"
        ).fetchall()

    # --- embeddings cache -----------------------------------------------------------------------
    def known_hashes(self, hashes: Iterable[str]) -> set[str]:
        hs = list(set(hashes))
        found: set[str] = set()
        for i in range(0, len(hs), 500):
            part = hs[i : i + 500]
            q = "SELECT hash FROM embeddings WHERE hash IN (%s)" % ",".join("?" * len(part))
            found.update(r[0] for r in self.conn.execute(q, part))
        return found

    def put_embeddings(self, hashes: list[str], vectors: np.ndarray,
                       sentences: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Store chunk vectors (and optionally per-sentence spans and vectors) under their text hash."""
        rows = []
        for i, (h, v) in enumerate(zip(hashes, vectors)):
            spans, svecs = sentences[i] if sentences else (None, None)
            rows.append((h, v.astype(np.float32).tobytes(),
                         None if spans is None else np.asarray(spans, dtype=np.int32).tobytes(),
                         None if svecs is None else pack_sentence_vectors(svecs)))
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO embeddings(hash, vector, sent_spans, sent_vectors) VALUES (?, ?, ?, ?)",
                rows,
            )
            self.conn.executemany("INSERT OR IGNORE INTO pending(hash) VALUES (?)", [(h,) for h in hashes])

    def forget_embeddings(self) -> None:
        """Inside the caller's transaction: drop the whole embeddings cache (made by another model)."""
        self.conn.execute("DELETE FROM embeddings")

    def forget_unused_embeddings(self, hashes: Iterable[str] | None = None) -> None:
        """Inside the caller's transaction: drop the embeddings of `hashes` that no chunk uses any more and the
        pending ones no chunk uses; with no `hashes`, every embedding no chunk uses."""
        if hashes is None:
            self.conn.execute("DELETE FROM embeddings WHERE hash NOT IN (SELECT hash FROM chunks)")
            self.conn.execute("DELETE FROM pending")
            return
        self.conn.executemany("DELETE FROM embeddings WHERE hash = ? AND NOT EXISTS "
                              "(SELECT 1 FROM chunks WHERE chunks.hash = ?)", [(h, h) for h in hashes])
        self.forget_pending()

    def forget_pending(self) -> None:
        """Inside the caller's transaction: drop the pending embeddings no chunk uses, then the pending list."""
        self.conn.execute("DELETE FROM embeddings WHERE hash IN (SELECT hash FROM pending) AND NOT EXISTS "
                          "(SELECT 1 FROM chunks WHERE chunks.hash = embeddings.hash)")
        self.conn.execute("DELETE FROM pending")

    def has_pending(self) -> bool:
        return self.conn.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is not None

    def get_sentences(self, hashes: list[str], dim: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per chunk hash: sentence spans (n x 2, chunk-relative) and float32 sentence vectors (n x dim)."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        keys = list(set(hashes))
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = "SELECT hash, sent_spans, sent_vectors FROM embeddings WHERE hash IN (%s)" % ",".join("?" * len(part))
            for h, sp, sv in self.conn.execute(q, part):
                if sp is None or sv is None:
                    continue
                spans = np.frombuffer(sp, dtype=np.int32).reshape(-1, 2)
                out[h] = (spans, unpack_sentence_vectors(sv, len(spans), dim))
        return out

    def chunk_vectors(self, ids: list[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of these chunk ids: (ids found, n x dim float32)."""
        found: list[int] = []
        vecs: list[np.ndarray] = []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            q = ("SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.hash WHERE c.id IN (%s)"
                 % ",".join("?" * len(part)))
            for cid, blob in self.conn.execute(q, part):
                v = np.frombuffer(blob, dtype=np.float32)
                if v.size == dim:
                    found.append(int(cid))
                    vecs.append(v)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.asarray(found, dtype=np.int64), np.vstack(vecs)

    def chunk_starts(self) -> Iterator[tuple[int, str, int]]:
        """Every chunk as (id, path, start), by path and start (the speaker index maps quotations to chunks)."""
        yield from self.conn.execute("SELECT id, path, start FROM chunks ORDER BY path, start")

    def document_facts(self) -> Iterator[tuple[str, bytes | str | None]]:
        """Every document's stored facts blob, as (path, facts)."""
        yield from self.conn.execute("SELECT path, facts FROM documents")

    def chunk_dates(self) -> list[tuple[int, str | None, str]]:
        """Every chunk as (id, its document's date, path), by id (the as-of timeline)."""
        return self.conn.execute("SELECT c.id, d.date, c.path FROM chunks c JOIN documents d ON d.path = c.path "
                                 "ORDER BY c.id").fetchall()

    def get_embeddings(self, hashes: list[str], dim: int) -> np.ndarray:
        out = np.zeros((len(hashes), dim), dtype=np.float32)
        pos: dict[str, list[int]] = {}
        for i, h in enumerate(hashes):
            pos.setdefault(h, []).append(i)
        keys = list(pos)
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = "SELECT hash, vector FROM embeddings WHERE hash IN (%s)" % ",".join("?" * len(part))
            for h, blob in self.conn.execute(q, part):
                v = np.frombuffer(blob, dtype=np.float32)
                for j in pos[h]:
                    out[j] = v
        return out

    # --- snapshot -------------------------------------------------------------------------------
    def snapshot(self, store_of: "Callable[[], Store] | None" = None) -> Snapshot:
        """The current generation's view. `store_of` gives the calling thread's Store (connections are not
        shared between threads); by default this one."""
        meta = self.meta()
        gen = meta_int(meta, "generation", self.dir)
        base = meta_int(meta, "base", self.dir) or gen
        return Snapshot(gen, meta, self.faiss_file(base) if gen else None, self.bm25_dir(base) if gen else None,
                        self.delta_dir(gen) if gen else None, store_of or (lambda: self))

    # --- generations ----------------------------------------------------------------------------
    def faiss_file(self, gen: int) -> Path:
        return self.dir / f"vectors-{gen}.faiss"

    def bm25_dir(self, gen: int) -> Path:
        return self.dir / f"bm25-{gen}"

    def delta_dir(self, gen: int) -> Path:
        return self.dir / f"delta-{gen}"

    def remove_old_generations(self, keep: dict[int, int]) -> None:
        """Delete generation files no generation in `keep` ({generation: its base}) uses: readers may still
        hold the previous generation."""
        bases = set(keep.values())
        for p in self.dir.iterdir():
            for prefix, wanted in (("vectors-", bases), ("bm25-", bases), ("delta-", set(keep))):
                if p.name.startswith(prefix):
                    stem = p.name[len(prefix) :].split(".")[0]
                    if stem.isdigit() and int(stem) not in wanted and int(stem) < max(keep):
                        if p.is_dir():
                            shutil.rmtree(p, ignore_errors=True)
                        else:
                            p.unlink(missing_ok=True)
            if p.name.startswith(".tmp-"):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)


_DOC_COLS = "path, content_hash, title, source, date, url, author, text, comments, facts, date_from_file"


def _docrow(r: tuple) -> DocRow:
    comments = [Span(int(a), int(b)) for a, b in json.loads(r[8] or "[]")]
    return DocRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], comments, r[9], bool(r[10]))


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
