"""Quotations in news text and who said them, by rules (no model).

`extract_quotations` finds every double-quoted span (straight " , curly “ ”, or « ») and attributes
it, trying in order:

1. an attribution right after the closing mark, when the quote ends in , ? ! or a dash:
   `"…," Pompeo said.` / `"…," said Pompeo.` / `"…," National Security Council spokesman Garrett
   Marquis said on Twitter.` / `"…," according to Reuters.`
2. continuation: a quote that follows the previous quote of the same paragraph with nothing in between
   but that quote's attribution (`"…," Pompeo added. "This is why…"`) gets the same speaker;
3. an attribution earlier in the same sentence (`Pompeo said: "…"`, `Pompeo said he was "deeply
   concerned"`, `the White House said it "recognized…"`, `According to X, "…"`), or, for a quote
   opening a paragraph, a previous paragraph that ends with a colon;
4. a quote left open at a paragraph break (news style for multi-paragraph quotes) takes the speaker of
   the quote that reopens the next paragraph.

Speakers are the proper-name part of the attribution: titles and roles go to `role`
("Secretary of State Mike Pompeo" -> speaker "Mike Pompeo", role "Secretary of State"). A surname
alone is expanded to the full name when the text named that person earlier ("Pompeo" ->
"Mike Pompeo"). "he"/"she" resolve to the previous quotation's person speaker, else to the last
person named opening a sentence or as speaking, never to one the text gives the other gender
(`pronouns.py`). Organisations ("the White House", "Politico") are kept as speakers. A common-noun attribution ("officials said", "a spokeswoman said") leaves the speaker None
and puts the phrase in `role`.

`speaker_start`/`speaker_end` locate the attribution as written near the quote (the surname, the
name, or the pronoun), so `text[speaker_start:speaker_end]` may be shorter than `speaker`.

Limitations: single quotes ('…') are not treated as quotations (apostrophes make them ambiguous);
"they"/"we"/"I" are not resolved; a verb far earlier in a long sentence can attribute a partial
quote to that sentence's subject.
"""
from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass

from . import pronouns
from .answer_type import is_place_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quotation:
    """A quoted span. `text[start:end]` is the words inside the quote marks (white space trimmed)."""

    start: int
    end: int
    speaker: str | None = None
    speaker_start: int | None = None
    speaker_end: int | None = None
    verb: str | None = None
    role: str | None = None  # title / description of the speaker as written, e.g. "Secretary of State"
    closed: bool = True  # False: left open at a paragraph break


@dataclass(frozen=True)
class NameMention:
    """A capitalised personal name in the text (titles stripped)."""

    start: int
    end: int
    name: str
    subject: bool = False  # the name (with its title) opens its sentence
    role: str | None = None  # the title or description written before the name ("Tennessee Gov.")


# ---- vocabulary -------------------------------------------------------------------------------

_VERBS = frozenset(
    """said says say told tells added adds tweeted wrote writes stated asked asks warned warns
    explained explains noted announced announces declared declares reported insisted insists argued
    argues claimed continued replied responded recalled acknowledged admitted confirmed testified
    urged cautioned posted commented remarked observed suggested concluded conceded complained
    predicted promised vowed pledged stressed emphasized emphasised described called denied agreed
    boasted joked quipped shouted yelled countered retorted reiterated alleged charged shot fired snapped texted
    lamented recounted mused wondered laughed pleaded demanded exclaimed reflected elaborated clarified
    maintained assured echoed chimed""".split()
)
# verbs of public reaction: who does this just before "he said" is who says it ("Jeremy Redfern dismissed the
# announcement. "We aren't going to waste time ...," he said.")
_REACTS = frozenset("""dismissed criticized criticised slammed blasted praised defended rejected welcomed condemned
    disputed questioned accused thanked apologized apologised hailed mocked""".split())
