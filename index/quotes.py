"""Quotes and passages inside a document: the quote's span around a chosen sentence (extended to the
sentence it needs, cut to the answering clause past the word limit), the passage shown around it, and the
verbatim check. Pure functions of the document text."""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from .junk import junk_reason, line_at
from .lexical import terms
from .records import Span

MAX_QUOTE_WORDS = 60
PASSAGE_WORDS = 150


def coverage(q_terms: dict[str, float], toks: set[str]) -> float:
    total = sum(q_terms.values())
    if not total:
        return 0.0
    return sum(w for t, w in q_terms.items() if t in toks) / total


def clip_quote(text: str, span: Span, q_terms: dict[str, float], limit: int = MAX_QUOTE_WORDS) -> Span:
    """A span of at most `limit` words is returned whole; a longer one is cut to the verbatim clause
    window (split at ; : , and dashes) that covers most of the question's terms within the limit."""
    sent = text[span.start : span.end]
    if len(sent.split()) <= limit:
        return span
    bounds = [0] + [m.end() for m in re.finditer(r"[;:,\u2014\u2013]\s+|\s-\s", sent)] + [len(sent)]
    best: tuple[float, int, int] | None = None
    for i in range(len(bounds) - 1):
        for j in range(i + 1, len(bounds)):
            piece = sent[bounds[i] : bounds[j]]
            if len(piece.split()) > limit:
                break
            score = coverage(q_terms, set(terms(piece))) + 0.001 * len(piece.split())
            if best is None or score > best[0]:
                best = (score, bounds[i], bounds[j])
    if best is None:  # no clause boundary fits: the first `limit` words
        words = list(re.finditer(r"\S+", sent))
        return Span(span.start, span.start + words[limit - 1].end())
    s, e = best[1], best[2]
    piece = sent[s:e]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip().rstrip(",;:\u2014\u2013 -")
    return Span(span.start + s + lead, span.start + s + lead + len(piece))


def verify_quote(text: str, quote: str, start: int) -> bool:
    """The verbatim guarantee: the quote is exactly the document's text at its offsets."""
    return bool(quote.strip()) and 0 <= start and text[start : start + len(quote)] == quote


_PRONOUN_START = re.compile(r"\s*(He|She|They|His|Her|Their)\b")
# "The team has signed ...", "The country's largest movie theater chain announced ...": a description whose
# first words after the article name nobody
_DESCRIPTION_START = re.compile(r"(?:The|This|That|These|Those|Its)\s+[a-z0-9][\w'\u2019-]*(?:\s+[a-z][\w'\u2019-]*)?\b")
# a capitalised word alone ("Hurts and the Eagles ...", "Haley, who ..."), not the first word of a name
_LONE_NAME_START = re.compile(r"([A-Z][\w'\u2019-]+)\b(?![\w'\u2019-]*\s+(?:[A-Z]|of\b|de\b))")
_OPENING = " \t("  # a sentence opening with a quotation mark is someone's words, which refer on their own
_ENDS_SENTENCE = re.compile(r"[.!?][\"'\u201d\u2019)]*\s*$")
_ATTRIB = re.compile(r"\b(said|says|told|added|tweeted|wrote|stated|according to|asked|warned|explained|noted|"
                     r"announced|declared)\b", re.I)


def attributed(sentence: str) -> bool:
    return bool(_ATTRIB.search(sentence))


@lru_cache(maxsize=256)
def doc_sentences(text: str) -> tuple[Span, ...]:
    from .sentences import split_sentences

    return tuple(split_sentences(text))


def next_sentence(text: str, end: int) -> Span | None:
    return next((s for s in doc_sentences(text) if s.start >= end), None)


def prev_sentence(text: str, start: int) -> Span | None:
    prev = None
    for s in doc_sentences(text):
        if s.end > start:
            break
        prev = s
    return prev


