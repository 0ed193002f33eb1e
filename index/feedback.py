"""Readers' 👍/👎 on answers, kept in the data folder so disliked answers can become regression questions.

The votes live in their own SQLite file (`feedback.sqlite`), apart from the index (`index/store.py`): a
rebuild, a restore of the index or a change of model never touches them. One row per (answer, reader, vote):
reacting twice with the same emoji records one vote. `eval_lines` turns the 👎 ones into question lines in the
evaluation format (/work/shared/eval/README.md) for a person to fill in the gold quotes.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["FEEDBACK_FILE", "UP", "DOWN", "Feedback", "FeedbackStore", "eval_lines", "vote_of"]

FEEDBACK_FILE = "feedback.sqlite"
UP, DOWN = "up", "down"
_VOTES = {"\N{THUMBS UP SIGN}": UP, "\N{THUMBS DOWN SIGN}": DOWN}
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    message_id INTEGER NOT NULL,      -- the answer message
    user_id INTEGER NOT NULL,         -- who reacted
    vote TEXT NOT NULL,               -- 'up' or 'down'
    question TEXT NOT NULL,
    answer TEXT NOT NULL,             -- the answer as the reader saw it (quotes and their sources)
    user_name TEXT,
    channel_id INTEGER,
    asked_at TEXT,                    -- when the question was answered (ISO time)
    at TEXT NOT NULL,                 -- when the reaction came (ISO time)
    PRIMARY KEY (message_id, user_id, vote)
);
"""


def vote_of(emoji: str) -> str | None:
    """'up' for 👍, 'down' for 👎 (any skin tone), None for any other emoji."""
    bare = "".join(ch for ch in emoji if ch not in _SKIN_TONES and ch != "\ufe0f")
    return _VOTES.get(bare)


@dataclass
class Feedback:
    """One reader's vote on one answer."""

    message_id: int
    user_id: int
    vote: str  # UP or DOWN
    question: str
    answer: str
    user_name: str | None = None
    channel_id: int | None = None
    asked_at: str | None = None
    at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FeedbackStore:
    """The votes in `<data>/feedback.sqlite`; safe to use from several threads (one connection, a lock)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FEEDBACK_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def record(self, fb: Feedback) -> None:
        """Store a vote (a repeat of the same vote by the same reader replaces the earlier row)."""
        if fb.vote not in (UP, DOWN):
            raise ValueError(f"unknown vote {fb.vote!r}")
        fb.at = fb.at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        row = asdict(fb)
        cols = ", ".join(row)
        with self._lock:
            self._conn.execute(f"INSERT OR REPLACE INTO feedback ({cols}) VALUES ({', '.join('?' * len(row))})",
                               tuple(row.values()))

    def remove(self, message_id: int, user_id: int, vote: str) -> bool:
        """Forget a vote its reader took back (removed the reaction); True when there was one."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM feedback WHERE message_id = ? AND user_id = ? AND vote = ?",
                                     (message_id, user_id, vote))
        return cur.rowcount > 0

    def all(self, vote: str | None = None) -> list[Feedback]:
        """Every vote (or only `vote`), oldest first."""
        cols = ", ".join(Feedback.__dataclass_fields__)
        where, args = ("WHERE vote = ?", (vote,)) if vote else ("", ())
        with self._lock:
            rows = self._conn.execute(f"SELECT {cols} FROM feedback {where} ORDER BY at, message_id", args).fetchall()
        return [Feedback(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def eval_lines(items: list[Feedback]) -> list[str]:
    """The disliked answers as evaluation question lines, one per answered question (several 👎 on one
    answer make one line). `gold` starts empty, which the evaluation reads as "the articles can't answer
    this: abstain"; put in the words a right answer quotes where they can. `disliked_answer` is kept for
    whoever fills it in (the evaluation ignores it)."""
    out: list[str] = []
    seen: set[int] = set()
    for fb in items:
        if fb.vote != DOWN or fb.message_id in seen:
            continue
        seen.add(fb.message_id)
        line: dict[str, Any] = {"qid": f"feedback-{fb.message_id}", "question": fb.question, "gold": []}
        if fb.asked_at:
            line["asked_at"] = fb.asked_at[:10]
        line["disliked_answer"] = fb.answer
        out.append(json.dumps(line, ensure_ascii=False))
    return out
