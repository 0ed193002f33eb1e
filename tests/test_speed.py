"""Issue 12's speed work: less work per question, the same answers. (Timings are scripts/benchmark.py's; these
tests check that each saving returns exactly what the slower path did.)"""
from __future__ import annotations

import datetime as dt

import numpy as np

from newsdesk.index import facts, lexical
from newsdesk.index.speaker_index import SpeakerIndex
from newsdesk.index.timeline import Timeline, day_ordinal
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
    pieces = ["Shares of U.S. Steel fell 4% on Monday.", text, "", long, "Shares of U.S. Steel fell 4% on Monday.",
              "The ministry's spokesperson said it would respond."]
    assert lexical.terms_of(pieces) == lexical.tokenize(pieces)


def test_speaker_index_reads_the_stored_quotations_as_the_full_facts_give_them(sample_engine) -> None:
    """The speaker index reads only the speaker, start and role of each stored quotation: the same quotations,
    speakers and roles (and the roles given by name) as the full facts, and "what did X say" reaches the same chunks."""
    store = sample_engine._store()
    for path, data in store.document_facts():
        full = facts.loads(data)
        assert full is not None
        assert facts.attributed(data) == ([(q.speaker, q.start, q.role) for q in full.quotations if q.speaker],
                                          full.roles)
    assert facts.attributed(None) is None and facts.attributed("not json") is None
    index = SpeakerIndex.load(store)
    pompeo = index.matching("Pompeo")
    assert [e.speaker for e in pompeo] == ["Mike Pompeo"] and pompeo[0].chunks


def test_timeline_days_are_each_document_s_date(sample_engine) -> None:
    """The as-of timeline parses each document's date once; every chunk still gets its own document's day."""
    store = sample_engine._store()
    rows = store.chunk_dates()
    tl = Timeline.load(store)
    assert tl.days.tolist() == [day_ordinal(date) for _, date, _ in rows]
    assert tl.ids.tolist() == [cid for cid, _, _ in rows]


def _flat_set(n: int = 24_000, d: int = 48, seed: int = 0):
    """A flat base of clustered unit vectors (some exact duplicates: syndicated copies score equal) and queries."""
    from newsdesk.index import vectors

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d))
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, d))
    x[100:110] = x[5]  # ten copies of one vector
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    base = vectors.new_index(d)
    vectors.add(base, x, list(range(7, 7 + 3 * n, 3)))  # ids are not positions
    q = x[rng.integers(0, n, 25)] + 0.3 * rng.standard_normal((25, d)).astype(np.float32)
    return base, x, np.vstack([x[5:6], q / np.linalg.norm(q, axis=1, keepdims=True)]).astype(np.float32)


def test_two_pass_vector_search_returns_exactly_the_flat_search() -> None:
    """The bf16 copy only picks candidates: ids, scores and their order (equal scores included) are the flat
    index's own, with and without removed ids, at every depth the retriever asks for; where the bf16 scores
    cannot prove the top k, the flat search answers."""
    from newsdesk.index import half_scan, vectors

    base, x, queries = _flat_set()
    ids = faiss_ids(base)
    removed = ids[::7][:600]
    scan = half_scan.for_index(base, wait=True)
    assert scan is not None and scan.max_residual < 2.0 ** -8
    proved = 0
    for vs in (vectors.VectorSet(base), vectors.VectorSet(base, None, removed)):
        for q in queries:
            for k in (1, 10, 30, 240):
                got = vs.search(q, k)
                want_s, want_i = (base.search(q[None], k) if vs._sel is None
                                  else base.search(q[None], k, params=vs._search_params()))
                assert got[0].tolist() == want_i[0].tolist() and got[1].tolist() == want_s[0].tolist()
                proved += vs._half_search(q[None], k) is not None
    assert proved >= 0.9 * 2 * len(queries) * 4  # the copy answered nearly every search itself
    # all scores equal: nothing proves a top 3 from the copy, and the flat search answers
    same = vectors.new_index(8)
    vectors.add(same, np.ones((half_scan.MIN_VECTORS, 8), np.float32) / np.sqrt(8), list(range(half_scan.MIN_VECTORS)))
    q = np.ones(8, np.float32) / np.sqrt(8)
    assert half_scan.for_index(same, wait=True).search(q, 3) is None
    assert vectors.VectorSet(same).search(q, 3)[0].tolist() == same.search(q[None], 3)[1][0].tolist()


def test_vector_search_answers_while_the_copy_is_made_and_after() -> None:
    """The copy is started in the background by the second search (the first, all a one-off ask makes, never
    starts it), searches are answered by the flat index meanwhile and by the copy once it is made, with the
    same results throughout. A changed index drops its copy."""
    from newsdesk.index import half_scan, vectors

    base, x, queries = _flat_set(seed=1)
    vs = vectors.VectorSet(base)
    first = [vs.search(queries[0], 30)]
    assert base not in half_scan._copies and base not in half_scan._building  # one search: no copy started
    first += [vs.search(q, 30) for q in queries[1:]]  # the copy is being made meanwhile
    half_scan.for_index(base, wait=True)
    assert half_scan.for_index(base) is not None
    for q, before in zip(queries, first):
        after = vs.search(q, 30)
        assert after[0].tolist() == before[0].tolist() and after[1].tolist() == before[1].tolist()
    vectors.add(base, x[:1], [1])
    assert half_scan.for_index(base) is None  # made again, of the new vectors, in the background


def faiss_ids(index) -> np.ndarray:
    import faiss

    return faiss.vector_to_array(index.id_map).astype(np.int64)