def refers_back(sentence: str, before: str) -> bool:
    """The sentence names its subject only in the sentence `before` it: it opens with a pronoun ("He"), a
    description ("The team", "The country's largest movie theater chain") or a surname that `before` gives
    in full ("Hurts ..." after "Jalen Hurts ..."). Never a quotation ("\"This was a difficult choice,\" ..."):
    its words are the speaker's, whose attribution is handled apart."""
    s = sentence.lstrip(_OPENING)
    if _PRONOUN_START.match(s) or _DESCRIPTION_START.match(s):
        return True
    m = _LONE_NAME_START.match(s)
    return bool(m and re.search(r"\b[A-Z][\w.'\u2019-]*\s+" + re.escape(m.group(1)) + r"\b", before))


def joinable(text: str, first: Span, second: Span, limit: int = MAX_QUOTE_WORDS) -> bool:
    """Can one quote hold two neighbouring sentences: at most a paragraph break between them (news paragraphs
    are often one sentence), the first ending like a sentence (not a heading), neither on a line never quoted
    (a caption, a credit, a teaser: `junk.junk_reason`), and within `limit` words together."""
    return text[first.end : second.start].count("\n") <= 2 and \
        bool(_ENDS_SENTENCE.search(text[first.start : first.end])) and \
        len(text[first.start : second.end].split()) <= limit and \
        not any(junk_reason(line_at(text, at, at)) for at in (max(first.start, first.end - 1), second.start))


def joins_back(text: str, before: Span, span: Span, limit: int = MAX_QUOTE_WORDS) -> bool:
    """Does the quote at `span` take the sentence `before` it: it `refers_back` to it and they are `joinable`."""
    return refers_back(text[span.start : span.end], text[before.start : before.end]) and \
        joinable(text, before, span, limit)


def with_antecedent(text: str, span: Span, limit: int = MAX_QUOTE_WORDS, steps: int = 2) -> Span:
    """`span` with the sentences before it that name whom or what it refers back to (`joins_back`), at most
    `steps` of them."""
    for _ in range(steps):
        prev = prev_sentence(text, span.start)
        if prev is None or not joins_back(text, prev, span, limit):
            break
        span = Span(prev.start, span.end)
    return span


def with_next(text: str, span: Span, limit: int = MAX_QUOTE_WORDS) -> Span:
    """`span` with the sentence after it when `joinable`, else `span` itself."""
    nxt = next_sentence(text, span.end)
    return Span(span.start, nxt.end) if nxt is not None and joinable(text, span, nxt, limit) else span


def passage_around(text: str, quote: Span) -> Span:
    """The quote plus neighbouring sentences while the passage stays within PASSAGE_WORDS words: the rest of
    its paragraph first (a sentence before, then one after, and so on), then across paragraph breaks."""
    sents = doc_sentences(text)
    idx = [i for i, s in enumerate(sents) if s.start < quote.end and quote.start < s.end]
    if not idx:
        return quote
    lo, hi = idx[0], idx[-1]
    words = len(text[sents[lo].start : sents[hi].end].split())
    for cross in (False, True):
        blocked = {-1: False, 1: False}
        while not (blocked[-1] and blocked[1]):
            for step in (-1, 1):
                if blocked[step]:
                    continue
                j = lo - 1 if step < 0 else hi + 1
                if not 0 <= j < len(sents):
                    blocked[step] = True
                    continue
                gap = text[sents[j].end : sents[lo].start] if step < 0 else text[sents[hi].end : sents[j].start]
                w = len(text[sents[j].start : sents[j].end].split())
                if (not cross and "\n" in gap) or words + w > PASSAGE_WORDS:
                    blocked[step] = True
                    continue
                words += w
                lo, hi = (j, hi) if step < 0 else (lo, j)
    span = Span(min(sents[lo].start, quote.start), max(sents[hi].end, quote.end))
    if words > PASSAGE_WORDS:  # a "sentence" longer than a passage (a text without sentence ends): a window
        return _word_window(text, span, quote, PASSAGE_WORDS)
    return span


_WORD = re.compile(r"\S+")