_BE = frozenset("is are was were be been being".split())
_ADVERBS = frozenset(
    """also later then reportedly previously once has have had repeatedly recently publicly privately
    earlier further subsequently again would will could may might allegedly initially finally simply
    just only flatly angrily""".split()
)
_STOP = frozenset(
    """that which who whom whose and but or as when while after before because if so than where
    though although since until unless whether said""".split()
)
_TAIL_STOP = frozenset(
    "on in at during after before while when to that of via from with about for by as".split()
)
_PRONOUNS = frozenset("he she".split())
_OTHER_PRONOUNS = frozenset("it they we i you".split())
_CONNECTORS = frozenset("of bin ibn al el de da di du van von der den la le y".split())
_DETERMINERS = frozenset("the a an".split())
_TITLES = frozenset(
    """president vice secretary minister prime deputy acting former state defense defence homeland
    security treasury commerce energy interior health education labor labour transportation
    agriculture justice foreign affairs national adviser advisor attorney general gen gen. sen sen.
    senator rep rep. representative gov gov. governor mayor lt lt. col col. colonel sgt sgt. capt
    capt. captain adm adm. admiral brig brig. maj maj. mr mr. mrs mrs. ms ms. miss dr dr. prof prof. professor judge
    chief director ambassador spokesman spokeswoman spokesperson king queen prince princess crown
    pope sheikh field marshal commander speaker leader majority minority chairman chairwoman chair
    envoy special representative chancellor premier emir sultan cardinal bishop rev rev. father
    officer ceo founder editor correspondent analyst councillor councilor councilman councilwoman
    councilmember alderman""".split()
)
# party and job words that, before a name, belong to its role ("Republican James Comer", "Pollster Frank Luntz");
# unlike the titles, "the pastor said" alone is not taken for the person last named
_ROLE_WORDS = frozenset(
    """coach pollster entrepreneur superintendent commissioner rabbi archbishop actor actress pastor agent detective
    sheriff trooper republican republicans democrat democrats democratic gop independent lady congressman
    congresswoman whip administrator director-general secretary-general manager contestant economist strategist
    researcher scientist lawyer historian reporter host producer owner executive""".split()
)
# words that open a sentence before a name but are no part of it ("But Lee said", "When Mandel ...", "On Tuesday
# Smith ...", "Does OpenAI ..."): conjunctions, adverbs, question words, auxiliaries, prepositions, days, months
_LEAD_NOISE = frozenset(
    """but and or so yet when while after before as if though although because since until unless once even
    still also then now meanwhile however instead indeed later earlier still what who why how where which whether
    does do did is are was were has have had can could would should might must in on at for to from by
    with without about of over under into onto upon during despite like unlike than the a an this that these those
    inside outside across near around behind beyond between among amid amidst along against toward towards through
    throughout within beside
    i i'm i’m i've i’ve i'll i’ll we we're we’re it's it’s his her their its our my your first last next both any
    every each some all many most several either neither not no yes only just yesterday today tonight
    monday tuesday wednesday thursday friday saturday sunday january february march april june july august
    september october november december""".split()
)
_DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
# prepositions before a place: "the 31-year-old from Mexico described ...": Mexico is not the speaker
_PLACE_PREPS = frozenset("from in at near outside".split())
_ORGS = frozenset(
    """house department council ministry office agency army navy party government administration
    committee commission court senate congress union nations bank press news times post journal
    reuters politico bloomberg forces command pentagon kremlin institute university foundation group
    company corp corp. inc inc. association organization organisation service bureau embassy network
    insider cnn bbc npr fox abc nbc cbs guardian telegraph tribune herald gazette review magazine chronicle
    standard
    agency police parliament assembly cabinet team""".split()
)
_SPOKES = frozenset("spokesman spokeswoman spokesperson spokespeople representative".split())
_COMMON_SUBJECTS = frozenset(
    """officials critics analysts experts sources authorities residents witnesses diplomats protesters
    lawmakers observers police others some many most both several aides advisers supporters
    opponents""".split()
)

# ---- tokens -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # U.S., U.N.
    r"|(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Gen|Lt|Col|Sgt|Capt|Adm|Jr|Sr|St|Prof|Rev|Corp|Inc|Brig|Maj|Cpl|Cmdr|Det|Supt)"
    r"\.(?=\s)"
    r"|[A-Z]\.(?=\s+[A-Z][a-z])"  # a middle or first initial: "J. Ann Selzer", "Michael J. Fox"
    r"|[^\W_](?:[\w'’\-]*[^\W_])?(?:['’]s?)?"  # words, hyphenated and possessive
    r"|[^\w\s]",  # a punctuation mark
)
_QUOTE_CHARS = "\"“”«»"


class _Tok:
    """A token with what the rules ask of it, computed once (a document has thousands of tokens and the rules
    look at each many times)."""

    __slots__ = ("start", "end", "text", "low", "is_word", "capitalised", "bare")

    def __init__(self, start: int, end: int, text: str) -> None:
        self.start, self.end, self.text = start, end, text
        self.low = low = text.lower()
        self.is_word = text[0].isalnum()
        self.capitalised = text[:1].isupper() or ("-" in text and any(p[:1].isupper() for p in text.split("-")))
        self.bare = _bare_word(low)  # lower case, no possessive, no then-/ex-/former- prefix


def _tokens(text: str, start: int = 0, end: int | None = None) -> list[_Tok]:
    end = len(text) if end is None else end
    return [_Tok(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text, start, end)]


_POSSESSIVE = re.compile(r"['’]s?$")
_PREFIX = re.compile(r"^(?:then|ex|former)-")


@functools.lru_cache(maxsize=65536)
def _bare_word(low: str) -> str:
    """Lower-case word without a possessive or a then-/ex-/former- prefix."""
    return _PREFIX.sub("", _POSSESSIVE.sub("", low))


# ---- attribution phrases ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Who:
    speaker: str | None
    start: int | None
    end: int | None
    role: str | None
    pronoun: str | None = None


def _name_like(tok: _Tok) -> bool:
    return tok.is_word and (tok.capitalised or tok.low in _CONNECTORS)


