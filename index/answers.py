"""From retrieved chunks to an answer: score every sentence of the candidate passages, choose verbatim
quotes, attribute them, collapse duplicates, verify, rank, and decide whether to abstain.

Sentence scoring is a reranker over features (see `FEATURES`) whose weights are fitted on the development
sets by `scripts/fit_reranker.py` and stored in `reranker_weights.json` beside this file. Quote and passage
spans inside a document are `quotes.py`'s.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .answer_type import Expected, asked_type, type_fit
from .chunking import chunk_hash
from . import facts
from .dates import DateMention, question_date_mentions, text_dates
from .facts import DocFacts as DocInfo
from .junk import junk_reason, line_at
from .lexical import LexicalIndex, terms, terms_of
from .questions import QuestionInfo
from .quotes import MAX_QUOTE_WORDS, coverage, passage_around, quote_span, verify_quote, joinable, joins_back
from .records import Answer, OtherSource, Result, Span
from .features import FEATURES, LINEAR_FEATURES, WEIGHTS_FILE
from .rerank_model import RerankModel, load_model as _load_model
from .retrieval import Candidate
from .speakers import expand_surname, name_matches, says_who, speaker_mentions
from .store import ChunkRow, DocRow, Snapshot
from .speaker_index import SpeakerIndex, speaks_for
from .speakers import Quotation
from .timeline import AsOf, Timeline

if TYPE_CHECKING:
    from .stores.base import IndexView

log = logging.getLogger(__name__)

SURE_RANK = 3  # a passage ranked this high by either retriever is always scored
CHANNEL_TAKE = 8  # passages a speaker or date channel adds to the scored pool
# A question's topic (its words besides the speaker and dates) must be this much mentioned, IDF-weighted, in an
# article quoting the speaker for the speaker's words to answer it (said_2023: see README "News questions").
TOPIC_MIN = 0.5
TOPIC_DENSE = 0.5  # ... unless one of their sentences is this close to the question (a paraphrased topic)
CHANNEL_SCAN = 4000  # at most this many chunks a channel compares to the question
QUOTED_WEIGHT = 1.0
RECENT_HALF_LIFE = 14  # days: how fast the preference for new evidence fades in a "latest/new/now" question
def load_model(path: Path = WEIGHTS_FILE) -> RerankModel:
    return _load_model(path)


# verbs of saying and their helpers: in "what did X say about Y" only Y is the topic
_SAY_TERMS = set(terms("say says said saying tell told tweet tweeted post posted react reaction respond response "
                       "reply replied comment comments statement state stated announce announced warn warned argue "
                       "argued claim claimed think thought explain explained describe described call called what did "
                       "does do has have had was were is are how why about when after before on the a an his her "
                       "their its last night yesterday today week he she they him them s"))
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b", re.I)
_YEAR = re.compile(r"\b(1[0-9]|20)\d\d\b")
# A time expression whether or not it resolves to a date (a month-day in an undated article has no year).
_TIME = re.compile(
    r"\b(?:(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?\s+\d{1,2}\b|"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}\b|"
    r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December)\b|(?:on|last|next|this|since|by|until)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday)|yesterday|(?:last|this|next|earlier this|later this)\s+(?:week|month|year)|"
    r"\d{1,2}(?:st|nd|rd|th)\s+century)\b")
_CAPNAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_PLACE_PREP = re.compile(r"\b(in|at|from|to|near|into|across|of)\s+(the\s+)?$")
_QUOTE_CHARS = re.compile(r"[\"\u201c\u201d]")


@dataclass
class Sent:
    chunk: ChunkRow  # the passage it is in, with its document
    path: str
    span: Span  # absolute offsets of the sentence in the document
    index: int  # position among the passage's sentences
    feats: dict[str, float]
    score: float = 0.0
    speaker: str | None = None
    when: str | None = None  # the date phrase, matching the question, that dates this sentence
    said_on: dt.date | None = None  # the day the words were said (see `_said_on`)
    said_exact: bool = False  # said_on comes from the text, not from the publication date
    indirect: bool = False  # reported speech of the person asked about ("Turner said that ..."), not a quotation
    direct: bool = False  # mostly the asked person's quoted words (not a sentence about them quoting a phrase)
    quoted_share: float = 0.0  # share of the sentence inside attributed quotation marks (anyone's)
    answer_after: bool = False  # lacks what the question asks for, which the next sentence holds: quote both


class AnswerBuilder:
    def __init__(self, snapshot: Snapshot, lexical: LexicalIndex, sentences_of, *, passages: int = 12,
                 weights: dict[str, float] | None = None, cross_encoder=None, rerank_top: int = 30,
                 embed_quotes: Callable[[list[str]], np.ndarray] | None = None, quote_weight: float = 0.0,
                 tables: "IndexView | None" = None) -> None:
        """`sentences_of(hashes)` returns {chunk hash: (spans n x 2 chunk-relative, vectors n x dim)}.
        `cross_encoder`: an optional sentence-transformers CrossEncoder that reorders the best
        `rerank_top` sentences (abstention still uses the calibrated linear score).
        `embed_quotes(texts)`: normalized vectors of texts embedded alone; with `quote_weight` > 0 the
        returned quotes are put in order by their score plus that weight times their own cosine to the
        question. A sentence vector from the chunk's pass carries its neighbours' context, so the sentence
        next to the answer, restating the question, scores close to it; the quote alone tells them apart
        (xquad, `newsdesk eval`: quote hit@1 0.802 at weight 0, 0.815 at 2; hit@3 within 0.1 point).
        `tables`: the store's view of the index generation (`stores.base.IndexView`), for the publication days
        of chunks, the speakers of quotations and the chunk vectors those channels compare; without it the
        as-of filter and those channels are off."""
        self.tables = tables
        self._timeline: Timeline | None = None
        self._speakers: SpeakerIndex | None = None
        self.embed_quotes = embed_quotes
        self.quote_weight = quote_weight
        self.cross_encoder = cross_encoder
        self.rerank_top = rerank_top
        self.snap = snapshot
        self.lexical = lexical
        self.sentences_of = sentences_of
        self.passages = passages
        self.model = load_model() if weights is None else RerankModel({"weights": weights})
        self.w = self.model.weights
        self._docinfo: dict[tuple[str, str], DocInfo] = {}
        self._terms: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()
        # one lock per table: the first users of a table wait for one read (slow at scale: a full scan on Milvus)
        # without holding `_lock`, which every question takes briefly
        self._table_locks = {"_timeline": threading.Lock(), "_speakers": threading.Lock()}

    # --- time ------------------------------------------------------------------------------------
    def _once(self, attr: str, load: Callable[["IndexView"], object]):
        """A per-generation table read from the index on first use (None without one); threads that need it
        at the same time wait for the one read (double-checked under the table's own lock)."""
        value = getattr(self, attr)
        if value is not None or self.tables is None:
            return value
        with self._table_locks[attr]:
            value = getattr(self, attr)
            if value is None:
                value = load(self.tables)
                setattr(self, attr, value)
        return value

    def load_tables(self) -> None:
        """Read the per-generation tables now (`Engine.warm`), so that no question waits for them."""
        _ = self.timeline, self.speaker_index

    @property
    def tables_loaded(self) -> bool:
        """Whether the per-generation tables are read (True without tables to read)."""
        return self.tables is None or (self._timeline is not None and self._speakers is not None)

    @property
    def timeline(self) -> Timeline | None:
        """Publication days of this generation's chunks, read once on first use."""
        return self._once("_timeline", lambda view: view.timeline())

    def allow_for(self, q: QuestionInfo) -> Callable[[np.ndarray], np.ndarray] | None:
        """The as-of filter for retrieval: only chunks published by the day the question was asked (None when
        nothing indexed is later, so retrieval is unchanged)."""
        tl = self.timeline
        if q.asked_at is None or tl is None or not tl.any_after(q.asked_at):
            return None
        return AsOf(tl, q.asked_at)

    @property
    def speaker_index(self) -> SpeakerIndex | None:
        """This generation's quotations by speaker, read once on the first question that names someone."""
        return self._once("_speakers", lambda view: view.speakers())

    # --- retrieval channels -------------------------------------------------------------------------
    def channels(self, q: QuestionInfo, qvec: np.ndarray, pool: list[Candidate]) -> list[Candidate]:
        """Passages the question's speaker or pinned days reach directly, beyond what the retrievers found:
        the chunks holding quotations of the person asked about (on the pinned days first), else, for a
        question pinned to days, the chunks published on them; the best CHANNEL_TAKE of each by cosine to
        the question. Only chunks published by the time it was asked."""
        if self.tables is None:
            return []
        have = np.asarray([c.chunk_id for c in pool], dtype=np.int64)
        arr = self._speaker_chunks(q.speakers, q.asked_at) if q.speakers else np.zeros(0, np.int64)
        tl = self.timeline
        if not len(arr) and q.dates and tl is not None:
            arr = np.concatenate([tl.in_range(rng)[:CHANNEL_SCAN] for rng in q.dates])
            if q.asked_at is not None:
                arr = arr[tl.published_by(arr, q.asked_at)]
        arr = arr[~np.isin(arr, have)]
        if not len(arr):
            return []
        found, vecs = self.tables.chunk_vectors([int(i) for i in arr[:CHANNEL_SCAN]], len(qvec))
        if not len(found):
            return []
        cos = vecs @ qvec
        on_day = np.zeros(len(found), dtype=bool)
        if q.dates and tl is not None:
            days = tl.day_of(found)
            for rng in q.dates:  # published up to two days later (as `_on_days`)
                on_day |= (days >= rng.start.toordinal()) & (days <= rng.end.toordinal() + 2)
        order = np.lexsort((-cos, ~on_day))[:CHANNEL_TAKE]
        return [Candidate(int(found[i]), 0.0, float(cos[i]), 0.0, None, None) for i in order]

    # --- per-document facts ---------------------------------------------------------------------
    def docinfo(self, doc: DocRow) -> DocInfo:
        """The document's quotations and dates, stored at index time (parsed once per document version)."""
        key = (doc.path, doc.content_hash)
        with self._lock:
            info = self._docinfo.get(key)
        if info is None:
            info = facts.loads(doc.facts) or facts.extract(doc.text, doc.date)
            with self._lock:
                if len(self._docinfo) >= 4096:
                    self._docinfo.clear()
                self._docinfo[key] = info
        return info

    # --- scoring --------------------------------------------------------------------------------
    def topic_terms(self, q: QuestionInfo, who: list[str]) -> dict[str, float]:
        """The question's terms (IDF-weighted) without the asked person's name, verbs of saying, question words
        and date phrases: what the words asked for should be about ({} when nothing is left)."""
        drop = set(terms(" ".join(who) + " " + q.subject)) | _SAY_TERMS
        drop |= set(terms(" ".join(m.text for m in question_date_mentions(q.text, q.asked_at or dt.date.today()))))
        return {t: self.lexical.idf(t) for t in set(terms(q.text)) - drop}

    def holders(self, q: QuestionInfo) -> list[str]:
        """For a question naming someone by role ("Tennessee's governor"): the speakers the articles give that
        role ("Bill Lee", quoted elsewhere as "Tennessee Gov. Bill Lee"); [] when none or no speaker index."""
        si = self.speaker_index
        return sorted({e.speaker for n in q.speakers for e in si.matching(n)}) if si else []

    def unknown_names(self, q: QuestionInfo) -> list[str]:
        """Names in the question no indexed chunk contains a word of: a person or body of two words or more
        ("Angela Merkel"), or anyone whose words are asked for ("what did Putin say"). Nothing in the corpus
        can be about them, however close the other words come. (A single unknown word alone is not enough:
        misspellings and acronyms are; on xquad 18 answered questions hold one. Words in capitals do not
        count towards the two.)"""
        out = []
        for name in q.names:
            words = [w for w in name.split() if not w.isupper()]  # acronyms are spelled many ways (ARPANET, ARPNET)
            toks = [t for t in terms(" ".join(words)) if len(t) > 1]
            if toks and (len(words) >= 2 or q.asks_said) and not any(self.lexical.df(t) for t in terms(name)):
                out.append(name)
        return out

    def pool(self, cands: list[Candidate]) -> list[Candidate]:
        """The passages whose sentences are scored: the best `passages` by fused rank, plus any that one
        retriever alone ranks in its top SURE_RANK (rank fusion buries a passage only BM25 finds, say the
        one sentence holding every rare word of the question, below many that both find half-way)."""
        pool = cands[: self.passages]
        pool += [c for c in cands[self.passages :] if min(r if r is not None else SURE_RANK
                                                           for r in (c.dense_rank, c.bm25_rank)) < SURE_RANK]
        return pool

    def score_sentences(self, q: QuestionInfo, qvec: np.ndarray,
                        cands: list[Candidate]) -> tuple[list[Sent], dict[str, float]]:
        """Every scored sentence of the candidate passages (each with its `feats` over `FEATURES`) and the
        question's abstention features: what `build` ranks, and what scripts/fit_reranker.py fits on."""
        return self._candidates(q, qvec, cands, self.q_terms(q))

    def quote_of(self, s: Sent, q_terms: dict[str, float]) -> Result | None:
        """The verbatim quote and passage `build` would return for the scored sentence `s`."""
        return self._result(s, q_terms)

    def q_terms(self, q: QuestionInfo) -> dict[str, float]:
        """The question's terms with their IDF."""
        return {t: self.lexical.idf(t) for t in set(terms(q.text))}

    def _candidates(self, q: QuestionInfo, qvec: np.ndarray, cands: list[Candidate],
                    q_terms: dict[str, float]) -> tuple[list[Sent], dict[str, float]]:
        """The sentences (features, reranker score) and the question-level abstention features."""
        rare = max(q_terms, key=lambda t: (q_terms[t], t)) if q_terms else None
        q_marks = _marks(q.text)
        top = max((c.score for c in cands), default=0.0) or 1.0
        top_bm25 = max((c.bm25 for c in cands), default=0.0) or 1.0
        pool = self.pool(cands)
        pool += self.channels(q, qvec, pool)
        found = self.snap.chunks(c.chunk_id for c in pool)
        use = [(i, c) for i, c in enumerate(pool) if c.chunk_id in found]
        rows = [found[c.chunk_id] for _, c in use]
        sents_by_hash = self.sentences_of([r.hash for r in rows])
        qkind = {f"q_{k}": 1.0 if q.kind == k else 0.0 for k in ("when", "number", "who", "where", "why")}
        qkind["q_said"] = 1.0 if q.asks_said else 0.0
        expected = asked_type(q)
        who = self.holders(q) if q.by_role else asked_speakers(q)
        topic = self.topic_terms(q, who)
        # the asked people's last names, to try reported speech only in sentences that name them
        surnames = re.compile("|".join(re.escape(n.split()[-1]) for n in (who if q.by_role else q.speakers))
                              or "(?!)", re.I)
        # every sentence's terms at once: remembered ones looked up, the others in one tokenizer call
        pieces = [row.doc.text[row.start + int(a) : row.start + int(b)]
                  for row in rows for a, b in sents_by_hash.get(row.hash, (np.zeros((0, 2), np.int32), None))[0]]
        all_toks = iter([set(t) for t in terms_of(pieces)] if pieces else [])
        out: list[Sent] = []
        for (rank, cand), row in zip(use, rows):
            path = row.path
            text = row.doc.text
            c0 = row.start
            spans, svecs = sents_by_hash.get(row.hash, (np.zeros((0, 2), np.int32), None))
            toks = [next(all_toks) for _ in range(len(spans))]
            if not len(spans):
                continue
            sims = svecs @ qvec if svecs is not None else np.zeros(len(spans))
            info = self.docinfo(row.doc)
            for i, (a, b) in enumerate(spans):
                span = Span(c0 + int(a), c0 + int(b))
                sent = text[span.start : span.end]
                ctx = toks[i] | (toks[i - 1] if i else set()) | (toks[i + 1] if i + 1 < len(toks) else set())
                quoted = _quotation_at(info, span)
                speaker = quoted.speaker if quoted else None
                asked_by = bool(quoted and who and any(name_matches(n, quoted.speaker) or speaks_for(n, quoted.role)
                                                       for n in who))
                share = _quoted_share(info, span)
                direct = asked_by and share >= 0.5
                indirect = False
                if not asked_by and who and q.speakers and surnames.search(sent):
                    # indirect speech: "Turner said Tuesday that the balloon's journey ..."
                    # (the sayer as the text last named them in full: "Johnson" after "Cam Johnson" is not
                    # Brandon Johnson)
                    sayer = _expand(says_who(sent), info, text, span.start)
                    indirect = bool(sayer and any(name_matches(n, sayer) for n in who))
                    speaker = speaker or (sayer if indirect else None)
                when = self._date_fit(q, span, info, row.doc)
                said_on, exact = _said_on(info, span, row.doc.date)
                marks = _marks(sent)
                nwords = len(sent.split())
                f = {
                    "dense_sent": float(sims[i]),
                    "coverage": coverage(q_terms, toks[i]),
                    "coverage_ctx": coverage(q_terms, ctx),
                    "retrieval": cand.score / top,
                    "dense_chunk": cand.dense,
                    **self._type_fit(q, sent, span, info),
                    "speaker": 1.0 if asked_by else 0.0,
                    "date": 1.0 if when else 0.0,
                    "quoted": 1.0 if q.asks_said and _QUOTE_CHARS.search(sent) else 0.0,
                    "short": 1.0 if nwords < 6 else 0.0,
                    "bm25": cand.bm25 / top_bm25,
                    "passage_rank": 1.0 / (1 + rank),
                    "novel": len(marks - q_marks) / len(marks) if marks else 0.0,
                    "rare": 1.0 if rare is not None and rare in toks[i] else 0.0,
                    "length": float(np.log1p(nwords)),
                    **qkind,
                    "fit_type": 0.0,
                    # not ranker inputs: how far the passage is on the question's topic, names and dates aside
                    "topic_ctx": coverage(topic, ctx) if topic else 1.0,
                }
                before = Span(c0 + int(spans[i - 1][0]), c0 + int(spans[i - 1][1])) if i else None
                after_ = Span(c0 + int(spans[i + 1][0]), c0 + int(spans[i + 1][1])) if i + 1 < len(spans) else None
                f["fit_type"], after = _fit_type(expected, text, span, before, after_)
                # Show the date with the quote only when it surely dates it: inside the sentence, or just
                # before a quotation by the person asked about.
                dated = when and (when.start >= span.start or f["speaker"])
                out.append(Sent(row, path, span, i, f, speaker=speaker, when=when.text if dated else None,
                                said_on=said_on, said_exact=exact, indirect=indirect, direct=direct,
                                quoted_share=share, answer_after=after))
        if not out:
            return out, {}
        _relative(out)
        X = np.array([[s.feats[k] for k in FEATURES] for s in out], dtype=np.float64)
        lin = self.linear(X)
        scores = self.model.rank_scores(X, lin) if self.model.ranker else lin
        for s, v in zip(out, scores):
            s.score = float(v)
        j = int(np.argmax(lin))
        col = {k: X[:, n] for n, k in enumerate(FEATURES)}
        abst = {
            "best_linear": float(lin[j]),
            "max_dense_sent": float(col["dense_sent"].max()),
            "max_coverage": float(col["coverage"].max()),
            "max_coverage_ctx": float(col["coverage_ctx"].max()),
            "max_dense_chunk": float(col["dense_chunk"].max()),
            "rare_found": float(col["rare"].max()),
        }
        return out, abst

    def linear(self, X: np.ndarray) -> np.ndarray:
        """The linear (absolute) score of each row of a FEATURES matrix."""
        w = np.array([self.w.get(k, 0.0) for k in LINEAR_FEATURES])
        return self.w.get("bias", 0.0) + X[:, : len(LINEAR_FEATURES)] @ w

    def score(self, f: dict[str, float]) -> float:
        return self.w.get("bias", 0.0) + sum(self.w.get(k, 0.0) * f.get(k, 0.0) for k in LINEAR_FEATURES)

    def abstains(self, abst: dict[str, float]) -> bool:
        if not abst:
            return True
        return self.model.abstain_score(abst, self.w) < self.model.abstain_threshold(self.w)

    @staticmethod
    def _speaker(info: DocInfo, span: Span) -> str | None:
        quoted = _quotation_at(info, span)
        return quoted.speaker if quoted else None

    @staticmethod
    def _type_fit(q: QuestionInfo, sent: str, span: Span, info: DocInfo) -> dict[str, float]:
        fit = {"fit_when": 0.0, "fit_number": 0.0, "fit_who": 0.0, "fit_where": 0.0}
        if q.kind == "when":
            has = _YEAR.search(sent) or _TIME.search(sent) or any(span.start <= d.start < span.end for d in info.dates)
            fit["fit_when"] = 1.0 if has else 0.0
        elif q.kind == "number":
            fit["fit_number"] = 1.0 if _NUMBER.search(sent) else 0.0
        elif q.kind == "who":
            known = {n.lower() for n in q.names}
            fit["fit_who"] = 1.0 if any(m.group().lower() not in known for m in _CAPNAME.finditer(sent)) else 0.0
        elif q.kind == "where":
            known = {w.lower() for n in q.names for w in n.split()}
            fit["fit_where"] = 1.0 if any(m.group().lower() not in known and _PLACE_PREP.search(sent[: m.start()][-12:])
                                          for m in _CAPNAME.finditer(sent)) else 0.0
        return fit

    def _date_fit(self, q: QuestionInfo, span: Span, info: DocInfo, doc: DocRow) -> DateMention | None:
        """The mention when a date the question pins is mentioned in the sentence or just before it ("in his April 7
        statement:" covers the quotation that follows). In an undated document a month-day has no year, so
        it is resolved against the question's own date instead."""
        if not q.dates:
            return None
        lo = max(0, span.start - 400)
        mentions = info.dates
        if not doc.date:
            ref = max(r.end for r in q.dates)
            try:
                mentions = [DateMention(d.start + lo, d.end + lo, d.text, d.range)
                            for d in text_dates(doc.text[lo : span.end], ref)]
            except Exception:
                log.exception("date resolution failed in %s", doc.path)
                mentions = []
        for d in mentions:
            if lo <= d.start < span.end and any(r.overlaps(d.range) for r in q.dates):
                return d
        return None

    # --- the answer -----------------------------------------------------------------------------
    def build(self, q: QuestionInfo, qvec: np.ndarray, cands: list[Candidate], k: int) -> Answer:
        q_terms = self.q_terms(q)
        sents, abst = self._candidates(q, qvec, cands, q_terms)
        if q.latest and q.asked_at is not None:
            _prefer_recent(sents, q.asked_at)
        if q.wants_words:
            _prefer_quoted(sents)
        sents.sort(key=lambda s: -s.score)
        if self.cross_encoder is not None and sents:
            head = sents[: self.rerank_top]
            # each scored as it would be quoted (with the sentence before that names its subject)
            texts = [s.chunk.doc.text[qs.start : qs.end] for s in head for qs in [self._quote_span(s, q_terms)]]
            ce = self.cross_encoder.predict([(q.text, t) for t in texts], show_progress_bar=False)
            order = np.argsort(-np.asarray(ce, dtype=np.float32), kind="stable")
            sents = [head[i] for i in order] + sents[self.rerank_top :]
        # "What did <name> say": the person's own attributed words first, then what others wrote about it.
        said_by = bool(asked_speakers(q))
        # the asked person's words first (then the rest); among them what was said on the pinned days; then
        # their quoted words before a phrase of theirs quoted in a sentence, before their reported speech (a
        # pinned week or month, "this week" in a quiz, stays a soft feature unless someone's words are asked for)
        def key(s: Sent) -> tuple[int, int, int]:
            tier = _said_tier(s) if q.speakers else 0 if s.feats.get("speaker") else 3
            return (0 if tier < 3 else 1, 0 if not q.dates or _on_days(s, q.dates) else 1, tier)

        if said_by or (q.dates and all(r.start == r.end for r in q.dates)):
            sents.sort(key=key)
        results: list[Result] = []
        covered: list[tuple[str, int, int]] = []
        for s in sents:
            if any(p == s.path and a < s.span.end and s.span.start < b for p, a, b in covered):
                continue  # overlapping chunks give the same sentence twice
            if _junk(s) or _asks_back(s, q_terms):
                continue  # captions, credits, link lines, the question itself: context, never the quote
            r = self._result(s, q_terms)
            met = [i for i, (p, a, b) in enumerate(covered) if p == r.path and a < r.end and r.start < b] if r else []
            if len(met) == 1 and r.start <= covered[met[0]][1] and covered[met[0]][2] <= r.end \
                    and r.speaker == results[met[0]].speaker:
                # it holds an earlier result whole (same speaker, if any), with the sentence that names its
                # subject or answers it: it takes that result's place
                r.score = results[met[0]].score
                results[met[0]], covered[met[0]] = r, (s.path, r.start, r.end)
                continue
            if met:  # its context is already shown as part of an earlier result: the sentence alone, then
                r = self._result(s, q_terms, context=False)
            if r is None or any(p == r.path and a < r.end and r.start < b for p, a, b in covered):
                continue
            if self._merge_duplicate(results, r):
                continue
            covered.append((s.path, r.start, r.end))
            results.append(r)
            if len(results) >= k:
                break
        unknown = self.unknown_names(q)
        gap = None if unknown else self.speaker_gap(q, sents)
        if not results or unknown or gap or self.abstains(abst):
            reason = (f"no indexed article mentions {' or '.join(unknown)}" if unknown else
                      gap or "nothing indexed answers this closely enough")
            return Answer(q.text, True, [], near_misses=results[:3], unknown_names=unknown, reason=reason)
        # the quote alone against the question (not when someone's words are asked for: there a sentence *about*
        # their statement resembles the question more than it does; ordering within each speaker group gained
        # one question of 150 on said_2023 for one more model call an ask, so it is not done)
        if not said_by:
            self._order_by_quote(results, qvec)
            self._order_by_cross_encoder(results, q)
        return Answer(q.text, False, results)

    def speaker_gap(self, q: QuestionInfo, sents: list[Sent]) -> str | None:
        """Why a question asking for someone's words cannot be answered, or None: the archive holds no words
        of theirs (as of the question's time) among the candidates, or none said on the pinned days (the
        reason then names the nearest days they were quoted)."""
        if not q.speakers or q.kind in ("when", "number", "where", "who") or q.subject.startswith("according to ") \
                or q.speakers[0].split()[-1][:1].islower() or q.by_role:
            # "when did X announce ..." asks for a fact, which narrative may give without X's words;
            # a study or agency cited "according to" may be paraphrased, never quoted; a body described
            # ("Florida's emergency management agency") is named in too many ways to be sure it is absent
            return None
        who = q.speakers[0]
        mine = [s for s in sents if s.feats.get("speaker") or s.indirect]
        if not mine:
            n = self._quoted_docs(q)
            if n:
                return f"{who} is quoted in {n} indexed article{'s' if n > 1 else ''}, none about this"
            by = f" published by {q.asked_at.isoformat()}" if q.asked_at else ""
            return f"no words of {who} in the indexed articles{by}"
        if q.dates:
            mine = [s for s in mine if _on_days(s, q.dates)]
            if not mine:
                asked = ", ".join(str(r) for r in q.dates)
                near = self._nearest_days(q)
                tail = f"; nearest: {', '.join(d.isoformat() for d in near)}" if near else ""
                return f"nothing from {who} on {asked}{tail}"
        if self.topic_in_docs(q, mine) < TOPIC_MIN and max(s.feats["dense_sent"] for s in mine) < TOPIC_DENSE:
            n = self._quoted_docs(q)
            return f"{who} is quoted in {n} indexed article{'s' if n != 1 else ''}, none about this"
        return None

    def topic_in_docs(self, q: QuestionInfo, sents: list[Sent]) -> float:
        """How much of the question's topic (IDF-weighted share of `topic_terms`) the best of these sentences'
        documents mention anywhere; 1.0 when the question has no topic beyond its speaker and dates."""
        topic = self.topic_terms(q, asked_speakers(q))
        if not topic:
            return 1.0
        return max((coverage(topic, self._doc_terms(s.chunk.doc)) for s in sents), default=0.0)

    def _doc_terms(self, doc: DocRow) -> set[str]:
        key = (doc.path, doc.content_hash)
        with self._lock:
            found = self._terms.get(key)
        if found is None:
            found = set(terms(doc.text))
            with self._lock:
                if len(self._terms) >= 1024:
                    self._terms.clear()
                self._terms[key] = found
        return found

    def _speaker_chunks(self, names: list[str], asked_at: dt.date | None) -> np.ndarray:
        """Chunk ids holding quotations of these speakers, published by `asked_at`."""
        si = self.speaker_index
        ids = [c for name in names for e in (si.matching(name) if si else []) for c in e.chunks]
        arr = np.asarray(sorted(set(ids)), dtype=np.int64)
        tl = self.timeline
        if tl is not None and asked_at is not None and len(arr):
            arr = arr[tl.published_by(arr, asked_at)]
        return arr

    def _quoted_docs(self, q: QuestionInfo) -> int:
        tl = self.timeline
        return len(tl.paths_of(self._speaker_chunks(q.speakers, q.asked_at))) if tl is not None else 0

    def _nearest_days(self, q: QuestionInfo, n: int = 3) -> list[dt.date]:
        """The publication days of the speaker's quotations closest to the question's days."""
        tl = self.timeline
        ids = self._speaker_chunks(q.speakers, q.asked_at)
        if tl is None or not len(ids) or not q.dates:
            return []
        days = sorted({int(d) for d in tl.day_of(ids) if d})
        mid = q.dates[0].start.toordinal()
        return [dt.date.fromordinal(d) for d in sorted(days, key=lambda d: (abs(d - mid), d))[:n]]

    def _order_by_quote(self, results: list[Result], qvec: np.ndarray) -> None:
        """Put the results in order by score + quote_weight x the cosine of each quote, embedded alone, to the
        question (in place; not when a cross-encoder already ordered them)."""
        if self.embed_quotes is None or self.quote_weight <= 0 or self.cross_encoder is not None or len(results) < 2:
            return
        cos = self.embed_quotes([r.quote for r in results]) @ qvec
        for r, c in zip(results, cos):
            r.score = float(r.score + self.quote_weight * c)
        results.sort(key=lambda r: -r.score)

    def _order_by_cross_encoder(self, results: list[Result], q: QuestionInfo) -> None:
        """With a cross-encoder set, the returned quotes in the order of its scores for them as returned (a quote
        may have grown by a neighbouring sentence, or taken an earlier one's place, since it scored sentences)."""
        if self.cross_encoder is None or len(results) < 2:
            return
        ce = self.cross_encoder.predict([(q.text, r.quote) for r in results], show_progress_bar=False)
        order = np.argsort(-np.asarray(ce, dtype=np.float32), kind="stable")
        results[:] = [results[i] for i in order]

    def _merge_duplicate(self, results: list[Result], r: Result) -> bool:
        """The same words in another document (a syndicated copy): list it as another source."""
        key = _norm(r.quote)
        for other in results:
            if _norm(other.quote) == key:
                if other.path != r.path:
                    other.also_in.append(OtherSource(r.path, r.title, r.source, r.date, r.url, r.start, r.end))
                return True
        return False

    def _quote_span(self, s: Sent, q_terms: dict[str, float], context: bool = True) -> Span:
        info = self.docinfo(s.chunk.doc)
        return quote_span(s.chunk.doc.text, s.span, q_terms, lambda span: bool(self._speaker(info, span)),
                          _same_speaker(info, s.span), context=context, answer_after=s.answer_after)

    def _verified(self, s: Sent, qs: Span, quote: str) -> bool:
        """The verbatim guarantee: the quote is the document's text at its offsets, within the word limit,
        and the passage it came from still hashes to what was indexed (a document text altered after
        indexing is never quoted)."""
        text = s.chunk.doc.text
        ok = (verify_quote(text, quote, qs.start) and len(quote.split()) <= MAX_QUOTE_WORDS
              and chunk_hash(s.chunk.text) == s.chunk.hash)
        if not ok:
            log.error("dropped a quote that failed the verbatim check: %s at %d", s.path, qs.start)
        return ok

    def _result(self, s: Sent, q_terms: dict[str, float], context: bool = True) -> Result | None:
        doc = s.chunk.doc
        text = doc.text
        qs = self._quote_span(s, q_terms, context)
        quote = text[qs.start : qs.end]
        if not self._verified(s, qs, quote):
            return None
        passage = passage_around(text, qs)
        return Result(
            quote=quote,
            passage=text[passage.start : passage.end],
            path=s.path,
            start=qs.start,
            end=qs.end,
            title=doc.title,
            source=doc.source,
            date=doc.date,
            score=s.score,
            url=doc.url,
            passage_start=passage.start,
            passage_end=passage.end,
            speaker=s.speaker or self._speaker(self.docinfo(doc), qs),
            when=s.when,
            said_on=s.said_on.isoformat() if s.said_on else None,
            clipped=len(quote) < s.span.end - s.span.start and not (qs.start <= s.span.start and s.span.end <= qs.end),
            is_comment=any(c.start <= qs.start < c.end for c in doc.comments),
            author=doc.author,
            date_from_file=doc.date_from_file,
        )


_MARK = re.compile(r"\b(?:[A-Z][\w'\u2019-]*|\d[\d,.]*)")


def _marks(text: str) -> set[str]:
    """Capitalized words and numbers (names, places, figures): what an answer usually adds to a question.
    The sentence's first word counts only when it is a number or is capitalized mid-text."""
    return {m.group().rstrip(".,").lower() for m in _MARK.finditer(text) if m.start() > 0 or m.group()[0].isdigit()}


def _relative(sents: list[Sent]) -> None:
    """Per-question relative features: each sentence against the best of the question's sentences."""
    for key, rel in (("dense_sent", "rel_dense"), ("coverage", "rel_coverage"), ("coverage_ctx", "rel_coverage_ctx")):
        vals = np.array([s.feats[key] for s in sents])
        best = vals.max()
        for s, v in zip(sents, vals):
            s.feats[rel] = float(v - best)
    for key, rk in (("dense_sent", "dense_rank"), ("coverage", "coverage_rank")):
        vals = np.array([s.feats[key] for s in sents])
        order = np.argsort(-vals, kind="stable")
        ranks = np.empty(len(vals), dtype=np.int64)
        ranks[order] = np.arange(len(vals))
        for s, r in zip(sents, ranks):
            s.feats[rk] = 1.0 / (1 + float(r))


def _prefer_recent(sents: list[Sent], asked_at: dt.date) -> None:
    """"The new prime minister", "latest": newer evidence first. Each score gains up to one standard deviation of
    the question's scores, halving with every RECENT_HALF_LIFE days of age at the question's time."""
    if len(sents) < 2:
        return
    spread = float(np.std([s.score for s in sents])) or 1.0
    for s in sents:
        if s.said_on is not None:
            age = max(0, (asked_at - s.said_on).days)
            s.score += spread * 0.5 ** (age / RECENT_HALF_LIFE)


def _prefer_quoted(sents: list[Sent]) -> None:
    """"How did X react", "why ..., according to the company": someone's own quoted words answer it better than
    the narrative around them. Sentences mostly inside attributed quotation marks gain QUOTED_WEIGHT standard
    deviations of the question's scores."""
    if len(sents) < 2:
        return
    spread = float(np.std([s.score for s in sents])) or 1.0
    for s in sents:
        if s.quoted_share >= 0.5:
            s.score += QUOTED_WEIGHT * spread


def _fit_type(expected: Expected | None, text: str, span: Span, before: Span | None,
              after: Span | None) -> tuple[float, bool]:
    """`type_fit` of the sentence, or of it with the sentence `before` it when it names its subject only there
    (the quote will include it: "The team has signed ..." after "... the Oakland Athletics"); and whether,
    lacking an answer of the asked type, it is followed by a sentence that holds one ("Super Bowl LVIII has its
    halftime performer." then "... Usher will perform at halftime ..."). The neighbours are the passage's own
    sentences (a whole-document split for every candidate would cost too much)."""
    sent = text[span.start : span.end]
    fit = type_fit(expected, sent)
    if expected is None or fit >= 1.0:
        return fit, False
    start = span.start
    if before is not None and joins_back(text, before, span):
        start = before.start
        fit = max(fit, type_fit(expected, text[start : span.end]))
    if fit >= 1.0:
        return fit, False
    holds = after is not None and type_fit(expected, text[after.start : after.end]) >= 1.0 and \
        joinable(text, Span(start, span.end), after)
    return fit, holds  # the score stays the sentence's own (counting the next one too measured no better)


def _junk(s: Sent) -> bool:
    """The sentence's line is never quoted (`junk.junk_reason`); the headline (first line) always may be."""
    text = s.chunk.doc.text
    line = line_at(text, s.span.start, s.span.end)
    return bool(text.find("\n") < s.span.start and junk_reason(line))


def _asks_back(s: Sent, q_terms: dict[str, float]) -> bool:
    """The sentence is a bare number ("3." split off a numbered line) or a question much like the one asked (a
    quiz page's own question): quoting it would answer nothing."""
    sent = s.chunk.doc.text[s.span.start : s.span.end].strip()
    if not any(ch.isalpha() for ch in sent):
        return True
    return sent.endswith("?") and coverage(q_terms, set(terms(sent))) >= 0.6


def _said_tier(s: Sent) -> int:
    """0: the asked person's quoted words; 1: a sentence quoting a phrase of theirs or their reported speech
    (between those two the score decides: "Lee said he would ..." answers as often as "Lee called it a ...");
    3: anything else."""
    if s.feats.get("speaker"):
        return 0 if s.direct else 1
    return 1 if s.indirect else 3


def _quoted_share(info: DocInfo, span: Span) -> float:
    """The share of the sentence's characters inside attributed quotation marks."""
    inside = sum(max(0, min(span.end, qt.end) - max(span.start, qt.start)) for qt in info.quotations if qt.speaker)
    return inside / max(1, span.end - span.start)


def _quotation_at(info: DocInfo, span: Span) -> Quotation | None:
    """The first attributed quotation overlapping the span."""
    return next((qt for qt in info.quotations if qt.speaker and qt.start < span.end and span.start < qt.end), None)


def _same_speaker(info: DocInfo, span: Span) -> list[Span]:
    """The quotations of whoever is quoted in this sentence, in text order ([] when no one is)."""
    quoted = _quotation_at(info, span)
    return [Span(qt.start, qt.end) for qt in info.quotations if quoted and qt.speaker == quoted.speaker]


def asked_speakers(q: QuestionInfo) -> list[str]:
    """Whose words the question asks for: its subject ("what did X say"), else, for any question asking what was
    said, every name in it."""
    return q.speakers or (q.names if q.asks_said else [])


def _said_on(info: DocInfo, span: Span, published: str | None) -> tuple[dt.date | None, bool]:
    """When the sentence's words were said: a single day the sentence itself gives ("..., White said Monday.",
    resolved against the article's date at index time), else the publication day. A date further away (a
    "Monday" paragraphs earlier) does not date these words."""
    pub = _day(published)
    for d in info.dates:
        if span.start <= d.start < span.end and d.range.start == d.range.end and (pub is None or d.range.end <= pub):
            if pub is None or (pub - d.range.start).days <= 7:
                return d.range.start, True
    return pub, False


def _on_days(s: Sent, ranges: list) -> bool:
    """Were the sentence's words said on one of the question's days? A publication date also counts for the two
    days before it (news reports what was said the day before, or over a weekend)."""
    if s.said_on is None:  # an undated document: its time is unknown, not another day
        return True
    slack = 0 if s.said_exact else 2  # a Saturday signing reported on Monday
    return any(r.start <= s.said_on <= r.end + dt.timedelta(days=slack) for r in ranges)


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _expand(name: str | None, info: DocInfo, text: str, before: int) -> str | None:
    """A surname to the full name the text last gave it before `before` ("Johnson" -> "Cam Johnson"), else the
    one the document's quotations give it ("Turner" -> "Mike Turner")."""
    if not name or " " in name:
        return name
    full = expand_surname(name, speaker_mentions(text), before, bodies=False)
    if full != name:
        return full
    for qt in info.quotations:
        if qt.speaker and qt.speaker.split()[-1].lower() == name.lower():
            return qt.speaker
    return name


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()