def _word_window(text: str, within: Span, quote: Span, limit: int) -> Span:
    """About `limit` words of `within` centred on `quote` (which is kept whole), cut between words."""
    spare = max(0, limit - len(text[quote.start : quote.end].split()))
    before = [m.start() for m in _WORD.finditer(text, max(within.start, quote.start - 40 * spare), quote.start)]
    after = [m.end() for m in _WORD.finditer(text, quote.end, min(within.end, quote.end + 40 * spare))]
    take_before = min(len(before), spare // 2)
    take_after = min(len(after), spare - take_before)
    start = before[-take_before] if take_before else quote.start
    end = after[take_after - 1] if take_after else quote.end
    return Span(min(start, quote.start), max(end, quote.end))


def statement_span(text: str, span: Span, quotations: list[Span], limit: int = MAX_QUOTE_WORDS) -> Span | None:
    """The whole statement a sentence belongs to: the sentences covering the run of one speaker's quotations
    (`quotations`, in text order, within one paragraph) that the sentence overlaps, attribution included,
    when that is more than the sentence and within `limit` words; else None. Quotations are added one at a
    time outwards from the sentence's own, so a long run keeps the part around the sentence."""
    sents = doc_sentences(text)
    mine = [i for i, q in enumerate(quotations) if q.start < span.end and span.start < q.end]
    if not mine:
        return None

    def cover(a: int, b: int) -> Span:
        inside = [x for x in sents if x.start < b and a < x.end]
        return Span(min([a] + [x.start for x in inside]), max([b] + [x.end for x in inside]))

    lo = hi = mine[0]
    best = cover(min(span.start, quotations[lo].start), max(span.end, quotations[hi].end))
    if len(text[best.start : best.end].split()) > limit:
        return None
    grew = True
    while grew:
        grew = False
        for nlo, nhi in ((lo, hi + 1), (lo - 1, hi)):
            if not (0 <= nlo and nhi < len(quotations)):
                continue
            gap = (text[quotations[hi].end : quotations[nhi].start] if nhi > hi
                   else text[quotations[nlo].end : quotations[lo].start])
            if "\n" in gap:
                continue
            cand = cover(min(best.start, quotations[nlo].start), max(best.end, quotations[nhi].end))
            if len(text[cand.start : cand.end].split()) <= limit:
                lo, hi, best, grew = nlo, nhi, cand, True
                break
    return best if (best.start < span.start or best.end > span.end) else None


def quote_span(text: str, span: Span, q_terms: dict[str, float], has_speaker: Callable[[Span], bool],
               quotations: list[Span] | None = None, context: bool = True, answer_after: bool = False) -> Span:
    """The sentence at `span`, extended to a neighbour when it only introduces a quotation (ends with ':'),
    refers back to whom or what the sentences before name (`with_antecedent`), or is a bare
    quotation whose attribution (a sentence `has_speaker` accepts) is the sentence before, while it stays
    within the word limit; then cut to the answering clause if it is still too long. A sentence inside a
    speaker's `quotations` is first widened to the whole statement (`statement_span`). Without `context` the
    sentence is not extended backwards (its context is shown elsewhere). With `answer_after` (the sentence
    restates the question and the next one holds what it asks for) the next sentence comes too."""
    whole = statement_span(text, span, quotations) if quotations else None
    if whole is not None:
        return whole
    sent = text[span.start : span.end]
    if sent.rstrip().endswith(":"):
        nxt = next_sentence(text, span.end)
        if nxt and len(text[span.start : nxt.end].split()) <= MAX_QUOTE_WORDS:
            span = Span(span.start, nxt.end)
    elif context and (named := with_antecedent(text, span)) != span:
        # "He is also the oldest quarterback…", "The team has signed …": who or what stands before.
        span = named
    elif context and sent.lstrip()[:1] in "\"\u201c" and not attributed(sent):
        prev = prev_sentence(text, span.start)
        if prev and attributed(text[prev.start : prev.end]) and has_speaker(prev) and \
                len(text[prev.start : span.end].split()) <= MAX_QUOTE_WORDS:
            span = Span(prev.start, span.end)
    if context and answer_after:
        span = with_next(text, span)
    return clip_quote(text, span, q_terms)
