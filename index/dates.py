"""Date phrases in questions and article text, resolved to inclusive calendar ranges.

Pure Python (regular expressions and `datetime`), no model. Two uses:

* `question_dates` / `strip_dates`: the dates a question pins ("on April 7", "last week") resolved
  against the moment it is asked, and the question with those phrases taken out for retrieval.
* `text_dates`: dates mentioned in an article, resolved against its own publication date.

Resolution rules (documented here once, tested in tests/test_dates.py):

* A month-day without a year is the most recent such day on or before the reference date
  (question: the time it is asked; article: its publication date). Without a reference it is skipped.
* A weekday in article text ("on Friday", "Monday") is the most recent such day on or before the
  publication date: "on Friday" in a Friday article is that same day (news convention).
  In a question, "on Monday" / "Monday" / "last Friday" are strictly before the asking date
  (asked on a Friday, "on Friday" means a week ago; today is "today").
  "last Friday" in article text is also strictly before the publication date.
* Weeks are ISO weeks, Monday to Sunday: "last week" is the whole previous ISO week, "this week"
  the whole current one, "earlier this week" its Monday up to the reference date.
* "the past week" / "the last week" / "past week" are rolling windows (reference - 7 days .. reference);
  likewise 30 days for a month and 365 for a year.
* "in 2011" is the whole year; "in April 2019" / "April 2019" the whole month; "in April" the most
  recent April starting on or before the reference.
* "between April 7 and April 10" / "from April 7 to April 10" is one range; "since April 7" runs to the
  reference date.

Month and weekday names must be capitalised in article text ("march" and "may" are verbs); questions
are matched case-insensitively.
"""
from __future__ import annotations

import calendar
import datetime
import email.utils
import logging
import re
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

