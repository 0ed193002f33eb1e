"""Sentence-aligned chunks of about `target_words` words, one sentence of overlap, exact offsets."""
from __future__ import annotations

import hashlib
import re

from .facts import FACTS_VERSION
from .records import Span
from .sentences import split_sentences, word_count


# Bump when sentence splitting, chunking or the BM25 analysis changes what a text gives: indexes made otherwise
# are re-chunked (2: run-on sentences split again; dotted abbreviations one BM25 term; 3: sentencex sees
# no-break and other odd spaces as plain spaces; 4: a sentence longer than a chunk is cut, see `_pieces`).
CHUNKING_VERSION = 4
CHARS_PER_WORD = 12  # a chunk holds at most max_words * this many characters (a text without spaces is cut too)
_WORD = re.compile(r"\S+")


def chunking_key(target_words: int, max_words: int) -> str:
    """What the index's chunk spans (and the facts stored with each document) depend on besides the text (kept in
    the manifest): a change re-prepares every document; unchanged chunks keep their vectors."""
    return f"v{CHUNKING_VERSION}/f{FACTS_VERSION}/{target_words}/{max_words}"


def chunk_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_spans(text: str, sentences: list[Span] | None = None, *, target_words: int = 140,
                max_words: int = 180) -> list[Span]:
    """Group consecutive sentences into chunks. A chunk closes once it reaches `target_words`, or before a
    sentence that would push it past `max_words`. Each chunk after the first starts with the previous
    chunk's last sentence (one sentence of overlap). A sentence longer than `max_words` words (or
    `max_words * CHARS_PER_WORD` characters) is cut into pieces that are not, and no chunk grows past that many
    characters either, so a chunk, and any passage shown from it, has a hard size bound whatever the text (a 5 MB
    text without one sentence end was one 5 MB chunk)."""
    sents = sentences if sentences is not None else split_sentences(text)
    if not sents:
        return []
    max_chars = max_words * CHARS_PER_WORD
    sents = [p for s in sents for p in _pieces(text, s, max_words, max_chars)]
    counts = [word_count(text[s.start:s.end]) for s in sents]
    chunks: list[Span] = []
    i = 0
    n = len(sents)
    while i < n:
        j = i
        words = 0
        while j < n:
            if words and (words + counts[j] > max_words or sents[j].end - sents[i].start > max_chars):
                break
            words += counts[j]
            j += 1
            if words >= target_words:
                break
        chunks.append(Span(sents[i].start, sents[j - 1].end))
        if j >= n:
            break
        # one sentence of overlap, unless the chunk was a single sentence (avoid an endless loop)
        i = j - 1 if j - 1 > i else j
    return chunks


def _pieces(text: str, sent: Span, max_words: int, max_chars: int) -> list[Span]:
    """`sent` itself when within both bounds, else consecutive pieces of it that are: cut between words (after
    `max_words` words, or before the word that would pass `max_chars`), a single word longer than `max_chars`
    cut every `max_chars` characters."""
    if sent.end - sent.start <= max_chars and word_count(text[sent.start:sent.end]) <= max_words:
        return [sent]
    out: list[Span] = []
    start = end = None
    words = 0
    for m in _WORD.finditer(text, sent.start, sent.end):
        a, b = m.start(), m.end()
        while b - a > max_chars:  # a "word" longer than a chunk: cut it
            if start is not None:
                out.append(Span(start, end))
                start, words = None, 0
            out.append(Span(a, a + max_chars))
            a += max_chars
        if start is not None and (words >= max_words or b - start > max_chars):
            out.append(Span(start, end))
            start, words = None, 0
        if start is None:
            start = a
        end, words = b, words + 1
    if start is not None:
        out.append(Span(start, end))
    return out
