"""Facts extracted from a document at index time and stored with it: direct quotations with their
speakers, and dated phrases resolved against the document's own publication date."""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from .dates import DateMention, DateRange, text_dates
from .speakers import Quotation, extract_quotations

log = logging.getLogger(__name__)

# Bump when quotation attribution or date extraction changes what a text gives: documents are re-prepared
# (2: attribution after a relative clause, names after a role, role-only "the governor said", more verbs;
# 11: a name before an aside ahead of the verb, "told X" names the listener).
FACTS_VERSION = 11


@dataclass
class DocFacts:
    quotations: list[Quotation]
    dates: list[DateMention]


def extract(text: str, date: str | None) -> DocFacts:
    """Never raises but MemoryError: attribution and dates are aids to ranking, not a reason to skip a document;
    running out of memory is (the reading worker's cap stops a file that needs too much, index/preparing.py)."""
    try:
        quotes = extract_quotations(text)
    except MemoryError:
        raise
    except Exception:
        log.exception("quotation extraction failed")
        quotes = []
    try:
        dates = text_dates(text, dt.date.fromisoformat(date) if date else None)
    except MemoryError:
        raise
    except Exception:
        log.exception("date extraction failed")
        dates = []
    return DocFacts(quotes, dates)


def dumps(facts: DocFacts) -> str:
    return json.dumps({
        "quotations": [asdict(q) for q in facts.quotations],
        "dates": [[d.start, d.end, d.text, d.range.start.isoformat(), d.range.end.isoformat()] for d in facts.dates],
    }, ensure_ascii=False)


def _stored(data: str | bytes | None) -> dict | None:
    """The stored facts as decoded JSON; None when nothing (or nothing readable) was stored."""
    try:
        d = json.loads(data or "{}")
    except ValueError:
        return None
    return d if "quotations" in d else None


def attributed(data: str | bytes | None) -> list[tuple[str, int, str | None]] | None:
    """The stored facts' attributed quotations as (speaker, start, role), read without building the rest (the
    speaker index reads every document's); None when nothing was stored, as `loads`."""
    d = _stored(data)
    return None if d is None else [(q["speaker"], q["start"], q.get("role")) for q in d["quotations"] if q.get("speaker")]


def loads(data: str) -> DocFacts | None:
    """None when nothing was stored (compute on demand instead)."""
    d = _stored(data)
    if d is None:
        return None
    return DocFacts(
        [Quotation(**q) for q in d["quotations"]],
        [DateMention(a, b, t, DateRange(dt.date.fromisoformat(s), dt.date.fromisoformat(e)))
         for a, b, t, s, e in d["dates"]],
    )
