"""One presentation of an answer that every front end formats (terminal, Discord, and any new one).

The engine's `Answer` is what was found; an `AnswerView` is what a reader should see of it, decided once here so
that front ends only format: who said a quote and on which day (`attribution`), whether it is cut from a longer
sentence (the ellipsis in `quoted`), whether it is a reader comment, why the engine abstained (`reason`), the
passage around a quote (`context`), and the article each quote comes from (`ArticleRef`), with the other
documents holding the same words (`also_in`).

It also decides what to show first. The *lead* is the best answer: the top result and the other results by the
same speaker on the same day (at most `LEAD_MAX`), e.g. both of Pompeo's April 7 statements. Results that add
nothing once the lead is shown are *folded*: a near-duplicate of a quote already shown (a second wording of the
same sentence), or a sentence that only reports the lead's statement (it names the lead's speaker and day, or
names the speaker with a verb of saying, and quotes no one). The rest follow in `rest`, best first.
No Discord and no terminal here: the front ends decide the layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from .quotes import attributed
from .records import Answer, OtherSource, Result

LEAD_MAX = 3  # quotes in the lead at most
DUPLICATE_OVERLAP = 0.75  # word-set Jaccard similarity from which two quotes are one statement in two wordings
DUPLICATE_MIN_WORDS = 8  # ... when both have this many distinct words (short quotes differ by one word)
COMMENT_NOTE = "reader comment"
ELLIPSIS = "\u2026"

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[\w'’]+")
_QUOTE_MARKS = re.compile(r"[\"“”«»]")


def squash(text: str) -> str:
    """Runs of whitespace (line breaks inside a quote) as single spaces."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class ArticleRef:
    """A source document as a citation names it."""

    path: str  # relative to the corpus folder
    title: str | None
    source: str | None  # publisher
    date: str | None  # YYYY-MM-DD publication date
    url: str | None
    author: str | None = None  # the byline, when known
    date_from_file: bool = False  # `date` is only the file's creation time

    @property
    def name(self) -> str:
        """The title, or the file when the document has none."""
        return self.title or self.path

    @property
    def date_shown(self) -> str | None:
        """The date as citations show it: "(file date)" after it when it is only the file's creation time."""
        return f"{self.date} (file date)" if self.date and self.date_from_file else self.date

    @classmethod
    def of(cls, item: Result | OtherSource) -> ArticleRef:
        return cls(item.path, item.title, item.source, item.date, item.url, getattr(item, "author", None),
                   bool(getattr(item, "date_from_file", False)))


@dataclass(frozen=True)
class Context:
    """The passage around a quote, trimmed to a word budget: `before` + `quote` + `after`, each squashed.
    `space_before`/`space_after` keep the passage's own spacing (none before a comma, say); `cut_before`/
    `cut_after` say whether words were trimmed there (a front end shows an ellipsis)."""

    before: str
    quote: str
    after: str
    space_before: bool
    space_after: bool
    cut_before: bool
    cut_after: bool


