"""The index database's schema as named, ordered migrations (the pattern of simonw/llm's `migrations.py`).

Each migration is a function `mNNN_what(conn)` registered in `MIGRATIONS` in the order it must run; the table
`_migrations` records the name of each one applied, so each runs once per database. A database made before this
table existed (every data folder written by an older newsdesk) holds some or all of these changes already, so
every migration is written to be harmless on such a database: tables and indexes with IF NOT EXISTS, columns
added only when missing. Such a database upgrades in place on its first open: nothing is rebuilt.

A schema change is a new function appended at the end of `MIGRATIONS`; never edit or reorder one that shipped.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import Callable

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration (by its function name)."""
    MIGRATIONS.append(fn)
    return fn


def _add_columns(conn: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The manifest, documents, their chunks and the embeddings cache keyed by chunk-text hash."""
    for statement in """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT, source TEXT, date TEXT, url TEXT, author TEXT,
    text TEXT NOT NULL,
    comments TEXT NOT NULL DEFAULT '[]',
    facts TEXT NOT NULL DEFAULT '{}',   -- quotations and dates extracted at index time (index/facts.py)
    indexed_at TEXT NOT NULL
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
    sent_vectors BLOB               -- sentence vectors (late chunking), one row per span: a float32 scale and
                                    -- int8 values per row (store.pack_sentence_vectors); float16 in older folders
)
""".split(";\n"):  # one statement at a time: executescript would commit the migrations' transaction
        if statement.strip():
            conn.execute(statement)


@migration
def m002_stat_columns(conn: sqlite3.Connection) -> None:
    """The file's size, mtime and ctime (ns) when its content hash was taken; NULL: unknown or too recent to
    trust, and the next run hashes the file (any write moves the ctime; no one can set it back)."""
    _add_columns(conn, "documents", {"size": "INTEGER", "mtime_ns": "INTEGER", "ctime_ns": "INTEGER"})


@migration
def m003_date_from_file(conn: sqlite3.Connection) -> None:
    """1: the document's `date` is only the file's creation time (index/pdf.py)."""
    _add_columns(conn, "documents", {"date_from_file": "INTEGER"})


@migration
def m004_documents_stat_index(conn: sqlite3.Connection) -> None:
    """The index run's look at every document's stat reads this covering index, not the rows (texts and all)."""
    conn.execute("CREATE INDEX IF NOT EXISTS documents_stat ON documents(path, content_hash, size, mtime_ns, "
                 "ctime_ns)")


@migration
def m005_failures(conn: sqlite3.Connection) -> None:
    """Files read that gave no document, with their stat then: not read again (a parser bomb costs its time limit
    once, not on every run) until the file or the reading settings (`reader`, index/indexer.py) change."""
    conn.execute("""CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    reader TEXT NOT NULL, reason TEXT NOT NULL)""")


@migration
def m006_pending(conn: sqlite3.Connection) -> None:
    """Embeddings stored by a run that has not committed yet: a run killed after embedding leaves them; the next
    commit forgets the unused ones."""
    conn.execute("CREATE TABLE IF NOT EXISTS pending (hash TEXT PRIMARY KEY)")


def applied(conn: sqlite3.Connection) -> set[str]:
    """The names of the migrations this database has run (none for a new one, or one made by older code)."""
    if "_migrations" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
        return set()
    return {r[0] for r in conn.execute("SELECT name FROM _migrations")}


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Run, in order and in one write transaction, the migrations this database has not run; returns their names.
    A database already up to date costs one read and takes no write lock (readers open it all the time)."""
    names = [m.__name__ for m in MIGRATIONS]
    if set(names) <= applied(conn):
        return []
    conn.execute("BEGIN IMMEDIATE")  # another process may be migrating the same database: look again under lock
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL "
                     "DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))")
        done = applied(conn)
        ran = []
        for fn in MIGRATIONS:
            if fn.__name__ not in done:
                fn(conn)
                conn.execute("INSERT INTO _migrations(name) VALUES (?)", (fn.__name__,))
                ran.append(fn.__name__)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if ran and done:
        log.info("index database upgraded: %s", ", ".join(ran))
    return ran
