"""Who "he" or "she" is in a news text: the people it names (full names, and surnames standing for a full
name named earlier), which of those mentions open a sentence or report speech ("Muir-Wood said", "said
Robert Muir-Wood"), the gender the text itself gives each person (the he/his or she/her it uses in a
sentence naming only that person, or Mr./Ms.), and the person a pronoun most likely refers to.

Rules, no model and no name list: a first-name gender list would guess where the text tells ("Ivanka Trump ...
when she offered ..."), and those kept on PyPI are GPL-licensed data.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# a pronoun may refer this far back to a quoted speaker (characters), even past a later name in passing
RECENT_QUOTE = 600
# how far back a pronoun looks for anyone compatible with its gender
LOOK_BACK = 2500

_MALE = frozenset("he him his himself".split())
_FEMALE = frozenset("she her hers herself".split())
_PRONOUN_GENDER = {"he": "m", "she": "f"}
_WORD = re.compile(r"[^\W_][\w'’\-.]*[^\W_]|[^\W_]")
_BOUNDARY = re.compile(r"[.!?][\"”’)]*\s+(?=[\"“A-Z0-9])|\n+")
_HONORIFIC = re.compile(r"\b(Mr|Mrs|Ms|Miss)\.?\s+$")
_TO_LISTENER = frozenset("told tells asked asks".split())  # "told Lake Mills residents": the listener
_OPENERS = frozenset("but and so yet now then still also meanwhile however later earlier instead".split())
_ADVERBS = frozenset("also later then reportedly previously once has had repeatedly recently publicly".split())


_APPOSITIVE = re.compile(r",[^,.;:!?\n\"“”]{3,60},")


@dataclass(frozen=True)
class Mention:
    """A person named in the text: `name` is the full name (a surname alone is expanded to the full name named
    before it)."""

    start: int
    end: int
    name: str
    subject: bool  # opens its sentence
    sayer: bool  # next to a verb of saying ("Muir-Wood said", "said Robert Muir-Wood", "according to X")


def _opens(lead: str) -> bool:
    """Is what precedes a name in its sentence nothing, or only a word like "But" or "Now"?"""
    return all(w.lower() in _OPENERS for w in re.findall(r"[\w'’]+", lead))


def _sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _BOUNDARY.finditer(text)]


def person_mentions(text: str, full: Sequence[tuple[int, int, str, bool]], verbs: frozenset[str],
                    acts: frozenset[str] = frozenset()) -> list[Mention]:
    """Every mention of the people named in full (`full`: start, end, name, opens-sentence, in text order): the
    full names, and later capitalised words equal to the surname of exactly one of them. A mention is a sayer next
    to one of `verbs` ("Muir-Wood said", "said Robert Muir-Wood") or before one of `acts` ("Redfern dismissed":
    after it, its object is no sayer)."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    starts = [w[0] for w in words]

    def sayer(a: int, b: int) -> bool:
        # past an appositive: "Jeremy Redfern, DeSantis' press secretary, dismissed ..."
        app = _APPOSITIVE.match(text, b)
        if app:
            b = app.end()
        i = bisect.bisect_left(starts, b)
        while i < len(words) and words[i][2].lower() in _ADVERBS:
            i += 1
        if i < len(words) and (words[i][2] in verbs or words[i][2] in acts) and "\n" not in text[b : words[i][0]]:
            return True
        j = bisect.bisect_left(starts, a) - 1
        if j >= 0 and "\n" not in text[words[j][1] : a]:
            prev = words[j][2]
            return (prev in verbs and prev not in _TO_LISTENER) or \
                (prev == "to" and j > 0 and words[j - 1][2] == "according")
        return False

    out: list[Mention] = []
    surnames: dict[str, set[str]] = {}
    spans = sorted(full)
    sent = _sentence_starts(text)
    k = 0
    for a, b, w in words:
        while k < len(spans) and spans[k][0] <= a:
            s, e, name, subj = spans[k]
            out.append(Mention(s, e, name, subj, sayer(s, e)))
            surnames.setdefault(name.split()[-1].lower(), set()).add(name)
            k += 1
        if out and a < out[-1].end:
            continue  # inside a full name
        key = re.sub(r"['’]s?$", "", w).lower()
        if w[:1].isupper() and len(surnames.get(key, ())) == 1:  # "Trump" after Eric and Ivanka Trump: no one sure
            lead = text[sent[bisect.bisect_right(sent, a) - 1] : a]
            out.append(Mention(a, b, next(iter(surnames[key])), _opens(lead), sayer(a, b)))
    for s, e, name, subj in spans[k:]:
        out.append(Mention(s, e, name, subj, sayer(s, e)))
    return out


