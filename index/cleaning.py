"""Clean scraped article text: drop boilerplate lines, find title/source/date/author, mark reader comments.

The clean text is made only by *selecting* lines of the input. A kept line is never rewritten beyond
stripping surrounding whitespace and a leading bullet marker ("•", "- ", ...; also the list number of a
comment's "1. Name says" line), so every quote taken from the clean text is verbatim from the source.
Lines of one input paragraph stay joined by "\\n"; paragraphs are separated by exactly one blank line.

Rules come in two strengths:

* *Marker* rules fire on explicit boilerplate: "Advertisement", "Read more: ...", share prompts,
  comment-form lines, wire photo credits ("AP Photo/ ...", "FILE PHOTO: ... REUTERS/..."), numbered
  breadcrumbs that start at "Home", a "Source: X" line (X becomes the source), repeats of the title.
  They are trusted even when the line is a sentence ("Read more: John Kelly reportedly described ...",
  a "FILE PHOTO: ..." caption): such lines link elsewhere or caption a picture, they are not the article.
* *Shape* rules fire on what a line looks like: one lowercase word ("scorecard"), one- or two-word lines
  before the headline, a dateline or a bare byline ("David Choi") just under the headline, a tag list of
  four or more capitalised names with no sentence words ("Donald Trump Mike Pompeo Vietnam North Korea").
  A shape rule never drops a line that reads like a sentence (>= 8 words, two or more of them lowercase),
  and the name rules only look at one-line paragraphs, so hard-wrapped text (PDF) is not eaten line by line.

Headline: the first line (after the chrome) of at most 40 words that is not a prose paragraph; later copies
of it are dropped. Source: a "Source: X" line, else the X of "Visit X's homepage for more stories."
(Business Insider's sign-off names its own publisher), else None.

Reader comments follow an "N Comment(s)" / "Comments" header up to the comment form ("Leave A Reply").
Their text stays in the clean text; each comment (from its "Name says" line on) becomes one Span.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from newsdesk.index.records import Span

log = logging.getLogger(__name__)

__all__ = ["CleanResult", "clean_text", "normalize_date"]


@dataclass
class CleanResult:
    """Clean text plus what cleaning learned; `comments` are reader-comment spans of `text`."""

    text: str
    title: str | None = None
    source: str | None = None
    date: str | None = None  # YYYY-MM-DD
    comments: list[Span] = field(default_factory=list)
    author: str | None = None


@dataclass
class _Line:
    text: str
    block: int
    block_size: int
    drop: str = ""  # why the line is dropped; "" keeps it
    comment: int | None = None  # index of the reader comment it belongs to


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_BULLET = re.compile(r"^(?:[•·▪◦●‣∙■►▶]\s*|[-*]\s+)")
_AGENCY = (r"(?:thomson reuters|reuters|associated press|ap|afp|epa(?:-efe)?|getty(?: images)?|shutterstock"
           r"|xinhua|anadolu(?: agency)?|upi|pool|ap images|sipa|nurphoto|alamy|file photo)")
# Whole-line boilerplate (fullmatch, case-insensitive) -> reason.
_MARKERS: list[tuple[re.Pattern[str], str]] = [
    (_rx(r"advertisements?|advertising|sponsored(?: content)?|paid content|ads?"), "advertisement"),
    (_rx(r"(?:story|article) continues (?:below|after).{0,30}|continue reading.{0,30}"), "advertisement"),
    (_rx(r"(?:most )?popular(?: right now| now| stories| articles)?|most (?:read|viewed|shared)(?: stories)?"
         r"|trending(?: now| stories)?|top stories|latest (?:news|stories)|you (?:may|might) also like"
         r"|related(?: articles| stories| posts| coverage| content| news)?|more (?:stories|articles|news)"
         r"|recommended(?: for you| stories| articles)?|editor'?s picks|what to read next"), "related links"),
    (_rx(r"read (?:more|next)(?: articles| stories| news)?(?: on| from| about)?:?"), "related links"),
    (_rx(r"(?:read more|read next|related|see also|also read|more|watch|listen|must read|recommended"
         r"|tags?|topics?|filed under|categories)\s*:.{0,200}"), "related links"),
    (_rx(r"share(?: this)?(?: article| story| post| page)?(?: on \w+| via .{1,30})?:?|tweet|email|print"
         r"|facebook|twitter|linkedin|whatsapp|reddit|pinterest|telegram|flipboard|copy(?: article)? link"
         r"|like this:?|like loading\W{0,3}|loading\W{0,3}|click to (?:share|email|print)\b.{0,80}"), "share prompt"),
    (_rx(r"visit .{2,60}?['’]s (?:homepage|home page|website|site) for more (?:stories|news|articles)\.?"),
     "share prompt"),
    (_rx(r"reply|log in to reply|report(?: comment)?|like|\d+ likes?|flag"), "comment chrome"),
    (_rx(r"(?:leave|post|add|write) a (?:reply|comment|response)|cancel reply"
         r"|(?:your )?email address will not be published\.?.{0,60}|required fields are marked \*?"
         r"|comments are closed\.?|notify me of .{0,60}|post comment|submit comment|name\s*\*|email\s*\*|website"
         r"|save my name, email, and website in this browser for the next time i comment\.?"
         r"|you must be logged in to post a comment\.?"), "comment form"),
    (_rx(r"(?:subscribe|sign up)(?: now| today)?(?: to| for)?(?: our)?(?: \w+){0,3} newsletters?\.?"
         r"|sign up|subscribe(?: now)?|log ?in|sign in|register|skip to (?:main )?content|back to top|menu"
         r"|search|close|toggle navigation|(?:previous|next)(?: article| story)?"), "navigation"),
    (_rx(r"(?:©|\(c\)|copyright ©?\s*\d{4}).{0,100}|all rights reserved\.?"), "copyright"),
    (_rx(r"(?:image|photo|slide) \d+ of \d+|\d+ of \d+ (?:images|photos)"), "photo credit"),
    (_rx(r"(?:photo|photograph|image|picture|video|illustration)(?:s| credit)?\s*(?:by|:)\s*.{1,80}"
         r"|credit:.{1,80}|file photo:.*"), "photo credit"),
    (_rx(rf"\(?{_AGENCY}\s*photos?\s*/.{{0,80}}"  # "AP Photo/ Evan Vucci"
         rf"|\(?(?:[\w.'’-]+ ){{0,4}}[\w.'’-]+\s*/\s*{_AGENCY}(?: via .{{1,40}})?\)?"),  # "X/Getty Images"
     "photo credit"),
    (_rx(rf"{_AGENCY}(?:\s*/\s*{_AGENCY})*"), "photo credit"),
]
_REUTERS_CREDIT = re.compile(r"\bREUTERS/")  # "... REUTERS/Esam Omran Al-Fetori/File Photo"
_SOURCE_LINE = _rx(r"sources?\s*:\s*(.{2,80}?)[.;,]?")
_VISIT = _rx(r"visit (.{2,60}?)['’]s (?:homepage|home page|website|site) for more\b.*")
_COMMENT_HEADER = _rx(r"(?:\d{1,5}|no|one) (?:comments?|responses?|replies|reactions?|thoughts? on\b.{0,200})"
                      r"|(?:reader )?comments|join the discussion")
_SAYS = _rx(r"(?:\d{1,4}[.)]\s*)?(\S.{0,60}?)\s+(?:says|wrote|commented|replied)\s*:?"
            r"(?:\s+(?:on\s+)?(?=.*\d).{1,40})?")
_NUMBERED = re.compile(r"(\d{1,2})[.)]\s+(.+)")
_NAV_ROOT = _rx(r"home|homepage|home page|front page|start|news")
_CRUMB_LINE = _rx(r"(?:home|news)\s*(?:[>›»/|→]\s*[^>›»/|→]{1,80}){1,6}")
_BYLINE = re.compile(r"(?:By|BY|by)\s+(.{2,80})")
_LOWER_TOKEN = re.compile(r"[a-z][a-z0-9_-]*")
_PARTICLES = {"de", "van", "von", "der", "den", "bin", "al", "da", "di", "la", "le", "du", "del", "dos", "ibn",
              "el"}
_PUBLISHER_WORDS = {"the", "of", "and", "for", "on", "de", "&", "-", "|", "a"}
_STOPWORDS = {
    "the", "a", "an", "of", "or", "in", "on", "at", "to", "for", "with", "from", "as", "is", "are", "was",
    "were", "be", "been", "has", "have", "had", "will", "would", "can", "could", "says", "said", "say", "how",
    "what", "why", "when", "who", "where", "this", "that", "these", "those", "it", "its", "he", "she", "they",
    "we", "you", "i", "his", "her", "their", "our", "your", "not", "no", "after", "before", "over", "under",
    "into", "about", "than", "but", "if", "up", "out", "all", "more", "most", "new", "here", "there", "my",
}

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATE_PATTERNS = [
    (_rx(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), "ymd"),
    (_rx(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"), "mdy"),
    (_rx(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b"), "dmy"),
    (re.compile(r"^(?:D:)?(\d{4})(\d{2})(\d{2})"), "ymd"),
]
_DATE_LINE_PREFIX = _rx(r"(?:(?:first )?(?:published|updated|posted|date|last updated)(?: on)?\s*:?\s*)?"
                        r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?")
_DATE_LINE_REST = _rx(r"[\s,|•·-]*(?:(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,5})?)?[\s.]*")


def normalize_date(value: object) -> str | None:
    """A date/datetime or a date-bearing string ("2019-04-18T10:00Z", "April 18, 2019", "D:20190418...")
    as YYYY-MM-DD, or None."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    found = _find_date(value.strip())
    return found[0] if found else None