date = datetime.date


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of calendar days."""

    start: datetime.date
    end: datetime.date

    def contains(self, d: datetime.date) -> bool:
        return self.start <= d <= self.end

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and other.start <= self.end

    @classmethod
    def day(cls, d: datetime.date) -> DateRange:
        return cls(d, d)

    def __str__(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class DateMention:
    """A date phrase found in a text: `text[start:end] == self.text`."""

    start: int
    end: int
    text: str
    range: DateRange


_MONTHS: dict[str, int] = {}
for _i, _name in enumerate(calendar.month_name):
    if _i:
        _MONTHS[_name.lower()] = _i
        _MONTHS[_name.lower()[:3]] = _i
_MONTHS["sept"] = 9
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}

_MONTH = (
    r"(?P<mon>(?:january|february|march|april|may|june|july|august|september|october|november|december)"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?)(?![a-z])"
)
_WD = r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?![a-z])"
_WD_PREFIX = r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?"
_YEAR = r"(?P<y>(?:1[89]|20)\d\d)(?![\d])"
_PREP = r"(?:(?:on|in|during)\s+)?"
_PART = r"(?:(?:early|late|mid)[\s-]+)?"
_ORD = r"(?:st|nd|rd|th)?"
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ISO = _rx(r"(?<![\d-])(?P<y>(?:1[89]|20)\d\d)(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)")
_MDY = _rx(
    rf"\b{_PREP}{_WD_PREFIX}{_MONTH}\s+(?P<d>\d{{1,2}}){_ORD}(?!\d)(?:,?\s+{_YEAR})?"
)
_DMY = _rx(
    rf"\b{_PREP}{_WD_PREFIX}(?:the\s+)?(?<![\d.,])(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
)
_MY = _rx(rf"\b(?:(?:in|during)\s+)?{_PART}{_MONTH},?\s+{_YEAR}")
_M = _rx(rf"\b(?:in|during)\s+{_PART}{_MONTH}(?!\s*,?\s*\d)")
_Y = _rx(rf"\b(?:in|during)\s+{_PART}{_YEAR}(?![\d%])")
_REL_DAY = _rx(r"\b(?P<rel>today|tonight|yesterday|tomorrow|last\s+night|this\s+(?:morning|afternoon|evening))\b")
_REL_PERIOD = _rx(
    r"\b(?:(?P<the>the)\s+)?(?:(?P<mod>earlier|later)\s+)?(?:in\s+)?"
    r"(?P<which>this|last|next|past)\s+(?P<unit>week|month|year|weekend)(?![a-z])"
)
_WEEKDAY = _rx(rf"\b(?:(?P<pre>on|last|this|next|past)\s+)?{_WD}")
_AGO = _rx(r"\b(?P<n>\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?P<unit>day|week|month|year)s?\s+ago\b")

_RANGE_JOIN = re.compile(r"\s*(?:and|to|until|through|thru|-|–|—)\s*$", re.IGNORECASE)
_RANGE_LEAD = re.compile(r"\b(?:between|from)\s+$", re.IGNORECASE)
_SINCE_LEAD = re.compile(r"\bsince\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class _Mode:
    reference: datetime.date | None
    strict_case: bool  # article text: month/weekday names must be capitalised
    weekday_inclusive: bool  # "on Friday" may be the reference day itself


def _month_end(y: int, m: int) -> datetime.date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _month_range(y: int, m: int) -> DateRange:
    return DateRange(date(y, m, 1), _month_end(y, m))


def _shift_month(y: int, m: int, delta: int) -> tuple[int, int]:
    k = y * 12 + (m - 1) + delta
    return k // 12, k % 12 + 1


def _safe_date(y: int, m: int, d: int) -> datetime.date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _capitalised(match: re.Match[str], group: str, mode: _Mode) -> bool:
    value = match.group(group)
    return not (mode.strict_case and value and value[0].islower())


def _month_of(match: re.Match[str]) -> int:
    return _MONTHS[match.group("mon").lower().rstrip(".")]


def _month_day(match: re.Match[str], mode: _Mode) -> DateRange | None:
    if not _capitalised(match, "mon", mode):
        return None
    m, d = _month_of(match), int(match.group("d"))
    if match.group("y"):
        day = _safe_date(int(match.group("y")), m, d)
        return DateRange.day(day) if day else None
    ref = mode.reference
    if ref is None:
        return None
    for y in range(ref.year, ref.year - 9, -1):  # a Feb 29 may need a few years back
        day = _safe_date(y, m, d)
        if day and day <= ref:
            return DateRange.day(day)
    return None


def _iso(match: re.Match[str], mode: _Mode) -> DateRange | None:
    day = _safe_date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    return DateRange.day(day) if day else None


def _month_year(match: re.Match[str], mode: _Mode) -> DateRange | None:
    if not _capitalised(match, "mon", mode):
        return None
    return _month_range(int(match.group("y")), _month_of(match))


def _month_only(match: re.Match[str], mode: _Mode) -> DateRange | None:
    ref = mode.reference
    if ref is None or not _capitalised(match, "mon", mode):
        return None
    m = _month_of(match)
    y = ref.year if m <= ref.month else ref.year - 1
    return _month_range(y, m)


def _year(match: re.Match[str], mode: _Mode) -> DateRange | None:
    y = int(match.group("y"))
    return DateRange(date(y, 1, 1), date(y, 12, 31))


def _relative_day(match: re.Match[str], mode: _Mode) -> DateRange | None:
    ref = mode.reference
    if ref is None:
        return None
    rel = match.group("rel").lower()
    if rel == "yesterday" or rel.startswith("last"):
        return DateRange.day(ref - datetime.timedelta(days=1))
    if rel == "tomorrow":
        return DateRange.day(ref + datetime.timedelta(days=1))
    return DateRange.day(ref)


def _relative_period(match: re.Match[str], mode: _Mode) -> DateRange | None:
    ref = mode.reference
    if ref is None:
        return None
    which, unit = match.group("which").lower(), match.group("unit").lower()
    mod = (match.group("mod") or "").lower()
    rolling = which == "past" or (which == "last" and match.group("the"))
    days = datetime.timedelta
    if rolling and unit != "weekend":
        span = {"week": 7, "month": 30, "year": 365}[unit]
        return DateRange(ref - days(days=span), ref)
    offset = {"this": 0, "last": -1, "past": -1, "next": 1}[which]
    if unit in ("week", "weekend"):
        monday = ref - days(days=ref.weekday()) + days(weeks=offset)
        if unit == "weekend":
            return DateRange(monday + days(days=5), monday + days(days=6))
        whole = DateRange(monday, monday + days(days=6))
    elif unit == "month":
        y, m = _shift_month(ref.year, ref.month, offset)
        whole = _month_range(y, m)
    else:
        y = ref.year + offset
        whole = DateRange(date(y, 1, 1), date(y, 12, 31))
    if which == "this" and mod == "earlier":
        return DateRange(whole.start, max(whole.start, ref))
    if which == "this" and mod == "later":
        return DateRange(min(ref, whole.end), whole.end)
    return whole


def _weekday(match: re.Match[str], mode: _Mode) -> DateRange | None:
    ref = mode.reference
    if ref is None or not _capitalised(match, "wd", mode):
        return None
    wd = _WEEKDAYS[match.group("wd").lower()]
    pre = (match.group("pre") or "").lower()
    if pre == "next":
        ahead = (wd - ref.weekday()) % 7 or 7
        return DateRange.day(ref + datetime.timedelta(days=ahead))
    back = (ref.weekday() - wd) % 7
    if back == 0 and (pre in ("last", "past") or not mode.weekday_inclusive):
        back = 7
    return DateRange.day(ref - datetime.timedelta(days=back))


def _ago(match: re.Match[str], mode: _Mode) -> DateRange | None:
    ref = mode.reference
    if ref is None:
        return None
    raw = match.group("n").lower()
    n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    unit = match.group("unit").lower()
    if unit == "day":
        return DateRange.day(ref - datetime.timedelta(days=n))
    if unit == "week":
        monday = ref - datetime.timedelta(days=ref.weekday(), weeks=n)
        return DateRange(monday, monday + datetime.timedelta(days=6))
    if unit == "month":
        return _month_range(*_shift_month(ref.year, ref.month, -n))
    return DateRange(date(ref.year - n, 1, 1), date(ref.year - n, 12, 31))


_Resolver = Callable[[re.Match[str], _Mode], "DateRange | None"]
_PATTERNS: list[tuple[re.Pattern[str], _Resolver]] = [
    (_ISO, _iso),
    (_MDY, _month_day),
    (_DMY, _month_day),
    (_MY, _month_year),
    (_M, _month_only),
    (_Y, _year),
    (_REL_DAY, _relative_day),
    (_REL_PERIOD, _relative_period),
    (_WEEKDAY, _weekday),
    (_AGO, _ago),
]


def _scan(text: str, mode: _Mode) -> list[DateMention]:
    """All date phrases, longest first where they overlap, in text order."""
    found: list[tuple[int, int, DateRange]] = []
    for pattern, resolve in _PATTERNS:
        for match in pattern.finditer(text):
            rng = resolve(match, mode)
            if rng is not None:
                found.append((match.start(), match.end(), rng))
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    taken: list[tuple[int, int, DateRange]] = []
    for start, end, rng in found:
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, rng))
    taken.sort(key=lambda f: f[0])
    mentions = [DateMention(s, e, text[s:e], r) for s, e, r in taken]
    return _combine(text, mentions, mode.reference)


def _combine(text: str, mentions: list[DateMention], ref: datetime.date | None) -> list[DateMention]:
    """Merge "between A and B" / "from A to B" into one range; extend "since A" to the reference."""
    out: list[DateMention] = []
    i = 0
    while i < len(mentions):
        m = mentions[i]
        nxt = mentions[i + 1] if i + 1 < len(mentions) else None
        lead = _RANGE_LEAD.search(text, max(0, m.start - 12), m.start)
        if nxt and _RANGE_JOIN.match(text, m.end, nxt.start) and nxt.range.end >= m.range.start:
            start = lead.start() if lead else m.start
            rng = DateRange(m.range.start, nxt.range.end)
            out.append(DateMention(start, nxt.end, text[start : nxt.end], rng))
            i += 2
            continue
        since = _SINCE_LEAD.search(text, max(0, m.start - 8), m.start)
        if since and ref is not None and m.range.start <= ref:
            rng = DateRange(m.range.start, ref)
            out.append(DateMention(since.start(), m.end, text[since.start() : m.end], rng))
        else:
            out.append(m)
        i += 1
    return out


def question_dates(question: str, asked_at: datetime.date) -> list[DateRange]:
    """The date ranges a question pins, in the order they appear; [] when none."""
    mode = _Mode(reference=asked_at, strict_case=False, weekday_inclusive=False)
    ranges: list[DateRange] = []
    for mention in _scan(question, mode):
        if mention.text.isupper():
            continue  # a name in capitals, not a date: "USA TODAY"
        if mention.range not in ranges:
            ranges.append(mention.range)
    log.debug("question dates %r -> %s", question, [str(r) for r in ranges])
    return ranges


def question_date_mentions(question: str, asked_at: datetime.date) -> list[DateMention]:
    """Like `question_dates`, with the phrases and their offsets."""
    return _scan(question, _Mode(reference=asked_at, strict_case=False, weekday_inclusive=False))


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")
_DANGLING = re.compile(r"(?:\b(?:on|in|at|from|since|between|during|of|and)\s*)+([?.!]*)$", re.IGNORECASE)


def strip_dates(question: str) -> str:
    """The question with its date phrases removed, white space and punctuation tidied.

    "what did Pompeo say on April 7?" -> "what did Pompeo say?"
    """
    mentions = question_date_mentions(question, date.today())
    if not mentions:
        return question.strip()
    pieces: list[str] = []
    pos = 0
    for m in mentions:
        pieces.append(question[pos : m.start])
        pos = m.end
    pieces.append(question[pos:])
    out = " ".join(p.strip() for p in pieces if p.strip())
    out = _SPACE_BEFORE_PUNCT.sub(r"\1", out)
    out = re.sub(r"([,;:])(?=[,;:?.!]|$)", "", out)
    out = re.sub(r"^[\s,;:]+", "", out)
    out = _DANGLING.sub(r"\1", out).strip()
    out = re.sub(r"\s+([?.!])$", r"\1", out)
    return out


def text_dates(text: str, reference: datetime.date | None) -> list[DateMention]:
    """Dates mentioned in article text, resolved against its publication date `reference`.

    Without a reference only self-contained dates are returned (with a year, or ISO).
    """
    mode = _Mode(reference=reference, strict_case=True, weekday_inclusive=True)
    return _scan(text, mode)


_ISO_PREFIX = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:$|[T\s_]|Z)")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_NUMERIC_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_COMPACT = re.compile(r"^((?:19|20)\d\d)(\d\d)(\d\d)$")


def parse_date(value: str | None) -> str | None:
    """Normalise a date string to "YYYY-MM-DD", or None.

    Accepts ISO dates and datetimes ("2019-04-19", "2019-04-19T10:00:00Z"; the date as written, no
    time-zone shift), "2019/04/19", "20190419", "04/19/2019" (month first unless the first number
    is over 12), RFC 2822 ("Fri, 19 Apr 2019 10:00:00 +0000") and written dates with a year
    ("April 19, 2019", "Apr. 19 2019", "19 April 2019", "Friday, April 19, 2019").
    """
    if not value:
        return None
    s = value.strip()
    for rx, order in ((_ISO_PREFIX, (0, 1, 2)), (_YMD_SLASH, (0, 1, 2)), (_COMPACT, (0, 1, 2))):
        m = rx.match(s)
        if m:
            y, mo, d = (int(m.group(i + 1)) for i in order)
            day = _safe_date(y, mo, d)
            return day.isoformat() if day else None
    m = _NUMERIC_US.match(s)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        day = _safe_date(y, b, a) if a > 12 else _safe_date(y, a, b)
        return day.isoformat() if day else None
    if re.search(r"\d{1,2}:\d\d", s):
        try:
            return email.utils.parsedate_to_datetime(s).date().isoformat()
        except (TypeError, ValueError, IndexError):
            pass
    mode = _Mode(reference=None, strict_case=False, weekday_inclusive=True)
    for mention in _scan(s, mode):
        if mention.range.start == mention.range.end:
            return mention.range.start.isoformat()
    return None
