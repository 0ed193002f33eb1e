"""Sentence splitting with character offsets (sentencex: rule-based, offline, abbreviation-aware).

Lines are split first, so a headline or a list item never merges with the next paragraph; each line is
then split into sentences. Offsets index the given text: `text[s.start:s.end]` is the sentence, with
surrounding white space trimmed.

sentencex does not split inside what it takes for a quotation, so one unbalanced quote mark (a backtick
opening, a curly apostrophe closing) can swallow a paragraph. A "sentence" longer than LONG_WORDS is split
again at each full stop, question or exclamation mark followed by a capital, unless the word before it is
an initial or a common abbreviation.
"""
from __future__ import annotations

import logging
import re

import sentencex

from .records import Span

log = logging.getLogger(__name__)

_LINE = re.compile(r"[^\n]+")
LONG_WORDS = 60
_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
_ABBREV = frozenset(
    "mr mrs ms dr st jr sr rev gen col lt sgt capt gov sen rep prof inc ltd co corp vs etc no nos fig approx "
    "jan feb mar apr jun jul aug sep sept oct nov dec mt ft ave u.s u.k u.n e.g i.e a.m p.m".split())


# White space other than " " and tab, which sentencex 1.0.32 can panic on ("V\u3000." -> "end byte index is not
# a char boundary"): it sees a plain space in its place, one character for one, so offsets stay the same.
_ODD_SPACE = re.compile("[\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def split_sentences(text: str, language: str = "en") -> list[Span]:
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        base = line.start()
        segment = line.group()
        for b in _boundaries(language, segment):
            if b.get("is_paragraph_break"):
                continue
            start, end = b["start_index"], b["end_index"]
            piece = segment[start:end]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            a = base + start + lead
            spans.extend(_resplit(text, Span(a, a + len(stripped))))
    return spans


def _boundaries(language: str, segment: str) -> list[dict]:
    """sentencex's sentences of one line; the whole line as one (cut later by `_resplit` if long) should
    sentencex fail on it. Its Rust panics arrive as pyo3's PanicException, a BaseException."""
    try:
        return sentencex.get_sentence_boundaries(language, _ODD_SPACE.sub(" ", segment))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        log.warning("sentence splitter failed on a line (%s: %s); keeping the line as one sentence",
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return [{"start_index": 0, "end_index": len(segment)}]


def _resplit(text: str, span: Span) -> list[Span]:
    """A run-on "sentence" (over LONG_WORDS words) cut at plain sentence ends; other spans unchanged."""
    piece = text[span.start : span.end]
    if len(piece.split()) <= LONG_WORDS:
        return [span]
    out, at = [], 0
    for m in _END.finditer(piece):
        before = piece[at : m.start()].rstrip("\"'\u201d\u2019)]")
        word = before.rsplit(None, 1)[-1] if before.split() else ""
        word = word.rstrip(".!?").lstrip("(\"'\u201c\u2018").lower()
        if len(word) <= 1 or word in _ABBREV or len(before.split()) < 3:
            continue  # an initial, an abbreviation, or too short to stand alone
        out.append(Span(span.start + at, span.start + m.start()))
        at = m.end()
    out.append(Span(span.start + at, span.end))
    return out


def word_count(text: str) -> int:
    return len(text.split())