def _find_date(s: str) -> tuple[str, re.Match[str]] | None:
    for rx, order in _DATE_PATTERNS:
        for m in rx.finditer(s):
            g = m.groups()
            try:
                if order == "ymd":
                    y, mo, d = int(g[0]), int(g[1]), int(g[2])
                elif order == "mdy":
                    y, mo, d = int(g[2]), _MONTHS[g[0][:3].lower()], int(g[1])
                else:
                    y, mo, d = int(g[2]), _MONTHS[g[1][:3].lower()], int(g[0])
                if 1800 <= y <= 2200:
                    return dt.date(y, mo, d).isoformat(), m
            except (ValueError, KeyError):
                continue
    return None


def _date_line(s: str) -> str | None:
    """The date of a line that is only a dateline ("Published: April 18, 2019 3:49 PM"), else None."""
    if len(s) > 80:
        return None
    rest = s[_DATE_LINE_PREFIX.match(s).end():]
    found = _find_date(rest)
    if not found or found[1].start() != 0 or not _DATE_LINE_REST.fullmatch(rest[found[1].end():]):
        return None
    return found[0]


def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def _is_sentence(s: str) -> bool:
    """Reads like prose: >= 8 words, at least two of them lowercase (verbs, function words)."""
    words = s.split()
    return len(words) >= 8 and sum(1 for w in words if w[:1].islower()) >= 2


