"""The data folder: SQLite (documents, chunks, embeddings, manifest) plus per-generation FAISS and BM25 files.

Layout of `data/`:
    newsdesk.sqlite        documents, chunks, embeddings (keyed by chunk hash), meta (the manifest)
    vectors-<gen>.faiss    IndexIDMap2 over inner product; ids are chunk ids
    bm25-<gen>/            BM25 term counts (index/lexical.py: .npy arrays + vocab.txt); `ids.npy` maps its
                           rows to chunk ids
    index.lock             one writer at a time

Atomicity: a writer writes the next generation's files under new names first, then commits the chunk
rows and the new generation number in one SQLite transaction. A reader reads the generation and the
rows in one read transaction (WAL: a consistent snapshot), then opens that generation's files, which
stay on disk until two newer generations exist. A crash at any moment leaves the last committed
generation intact.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .records import Span

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: BM25 as term counts (index/lexical.py); documents.size, mtime_ns
DB_NAME = "newsdesk.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT, source TEXT, date TEXT, url TEXT, author TEXT,
    text TEXT NOT NULL,
    comments TEXT NOT NULL DEFAULT '[]',
    facts TEXT NOT NULL DEFAULT '{}',   -- quotations and dates extracted at index time (index/facts.py)
    indexed_at TEXT NOT NULL,
    size INTEGER,                       -- the file's size and mtime (ns) when content_hash was taken; NULL:
    mtime_ns INTEGER                    -- unknown or too recent to trust, the next run hashes the file
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL REFERENCES documents(path) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT PRIMARY KEY,          -- sha256 of the chunk text
    vector BLOB NOT NULL,           -- float32 chunk vector
    sent_spans BLOB,                -- int32 (start, end) pairs of the chunk's sentences, chunk-relative
    sent_vectors BLOB               -- float16 sentence vectors (late chunking), one row per span
);
"""


class IndexError_(RuntimeError):
    """A user-facing problem with the index (damaged, wrong model, locked)."""


class IndexDamaged(IndexError_):
    pass


class ModelMismatch(IndexError_):
    pass


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


@dataclass
class Snapshot:
    """A consistent read view: one generation's rows and files."""

    generation: int
    meta: dict[str, str]
    documents: dict[str, DocRow]
    chunk_ids: np.ndarray  # int64, aligned with the arrays below
    chunk_paths: list[str]
    chunk_starts: np.ndarray
    chunk_ends: np.ndarray
    chunk_hashes: list[str]
    faiss_path: Path | None
    bm25_path: Path | None
    row_of: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row_of = {int(c): i for i, c in enumerate(self.chunk_ids)}

    def chunk_text(self, row: int) -> str:
        doc = self.documents[self.chunk_paths[row]]
        return doc.text[int(self.chunk_starts[row]) : int(self.chunk_ends[row])]


class Store:
    """SQLite access for one data folder. Create one per thread (sqlite3 connections are not shared)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.dir / DB_NAME
        self.conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns newer code keeps to a data folder made by older code."""
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(documents)")}
        for name in ("size", "mtime_ns"):
            if name not in cols:
                try:
                    self.conn.execute(f"ALTER TABLE documents ADD COLUMN {name} INTEGER")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    def close(self) -> None:
        self.conn.close()

    # --- manifest -------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def generation(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def check_model(self, model: str, dim: int) -> None:
        m = self.meta()
        if not m.get("model"):
            return
        if m.get("model") != model or int(m.get("dimension", dim)) != dim:
            raise ModelMismatch(
                f"the index in {self.dir} was built with model {m.get('model')!r} "
                f"({m.get('dimension')}-d), not {model!r} ({dim}-d); "
                f"rebuild it with: newsdesk index --rebuild --data {self.dir}"
            )
        self.check_format(m)

    def check_format(self, meta: dict[str, str] | None = None) -> None:
        """Raise IndexDamaged, with the rebuild command, when the index was written in another format."""
        m = self.meta() if meta is None else meta
        if int(m.get("format_version", FORMAT_VERSION)) != FORMAT_VERSION:
            raise IndexDamaged(
                f"the index in {self.dir} has format {m.get('format_version')}, this newsdesk reads "
                f"{FORMAT_VERSION}; rebuild it with: newsdesk index --rebuild --data {self.dir}"
            )

    # --- documents ------------------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT path, content_hash FROM documents").fetchall())

    def document_stats(self) -> dict[str, tuple[str, int | None, int | None]]:
        """Per document path: content hash, and the file's size and mtime_ns when it was hashed."""
        return {r[0]: (r[1], r[2], r[3])
                for r in self.conn.execute("SELECT path, content_hash, size, mtime_ns FROM documents")}

    def document(self, path: str) -> DocRow | None:
        r = self.conn.execute(
            "SELECT path, content_hash, title, source, date, url, author, text, comments, facts FROM documents "
            "WHERE path=?",
            (path,),
        ).fetchone()
        return _docrow(r) if r else None

    def chunk_ids_of(self, path: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE path=?", (path,))]

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
                         None if svecs is None else np.asarray(svecs, dtype=np.float16).tobytes()))
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO embeddings(hash, vector, sent_spans, sent_vectors) VALUES (?, ?, ?, ?)",
                rows,
            )

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
                out[h] = (spans, np.frombuffer(sv, dtype=np.float16).reshape(len(spans), dim).astype(np.float32))
        return out

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
    def snapshot(self) -> Snapshot:
        """Read a consistent generation (rows and file names) in one read transaction."""
        c = self.conn
        c.execute("BEGIN")
        try:
            meta = self.meta()
            gen = int(meta.get("generation", 0))
            docs = {
                r[0]: _docrow(r)
                for r in c.execute(
                    "SELECT path, content_hash, title, source, date, url, author, text, comments, facts FROM documents"
                )
            }
            rows = c.execute("SELECT id, path, start, end, hash FROM chunks ORDER BY id").fetchall()
        finally:
            c.execute("COMMIT")
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return Snapshot(
            generation=gen,
            meta=meta,
            documents=docs,
            chunk_ids=ids,
            chunk_paths=[r[1] for r in rows],
            chunk_starts=np.array([r[2] for r in rows], dtype=np.int64),
            chunk_ends=np.array([r[3] for r in rows], dtype=np.int64),
            chunk_hashes=[r[4] for r in rows],
            faiss_path=self.dir / f"vectors-{gen}.faiss" if gen else None,
            bm25_path=self.dir / f"bm25-{gen}" if gen else None,
        )

    # --- generations ----------------------------------------------------------------------------
    def faiss_file(self, gen: int) -> Path:
        return self.dir / f"vectors-{gen}.faiss"

    def bm25_dir(self, gen: int) -> Path:
        return self.dir / f"bm25-{gen}"

    def remove_old_generations(self, keep_from: int) -> None:
        """Delete generation files older than `keep_from` (readers may still hold `keep_from`)."""
        for p in self.dir.iterdir():
            for prefix in ("vectors-", "bm25-"):
                if p.name.startswith(prefix):
                    stem = p.name[len(prefix) :].split(".")[0]
                    if stem.isdigit() and int(stem) < keep_from:
                        if p.is_dir():
                            shutil.rmtree(p, ignore_errors=True)
                        else:
                            p.unlink(missing_ok=True)
            if p.name.startswith(".tmp-"):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)


def _docrow(r: tuple) -> DocRow:
    comments = [Span(int(a), int(b)) for a, b in json.loads(r[8] or "[]")]
    return DocRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], comments, r[9])


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