def _parse_who(text: str, toks: list[_Tok]) -> _Who | None:
    """Split a subject phrase ("the National Security Council spokesman Garrett Marquis") into
    speaker and role."""
    toks = [t for t in toks if t.is_word]
    while toks and toks[0].low in _DETERMINERS:
        toks = toks[1:]
    if not toks:
        return None
    if len(toks) == 1 and toks[0].low in _PRONOUNS | _OTHER_PRONOUNS:
        return _Who(None, toks[0].start, toks[0].end, None, pronoun=toks[0].low)
    # trailing run of capitalised tokens (connectors allowed inside, not at the ends)
    i = len(toks)
    while i > 0 and _name_like(toks[i - 1]):
        i -= 1
    while i < len(toks) and toks[i].low in _CONNECTORS:
        i += 1
    run = toks[i:]
    phrase = text[toks[0].start : toks[-1].end]
    whole = run
    run = _strip_noise(run)
    role_start = run[0].start if run and run is not whole and run[0] is not whole[0] else toks[0].start
    if not run or not run[-1].capitalised:
        return _Who(None, None, None, phrase)
    if len(toks) == 1 and run[0].bare in _COMMON_SUBJECTS:
        return _Who(None, None, None, phrase)
    # the name is what follows the last title/organisation word, unless the run ends with one
    cut = 0
    for k, tok in enumerate(run[:-1]):
        if tok.bare in _ORGS and run[k + 1].low in _CONNECTORS:
            continue  # "Bank of England", "University of Michigan": the organisation's own name goes on
        if tok.bare in _TITLES | _ROLE_WORDS and run[k + 1].low == "of":
            # "Archbishop of Canterbury" is the speaker as named; "Mayor of London Sadiq Khan" is Sadiq Khan
            cut = k + 3 if len(run) > k + 3 else 0
            continue
        if tok.bare in _TITLES or tok.bare in _ROLE_WORDS or tok.bare in _ORGS or _acronym_before_name(run, k):
            cut = k + 1
        elif re.search(r"['’]s$", tok.text) and len(run) - k - 1 >= 2 and \
                not _not_a_person(" ".join(t.text for t in run[k + 1 :])):
            cut = k + 1  # "The Vacationer's Eric Jones": whose they are is the role, the name follows
    if run[-1].bare in _ORGS or run[-1].bare in _TITLES or run[-1].bare in _ROLE_WORDS:
        cut = 0
    if cut == 0 and i > 0 and toks[i - 1].low in _PLACE_PREPS and toks[i - 1].end <= run[0].start:
        # a place after "from"/"in": the speaker is the name before it ("Chuck Grassley from Iowa"), or no one
        # named ("the 31-year-old from Mexico")
        return _parse_who(text, toks[: i - 1]) if i > 1 and toks[i - 2].capitalised else _Who(None, None, None, phrase)
    while cut < len(run) and run[cut].low in _CONNECTORS:
        cut += 1
    name = run[cut:] or run
    if all(t.bare in _ROLE_WORDS for t in name):
        return _Who(None, None, None, phrase)  # "the Republican from South Carolina": a role, no name
    of = next((k for k, t in enumerate(name) if t.low == "of"), None)
    if of is not None and of >= 2 and not any(t.bare in _ORGS or t.bare in _TITLES for t in name[:of]):
        name = name[:of]  # "Gloria Johnson of Knoxville": the person, not where they are from
    role_end = name[0].start
    role = text[role_start : role_end].strip(" ,") or None
    start, end = name[0].start, name[-1].end
    speaker = text[start:end]
    after = re.match(r"(['’]s)?\s+([a-z]+)(?:\s+([a-z]+))?", text[end:])
    if after and (after.group(2) in _VERBS or after.group(2) in _ADVERBS and after.group(3) in _VERBS):
        speaker += after.group(1) or ""  # "McDonald's (also) said": the name ends in 's ("Trump's lawyer" is his)
    else:
        speaker = re.sub(r"['’]s$", "", speaker)
    return _Who(speaker, start, end, role)


def _acronym_before_name(run: list[_Tok], k: int) -> bool:
    """run[k] is an acronym ("ESPN", "NASA") followed by a personal name of two words or more."""
    tok, rest = run[k], run[k + 1 :]
    return (len(tok.text) >= 2 and tok.text.isalpha() and tok.text.isupper() and len(rest) >= 2
            and all(t.capitalised and not t.text.isupper() for t in rest))


def _strip_noise(run: list[_Tok]) -> list[_Tok]:
    """A run of capitalised words without what opens a sentence before a name ("But", "When", "On Tuesday") and a day after it ("Iowa Wednesday"); an acronym before a full name is the body it speaks for
    ("ESPN Ben Cafardo"), kept as role."""
    while run and run[0].bare in _LEAD_NOISE:
        run = run[1:]
    while run and run[-1].bare in _DAYS:
        run = run[:-1]
    return run


def _subject_before(text: str, toks: list[_Tok], verb_index: int) -> list[_Tok] | None:
    """Tokens of the subject that ends right before toks[verb_index] (adverbs skipped)."""
    j = verb_index - 1
    while j >= 0 and toks[j].low in _ADVERBS:
        j -= 1
    if j < 0 or not toks[j].is_word or toks[j].low in _BE:
        return None
    k = j
    while k - 1 >= 0 and j - k < 9:
        prev = toks[k - 1]
        if not prev.is_word or prev.low in _STOP or prev.low in _VERBS or prev.low in _BE:
            break
        if prev.text[0].isdigit():
            break
        spokes = prev.low == "for" and k - 2 >= 0 and toks[k - 2].bare in _SPOKES  # "a spokesperson for X"
        # "officials in Kyiv", "the 31-year-old from Mexico": the place is part of the subject, not the subject
        place = prev.low in _PLACE_PREPS and toks[k].capitalised
        if prev.low in _TAIL_STOP and not spokes and not place and \
                not (k - 2 >= 0 and toks[k - 2].capitalised and toks[k].capitalised):
            break
        k -= 1
    subject = toks[k : j + 1]
    if subject[-1].low in _STOP:
        return None
    return subject


