"""From retrieved chunks to an answer: choose the verbatim quote inside each passage, check it, rank."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .lexical import LexicalIndex, terms
from .records import Answer, Result, Span
from .retrieval import Candidate
from .sentences import split_sentences
from .store import Snapshot

log = logging.getLogger(__name__)

MAX_QUOTE_WORDS = 60
PASSAGE_WORDS = 90


@dataclass
class Scored:
    row: int
    path: str
    sentence: Span
    quote: Span
    score: float
    candidate: Candidate


def _coverage(q_terms: dict[str, float], text: str) -> float:
    """Share of the question's IDF weight whose terms occur in `text`."""
    total = sum(q_terms.values())
    if not total:
        return 0.0
    present = set(terms(text))
    return sum(w for t, w in q_terms.items() if t in present) / total


def clip_quote(text: str, span: Span, q_terms: dict[str, float], limit: int = MAX_QUOTE_WORDS) -> Span:
    """A sentence of at most `limit` words is returned whole; a longer one is cut to the verbatim clause
    (split at ; : , — and dashes) window that covers most of the question's terms within the limit."""
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
            score = _coverage(q_terms, piece) + 0.001 * len(piece.split())
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


def passage_around(text: str, sentences: list[Span], idx: int, quote: Span) -> Span:
    """The quote's sentence plus its neighbours while the passage stays within PASSAGE_WORDS words."""
    lo = hi = idx
    words = len(text[sentences[idx].start : sentences[idx].end].split())
    for step in (-1, 1, -1, 1):
        j = lo - 1 if step < 0 else hi + 1
        if 0 <= j < len(sentences):
            w = len(text[sentences[j].start : sentences[j].end].split())
            if words + w <= PASSAGE_WORDS:
                words += w
                lo, hi = (j, hi) if step < 0 else (lo, j)
    return Span(min(sentences[lo].start, quote.start), max(sentences[hi].end, quote.end))


class AnswerBuilder:
    """Quote choice: the best sentence of each candidate passage by question-term coverage (IDF weighted)
    and the passage's retrieval score; duplicates collapse; every quote is verified verbatim."""

    def __init__(self, snapshot: Snapshot, lexical: LexicalIndex, *, passages: int = 10,
                 min_dense: float = 0.30, min_coverage: float = 0.5) -> None:
        self.snap = snapshot
        self.lexical = lexical
        self.passages = passages
        self.min_dense = min_dense
        self.min_coverage = min_coverage

    def build(self, question: str, candidates: list[Candidate], k: int) -> Answer:
        q_terms = {t: self.lexical.idf(t) for t in set(terms(question))}
        top = max((c.score for c in candidates), default=0.0) or 1.0
        scored: list[Scored] = []
        for cand in candidates[: self.passages]:
            row = self.snap.row_of.get(cand.chunk_id)
            if row is None:
                continue
            s = self._best_sentence(row, cand, q_terms, cand.score / top)
            if s:
                scored.append(s)
        scored.sort(key=lambda s: -s.score)
        results: list[Result] = []
        seen: set[tuple[str, int]] = set()
        for s in scored:
            key = (s.path, s.sentence.start)
            if key in seen:
                continue
            seen.add(key)
            r = self._result(s)
            if r is not None:
                results.append(r)
            if len(results) >= k:
                break
        abstain = self._abstain(candidates, results, q_terms)
        if abstain:
            return Answer(question, True, [], near_misses=results[:3])
        return Answer(question, False, results)

    def _abstain(self, candidates: list[Candidate], results: list[Result], q_terms: dict[str, float]) -> bool:
        if not results:
            return True
        best_dense = max((c.dense for c in candidates), default=0.0)
        best_cov = max((_coverage(q_terms, r.passage) for r in results[:3]), default=0.0)
        return best_dense < self.min_dense and best_cov < self.min_coverage

    def _best_sentence(self, row: int, cand: Candidate, q_terms: dict[str, float], retrieval: float) -> Scored | None:
        path = self.snap.chunk_paths[row]
        text = self.snap.documents[path].text
        c0, c1 = int(self.snap.chunk_starts[row]), int(self.snap.chunk_ends[row])
        best: Scored | None = None
        for sp in split_sentences(text[c0:c1]):
            span = Span(c0 + sp.start, c0 + sp.end)
            sent = text[span.start : span.end]
            if len(sent.split()) < 3:
                continue
            cov = _coverage(q_terms, sent)
            score = 0.6 * cov + 0.4 * retrieval
            if best is None or score > best.score:
                best = Scored(row, path, span, span, score, cand)
        if best is not None:
            best.quote = clip_quote(text, best.sentence, q_terms)
        return best

    def _result(self, s: Scored) -> Result | None:
        doc = self.snap.documents[s.path]
        text = doc.text
        quote = text[s.quote.start : s.quote.end]
        if not verify_quote(text, quote, s.quote.start) or len(quote.split()) > MAX_QUOTE_WORDS:
            log.error("dropped a quote that is not verbatim in %s at %d", s.path, s.quote.start)
            return None
        sents = split_sentences(text)
        idx = next((i for i, sp in enumerate(sents) if sp.start <= s.sentence.start < sp.end), None)
        passage = s.sentence if idx is None else passage_around(text, sents, idx, s.quote)
        in_comment = any(c.start <= s.quote.start < c.end for c in doc.comments)
        return Result(
            quote=quote,
            passage=text[passage.start : passage.end],
            path=s.path,
            start=s.quote.start,
            end=s.quote.end,
            title=doc.title,
            source=doc.source,
            date=doc.date,
            score=s.score,
            url=doc.url,
            passage_start=passage.start,
            passage_end=passage.end,
            is_comment=in_comment,
        )


def verify_quote(text: str, quote: str, start: int) -> bool:
    """The verbatim guarantee: the quote is exactly the document's text at its offsets."""
    return bool(quote.strip()) and 0 <= start and text[start : start + len(quote)] == quote
