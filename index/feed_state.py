"""What the feed follower remembers, in its own SQLite file (`<data>/feeds.sqlite3`), apart from the index.

Why a file of its own: the index's store can be rebuilt or moved aside without losing which feeds are
followed, and the follower never takes the index's writer lock just to note a poll. Every method opens a
short connection (WAL, busy timeout), so the follower thread, the bot's commands and a cron `follow --poll`
can share it.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

FILE_NAME = "feeds.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds(
    url TEXT PRIMARY KEY,           -- the feed's own URL (after discovery)
    asked TEXT,                     -- what the user gave (a site page or the feed)
    title TEXT,
    added_at REAL,
    etag TEXT, last_modified TEXT,  -- validators for conditional requests
    body_hash TEXT,                 -- sha256 of the last feed document: unchanged => nothing else fetched
    last_fetch REAL, last_new REAL,
    last_error TEXT, failures INTEGER NOT NULL DEFAULT 0, retry_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items(
    url TEXT PRIMARY KEY,           -- canonical article URL
    feed TEXT NOT NULL,
    path TEXT,                      -- corpus-relative file; NULL for a duplicate of another item's text
    content_hash TEXT,              -- sha256 of the extracted article text
    title TEXT,
    saved_at REAL
);
CREATE INDEX IF NOT EXISTS items_hash ON items(content_hash);
CREATE TABLE IF NOT EXISTS stamps(  -- per feed (two feeds date one article differently)
    feed TEXT NOT NULL,
    url TEXT NOT NULL,
    stamp TEXT NOT NULL,            -- the entry's dates and title: a new stamp means "fetch again"
    PRIMARY KEY (feed, url)
);
CREATE TABLE IF NOT EXISTS skipped(
    url TEXT PRIMARY KEY,           -- canonical article URL that could not be saved
    feed TEXT NOT NULL,
    stamp TEXT,
    reason TEXT NOT NULL,
    retry INTEGER NOT NULL DEFAULT 0,  -- tries left (transient failures only)
    at REAL
);
CREATE TABLE IF NOT EXISTS unindexed(path TEXT PRIMARY KEY);  -- saved but not yet indexed (the index was busy)
"""


@dataclass
class FeedRow:
    """One followed feed as stored."""

    url: str
    asked: str | None
    title: str | None
    added_at: float | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_fetch: float | None
    last_new: float | None
    last_error: str | None
    failures: int
    retry_at: float


@dataclass
class ItemRow:
    """One saved (or duplicate) article."""

    url: str
    feed: str
    path: str | None
    content_hash: str | None
    title: str | None


@dataclass
class SkippedRow:
    """An article that could not be saved, and why."""

    url: str
    feed: str
    stamp: str | None
    reason: str
    retry: int


