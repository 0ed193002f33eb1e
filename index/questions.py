"""What a question asks for: answer type, the names it mentions, whether it asks what someone said, and
the dates it pins (resolved against when it was asked)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .dates import DateRange, question_dates

_SAY = re.compile(
    r"\b(say|says|said|saying|tell|tells|told|state|stated|claim|claimed|comment|commented|react|reacted|"
    r"respond|responded|tweet|tweeted|announce|announced|warn|warned|argue|argued|reply|replied|quote|words)\b",
    re.I,
)
_WH = [
    ("when", re.compile(r"^\s*(when|what (day|date|year|month|time)|in what year|which (year|day|month))\b", re.I)),
    ("number", re.compile(r"\b(how (many|much|long|old|far|big|large|tall|often)|what (percentage|percent|number|amount)|at what (age|rate))\b", re.I)),
    ("who", re.compile(r"^\s*(who|whom|whose)\b|\bwhich (person|people|man|woman|official|leader|group|organi[sz]ation|company|country)\b", re.I)),
    ("where", re.compile(r"^\s*where\b|\bin (what|which) (city|country|place|state|region)\b", re.I)),
    ("why", re.compile(r"^\s*why\b|\bwhat (was|is) the reason\b", re.I)),
]
_QWORDS = {"what", "who", "whom", "whose", "when", "where", "why", "how", "which", "did", "does", "do", "is", "was",
           "are", "were", "the", "a", "an", "in", "on", "of", "i", "can", "could", "would", "should", "tell", "me"}
_NAME = re.compile(r"\b[A-Z][\w'\u2019.-]*(?:\s+(?:[A-Z][\w'\u2019.-]*|of|the|de|al|bin|van|von))*")
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


@dataclass
class QuestionInfo:
    text: str
    kind: str | None  # when / number / who / where / why / None
    names: list[str] = field(default_factory=list)
    asks_said: bool = False
    dates: list[DateRange] = field(default_factory=list)
    asked_at: dt.date | None = None  # the day it was asked: nothing published later is an answer


def names_in(question: str) -> list[str]:
    out = []
    for m in _NAME.finditer(question):
        words = [w for w in m.group().split() if w.lower().strip("'\u2019s?.") not in _QWORDS | _MONTHS]
        while words and words[-1].lower() in {"of", "the", "de", "al", "bin", "van", "von"}:
            words.pop()
        if words:
            out.append(" ".join(w.rstrip("?.,'\u2019").removesuffix("'s").removesuffix("\u2019s") for w in words))
    return [n for n in out if n]


def analyze(question: str, asked_at: dt.date | dt.datetime | None = None) -> QuestionInfo:
    if isinstance(asked_at, dt.datetime):
        asked_at = asked_at.date()
    asked = asked_at or dt.date.today()
    kind = next((k for k, rx in _WH if rx.search(question)), None)
    try:
        dates = question_dates(question, asked)
    except Exception:  # a date parser problem must never break an answer
        dates = []
    return QuestionInfo(
        text=question,
        kind=kind,
        names=names_in(question),
        asks_said=bool(_SAY.search(question)),
        dates=dates,
        asked_at=asked,
    )
