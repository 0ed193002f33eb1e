"""Facts extracted from a document at index time and stored with it: direct quotations with their
speakers, and dated phrases resolved against the document's own publication date."""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field

from .dates import DateMention, DateRange, text_dates
from .speakers import Quotation, extract_quotations, speaker_roles

log = logging.getLogger(__name__)

# Bump when quotation attribution or date extraction changes what a text gives: documents are re-prepared
# (2: attribution after a relative clause, names after a role, role-only "the governor said", more verbs;
# 11: a name before an aside ahead of the verb, "told X" names the listener; 12-17: no sentence-opening words, days,
# party or job words in a name, no place after "from" as speaker, pronouns by gender and last sayer; 18: the roles
# given quoted people; 19: initials inside a name, a body's short name;
# 20-21: "the Mexican government" speaks, a party word alone is no name; 22: attribution after a quotation
# that ends with a nested one, "... ask a woman,’” Haley said."; 23: "Gloria Johnson of Knoxville" is Gloria Johnson;
# 24: a place's name ("Las Vegas") is no person a pronoun or surname stands for; 25: nor a place or thing named
# ("Westminster Abbey", "Knox County"), "Inside ..." opens no name, "echoed" and "chimed" say; 26: "he said" after
# "X, an aide, dismissed ..." is X, never an organisation; 27: more job words and a possessive before a name are
# its role, "Walterboro City Manager Jeff Molinari" is Jeff Molinari; 28: "McDonald's said" is McDonald's;
# 29: a question's "Will" opens no name, "Will Novak Djokovic win?").
FACTS_VERSION = 29


@dataclass
class DocFacts:
    quotations: list[Quotation]
    dates: list[DateMention]
    # the roles the text gives quoted people where it names them ("Bill Lee": ["Tennessee Gov."])
    roles: dict[str, list[str]] = field(default_factory=dict)


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
        roles = speaker_roles(text, quotes)
    except MemoryError:
        raise
    except Exception:
        log.exception("role extraction failed")
        roles = {}
    try:
        dates = text_dates(text, dt.date.fromisoformat(date) if date else None)
    except MemoryError:
        raise
    except Exception:
        log.exception("date extraction failed")
        dates = []
    return DocFacts(quotes, dates, roles)


def dumps(facts: DocFacts) -> str:
    return json.dumps({
        "quotations": [asdict(q) for q in facts.quotations],
        "dates": [[d.start, d.end, d.text, d.range.start.isoformat(), d.range.end.isoformat()] for d in facts.dates],
        "roles": facts.roles,
    }, ensure_ascii=False)


def _stored(data: str | bytes | None) -> dict | None:
    """The stored facts as decoded JSON; None when nothing (or nothing readable) was stored."""
    try:
        d = json.loads(data or "{}")
    except ValueError:
        return None
    return d if "quotations" in d else None


def attributed(data: str | bytes | None) -> tuple[list[tuple[str, int, str | None]], dict[str, list[str]]] | None:
    """The stored facts' attributed quotations as (speaker, start, role) and the roles given by name, read
    without building the rest (the speaker index reads every document's); None when nothing was stored, as
    `loads`."""
    d = _stored(data)
    if d is None:
        return None
    quoted = [(q["speaker"], q["start"], q.get("role")) for q in d["quotations"] if q.get("speaker")]
    return quoted, {str(k): [str(r) for r in v] for k, v in (d.get("roles") or {}).items()}


def loads(data: str) -> DocFacts | None:
    """None when nothing was stored (compute on demand instead)."""
    d = _stored(data)
    if d is None:
        return None
    return DocFacts(
        [Quotation(**q) for q in d["quotations"]],
        [DateMention(a, b, t, DateRange(dt.date.fromisoformat(s), dt.date.fromisoformat(e)))
         for a, b, t, s, e in d["dates"]],
        {str(k): [str(r) for r in v] for k, v in (d.get("roles") or {}).items()},
    )
