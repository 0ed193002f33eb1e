"""Read a PDF as the article a person sees: pages' text reflowed into paragraphs, running headers, footers and
page numbers dropped, and the article's title, date, publisher and author taken from its text when the PDF's
metadata lacks them.

A PDF's text layer is a list of printed lines, not paragraphs: a sentence wrapped over three lines comes out
as three lines, a word broken at a line end as "coun-" and "cillor". The reflow joins a line to the next when
the line is full width (a wrapped line) or plainly runs on (no sentence end, the next line starts in lower
case), and never across a byline or dateline; a hyphen at a line end is undone unless the document writes the
hyphenated word elsewhere. The result is the *raw* text cleaning (`index/cleaning.py`) then selects lines
from, so every quote stays verbatim to the clean text and its offsets refer to it.

Columns come out in the order the PDF draws them (pypdf's plain extraction), which for typeset articles is
reading order: column by column.

Dates: a date in the article's byline or dateline beats the PDF's CreationDate, the time the file was
written, which is kept only as the last resort and flagged (`date_from_file`).
"""
from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass

from newsdesk.index.cleaning import _publisher as publisher_name  # the same test cleaning applies to "Source:" lines
from newsdesk.index.cleaning import normalize_date
from newsdesk.index.loaders import DocumentError, _reason, _str

log = logging.getLogger(__name__)

__all__ = ["PdfText", "read_pdf", "reflow"]

EDGE_LINES = 2  # lines at the top and at the bottom of a page where running headers and footers live
LONG_LINE = 0.7  # a line at least this share of the page's usual full line width is a wrapped line
HEADER_REGION = 12  # lines of the first page searched for the byline and dateline

_PAGE_NUMBER = re.compile(r"(?i)[-\u2013\u2014\s\[(]*(?:page|p\.|seite|pg\.?)?\s*\d{1,4}(?:\s*(?:of|/|von)\s*\d{1,4})?"
                          r"[-\u2013\u2014\s\])]*")
_SENTENCE_END = re.compile(r"[.!?:;\"\u201d\u2019')\]]$")
_BYLINE = re.compile(r"(?i)^(?:by|written by|words by|story by)\s+\S")
_DATELINE = re.compile(r"(?i)^(?:published|updated|posted|first published|last updated|date)\b")
_HYPHEN_END = re.compile(r"(\w+)[-\u00ad]$")
_WORD_START = re.compile(r"^([a-z]\w*)")
_JUNK_TITLE = re.compile(r"(?i)^(?:microsoft \w+ - .*|untitled.*|.*\.(?:docx?|pdf|indd|rtf|odt|txt))$")
_HEADER_SPLIT = re.compile(r"\s+[-\u2013\u2014|\u00b7\u2022]\s+")


@dataclass
class PdfText:
    """A PDF's reflowed text and what its metadata and text say about it (None where nothing does)."""

    text: str
    title: str | None = None  # from the metadata only; cleaning finds the headline in the text otherwise
    author: str | None = None  # from the metadata only; cleaning reads the byline otherwise
    date: str | None = None  # YYYY-MM-DD: the byline's or dateline's date, else the file's creation date
    date_from_file: bool = False  # `date` is only the PDF's CreationDate, not a date the article states
    source: str | None = None  # the publisher named by a running header


