""""Who wrote the Felixstowe article?": answered from the documents' bylines (the `author` each document was
indexed with), not from passage retrieval, which cannot find a byline cleaning dropped from the text.

The article is the one whose title (or file name) holds most of the words the question names it by. The
answer quotes the article's lead sentence, verbatim as any answer, and its citation carries the author; an
article with no known author is abstained on with that lead shown as the closest passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .lexical import terms
from .quotes import MAX_QUOTE_WORDS, clip_quote, doc_sentences, passage_around
from .records import Answer, Result, Span
from .store import DocRow

__all__ = ["asks_author", "answer_author"]

_WHO_WROTE = re.compile(
    r"(?i)^\s*(?:who\s+(?:wrote|authored|penned|(?:is|was|were|are)\s+the\s+(?:authors?|writers?)\s+of)"
    r"|(?:what\s+is\s+the\s+name\s+of\s+)?the\s+(?:authors?|writers?)\s+of)\s+(?P<what>.+?)[\s?.!]*$")
# The question must say it means a piece of journalism: "who wrote the poem …" asks about the poem, which an
# article may well answer by quoting, not about who wrote the article.
_ARTICLE = re.compile(r"(?i)\b(?:article|story|piece|report|column|op-?ed|editorial|feature|interview|obituary"
                      r"|review|coverage|news item)s?\b")
_GENERIC = set(terms("the a an article story piece report column op-ed feature news item about on "
                     "in newspaper published by"))
MIN_SHARE = 0.5  # at least this share of the question's naming words must be in the article's title


@dataclass
class _Named:
    path: str
    title: str | None
    author: str | None
    share: float


def asks_author(question: str) -> list[str] | None:
    """The words a "who wrote the … article" question names the article by (stemmed terms), or None for any
    other question (also "who wrote the poem …", which asks what the articles say, not who wrote them)."""
    m = _WHO_WROTE.match(question)
    if not m or not _ARTICLE.search(m.group("what")):
        return None
    words = [t for t in dict.fromkeys(terms(m.group("what"))) if t not in _GENERIC]
    return words or None


class Bylines(Protocol):
    """Where the documents' titles and authors are read: a store's view of its index (`stores.base.IndexView`)
    or the embedded store's SQLite."""

    def titles(self) -> list[tuple[str, str | None, str | None]]: ...

    def document(self, path: str) -> DocRow | None: ...


def answer_author(question: str, store: Bylines, k: int) -> Answer | None:
    """The answer to a "who wrote …" question naming an indexed article, or None when the question is not
    one or names no article (then it is asked as any other question)."""
    words = asks_author(question)
    if not words:
        return None
    named = _named_articles(store, words)
    if not named:
        return None
    results = [r for n in named[:k] if (r := _lead(store.document(n.path))) is not None]
    if not results:
        return None
    with_author = [r for r in results if r.author]
    if not with_author:
        return Answer(question, True, [], near_misses=results[:3])
    return Answer(question, False, with_author)


def _named_articles(store: Bylines, words: list[str]) -> list[_Named]:
    """The articles whose title (or file name) holds the largest share of `words`, best first."""
    want = set(words)
    best: list[_Named] = []
    top = MIN_SHARE
    for path, title, author in store.titles():
        have = set(terms(f"{title or ''} {re.sub(r'[_./-]+', ' ', path)}"))
        share = len(want & have) / len(want)
        if share > top:
            best, top = [], share
        if share >= top:
            best.append(_Named(path, title, author, share))
    return best


def _lead(doc: DocRow | None) -> Result | None:
    """The document's lead: its first sentence of six words or more that is not the headline."""
    if doc is None:
        return None
    text = doc.text
    for span in doc_sentences(text):
        sentence = text[span.start : span.end]
        if len(sentence.split()) < 6 or (doc.title and sentence.strip() == doc.title.strip()):
            continue
        quote = clip_quote(text, span, {}, MAX_QUOTE_WORDS)
        passage = passage_around(text, quote)
        return Result(quote=text[quote.start : quote.end], passage=text[passage.start : passage.end], path=doc.path,
                      start=quote.start, end=quote.end, title=doc.title, source=doc.source, date=doc.date,
                      score=1.0, url=doc.url, passage_start=passage.start, passage_end=passage.end,
                      clipped=quote != Span(span.start, span.end), author=doc.author,
                      date_from_file=doc.date_from_file)
    return None
