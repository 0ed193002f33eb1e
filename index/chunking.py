"""Sentence-aligned chunks of about `target_words` words, one sentence of overlap, exact offsets."""
from __future__ import annotations

import hashlib

from .facts import FACTS_VERSION
from .records import Span
from .sentences import split_sentences, word_count


# Bump when sentence splitting, chunking or the BM25 analysis changes what a text gives: indexes made otherwise
# are re-chunked (2: run-on sentences split again; dotted abbreviations one BM25 term; 3: sentencex sees
# no-break and other odd spaces as plain spaces).
CHUNKING_VERSION = 3


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
    chunk's last sentence (one sentence of overlap). A single sentence longer than `max_words` is a chunk
    of its own (the embedding model truncates it; BM25 still sees all of it)."""
    sents = sentences if sentences is not None else split_sentences(text)
    if not sents:
        return []
    counts = [word_count(text[s.start:s.end]) for s in sents]
    chunks: list[Span] = []
    i = 0
    n = len(sents)
    while i < n:
        j = i
        words = 0
        while j < n:
            if words and words + counts[j] > max_words:
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