def _subject_after(toks: list[_Tok], start: int) -> list[_Tok]:
    """Tokens naming who, after a verb: up to punctuation or a lower-case preposition."""
    out: list[_Tok] = []
    window = toks[start : start + 10]
    for n, tok in enumerate(window):
        if not tok.is_word or tok.low in _STOP:
            break
        if tok.low in _TAIL_STOP:
            inside_name = tok.low in _CONNECTORS and out and out[-1].capitalised
            if not (inside_name and n + 1 < len(window) and window[n + 1].capitalised):
                break
        if len(out) >= 2 and out[-1].capitalised and out[-2].capitalised and not tok.capitalised \
                and tok.low not in _CONNECTORS and not (n + 1 < len(window) and window[n + 1].capitalised):
            break  # "said member Dr. Camille Kotton an infectious disease specialist": the name ends here
        out.append(tok)
    return out


def _is_verb(tok: _Tok) -> bool:
    return tok.low in _VERBS and tok.text[0].islower()


def _according(toks: list[_Tok], i: int) -> bool:
    return toks[i].low == "according" and i + 1 < len(toks) and toks[i + 1].low == "to"


@dataclass(frozen=True)
class _Attribution:
    who: _Who
    verb: str
    end: int  # end of the attribution clause in the text


_SENTENCE_END = re.compile(r"[.!?](?=[\s\"“”]|$)|\n")


def _after_attribution(text: str, close: int) -> _Attribution | None:
    """`"…," Pompeo said.` / `"…," said Pompeo.` — `close` is the index just past the closing mark."""
    line_end = text.find("\n", close)
    limit = min(len(text), close + 240, line_end if line_end >= 0 else len(text))
    toks = _tokens(text, close, limit)
    i = 0
    if i < len(toks) and toks[i].text == ",":
        i += 1
    if i >= len(toks) or not toks[i].is_word:
        return None
    who: _Who | None = None
    verb_tok: _Tok | None = None
    end_tok = i
    if _according(toks, i):
        subject = _subject_after(toks, i + 2)
        who, verb_tok = _parse_who(text, subject), toks[i]
        end_tok = i + 2 + len(subject)
        verb = "according to"
    elif _is_verb(toks[i]):
        subject = _subject_after(toks, i + 1)
        who, verb_tok = _parse_who(text, subject), toks[i]
        end_tok = i + 1 + len(subject)
        verb = toks[i].low
    else:
        for j in range(i, min(len(toks), i + 12)):
            if toks[j].text == "," and not toks[i].capitalised and j > i:
                continue  # a description with a comma before the name: "senior director, communications at ESPN X Y"
            if not toks[j].is_word:
                aside = _after_aside(toks, i, j)  # "Stevenson, who has been endorsed by ..., told USA TODAY."
                if aside is None:
                    return None
                who, verb_tok = _parse_who(text, toks[i:j]), toks[aside]
                end_tok = aside + 1
                verb = toks[aside].low
                break
            if _is_verb(toks[j]) and j > i:
                subject = _subject_before(text, toks[: j + 1], j)
                if not subject:
                    return None
                who, verb_tok = _parse_who(text, subject), toks[j]
                if subject[0] is not toks[i] and not (who and who.speaker and " " in who.speaker):
                    return None  # only a full name may follow a description ("his friend and fellow comic X Y")
                end_tok = j + 1
                verb = toks[j].low
                break
        else:
            return None
    if who is None or verb_tok is None:
        return None
    # the clause runs on to the end of its sentence ("… said on Twitter."), but not into a new quote
    pos = toks[end_tok - 1].end if end_tok - 1 < len(toks) else limit
    stop = _SENTENCE_END.search(text, pos, limit)
    quote = min((q for q in (text.find(c, pos, limit) for c in _QUOTE_CHARS) if q >= 0), default=limit)
    end = min(stop.end() if stop else limit, quote)
    return _Attribution(who, verb, end)


_DASH = re.compile(r"[ \t]*[—–][ \t]*")


def _dash_attribution(text: str, close: int) -> _Attribution | None:
    """`"…" — former NBA coach Stan Van Gundy, now an analyst.`: a dash and a name after the closing mark."""
    m = _DASH.match(text, close)
    if not m:
        return None
    line_end = text.find("\n", m.end())
    toks = _tokens(text, m.end(), min(len(text), m.end() + 160, line_end if line_end >= 0 else len(text)))
    subject = _subject_after(toks, 0)
    who = _parse_who(text, subject) if subject else None
    if who is None or not who.speaker:
        return None
    return _Attribution(who, "said", subject[-1].end)


def _after_aside(toks: list[_Tok], i: int, j: int) -> int | None:
    """For a name toks[i:j] followed by a comma, an aside and another comma, then a verb of saying: the verb's
    index ("Stevenson, who has been endorsed by Collective PAC, told ..."); else None."""
    if toks[j].text != "," or not 0 < j - i <= 7 or not all(t.capitalised for t in toks[i:j]):
        return None
    for k in range(j + 1, min(len(toks) - 1, j + 20)):
        if toks[k].text == ",":
            v = k + 1
            while v < len(toks) and toks[v].low in _ADVERBS:
                v += 1
            return v if v < len(toks) and _is_verb(toks[v]) else None
        if not toks[k].is_word and toks[k].text not in "-'’":
            return None
    return None


# verbs whose object is the listener, not the speaker ("... told CBS News that ...")
_TO_LISTENER = frozenset("told tells asked asks".split())


