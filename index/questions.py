"""What a question asks for: answer type, the names it mentions, whether it asks what someone said, and
the dates it pins (resolved against when it was asked)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .answer_type import Expected, expected_type
from .dates import DateRange, question_dates

_SAY = re.compile(
    r"\b(say|says|said|saying|tell|tells|told|stated|claim|claimed|comment|commented|react|reacted|"
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
    # whose words are asked for: the subject of "what did X say", "how did X react", "X's response" (else [])
    speakers: list[str] = field(default_factory=list)
    subject: str = ""  # the words naming and describing them ("UCLA climate scientist Daniel Swain")
    latest: bool = False  # asks for the newest state of things ("the new UK prime minister", "latest", "now")
    # asks for someone's own words, named or not: "how did X react", "why ..., according to the company"
    wants_words: bool = False
    # the subject is a role, not a name ("Tennessee's governor", "the mayor of Dimmitt"): `speakers` holds the role,
    # matched against the roles the articles give speakers
    by_role: bool = False
    # the type of answer the question's form asks for ("which state", "how many years"; answer_type.py), or None
    expected: "Expected | None" = None


def names_in(question: str) -> list[str]:
    out = []
    for m in _NAME.finditer(question):
        words = [w for w in m.group().split() if w.lower().strip("'\u2019s?.") not in _QWORDS | _MONTHS]
        while words and words[-1].lower() in {"of", "the", "de", "al", "bin", "van", "von"}:
            words.pop()
        if words:
            out.append(" ".join(w.rstrip("?.,'\u2019").removesuffix("'s").removesuffix("\u2019s") for w in words))
    return [n for n in out if n]


_BODIES = frozenset("ministry department office agency government administration embassy police army military "
                    "company team club league union council committee commission court party campaign".split())
_WORDS = re.compile(r"\b(?:according to|react(?:ed|ion)?|respond(?:ed)?|response|justif(?:y|ied)|describe[d]?|"
                    r"hit back|reply|replied|statement|explain(?:ed)?)\b", re.I)
_LATEST = re.compile(r"\b(?:latest|newest|new|current|currently|now|most recent|recently|these days)\b", re.I)
_SAY_VERBS = (r"say|says|said|tell|tells|told|tweet|tweeted|post|posted|write|wrote|react|reacted|respond|responded|"
              r"reply|replied|claim|claimed|comment|commented|announce|announced|warn|warned|argue|argued|"
              r"stated|answer|answered|justify|justified|explain|explained|describe|described|call|called|"
              r"think|thinks|admit|admitted|deny|denied|pitch|pitching|defend|defended|characterize|characterized|"
              r"characterise|characterised|hit back|fire back|fired back")
_SUBJECT = re.compile(rf"\b(?:did|does|do|has|have|had)\s+(?P<who>.+?)\s+(?:really\s+|just\s+|first\s+)?(?:{_SAY_VERBS})\b")
_POSSESSIVE = re.compile(r"\b(?:was|is|were|are)\s+(?P<who>.+?)['\u2019]s?\s+(?:\w+\s+)?"
                         r"(?:response|reaction|reply|statement|comment|comments|message|answer|explanation|view|take)\b",
                         re.I)
_ACCORDING = re.compile(r"\baccording to\s+(?P<who>.+?)[?.,]*$", re.I)


def speakers_in(question: str) -> list[str]:
    """Whose words a question asks for: the names in the subject of "what did X say / how did X react / what
    was X's response", or after "according to"; [] when it asks for no one's words."""
    return subject_of(question)[0]


def subject_of(question: str) -> tuple[list[str], str]:
    """`speakers_in` and the whole subject phrase it was read from ("" when none; "according to X" gives X
    with the phrase "according to": a source cited, not necessarily someone quoted)."""
    for rx in (_SUBJECT, _POSSESSIVE, _ACCORDING):
        m = rx.search(question)
        if m:
            who = _subject_name(m.group("who")) or _subject_role(m.group("who"))
            if who:
                return [who], ("according to " if rx is _ACCORDING else "") + m.group("who")
    return [], ""


# words naming an office or job, which the articles tie to a person ("Gov. Bill Lee", "Dimmitt Mayor Roger Malone")
_ROLES = frozenset("""governor mayor senator secretary spokesman spokeswoman spokesperson president minister chairman
    chairwoman chair director commissioner chief coach ceo sheriff attorney general prosecutor judge ambassador
    speaker leader premier chancellor king queen prince pope archbishop bishop manager owner""".split())


def _subject_role(who: str) -> str | None:
    """A role the subject phrase names someone by, with what places it ("Tennessee's governor", "the mayor of
    Dimmitt", "the Pentagon press secretary"): the phrase without its article, or None when it names no office or
    nothing but the office ("the governor": too little to find whose)."""
    words = re.findall(r"[\w'\u2019.-]+", who)
    if not any(w.lower() in _ROLES for w in words) or not any(w[:1].isupper() for w in words) or len(words) > 6:
        return None
    return re.sub(r"^(?:the|a|an)\s+", "", who.strip(), flags=re.I)


def is_role(subject: str) -> bool:
    """Is a speaker taken from a question a role ("Tennessee's governor") rather than a name?"""
    return _subject_name(subject) is None and _subject_role(subject) is not None


def _subject_name(who: str) -> str | None:
    """The one name a subject phrase is about: "Jeff Stein, Rite Aid's new CEO" -> Jeff Stein (appositive);
    "the Red Cross's Jenelle Eli" -> Jenelle Eli; "UAW president Shawn Fain" -> Shawn Fain (the last name);
    "Robert Muir-Wood of Moody's RMS" -> Robert Muir-Wood; "Bank of England" stays whole."""
    if "," in who:
        who = who.split(",")[0]
    who = who.strip()
    last = re.search(r"\b([a-z]+)$", who)
    if last and last.group(1) in _BODIES and re.search(r"\b[A-Z]", who):
        return re.sub(r"^(?:the|a|an)\s+", "", who)  # a named body: "China's foreign ministry"
    if last or re.match(r"^(?:the\s+)?[a-z][a-z\s]*\bof\s+[A-Z]", who):
        return None  # a role, not a name: "Tennessee's governor", "the mayor of Dimmitt"
    m = re.match(r"(.+?)\s+of\s+(.+)", who)
    if m and len(re.findall(r"\b[A-Z]", m.group(1))) >= 2:
        who = m.group(1)
    who = re.split(r"['\u2019]s\s+(?=[A-Z])", who)[-1]
    names = names_in(who)
    return names[-1] if names else None


_ASKS = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b|\?\s*$", re.I)


def asking_part(question: str) -> str:
    """The sentence that asks, when a question opens with context: "Tom Brady said he is retiring this week. How
    many seasons did he play?" asks for a number, not for Brady's words. The last sentence when there are
    several and it asks (a question word or mark), else the whole question."""
    from .sentences import split_sentences

    parts = split_sentences(question)
    if len(parts) < 2:
        return question
    last = question[parts[-1].start : parts[-1].end]
    return last if _ASKS.search(last) else question


def analyze(question: str, asked_at: dt.date | dt.datetime | None = None) -> QuestionInfo:
    if isinstance(asked_at, dt.datetime):
        asked_at = asked_at.date()
    asked = asked_at or dt.date.today()
    # what kind of answer, and whose words if any, the asking sentence tells; names and dates come from all of it
    ask = asking_part(question)
    kind = next((k for k, rx in _WH if rx.search(ask)), None)
    speakers, subject = subject_of(ask)
    expected = expected_type(question)
    try:
        dates = question_dates(question, asked)
    except Exception:  # a date parser problem must never break an answer
        dates = []
    return QuestionInfo(
        text=question,
        kind=kind,
        names=names_in(question),
        # a say-verb asks for what was said unless a name, number, place or time is asked for: in "Jacinda Ardern
        # has announced her resignation after serving since when?" the verb tells the event, not the answer
        asks_said=bool(_SAY.search(ask)) and expected is None,
        dates=dates,
        asked_at=asked,
        speakers=speakers,
        subject=subject,
        latest=bool(_LATEST.search(question)),
        wants_words=bool(speakers or _WORDS.search(ask)),
        by_role=bool(speakers) and is_role(speakers[0]),
        expected=expected,
    )