def genders(text: str, mentions: Sequence[Mention]) -> dict[str, str]:
    """The gender ("m"/"f") the text gives each person: he/his vs she/her in the sentences naming that person
    alone (after the name), and Mr./Mrs./Ms. before it; a person the text is not clear about is left out."""
    sent = _sentence_starts(text) + [len(text)]
    by_sentence: dict[int, list[Mention]] = {}
    for m in mentions:
        by_sentence.setdefault(bisect.bisect_right(sent, m.start) - 1, []).append(m)
    votes: dict[str, Counter[str]] = {}
    for i, ms in by_sentence.items():
        people = {m.name for m in ms}
        for m in ms:
            c = votes.setdefault(m.name, Counter())
            title = _HONORIFIC.search(text, max(0, m.start - 6), m.start)
            if title:
                c["m" if title.group(1) == "Mr" else "f"] += 3
            if len(people) == 1 and m is ms[0]:
                for w in _WORD.findall(text, m.end, sent[i + 1]):
                    low = w.lower()
                    c["m"] += low in _MALE
                    c["f"] += low in _FEMALE
    out = {}
    for name, c in votes.items():
        if c["m"] > 2 * c["f"]:
            out[name] = "m"
        elif c["f"] > 2 * c["m"]:
            out[name] = "f"
    return out


def resolve(pronoun: str, quoted: Sequence[tuple[int, int, str]], mentions: Sequence[Mention],
            gender: dict[str, str], pos: int, is_org: Callable[[str], bool]) -> str | None:
    """The person "he"/"she" at `pos` most likely refers to. First choice: the last person quoted (`quoted`:
    start, end, speaker of the earlier quotations) when no one was named as speaking or opening a sentence
    since, or when that quote is within RECENT_QUOTE characters and only a name in passing came after;
    else the last person named opening a sentence or as speaking, else the last person named. A choice whose
    gender the text contradicts gives way to the next person back who fits; None when no one does."""
    want = _PRONOUN_GENDER.get(pronoun)
    before = [m for m in mentions if m.end <= pos and pos - m.end <= LOOK_BACK]
    people = [(s, e, sp) for s, e, sp in quoted if not is_org(sp) and e <= pos]
    last = next((m for m in reversed(before) if m.subject or m.sayer), before[-1] if before else None)
    order: list[str] = []
    if people:
        s, e, sp = people[-1]
        later_sayer = last is not None and last.sayer and last.start > e
        if last is None or s > last.start or (pos - e < RECENT_QUOTE and not later_sayer):
            order.append(sp)
    if last is not None:
        order.append(last.name)
    # the others, most recent first: quoted speakers and people named as subjects before people named in passing
    events = sorted([(e, sp) for s, e, sp in people if pos - e <= LOOK_BACK]
                    + [(m.end, m.name) for m in before if m.subject or m.sayer], reverse=True)
    if before:
        order.append(before[-1].name)  # the person named last, if only in passing ("..., Ivanka Trump, ...")
    order += [sp for _, sp in events]
    for name in order:
        if want is None or gender.get(name, want) == want:
            return name
    return None
