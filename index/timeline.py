"""When each indexed chunk was published, for questions asked at a time: nothing published after the
question is retrieved ("as of"), and a question that pins days ("on Tuesday", "last week") can look at
the documents of those days directly.

One read per index generation, kept as numpy arrays (chunk id -> publication day as a date ordinal, 0 when
the document has no date): the embedded store's chunk table joined to the documents' dates (`load`), or the
`day` field of Milvus's chunk rows (`from_rows`). Undated documents are never excluded: their time is unknown,
not later.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .dates import DateRange

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Timeline:
    ids: np.ndarray  # chunk ids, sorted
    days: np.ndarray  # publication day of each (date ordinal), 0 when undated
    paths: list[str]  # document path of each

    @classmethod
    def load(cls, store: "Store") -> "Timeline":
        """The embedded store's timeline (its chunks joined to their documents' dates)."""
        seen: dict[str | None, int] = {}  # a document's date repeats for each of its chunks: parse it once

        def day(date: str | None) -> int:
            if date not in seen:
                seen[date] = day_ordinal(date)
            return seen[date]

        return cls.from_rows((cid, day(date), path) for cid, date, path in store.chunk_dates())

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str]]) -> "Timeline":
        """A timeline of (chunk id, publication day ordinal or 0, document path) rows, in any order."""
        got = sorted(rows)
        ids = np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got))
        days = np.fromiter((r[1] for r in got), dtype=np.int64, count=len(got))
        log.info("timeline of %d chunks (%d dated)", len(ids), int((days > 0).sum()))
        return cls(ids, days, [r[2] for r in got])

    def day_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The publication day (ordinal, 0 unknown) of each chunk id; 0 for ids not in the timeline."""
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        if not len(self.ids):
            return np.zeros(len(chunk_ids), dtype=np.int64)
        pos = np.clip(np.searchsorted(self.ids, chunk_ids), 0, len(self.ids) - 1)
        return np.where(self.ids[pos] == chunk_ids, self.days[pos], 0)

    def paths_of(self, chunk_ids: np.ndarray) -> set[str]:
        """The documents these chunks belong to."""
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        if not len(self.ids) or not len(chunk_ids):
            return set()
        pos = np.clip(np.searchsorted(self.ids, chunk_ids), 0, len(self.ids) - 1)
        return {self.paths[int(p)] for p, c in zip(pos, chunk_ids) if self.ids[p] == c}

    def published_by(self, chunk_ids: np.ndarray, day: dt.date) -> np.ndarray:
        """A mask: which of these chunks were published on or before `day` (undated ones count as published)."""
        d = self.day_of(chunk_ids)
        return (d == 0) | (d <= day.toordinal())

    def any_after(self, day: dt.date) -> bool:
        return bool((self.days > day.toordinal()).any())

    def in_range(self, rng: DateRange) -> np.ndarray:
        """Chunk ids of documents published within the range."""
        m = (self.days >= rng.start.toordinal()) & (self.days <= rng.end.toordinal())
        return self.ids[m]


@dataclass(frozen=True)
class AsOf:
    """The as-of filter of a question asked on `day`: a boolean mask over chunk ids (published on or before it,
    or undated). A store that can filter inside its own search (Milvus: `day <= ordinal`, undated chunks being
    day 0) reads `day` instead of calling it."""

    timeline: Timeline
    day: dt.date

    def __call__(self, chunk_ids: np.ndarray) -> np.ndarray:
        return self.timeline.published_by(chunk_ids, self.day)


def day_ordinal(value: str | None) -> int:
    """A document date (ISO, maybe with a time) as a date ordinal; 0 when missing or unreadable."""
    if not value:
        return 0
    try:
        return dt.date.fromisoformat(value[:10]).toordinal()
    except ValueError:
        return 0
