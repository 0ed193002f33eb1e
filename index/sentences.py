"""Sentence splitting with character offsets (sentencex: rule-based, offline, abbreviation-aware).

Lines are split first, so a headline or a list item never merges with the next paragraph; each line is
then split into sentences. Offsets index the given text: `text[s.start:s.end]` is the sentence, with
surrounding white space trimmed.
"""
from __future__ import annotations

import re

import sentencex

from .records import Span

_LINE = re.compile(r"[^\n]+")


def split_sentences(text: str, language: str = "en") -> list[Span]:
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        base = line.start()
        segment = line.group()
        for b in sentencex.get_sentence_boundaries(language, segment):
            if b.get("is_paragraph_break"):
                continue
            start, end = b["start_index"], b["end_index"]
            piece = segment[start:end]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            spans.append(Span(base + start + lead, base + start + lead + len(stripped)))
    return spans


def word_count(text: str) -> int:
    return len(text.split())