def _name_tokens(s: str, *, caps: bool = False) -> list[str] | None:
    """The tokens of a line made only of capitalised names (no sentence words), else None. ALL CAPS lines
    count only with `caps` (they may be speaker labels)."""
    if not re.fullmatch(r"[\w\s'’.&-]+", s) or any(c.isdigit() for c in s):
        return None
    tokens = s.split()
    for t in tokens:
        if t.lower() in _PARTICLES:
            continue
        if t.lower().strip(".") in _STOPWORDS or not t[:1].isupper():
            return None
    if not caps and not any(any(c.islower() for c in t) for t in tokens):
        return None
    return tokens


def _publisher(s: str) -> str | None:
    """`s` stripped, if it reads like a publication name ("The American Conservative", "nytimes.com")."""
    s = s.strip().rstrip(".;,")
    tokens = s.split()
    if not 1 <= len(tokens) <= 8 or _is_sentence(s):
        return None
    ok = all(t[:1].isupper() or t[:1].isdigit() or "." in t.strip(".") or t.lower() in _PUBLISHER_WORDS
             for t in tokens)
    return s if ok else None


def _byline_author(s: str) -> str | None:
    """The author(s) of a "By Jane Doe and John Roe, Reuters" line, else None."""
    m = _BYLINE.fullmatch(s)
    if not m:
        return None
    names = re.split(r"\s*[|]\s*|,\s*(?=[A-Z]+\b|[Rr]euters|[Bb]loomberg)", m.group(1))[0]
    return _names(names, caps=True)