def read_pdf(data: bytes) -> PdfText:
    """The reflowed text and facts of a PDF file's bytes. Raises DocumentError for a file that is not a PDF,
    is encrypted, or has no readable text layer; a page that fails alone is skipped with a warning."""
    from pypdf import PdfReader  # imported here: only needed for PDFs

    if b"%PDF-" not in data[:1024]:
        raise DocumentError("unreadable PDF: not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("unreadable PDF: encrypted")
        pages = list(reader.pages)
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(f"unreadable PDF: {_reason(exc)}") from exc
    texts: list[str] = []
    failed = 0
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(page.extract_text() or "")
        except Exception as exc:
            failed += 1
            log.warning("PDF page %d: text extraction failed (%s)", number, _reason(exc))
    if pages and failed == len(pages):
        raise DocumentError("unreadable PDF: no page could be read")
    texts = [re.sub(r"[\x00-\x08\x0e-\x1f\x7f]", "", t) for t in texts]  # stray control codes from font encodings
    if not any(t.strip() for t in texts):
        raise DocumentError("no text extracted (a scanned PDF without a text layer?)")
    page_lines = [[ln.strip() for ln in t.splitlines() if ln.strip()] for t in texts]
    headers = running_lines(page_lines)
    body = [[ln for j, ln in enumerate(lines) if not _edge_junk(ln, j, len(lines), headers)] for lines in page_lines]
    out = PdfText(text=reflow(body), source=_publisher_of(headers))
    out.date = text_date([ln for lines in body[:1] for ln in lines[:HEADER_REGION]])
    try:
        info = reader.metadata
        if info is not None:
            title = _str(info.title)
            out.title = title if title and not _JUNK_TITLE.match(title) else None
            out.author = _str(info.author)
            if out.date is None:
                created = info.get("/CreationDate")
                out.date = normalize_date(str(created)) if created else None
                out.date_from_file = out.date is not None
    except Exception as exc:  # metadata is optional; a broken info dictionary is not fatal
        log.info("PDF metadata unreadable (%s)", _reason(exc))
    return out


def _key(line: str) -> str:
    """A line with its numbers blanked, so "Courier, page 2" and "Courier, page 3" compare equal."""
    return re.sub(r"\d+", "#", " ".join(line.split()).casefold())


def running_lines(pages: list[list[str]]) -> dict[str, str]:
    """Lines printed at the top or bottom of at least two pages and half of them (running headers and
    footers), by their `_key`, each with its first printed form; headers come before footers."""
    if len(pages) < 2:
        return {}
    seen: Counter[str] = Counter()
    printed: dict[str, str] = {}
    for lines in pages:
        edge = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        for ln in edge:
            printed.setdefault(_key(ln), ln)
        seen.update({_key(ln) for ln in edge})
    return {k: ln for k, ln in printed.items() if seen[k] >= 2 and seen[k] * 2 >= len(pages)}


def _edge_junk(line: str, index: int, count: int, headers: dict[str, str]) -> bool:
    """A running header or footer, or a bare page number ("7", "Page 2 of 5", "- 3 -") at a page's edge."""
    at_edge = index < EDGE_LINES or index >= count - EDGE_LINES
    return at_edge and (_key(line) in headers or bool(_PAGE_NUMBER.fullmatch(line)))


def _publisher_of(headers: dict[str, str]) -> str | None:
    """The publication a running header names: its first part ("East Anglian Courier" of "East Anglian
    Courier - Port news") when that reads like a publication name."""
    for printed in headers.values():
        if _PAGE_NUMBER.fullmatch(printed):
            continue
        first = _HEADER_SPLIT.split(printed)[0]
        if not re.search(r"\d", first) and (name := publisher_name(first)):
            return name
    return None


def _is_marker_line(line: str) -> bool:
    """Bylines and datelines stand alone: never joined to a neighbour (their date and author are read from
    them, and cleaning drops them whole)."""
    return bool(_BYLINE.match(line) or _DATELINE.match(line) or normalize_date(line) and len(line.split()) <= 6)


def _full_width(lines: list[str]) -> float:
    """The usual length of a full line on a page: the 90th percentile of lines of four or more words."""
    lengths = sorted(len(ln) for ln in lines if len(ln.split()) >= 4)
    if not lengths:
        return 0.0
    return float(lengths[min(len(lengths) - 1, int(len(lengths) * 0.9))])


def reflow(pages: list[list[str]]) -> str:
    """Pages of printed lines as paragraphs (one line each, separated by a blank line): wrapped lines joined
    with a space, a word hyphenated at a line end put back together."""
    all_lines = [ln for lines in pages for ln in lines]
    words = set(re.findall(r"\w+(?:-\w+)*", " ".join(all_lines).casefold()))
    doc_width = _full_width(all_lines)
    paragraphs: list[str] = []
    current = ""
    for lines in pages:
        width = _full_width(lines) if len(lines) >= 5 else doc_width
        for line in lines:
            if current and _joins(current_last, line, width):
                current = _join(current, line, words)
            else:
                if current:
                    paragraphs.append(current)
                current = line
            current_last = line
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _joins(prev: str, line: str, width: float) -> bool:
    """Whether printed line `line` continues the paragraph whose last printed line is `prev`."""
    if _is_marker_line(prev) or _is_marker_line(line):
        return False
    ends = bool(_SENTENCE_END.search(prev))
    if not ends and line[:1].islower():
        return True  # the sentence plainly runs on
    long = width > 0 and len(prev) >= LONG_LINE * width
    if not long:
        return False  # a short line ends its paragraph (or is a headline, a caption, a label)
    return not (ends and len(line) < LONG_LINE * width)  # a sentence end then a short line: a line of its own


def _join(current: str, line: str, words: set[str]) -> str:
    """`current` + `line`, with a line-end hyphen undone ("coun-" + "cillor") unless the document also writes
    the hyphenated form ("night-" + "time" where "night-time" occurs elsewhere)."""
    head, nxt = _HYPHEN_END.search(current), _WORD_START.match(line)
    if head and nxt:
        hyphenated = f"{head.group(1)}-{nxt.group(1)}".casefold()
        solid = f"{head.group(1)}{nxt.group(1)}".casefold()
        if current.endswith("\u00ad") or solid in words or hyphenated not in words:
            return current[:-1] + line
        return current + line
    return f"{current} {line}"


def text_date(lines: list[str]) -> str | None:
    """The date of the first byline or dateline among `lines` ("By Jane Doe | 3 March 2022", "Published
    3 March 2022", "3 March 2022"), else None. Prose lines are not bylines: a date inside a sentence is
    what the article is about, not when it was written."""
    for line in lines:
        if len(line.split()) > 14:
            continue
        if _BYLINE.match(line) or _DATELINE.match(line) or len(line.split()) <= 6:
            found = normalize_date(line)
            if found:
                return found
    return None
