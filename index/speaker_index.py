"""Speakers as a retrieval channel: the attributed quotations of every indexed document, by speaker, so that
"what did X say" reaches X's own words directly rather than whatever passages resemble the question.

Built from the quotations stored with each document at index time (`facts.py`), once per index generation
on the first question that names someone. A speaker is looked up by any of its name tokens (surname, first
name, organisation word) and matched with `speakers.name_matches`, so "Pompeo", "Secretary Pompeo" and
"Mike Pompeo" find the same person and "Mike Smith" never finds "Mike Pompeo". The role the text gives a
speaker ("the Fed chair", "China's foreign ministry spokesperson") is indexed too, tied to that speaker.
"""
from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import facts
from .speakers import _norm_tokens, name_matches

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

_ROLE_NOISE = frozenset("the a an of and for in on at to s".split())


@dataclass
class SpokenIn:
    """Where one speaker is quoted: chunk ids (with the quotation's start offset in its document)."""

    speaker: str
    chunks: dict[int, list[int]] = field(default_factory=dict)  # chunk id -> quotation starts
    roles: set[str] = field(default_factory=set)


class SpeakerIndex:
    def __init__(self) -> None:
        self.speakers: dict[str, SpokenIn] = {}
        self._by_token: dict[str, set[str]] = defaultdict(set)
        self._by_role_token: dict[str, set[str]] = defaultdict(set)

    @classmethod
    def load(cls, store: "Store") -> "SpeakerIndex":
        out = cls()
        spans: dict[str, tuple[list[int], list[int]]] = {}
        for cid, path, start in store.chunk_starts():
            starts, ids = spans.setdefault(path, ([], []))
            starts.append(start)
            ids.append(cid)
        for path, data in store.document_facts():
            quoted = facts.attributed(data)
            where = spans.get(path)
            if quoted is None or where is None:
                continue
            starts, ids = where
            for speaker, start, role in quoted:
                i = bisect.bisect_right(starts, start) - 1
                if i < 0:
                    continue
                out._add(speaker, ids[i], start, role)
        log.info("speaker index: %d speakers", len(out.speakers))
        return out

    def _add(self, speaker: str, chunk_id: int, start: int, role: str | None) -> None:
        entry = self.speakers.get(speaker)
        if entry is None:
            entry = self.speakers[speaker] = SpokenIn(speaker)
            for t in _norm_tokens(speaker):
                self._by_token[t].add(speaker)
        entry.chunks.setdefault(chunk_id, []).append(start)
        if role:
            role_toks = [t for t in _norm_tokens(role) if t not in _ROLE_NOISE]
            if role_toks and len(role_toks) <= 6:
                key = " ".join(role_toks)
                if key not in entry.roles:
                    entry.roles.add(key)
                    for t in role_toks:
                        self._by_role_token[t].add(speaker)

    def matching(self, name: str) -> list[SpokenIn]:
        """The speakers a name in a question refers to (by name, never by a shared first name alone), and those
        speaking for it ("the National Security Council" -> its spokesman Garrett Marquis)."""
        toks = _norm_tokens(name)
        cands: set[str] = set()
        for t in toks:
            cands |= self._by_token.get(t, set()) | self._by_role_token.get(t, set())
        return [self.speakers[s] for s in sorted(cands)
                if name_matches(name, s) or any(speaks_for(name, r) for r in self.speakers[s].roles)]


def speaks_for(name: str, role: str | None) -> bool:
    """Does a speaker described as `role` speak for `name`? Every word of a name of two words or more is in the
    role ("National Security Council" in "National Security Council spokesman"; "China's foreign ministry" in
    "spokesperson for China's foreign ministry"). One-word names never match a role (too loose)."""
    if not role:
        return False
    want = [t for t in _norm_tokens(name) if t not in _ROLE_NOISE]
    return len(want) >= 2 and set(want) <= set(_norm_tokens(role))