def _names(s: str, *, caps: bool = False, min_tokens: int = 1) -> str | None:
    """`s` if it is one to four personal names ("Jane Doe and John Roe"), else None."""
    parts = [p for p in re.split(r"\s*(?:,|\band\b|\bAND\b|&)\s*", s) if p.strip()]
    ok = 1 <= len(parts) <= 4 and all(
        (t := _name_tokens(p, caps=caps)) and min_tokens <= len(t) <= 4 for p in parts)
    return s.strip(" ,") if ok else None


def _marker(s: str) -> str:
    if _REUTERS_CREDIT.search(s):
        return "photo credit"
    for rx, reason in _MARKERS:
        if rx.fullmatch(s):
            return reason
    return ""


def _split(raw: str) -> list[_Line]:
    """Non-blank lines, stripped, each tagged with its paragraph (block) and the block's line count."""
    lines: list[_Line] = []
    block = 0
    for piece in re.split(r"\r\n|\r|\n", raw.lstrip("\ufeff")):
        s = piece.strip().strip("\u200b\u200c\u200d\ufeff").strip()
        s = _BULLET.sub("", s, count=1).strip()
        if not s:
            if lines and lines[-1].block == block:
                block += 1
            continue
        lines.append(_Line(s, block, 0))
    sizes: dict[int, int] = {}
    for ln in lines:
        sizes[ln.block] = sizes.get(ln.block, 0) + 1
    for ln in lines:
        ln.block_size = sizes[ln.block]
    return lines


def _drop_breadcrumbs(lines: list[_Line]) -> None:
    """Numbered lists that start at "1. Home" are navigation; so are "Home > World > ..." lines."""
    i = 0
    while i < len(lines):
        m = _NUMBERED.fullmatch(lines[i].text)
        if m and m.group(1) == "1" and _NAV_ROOT.fullmatch(m.group(2).strip()):
            j, n = i, 1
            while j < len(lines) and lines[j].block == lines[i].block:
                mj = _NUMBERED.fullmatch(lines[j].text)
                if not mj or int(mj.group(1)) != n:
                    break
                lines[j].drop, j, n = "breadcrumb", j + 1, n + 1
            i = j
            continue
        if _CRUMB_LINE.fullmatch(lines[i].text):
            lines[i].drop = "breadcrumb"
        i += 1


def _comment_start(lines: list[_Line]) -> int | None:
    """Index of the header opening the reader comments. A header near the top ("12 Comments" by the byline)
    counts only when a "Name says" line follows it or the comment form comes later."""
    total = sum(len(ln.text) for ln in lines if not ln.drop) or 1
    seen = 0
    for i, ln in enumerate(lines):
        if ln.drop:
            continue
        if _COMMENT_HEADER.fullmatch(ln.text) and seen:
            after = [o for o in lines[i + 1:] if not o.drop][:3]
            if (seen > total / 2 or any(_SAYS.fullmatch(o.text) for o in after)
                    or any(o.drop == "comment form" for o in lines[i + 1:])):
                return i
        seen += len(ln.text)
    return None


def _mark_comments(lines: list[_Line]) -> None:
    """Lines after a comment header, up to the comment form, are reader comments."""
    start = _comment_start(lines)
    if start is None:
        return
    lines[start].drop = "comment header"
    current = -1
    for ln in lines[start + 1:]:
        if ln.drop == "comment form":
            break
        if ln.drop:
            continue
        says = _SAYS.fullmatch(ln.text)
        if says and len(says.group(1).split()) <= 6:
            current += 1
            ln.text = _NUMBERED.sub(r"\2", ln.text, count=1) if _NUMBERED.fullmatch(ln.text) else ln.text
        current = max(current, 0)
        ln.comment = current