class FeedState:
    """The follower's tables in `<data>/feeds.sqlite3`."""

    def __init__(self, data: Path) -> None:
        self.path = Path(data) / FILE_NAME

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            with conn:
                yield conn

    # --- feeds -----------------------------------------------------------------------------------
    def add_feed(self, url: str, asked: str | None, title: str | None) -> bool:
        """Record a followed feed; False when it was already followed (its title is refreshed)."""
        with self._db() as db:
            cur = db.execute("INSERT OR IGNORE INTO feeds(url, asked, title, added_at) VALUES (?, ?, ?, ?)",
                             (url, asked, title, time.time()))
            if cur.rowcount == 0 and title:
                db.execute("UPDATE feeds SET title = ? WHERE url = ?", (title, url))
            return cur.rowcount == 1

    def remove_feed(self, url: str) -> str | None:
        """Stop following the feed whose URL (or the page it was discovered from) is `url`; its saved articles
        stay. Returns the feed URL removed, or None."""
        with self._db() as db:
            row = db.execute("SELECT url FROM feeds WHERE url = ? OR asked = ? ORDER BY url = ? DESC LIMIT 1",
                             (url, url, url)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM feeds WHERE url = ?", (row[0],))
            db.execute("DELETE FROM skipped WHERE feed = ?", (row[0],))
            db.execute("DELETE FROM stamps WHERE feed = ?", (row[0],))
            return str(row[0])

    def feeds(self) -> list[FeedRow]:
        with self._db() as db:
            rows = db.execute("SELECT url, asked, title, added_at, etag, last_modified, body_hash, last_fetch, "
                              "last_new, last_error, failures, retry_at FROM feeds ORDER BY added_at, url").fetchall()
        return [FeedRow(*r) for r in rows]

    def feed(self, url: str) -> FeedRow | None:
        return next((f for f in self.feeds() if f.url == url), None)

    def fetched(self, url: str, *, etag: str | None, last_modified: str | None, body_hash: str | None,
                title: str | None) -> None:
        """A successful fetch of the feed: new validators, no error."""
        with self._db() as db:
            db.execute("UPDATE feeds SET etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash), "
                       "title = COALESCE(?, title), last_fetch = ?, last_error = NULL, failures = 0, retry_at = 0 "
                       "WHERE url = ?", (etag, last_modified, body_hash, title, time.time(), url))

    def failed(self, url: str, error: str, retry_at: float) -> int:
        """A failed fetch: the error, one more failure, no try before `retry_at`. Returns the failure count."""
        with self._db() as db:
            db.execute("UPDATE feeds SET last_error = ?, failures = failures + 1, retry_at = ?, last_fetch = ? "
                       "WHERE url = ?", (error, retry_at, time.time(), url))
            row = db.execute("SELECT failures FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def got_new(self, url: str) -> None:
        with self._db() as db:
            db.execute("UPDATE feeds SET last_new = ? WHERE url = ?", (time.time(), url))

    # --- items -----------------------------------------------------------------------------------
    def item(self, url: str) -> ItemRow | None:
        with self._db() as db:
            row = db.execute("SELECT url, feed, path, content_hash, title FROM items WHERE url = ?",
                             (url,)).fetchone()
        return ItemRow(*row) if row else None

    def item_with_hash(self, content_hash: str) -> ItemRow | None:
        with self._db() as db:
            row = db.execute("SELECT url, feed, path, content_hash, title FROM items "
                             "WHERE content_hash = ? AND path IS NOT NULL LIMIT 1", (content_hash,)).fetchone()
        return ItemRow(*row) if row else None

    def save_item(self, item: ItemRow) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO items(url, feed, path, content_hash, title, saved_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (item.url, item.feed, item.path, item.content_hash, item.title, time.time()))
            db.execute("DELETE FROM skipped WHERE url = ?", (item.url,))

    def stamp(self, feed: str, url: str) -> str | None:
        """The entry stamp `feed` had for `url` when the article was last fetched."""
        with self._db() as db:
            row = db.execute("SELECT stamp FROM stamps WHERE feed = ? AND url = ?", (feed, url)).fetchone()
        return row[0] if row else None

    def set_stamp(self, feed: str, url: str, stamp: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO stamps(feed, url, stamp) VALUES (?, ?, ?)", (feed, url, stamp))

    def item_count(self, feed: str) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM items WHERE feed = ? AND path IS NOT NULL",
                                  (feed,)).fetchone()[0])

    # --- skipped articles ------------------------------------------------------------------------
    def skip(self, row: SkippedRow) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO skipped(url, feed, stamp, reason, retry, at) VALUES (?, ?, ?, ?, ?, ?)",
                       (row.url, row.feed, row.stamp, row.reason, row.retry, time.time()))

    def skipped(self, feed: str | None = None) -> list[SkippedRow]:
        with self._db() as db:
            rows = db.execute("SELECT url, feed, stamp, reason, retry FROM skipped WHERE ? IS NULL OR feed = ? "
                              "ORDER BY at", (feed, feed)).fetchall()
        return [SkippedRow(*r) for r in rows]

    def skipped_item(self, url: str) -> SkippedRow | None:
        return next((s for s in self.skipped() if s.url == url), None)

    # --- saved files waiting for the index -------------------------------------------------------
    def add_unindexed(self, paths: list[str]) -> None:
        with self._db() as db:
            db.executemany("INSERT OR IGNORE INTO unindexed(path) VALUES (?)", [(p,) for p in paths])

    def unindexed(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT path FROM unindexed ORDER BY path")]

    def indexed(self, paths: list[str]) -> None:
        with self._db() as db:
            db.executemany("DELETE FROM unindexed WHERE path = ?", [(p,) for p in paths])