def _name_before_aside(toks: list[_Tok], verb_index: int) -> list[_Tok] | None:
    """For a verb after a name, a comma, an aside and a comma ("Dr. Sameh Iskander, head of the mission, told
    CBS News that ..."): the name's tokens (capitalised, at most 7, opening the clause); else None."""
    if verb_index < 1 or toks[verb_index - 1].text != ",":
        return None
    for k in range(verb_index - 2, max(-1, verb_index - 22), -1):
        if toks[k].text == ",":
            n = k
            while n - 1 >= 0 and k - n < 7 and toks[n - 1].is_word and toks[n - 1].capitalised:
                n -= 1
            return toks[n:k] if n < k and _after_aside(toks, n, k) == verb_index else None
        if not toks[k].is_word and toks[k].text not in "-'’":
            return None
    return None


def _before_attribution(text: str, open_: int, para_start: int) -> _Attribution | None:
    """`Pompeo said: "…"` / `Pompeo said he was "deeply concerned"` — `open_` is the opening mark."""
    start = _sentence_start(text, open_, para_start)
    if not text[start:open_].strip() and para_start > 0:
        # a quote opening a paragraph, introduced by a previous paragraph ending with a colon
        prev = text[:para_start].rstrip()
        if prev.endswith(":"):
            prev_para = max(prev.rfind("\n"), 0)
            start = _sentence_start(text, len(prev), prev_para)
            open_ = len(prev)
    toks = _tokens(text, start, open_)
    for i in range(len(toks) - 1, -1, -1):
        if _according(toks, i):
            who = _parse_who(text, _subject_after(toks, i + 2))
            if who:
                return _Attribution(who, "according to", open_)
        elif _is_verb(toks[i]):
            subject = _subject_before(text, toks, i) or _name_before_aside(toks, i)
            who = _parse_who(text, subject) if subject else None
            if who is None and toks[i].low not in _TO_LISTENER:
                after = _subject_after(toks, i + 1)
                who = _parse_who(text, after) if after and after[0].capitalised else None
            if who is not None:
                return _Attribution(who, toks[i].low, open_)
            if i > 0 and toks[i - 1].low in _BE | _ADVERBS:
                continue  # passive "were said to"; look further back
            return None
    return None


_BOUNDARY = re.compile(r"[.!?][\"”’)]*\s+(?=[\"“A-Z0-9])")


def _sentence_start(text: str, pos: int, floor: int) -> int:
    last = floor
    for m in _BOUNDARY.finditer(text, floor, min(len(text), pos + 1)):
        if m.end() <= pos:
            last = m.end()
    return last


# ---- quote spans --------------------------------------------------------------------------------


@dataclass
class _Span:
    open: int  # index of the opening mark
    close: int  # index just past the closing mark (or end of the paragraph when unclosed)
    start: int
    end: int
    closed: bool


_PARA_BREAK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*[\"“«])")


def _quote_spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    open_at: int | None = None
    para_breaks = {m.start() for m in _PARA_BREAK.finditer(text)}

    def add(o: int, c_mark: int | None, end: int) -> None:
        inner = text[o + 1 : end]
        lead = len(inner) - len(inner.lstrip())
        s, e = o + 1 + lead, o + 1 + len(inner.rstrip())
        if e > s:
            closed = c_mark is not None
            spans.append(_Span(o, (c_mark + 1) if closed else e, s, e, closed))

    for i, ch in enumerate(text):
        if i in para_breaks and open_at is not None:
            add(open_at, None, i)
            open_at = None
        if ch not in _QUOTE_CHARS:
            continue
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if ch in "“«":
            if open_at is not None:
                add(open_at, None, i)
            open_at = i
        elif ch in "”»":
            if open_at is not None:
                add(open_at, i, i)
                open_at = None
        else:  # straight quote: opener or closer by context
            opener_like = (before.isspace() or before in "([{—–-/") and not after.isspace()
            if open_at is None:
                if not after.isspace() or i == 0:
                    open_at = i
            elif opener_like and i - open_at > 1 and text[i - 1].isspace():
                add(open_at, None, i)
                open_at = i
            else:
                add(open_at, i, i)
                open_at = None
    if open_at is not None:
        add(open_at, None, len(text))
    return spans


def _asks(text: str, pos: int) -> bool:
    """A sentence opens at `pos` and its line asks ("Will Novak Djokovic play in the 2023 U.S. Open?")."""
    end = text.find("\n", pos)
    line = text[pos : end if end >= 0 else len(text)][:300]
    return "?" in line and _sentence_start(text, pos, _paragraph_start(text, pos)) == pos


def _paragraph_start(text: str, pos: int) -> int:
    i = text.rfind("\n", 0, pos)
    return 0 if i < 0 else i + 1


# ---- names --------------------------------------------------------------------------------------


_INITIAL = re.compile(r"[A-Z]\.")


def speaker_mentions(text: str) -> list[NameMention]:
    """Capitalised personal names of two or more tokens (titles stripped; organisations left out)."""
    return list(_mentions(text))


@functools.lru_cache(maxsize=8)
def _mentions(text: str) -> tuple[NameMention, ...]:
    """`speaker_mentions`, kept for the last few texts: quotations and roles of one document both need them."""
    out: list[NameMention] = []
    toks = _tokens(text)
    i = 0
    while i < len(toks):
        if not (toks[i].is_word and toks[i].capitalised):
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and _name_like(toks[j + 1]) and "\n" not in text[toks[j].end : toks[j + 1].start]:
            j += 1
        while j > i and toks[j].low in _CONNECTORS:
            j -= 1
        run = toks[i : j + 1]
        i = j + 1
        if len(run) > 2 and run[0].low == "will" and _asks(text, run[0].start):
            run = run[1:]  # "Will Novak Djokovic win again?": the question's verb, not a first name
        if len(run) > 7:
            continue
        who = _parse_who(text, run)
        if who and who.speaker and who.start is not None and who.end is not None:
            words = [t for t in run if who.start <= t.start and t.end <= who.end]
            if any(t.bare in _ORGS for t in words):
                continue  # an organisation, not a person ("Police Chief Marcus Reed" is a person)
            plain = all(not re.search(r"['’]s?$", t.text) and not (t.text.isupper() and len(t.text) > 1)
                        or _INITIAL.fullmatch(t.text) for t in words)
            if 2 <= len(words) <= 5 and plain and not any(t.bare in _TITLES for t in words):
                lead = text[_sentence_start(text, run[0].start, _paragraph_start(text, run[0].start)) : run[0].start]
                subject = not lead.strip(" \t\"“”«")
                out.append(NameMention(who.start, who.end, who.speaker, subject, who.role))
    return tuple(out)


