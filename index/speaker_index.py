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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import facts
from .speakers import _demonym_stem, _national_body, _norm_tokens, name_matches

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

_ROLE_NOISE = frozenset("the a an of and for in on at to s".split())


@dataclass(frozen=True)
class QuotedIn:
    """One attributed quotation: its speaker, the chunk holding its start, where it starts in the document,
    and the speaker's role as the text gives it."""

    speaker: str
    chunk_id: int
    start: int
    role: str | None = None


def quoted_in(quotations: Iterable[tuple[str, int, str | None]], starts: list[int], ids: list[int]) -> Iterator[QuotedIn]:
    """The attributed quotations of one document, (speaker, start, role) as `facts.attributed` gives them, each
    placed in the chunk where it starts: the last of the document's chunks (`ids`, by their `starts` in
    ascending order) starting at or before it."""
    for speaker, start, role in quotations:
        if not speaker:
            continue
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0:
            yield QuotedIn(speaker, ids[i], start, role)


def document_roles(roles: dict[str, list[str]]) -> list[tuple[str, str]]:
    """A document's roles by name (`facts.Facts.roles`: where a quoted person is named, "Gov. Bill Lee", "Roger
    Malone, the mayor of Dimmitt") as (name, role) pairs."""
    return [(name, role) for name, given in roles.items() for role in given]


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
        self._by_country: dict[str, set[str]] = defaultdict(set)  # "mexic" -> {"Mexican government"}

    @classmethod
    def load(cls, store: "Store") -> "SpeakerIndex":
        """The embedded store's quotations: every document's stored facts, mapped to its chunks."""
        spans: dict[str, tuple[list[int], list[int]]] = {}
        for cid, path, start in store.chunk_starts():
            starts, ids = spans.setdefault(path, ([], []))
            starts.append(start)
            ids.append(cid)
        quotations: list[QuotedIn] = []
        roles: list[tuple[str, str]] = []
        for path, data in store.document_facts():
            got = facts.attributed(data)
            where = spans.get(path)
            if got is None or where is None:
                continue
            quoted, given = got
            quotations.extend(quoted_in(quoted, *where))
            roles.extend(document_roles(given))
        return cls.from_quotations(quotations, roles)

    @classmethod
    def from_quotations(cls, quotations: Iterable[QuotedIn], roles: Iterable[tuple[str, str]] = ()) -> "SpeakerIndex":
        """The index of attributed quotations, each with the chunk it is in (`quoted_in`), then the roles the
        documents give quoted people where they are named ((name, role) pairs, `document_roles`; a role of
        someone quoted nowhere is left out)."""
        out = cls()
        for q in quotations:
            out._add(q.speaker, q.chunk_id, q.start, q.role)
        for name, role in roles:
            out._add_role(name, role)
        log.info("speaker index: %d speakers", len(out.speakers))
        return out

    def _add(self, speaker: str, chunk_id: int, start: int, role: str | None) -> None:
        entry = self.speakers.get(speaker)
        if entry is None:
            entry = self.speakers[speaker] = SpokenIn(speaker)
            for t in _norm_tokens(speaker):
                self._by_token[t].add(speaker)
            if _national_body(speaker):
                self._by_country[_demonym_stem(_norm_tokens(speaker)[0])].add(speaker)
        entry.chunks.setdefault(chunk_id, []).append(start)
        if role:
            self._add_role(speaker, role)

    def _add_role(self, speaker: str, role: str) -> None:
        """Index a role the text gives a quoted speaker (a speaker not quoted anywhere is left out)."""
        entry = self.speakers.get(speaker)
        role_toks = [_FULL.get(t, t) for t in _norm_tokens(role) if t not in _ROLE_NOISE]
        if entry is not None and role_toks and len(role_toks) <= 6:
            key = " ".join(role_toks)
            if key not in entry.roles:
                entry.roles.add(key)
                for t in role_toks:
                    self._by_role_token[t].add(speaker)

    def matching(self, name: str) -> list[SpokenIn]:
        """The speakers a name in a question refers to (by name, never by a shared first name alone), and those
        speaking for it ("the National Security Council" -> its spokesman Garrett Marquis; "Mexico" -> "Mexican
        government")."""
        toks = _norm_tokens(name)
        cands: set[str] = set()
        for t in toks:
            cands |= self._by_token.get(t, set()) | self._by_role_token.get(_FULL.get(t, t), set())
            cands |= self._by_country.get(_demonym_stem(t), set())
        return [self.speakers[s] for s in sorted(cands)
                if name_matches(name, s) or any(speaks_for(name, r) for r in self.speakers[s].roles)]


def speaks_for(name: str, role: str | None) -> bool:
    """Does a speaker described as `role` speak for `name`? Every word of a name of two words or more is in the
    role ("National Security Council" in "National Security Council spokesman"; "China's foreign ministry" in
    "spokesperson for China's foreign ministry"); a one-word name only as the whole role or right after "at" or
    "for" in it ("communications at ESPN")."""
    if not role:
        return False
    want = [_FULL.get(t, t) for t in _norm_tokens(name) if t not in _ROLE_NOISE]
    have = [_FULL.get(t, t) for t in _norm_tokens(role)]
    if len(want) == 1:  # "communications at ESPN", "a spokesperson for OpenAI": the body after at/for
        return have == want or any(have[k] in _FOR_BODY and have[k + 1] == want[0] for k in range(len(have) - 1))
    return len(want) >= 2 and set(want) <= set(have)


_FOR_BODY = frozenset("at for".split())
# abbreviated titles, as the articles write them ("Tennessee Gov. Bill Lee") and questions spell them out
_FULL = {"gov": "governor", "sen": "senator", "rep": "representative", "gen": "general", "lt": "lieutenant",
         "sec": "secretary", "atty": "attorney", "pres": "president", "supt": "superintendent", "cmdr": "commander"}