@dataclass(frozen=True)
class QuoteView:
    """One quote as shown: the verbatim words and everything a citation or a prefix needs."""

    rank: int  # 1-based position in the engine's answer
    text: str  # verbatim from the document (offsets `start`/`end` in its clean text)
    start: int
    end: int
    clipped: bool  # the answering clause of a longer sentence
    speaker: str | None
    when: str | None  # the day phrase near the quote that matches the day the question pins
    is_comment: bool
    article: ArticleRef
    passage: str
    passage_start: int
    also_in: tuple[ArticleRef, ...] = ()

    @property
    def attribution(self) -> str | None:
        """"Mike Pompeo, April 7", "Mike Pompeo", or None when the speaker is not known (a day alone would label
        a sentence that only reports a statement as if it were one)."""
        if not self.speaker:
            return None
        return self.speaker + (f", {self.when}" if self.when else "")

    @property
    def words(self) -> str:
        """The quote with an ellipsis at both ends when it is cut from a longer sentence (the text as in the
        document: a front end that wants one line squashes it)."""
        dots = ELLIPSIS if self.clipped else ""
        return f"{dots}{self.text}{dots}"

    @property
    def quoted(self) -> str:
        """The quote in typographic quotation marks: “…”."""
        return f"\u201c{self.words}\u201d"

    @property
    def location(self) -> str:
        """`path:start-end`, the quote's place in its document."""
        return f"{self.article.path}:{self.start}-{self.end}"

    def context(self, max_words: int) -> Context | None:
        """The passage around the quote, at most about `max_words` words in all (the quote always whole);
        None when the passage adds nothing to the quote."""
        passage = self.passage or ""
        start, end = self.start - self.passage_start, self.end - self.passage_start
        if not (0 <= start <= end <= len(passage) and passage[start:end] == self.text):
            start = passage.find(self.text)  # offsets that disagree: find the words instead
            if start < 0:
                return None
            end = start + len(self.text)
        before, after = squash(passage[:start]).split(), squash(passage[end:]).split()
        if not before and not after:
            return None
        budget = max(0, max_words - len(self.text.split()))
        take_after = min(len(after), budget - min(len(before), budget // 2))
        take_before = min(len(before), budget - take_after)
        left = before[len(before) - take_before:] if take_before else []
        right = after[:take_after]
        if not left and not right:
            return None
        return Context(" ".join(left), squash(self.text), " ".join(right),
                       space_before=passage[start - 1:start].isspace(), space_after=passage[end:end + 1].isspace(),
                       cut_before=len(left) < len(before), cut_after=len(right) < len(after))


@dataclass(frozen=True)
class Folded:
    """A result left out of the view: `kind` is "duplicate" (the same statement in other words) or "report"
    (a sentence that only reports the statement `of` quotes)."""

    quote: QuoteView
    of: QuoteView
    kind: str


@dataclass(frozen=True)
class AnswerView:
    """An answer as every front end shows it."""

    question: str
    abstained: bool
    results: tuple[QuoteView, ...]  # all of them, in the engine's order
    near_misses: tuple[QuoteView, ...]  # closest passages when abstaining; never an answer
    unknown_names: tuple[str, ...]
    lead: tuple[QuoteView, ...]  # the best answer, shown first
    rest: tuple[QuoteView, ...]  # the other results worth showing, best first
    folded: tuple[Folded, ...]

    @property
    def reason(self) -> str | None:
        """Why the engine abstained, when it knows: "none of them mentions Angela Merkel"."""
        if not self.unknown_names:
            return None
        return "none of them mentions " + " or ".join(self.unknown_names)

    def pages(self, page_size: int) -> list[tuple[QuoteView, ...]]:
        """The lead first, then the rest `page_size` at a time (no pages when abstaining)."""
        if self.abstained or not self.lead:
            return []
        rest = list(self.rest)
        return [self.lead] + [tuple(rest[i:i + page_size]) for i in range(0, len(rest), page_size)]


def quote_view(rank: int, result: Result) -> QuoteView:
    return QuoteView(rank=rank, text=result.quote, start=result.start, end=result.end, clipped=result.clipped,
                     speaker=result.speaker, when=result.when, is_comment=result.is_comment,
                     article=ArticleRef.of(result), passage=result.passage, passage_start=result.passage_start,
                     also_in=tuple(ArticleRef.of(o) for o in result.also_in))


def by_article(quotes: Iterable[QuoteView]) -> list[tuple[ArticleRef, list[QuoteView]]]:
    """Quotes grouped by their article, articles in the order of their first quote, quotes in order."""
    groups: dict[str, tuple[ArticleRef, list[QuoteView]]] = {}
    for q in quotes:
        groups.setdefault(q.article.path, (q.article, []))[1].append(q)
    return list(groups.values())


def _words(text: str) -> set[str]:
    return {w.lower().strip("'’") for w in _WORD.findall(text)}


def _same_statement(a: QuoteView, b: QuoteView) -> bool:
    wa, wb = _words(a.text), _words(b.text)
    if any(ch.isdigit() for w in wa ^ wb for ch in w):  # "4 killed" and "5 killed" are two facts
        return False
    return min(len(wa), len(wb)) >= DUPLICATE_MIN_WORDS and len(wa & wb) / len(wa | wb) >= DUPLICATE_OVERLAP


def _same_voice(a: QuoteView, b: QuoteView) -> bool:
    """Quoted by the same speaker on the same day (as far as the results say)."""
    return (a.speaker is not None and b.speaker is not None and squash(a.speaker).casefold() ==
            squash(b.speaker).casefold() and (a.when or "").casefold() == (b.when or "").casefold())


def _reports(q: QuoteView, lead: Sequence[QuoteView]) -> QuoteView | None:
    """The lead quote whose statement `q` only reports, if any: `q` quotes no one, names the lead's speaker
    (surname) and either its day or a verb of saying."""
    if q.speaker or _QUOTE_MARKS.search(q.text):
        return None
    for shown in lead:
        if not shown.speaker:
            continue
        surname = squash(shown.speaker).split()[-1]
        if not re.search(rf"\b{re.escape(surname)}\b", q.text):
            continue
        day = squash(shown.when) if shown.when else None
        if (day and re.search(rf"\b{re.escape(day)}\b", squash(q.text), re.I)) or (not day and attributed(q.text)):
            return shown
    return None


def present(answer: Answer) -> AnswerView:
    """The view of `answer`: every result as a `QuoteView`, the lead, what is folded and what follows."""
    results = tuple(quote_view(i, r) for i, r in enumerate(answer.results, 1))
    near = tuple(quote_view(i, r) for i, r in enumerate(answer.near_misses, 1))
    lead: list[QuoteView] = []
    if results and not answer.abstained:
        lead.append(results[0])
        for q in results[1:]:
            if len(lead) < LEAD_MAX and _same_voice(results[0], q) and not any(_same_statement(q, s) for s in lead):
                lead.append(q)
    shown: list[QuoteView] = list(lead)
    rest: list[QuoteView] = []
    folded: list[Folded] = []
    for q in results:
        if not lead or any(q.rank == s.rank for s in lead):
            continue
        duplicate = next((s for s in shown if _same_statement(q, s)), None)
        reported = _reports(q, lead)
        if duplicate is not None:
            folded.append(Folded(q, duplicate, "duplicate"))
        elif reported is not None:
            folded.append(Folded(q, reported, "report"))
        else:
            rest.append(q)
            shown.append(q)
    return AnswerView(question=answer.question, abstained=answer.abstained, results=results, near_misses=near,
                      unknown_names=tuple(answer.unknown_names), lead=tuple(lead), rest=tuple(rest),
                      folded=tuple(folded))
