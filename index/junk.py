"""Lines of an article that are never quoted as an answer: photo credits and captions, gallery counters,
link and teaser lines, bylines and datelines. They stay in the index (searchable context: a caption may be
what leads retrieval to the right article); they are only never returned as the quote.

Cleaning (`cleaning.py`) already drops the lines it is sure of at load time; these rules catch what survives
into the clean text, judged per line at answer time, so changing them needs no re-index.
"""
from __future__ import annotations

import re
from functools import lru_cache

_CREDIT = re.compile(
    r"(?:\b(?:Getty Images|AFP|AP Photo|Shutterstock|EPA-EFE|Pool Photo|USA TODAY Sports|Imagn)\b"
    r"(?:\s*/|\s+via\b|\s*$)"
    r"|\b(?:Photo|Photograph|Image|Picture|Video)s?\s*(?:by|courtesy|credit)\b"
    r"|\b(?:Photo|Image|Credit|Caption)\s*:"
    r"|/\s*(?:Getty Images|Reuters|AP|AFP|Bloomberg)\b)",
    re.I,
)
_GALLERY = re.compile(
    r"\b(?:Hide|Show|Close|Expand)\s+Caption\b|\bCaption\s+\d+\s+of\s+\d+|^\s*\d+\s*(?:of|/)\s*\d+\s*$"
    r"|^\s*(?:Photos?|Gallery|Slideshow|Video|Watch|Listen)\s*(?::|$)|\bClick to (?:expand|enlarge)\b"
    r"|\b(?:Next|Previous)\s+(?:slide|image|photo)\b",
    re.I,
)
_LINK = re.compile(
    r"^\s*(?:Read more|Read next|Related(?: coverage| stories| articles)?|More from|See also|Also read|"
    r"Sign up|Subscribe|Click here|Follow (?:us|him|her)|Watch|Listen|Download|Share this|Trending)\b",
    re.I,
)
_KICKER = re.compile(r"^\s*[A-Z][A-Z0-9 ,'’&.-]{3,}:\s*\S")  # "NEVER MISS A SNAP: Sign up ...", "WINNERS, LOSERS:..."
_BYLINE = re.compile(
    r"^\s*(?:By|Written by|Reporting by|Edited by)\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}\s*(?:,|\band\b|\||$)"
    r"|^\s*(?:Published|Updated|Posted|Last updated)\b.*\d",
)
_DATELINE = re.compile(r"^\s*[A-Z][A-Z .,'’-]{2,}(?:\s*\([\w .]+\))?\s*[—–-]\s*$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


@lru_cache(maxsize=8192)
def junk_reason(line: str) -> str | None:
    """Why a line of article text is not a quote ("photo credit", "gallery", "link", "byline", "dateline",
    "teaser": a short line that is not a sentence), or None when it may be quoted. The headline is judged by
    the caller (it is the article's first line)."""
    text = line.strip()
    if not text:
        return None
    words = text.split()
    if _GALLERY.search(text):
        return "gallery"
    if _CREDIT.search(text) and (len(words) <= 40 or not _SENTENCE_END.search(text)):
        return "photo credit"
    if _LINK.match(text) or _KICKER.match(text):
        return "link"
    if _BYLINE.match(text) and len(words) <= 14:
        return "byline"
    if _DATELINE.match(text):
        return "dateline"
    if len(words) <= 12 and not _SENTENCE_END.search(text) and not text.endswith(("?", ":")):
        return "teaser"  # a link, subhead or caption line ("Players react to the firing"), not a statement
    return None


def line_at(text: str, start: int, end: int) -> str:
    """The whole line (between line breaks) around text[start:end]."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return text[a : b if b >= 0 else len(text)]