def clean_text(raw: str, *, title: str | None = None) -> CleanResult:
    """Clean scraped text. `title`, when known from metadata, replaces guessing the headline."""
    lines = _split(raw)
    for ln in lines:
        ln.drop = _marker(ln.text)
    _drop_breadcrumbs(lines)
    _mark_comments(lines)
    res = CleanResult(text="", title=title)

    for ln in lines:
        m = _SOURCE_LINE.fullmatch(ln.text)
        if not ln.drop and ln.comment is None and m and (name := _publisher(m.group(1))):
            ln.drop = "source line"
            res.source = res.source or name
    if res.source is None:
        for ln in lines:
            m = _VISIT.fullmatch(ln.text)
            # "Visit Business Insider's homepage for more stories." names the publisher of the page.
            if m and (name := _publisher(m.group(1))):
                res.source = name
                break

    body = [ln for ln in lines if not ln.drop and ln.comment is None]
    title_line = _scan_header(body, res)
    for ln in body:
        if ln is title_line or ln.drop:
            continue
        if res.title and _norm(ln.text) == _norm(res.title):
            ln.drop = "repeated title"
        elif ln.block_size == 1 and not _is_sentence(ln.text):
            if _LOWER_TOKEN.fullmatch(ln.text):
                ln.drop = "page chrome"
            elif (tokens := _name_tokens(ln.text)) and len(tokens) >= 4:
                ln.drop = "tag list"

    res.text = _assemble([ln for ln in lines if not ln.drop], res.comments)
    dropped = [f"{ln.drop}: {ln.text[:60]!r}" for ln in lines if ln.drop]
    log.debug("cleaning dropped %d lines: %s", len(dropped), dropped)
    return res


def _scan_header(body: list[_Line], res: CleanResult) -> _Line | None:
    """Walk the top of the article: chrome before the headline, the headline, byline and dateline."""
    title_line: _Line | None = None
    i = 0
    if res.title is None:
        while i < len(body):
            ln, i = body[i], i + 1
            words = ln.text.split()
            if date := _date_line(ln.text):
                ln.drop, res.date = "dateline", res.date or date
            elif author := _byline_author(ln.text):
                ln.drop, res.author = "byline", res.author or author
            elif len(words) <= 2 and not _is_sentence(ln.text):
                ln.drop = "page chrome before headline"
            else:
                prose = len(words) >= 15 and ln.text[-1] in ".!?\"”'’"  # a first paragraph, not a headline
                if len(words) <= 40 and len(ln.text) <= 300 and not prose:
                    title_line, res.title = ln, ln.text
                break
    else:
        for j, ln in enumerate(body[:5]):
            if _norm(ln.text) == _norm(res.title):
                title_line, i = ln, j + 1
                break
    if title_line is None and res.title is None:
        return None
    for ln in body[i:i + 8]:
        if _is_sentence(ln.text) and _norm(ln.text) != _norm(res.title or ""):
            break
        if date := _date_line(ln.text):
            ln.drop, res.date = "dateline", res.date or date
        elif author := _byline_author(ln.text):
            ln.drop, res.author = "byline", res.author or author
        elif ln.block_size == 1 and res.author is None and (author := _names(ln.text, min_tokens=2)):
            ln.drop, res.author = "byline", author
    return title_line


def _assemble(kept: list[_Line], comments: list[Span]) -> str:
    parts: list[str] = []
    pos = 0
    spans: dict[int, list[int]] = {}
    prev_block: int | None = None
    for ln in kept:
        if parts:
            sep = "\n" if ln.block == prev_block else "\n\n"
            parts.append(sep)
            pos += len(sep)
        if ln.comment is not None:
            spans.setdefault(ln.comment, [pos, pos])
        parts.append(ln.text)
        pos += len(ln.text)
        if ln.comment is not None:
            spans[ln.comment][1] = pos
        prev_block = ln.block
    comments.extend(Span(a, b) for a, b in (spans[k] for k in sorted(spans)))
    return "".join(parts)