# an appositive after a name: "Pat Ryder, the Pentagon press secretary, said"
_APPOSITIVE = re.compile(r",\s+(?:the\s+|a\s+|an\s+)?([\w'’.\- ]{3,60}?)(?=,|\s+said\b|\.)")


def speaker_roles(text: str, quotations: list[Quotation]) -> dict[str, list[str]]:
    """The roles the text gives each quoted person where it names them: the title before the name ("Tennessee
    Gov. Bill Lee" -> "Tennessee Gov.") and an appositive naming an office after it ("Pat Ryder, the Pentagon
    press secretary,"), so that a question asking for "Tennessee's governor" finds Bill Lee's words."""
    quoted = {q.speaker for q in quotations if q.speaker}
    out: dict[str, list[str]] = {}
    for m in speaker_mentions(text):
        if m.name not in quoted:
            continue
        roles = [m.role] if m.role else []
        app = _APPOSITIVE.match(text, m.end)
        if app and any(_bare_word(w.lower()) in _TITLES | _ROLE_WORDS | _SPOKES for w in app.group(1).split()):
            roles.append(app.group(1))
        for r in roles:
            if r not in out.setdefault(m.name, []):
                out[m.name].append(r)
    return out


def _is_org(name: str) -> bool:
    return any(w.lower().strip(".") in _ORGS for w in name.split())


def expand_surname(name: str, names: list[NameMention], before: int, bodies: bool = True) -> str:
    """"Pompeo" -> "Mike Pompeo" when the text named that person in full before `before`; else, with `bodies`, a
    name that opens with it ("Kaiser" -> "Kaiser Permanente")."""
    if " " in name or _is_org(name):
        return name
    earlier = [n for n in names if n.start < before]
    for m in reversed(earlier):
        if m.name.split()[-1].lower() == name.lower():
            return m.name
    if not bodies:
        return name
    # a body's short name: "Kaiser" for "Kaiser Permanente" (no one of that surname named before)
    for m in reversed(earlier):
        if m.name.split()[0].lower() == name.lower():
            return m.name
    return name


# ---- main entry ---------------------------------------------------------------------------------


def extract_quotations(text: str) -> list[Quotation]:
    """Every double-quoted span with its speaker where the text makes it clear."""
    spans = _quote_spans(text)
    names = speaker_mentions(text)
    results: list[Quotation] = []
    attr_end: list[int] = []  # where each quote's own attribution (or the quote) ends
    people: list[pronouns.Mention] | None = None  # everyone named, for "he"/"she" (computed on the first)
    gender: dict[str, str] = {}
    for idx, sp in enumerate(spans):
        para = _paragraph_start(text, sp.open)
        attribution: _Attribution | None = None
        # the quote's own last character, past a nested quotation's closing mark ("... ask a woman,’” Haley said.")
        inner = text[sp.start : sp.end].rstrip("’‘' ")
        inner_last = inner[-1] if inner else ""
        after_char = text[sp.close] if sp.close < len(text) else ""
        if sp.closed and (inner_last in ",?!—–-…" or after_char == ","):
            attribution = _after_attribution(text, sp.close)
        if attribution is None and sp.closed:
            attribution = _dash_attribution(text, sp.close)
        inherited: Quotation | None = None
        if attribution is None and idx > 0 and results:
            prev, prev_end = results[-1], attr_end[-1]
            gap = text[prev_end : sp.open] if prev_end <= sp.open else "x"
            if not gap.strip(" \t,;:—–-") and "\n" not in gap and prev.speaker:
                inherited = prev
        if attribution is None and inherited is None:
            attribution = _before_attribution(text, sp.open, para)
        if attribution is None and inherited is None and results and not results[-1].closed and \
                results[-1].speaker and not text[results[-1].end : sp.open].strip(" \t\n\"“”«"):
            inherited = results[-1]  # news style: a quote left open at a paragraph's end goes on in the next
        if inherited is not None:
            q = Quotation(sp.start, sp.end, inherited.speaker, inherited.speaker_start,
                          inherited.speaker_end, inherited.verb, inherited.role, sp.closed)
            results.append(q)
            attr_end.append(sp.close)
            continue
        speaker = s_start = s_end = verb = role = None
        if attribution is not None:
            who = attribution.who
            verb, role, s_start, s_end = attribution.verb, who.role, who.start, who.end
            if who.pronoun:
                if people is None:
                    people = pronouns.person_mentions(text, [(n.start, n.end, n.name, n.subject) for n in names],
                                                      _VERBS, _REACTS)
                    gender = pronouns.genders(text, people)
                at = min(sp.open, s_start) if s_start is not None else sp.open  # "He said X has been "…""
                speaker = _resolve_pronoun(who.pronoun, results, people, gender, at)
                if speaker and _not_a_person(speaker):
                    speaker = None  # "he said" after "... in Las Vegas": the text names no one nearer, so no one
            elif who.speaker and _titles_only(who.speaker):
                # "the Home Secretary said": the person the text last named
                speaker = _last_named(names, sp.open) or who.speaker
            elif who.speaker:
                speaker = expand_surname(who.speaker, names, sp.open)
            elif _role_only(who.role):
                # "the governor said": the person the text last named
                speaker = _last_named(names, sp.open)
            elif _body_only(who.role):
                # "the agency said": the organisation the text last named ("FAA", "Kaiser Permanente")
                speaker = _last_body(text, sp.open)
            elif _named_body(who.role):
                # "a spokesperson for China's foreign ministry said": the body speaks
                speaker = who.role
            elif _national_body(who.role):
                # "the Mexican government said": that government speaks
                speaker = _national_body(who.role)
        results.append(Quotation(sp.start, sp.end, speaker, s_start, s_end, verb, role, sp.closed))
        closes_here = attribution is not None and attribution.end > sp.close
        attr_end.append(attribution.end if closes_here else sp.close)
    results = _carry_back(text, results)
    log.debug("%d quotations, %d attributed", len(results), sum(q.speaker is not None for q in results))
    return results


