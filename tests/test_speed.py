"""Issue 12's speed work: less work per question, the same answers. (Timings are scripts/benchmark.py's; these
tests check that each saving returns exactly what the slower path did.)"""
from __future__ import annotations

import datetime as dt

import numpy as np

from newsdesk.index import facts, lexical
from newsdesk.index.speaker_index import SpeakerIndex
from newsdesk.index.timeline import Timeline, _ordinal
from newsdesk.index.vector_cache import TextVectors


def test_asking_again_embeds_only_the_question_and_answers_the_same(sample_engine, monkeypatch) -> None:
    """The returned quotes' own vectors (the final ordering) are remembered: the same question again runs the
    model on the question alone, and its answer is the same, quote for quote and score for score."""
    q, asked = "Who endorsed the attack on Tripoli?", dt.date(2019, 4, 22)
    first = sample_engine.ask(q, asked_at=asked)
    assert len(first.results) >= 2 and not first.abstained
    embedded: list[str] = []
    real = sample_engine.embedder.encode

    def counting(texts, **kw):
        embedded.extend(texts)
        return real(texts, **kw)

    monkeypatch.setattr(sample_engine.embedder, "encode", counting)
    again = sample_engine.ask(q, asked_at=asked)
    assert embedded == [q]
    assert [(r.path, r.start, r.end, r.quote, r.score) for r in again.results] == \
        [(r.path, r.start, r.end, r.quote, r.score) for r in first.results]


def test_remembered_vectors_are_the_model_s_own(embedder) -> None:
    """Only texts not seen lately go to the model (once each, in their order); every vector equals the text
    embedded alone."""
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return embedder.encode(texts, batch_size=max(1, len(texts)))

    cache = TextVectors(encode, size=2)
    a, b, c = "The minister resigned on Tuesday.", "Floods closed the bridge.", "Shares fell 4%."
    first = cache.get([a, b, a])
    second = cache.get([b, c])
    assert calls == [[a, b], [c]]
    for text, vec in [(a, first[0]), (b, first[1]), (a, first[2]), (b, second[0]), (c, second[1])]:
        assert np.array_equal(vec, embedder.encode([text])[0])
    cache.get([a])  # the map holds two texts: a was the least recently used, so it is embedded again
    assert calls[-1] == [a]


def test_terms_are_remembered_without_sharing_the_list() -> None:
    """`terms` gives the BM25 analysis of a text, the same on every call, whatever a caller did to the last list;
    long texts are analysed afresh the same way."""
    text = "What did the U.N. envoy say about the ceasefire in Tripoli on April 7?"
    want = lexical.tokenize([text])[0]
    got = lexical.terms(text)
    assert got == want and "un" in got
    got.append("changed")
    assert lexical.terms(text) == want
    long = " ".join([text] * 30)
    assert len(long) > lexical.MEMO_CHARS and lexical.terms(long) == lexical.tokenize([long])[0]


def test_speaker_index_reads_the_stored_quotations_as_the_full_facts_give_them(sample_engine) -> None:
    """The speaker index reads only the speaker, start and role of each stored quotation: the same quotations,
    speakers and roles as the full facts, and "what did X say" reaches the same chunks."""
    store = sample_engine._store()
    for path, data in store.document_facts():
        full = facts.loads(data)
        assert full is not None
        assert facts.attributed(data) == [(q.speaker, q.start, q.role) for q in full.quotations if q.speaker]
    assert facts.attributed(None) is None and facts.attributed("not json") is None
    index = SpeakerIndex.load(store)
    pompeo = index.matching("Pompeo")
    assert [e.speaker for e in pompeo] == ["Mike Pompeo"] and pompeo[0].chunks


def test_timeline_days_are_each_document_s_date(sample_engine) -> None:
    """The as-of timeline parses each document's date once; every chunk still gets its own document's day."""
    store = sample_engine._store()
    rows = store.chunk_dates()
    tl = Timeline.load(store)
    assert tl.days.tolist() == [_ordinal(date) for _, date, _ in rows]
    assert tl.ids.tolist() == [cid for cid, _, _ in rows]