# public bodies a text names once and then calls "the agency" (companies are too often another company)
_BODY_NOUNS = frozenset("""agency department ministry administration council commission office bureau service
    authority""".split())
_ACRONYM_OR_BODY = re.compile(
    r"\b(?:[A-Z]{2,6}s?\b(?![.-]\w)|(?:[A-Z][\w&'’.-]*\s+){0,4}(?:" + "|".join(
        w.capitalize() for w in sorted(_ORGS | _BODY_NOUNS) if w.isalpha()) + r")\b)")


def _body_only(role: str | None) -> bool:
    """"the agency", "the company": a body named earlier."""
    if not role:
        return False
    words = role.lower().split()
    return len(words) <= 2 and _bare_word(words[-1]) in _BODY_NOUNS


def _last_body(text: str, pos: int) -> str | None:
    """The organisation named last before `pos` (within 800 characters): an acronym ("FAA") or a capitalised name
    ending in an organisation word ("Federal Aviation Administration")."""
    found = None
    for m in _ACRONYM_OR_BODY.finditer(text, max(0, pos - 800), pos):
        if m.group() not in {"I", "TV", "OK", "AM", "PM"}:
            found = m.group().strip()
    while found and " " in found and found.split()[0].lower() in _LEAD_NOISE:  # "The Associated Press", "When House"
        found = found.split(" ", 1)[1]
    return found


def _named_body(role: str | None) -> bool:
    """A spokesperson of a named body ("a spokesperson for China's foreign ministry")."""
    if not role:
        return False
    words = role.split()
    return len(words) <= 8 and _bare_word(words[0].lower()) in _SPOKES and any(w[:1].isupper() for w in words)


# what a country speaks through, named by its adjective ("the Mexican government", "the Chinese foreign ministry")
_STATE_BODIES = frozenset("government ministry military army embassy authorities navy".split())
_STATE_WORDS = _STATE_BODIES | frozenset("foreign defense defence interior affairs".split())


def _national_body(role: str | None) -> str | None:
    """"the Mexican government" -> "Mexican government": a capitalised adjective and a state body; else None."""
    if not role:
        return None
    words = role.split()
    if words and words[0].lower() in _DETERMINERS:
        words = words[1:]
    if not 2 <= len(words) <= 4 or not words[0][:1].isupper() or words[-1].lower() not in _STATE_BODIES:
        return None
    return " ".join(words) if all(w.lower() in _STATE_WORDS for w in words[1:]) else None


def _demonym_stem(token: str) -> str:
    """"mexican"/"mexico" -> "mexic", "chinese"/"china" -> "chin", "israeli"/"israel" -> "israel": a country's
    name and its adjective reduced to one stem (a suffix, then final vowels, off)."""
    for suffix in ("ese", "an", "i"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            token = token[: -len(suffix)]
            break
    while token[-1:] in ("a", "e", "i", "o") and len(token) > 4:
        token = token[:-1]
    return token


def _country_matches(query: list[str], speaker: str) -> bool:
    """A country asked about ("Mexico") and its government quoted ("Mexican government")."""
    words = _norm_tokens(speaker)
    if len(query) != 1 or not _national_body(speaker) or len(_demonym_stem(query[0])) < 4:
        return False
    return _demonym_stem(words[0]) == _demonym_stem(query[0])


# the last word of a name that is a place or a thing, not a person ("Westminster Abbey", "Coronation Bible")
_THING_HEADS = frozenset("""abbey cathedral church chapel mosque temple palace castle bible park square street avenue road
    bridge tunnel stadium arena center centre hall hotel museum gallery library theater theatre river lake sea
    ocean mountain mountains island islands county valley beach airport station harbor harbour port canal
    highway tower building plaza mall market school college unit""".split())


def _not_a_person(name: str) -> bool:
    """A name no "he", "she" or role noun can stand for: a place of the gazetteer ("Las Vegas"), a name ending in
    a word for a place or thing ("Westminster Abbey"), an organisation ("San Francisco Chronicle")."""
    return is_place_name(name) or name.split()[-1].lower() in _THING_HEADS or _is_org(name)


def _last_named(names: list[NameMention], pos: int) -> str | None:
    """The person the text last named before `pos`; None when that name is no person's (`_not_a_person`: "his
    press secretary said" after "... the United States": whose secretary the text does not say nearby)."""
    before = [n for n in names if n.end <= pos]
    return before[-1].name if before and not _not_a_person(before[-1].name) else None


def _titles_only(name: str) -> bool:
    words = [_bare_word(w.lower().strip(".")) for w in name.split()]
    return all(w in _TITLES or w in {"home", "the"} for w in words) and not any(w in _ORGS for w in words)


def _role_only(role: str | None) -> bool:
    """"the governor", "the former senator": a title standing for a person named earlier."""
    if not role:
        return False
    words = role.split()
    last = _bare_word(words[-1].lower())
    return (len(words) <= 3 and not any(w[:1].isupper() for w in words) and last in _TITLES | _ROLE_NOUNS
            and last not in _NOT_ONE_PERSON)


_ROLE_NOUNS = frozenset("coach manager owner quarterback star actor actress singer rapper host comedian".split())
# titles that, alone, stand for someone not yet named ("a spokeswoman said", "an official said")
_NOT_ONE_PERSON = frozenset("spokesman spokeswoman spokesperson officer analyst correspondent editor".split())


def says_who(sentence: str) -> str | None:
    """The named person or organisation a sentence reports as speaking, quoted or not ("Turner said Tuesday
    that ...", "..., said Robert Muir-Wood, chief ...", "according to the FAA"); None for pronouns and common
    nouns. Used for indirect speech, which `extract_quotations` (double-quoted spans) does not cover."""
    toks = _tokens(sentence)
    for i, tok in enumerate(toks):
        who: _Who | None = None
        if _according(toks, i):
            who = _parse_who(sentence, _subject_after(toks, i + 2))
        elif _is_verb(tok):
            subject = _subject_before(sentence, toks, i)
            who = _parse_who(sentence, subject) if subject else None
            if who is None or not who.speaker:
                after = _subject_after(toks, i + 1)
                who = _parse_who(sentence, after) if after and after[0].capitalised else None
        if who is not None and who.speaker:
            return who.speaker
    return None


def _resolve_pronoun(pronoun: str, earlier: list[Quotation], people: list[pronouns.Mention],
                     gender: dict[str, str], pos: int) -> str | None:
    """The person "he"/"she" refers to (`pronouns.resolve`); "it" after a body's quote is that body."""
    if pronoun not in _PRONOUNS:
        if pronoun == "it" and earlier and earlier[-1].speaker and _is_org(earlier[-1].speaker):
            return earlier[-1].speaker
        return None
    quoted = [(q.start, q.end, q.speaker) for q in earlier if q.speaker]
    return pronouns.resolve(pronoun, quoted, people, gender, pos, _is_org)


def _carry_back(text: str, quotes: list[Quotation]) -> list[Quotation]:
    """A quote left open at a paragraph break takes the speaker of the quote reopening the next one."""
    out = list(quotes)
    for i in range(len(out) - 2, -1, -1):
        q, nxt = out[i], out[i + 1]
        if q.closed or q.speaker or not nxt.speaker:
            continue
        between = text[q.end : nxt.start]
        if "\n" in between and not between.strip(" \t\n\"“«"):
            out[i] = Quotation(q.start, q.end, nxt.speaker, nxt.speaker_start, nxt.speaker_end,
                               nxt.verb, nxt.role, q.closed)
    return out


def _norm_tokens(name: str) -> list[str]:
    flat = unicodedata.normalize("NFKD", name)
    flat = "".join(c for c in flat if not unicodedata.combining(c)).lower()
    flat = re.sub(r"['’]s\b", "", flat)
    return re.findall(r"[a-z0-9]+", flat)


_NAME_NOISE = frozenset(
    """president vice secretary minister prime deputy acting former sen senator rep representative gov
    governor mayor gen general lt col colonel sgt capt captain adm admiral mr mrs ms miss dr prof
    professor judge chief director ambassador spokesman spokeswoman spokesperson king queen prince
    princess crown pope sheikh field marshal commander chancellor premier emir sultan cardinal bishop
    rev father of the a an""".split()
)


def name_matches(query_name: str, speaker: str | None) -> bool:
    """Does a name in a question refer to this speaker? Case- and accent-insensitive, on whole tokens.

    "Pompeo" ~ "Mike Pompeo"; "Secretary Pompeo" ~ "Mike Pompeo"; "Mike Pompeo" ~ "Pompeo";
    "white house" ~ "White House"; "Pompe" !~ "Mike Pompeo"; "Mike Smith" !~ "Mike Pompeo".
    """
    if not speaker:
        return False
    q_all, s_all = _norm_tokens(query_name), _norm_tokens(speaker)
    q = [t for t in q_all if t not in _NAME_NOISE] or q_all
    s = [t for t in s_all if t not in _NAME_NOISE] or s_all
    if not q or not s:
        return False
    if set(q) <= set(s):
        return True
    if len(q) == len(s) == 2 and q[1] == s[1] and min(len(q[0]), len(s[0])) >= 5 and _undoubled(q[0]) == _undoubled(s[0]):
        return True  # one spelling's doubled letter: "Wynonna Judd" ~ "Wynona Judd", "Phillip" ~ "Philip"
    return (set(s) <= set(q) and q[-1] == s[-1]) or _country_matches(q, speaker)


def _undoubled(word: str) -> str:
    return re.sub(r"(.)\1", r"\1", word)
