"""The incremental BM25 (index/lexical.py): bm25s's rankings and scores, updates, merges and base + delta segments
equal to rebuilds, files."""
from __future__ import annotations

import random
import time

import bm25s
import numpy as np
import pytest

from newsdesk.index.lexical import REMOVED_FILE, LexicalIndex, SegmentedLexical, merge, terms, tokenize

import bench_index  # noqa: E402  (its synthetic news articles)
from tests.samples import FIXTURES  # noqa: E402

QUERIES = [
    "What did the finance minister say about the budget?",
    "dockworkers pay rise harbour strike",
    "flood damage valley evacuated 12 March 2019",
    "Who endorsed the attack on Tripoli?",
    "turnout percent regional election provinces election",  # a repeated term counts twice, as in bm25s
    "the police chief denied any wrongdoing",
    "7",
    "Quillon bridge council vote",
    "spending of 300 million crowns",
    "zzzunknownword",
]


def _chunks() -> list[str]:
    """A few thousand real-ish chunks: paragraphs of synthetic articles and of the sample news texts."""
    out: list[str] = []
    for i in range(160):
        out += [p for p in bench_index.article(i).split("\n\n") if p.strip()]
    for p in sorted(FIXTURES.iterdir()):
        out += [q for q in p.read_text(errors="replace").split("\n") if q.strip()]
    out += ["", "the and of", "The vote is on April 7.", "!!!"]  # empty, stop words only, a number, no word
    return out


@pytest.fixture(scope="module")
def chunks() -> list[str]:
    return _chunks()


def _bm25s_search(bm: bm25s.BM25, ids: np.ndarray, query: str, k: int):
    """What the previous, bm25s-based LexicalIndex.search returned."""
    toks = [t for t in terms(query) if t in bm.vocab_dict]
    if not toks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores = bm.get_scores(toks)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    top = top[scores[top] > 0]
    return ids[top], scores[top].astype(np.float32)


def _assert_same(a: LexicalIndex, b: LexicalIndex, queries=QUERIES, k: int = 30) -> None:
    """Same chunks with the same score for every query (ids compared as sets where scores tie)."""
    for q in queries:
        ia, sa = a.search(q, k)
        ib, sb = b.search(q, k)
        np.testing.assert_array_equal(sa, sb, err_msg=q)
        for s in np.unique(sa):  # rows of equal score may come in another order
            assert set(ia[sa == s]) == set(ib[sb == s]) or len(sa) == k, q
        full_a = dict(zip(a.ids.tolist(), a.scores(terms(q)).tolist()))
        full_b = dict(zip(b.ids.tolist(), b.scores(terms(q)).tolist()))
        assert full_a == full_b, q


def test_rankings_and_scores_equal_bm25s(chunks) -> None:
    assert len(chunks) > 2000
    ids = np.arange(len(chunks), dtype=np.int64) * 3 + 5
    bm = bm25s.BM25()
    bm.index(tokenize(chunks), show_progress=False)
    lex = LexicalIndex.build(chunks, ids)
    assert lex.ids.tolist() == ids.tolist()
    for q in QUERIES + [c for c in random.Random(3).sample(chunks, 20)]:
        got_ids, got = lex.search(q, 30)
        ref_ids, ref = _bm25s_search(bm, ids, q, 30)
        np.testing.assert_array_equal(got, ref, err_msg=q)  # bit for bit
        np.testing.assert_array_equal(got_ids, ref_ids, err_msg=q)
        toks = [t for t in terms(q) if t in bm.vocab_dict]
        if toks:
            np.testing.assert_array_equal(lex.scores(toks), bm.get_scores(toks), err_msg=q)
    assert len(lex.search("zzzunknownword", 30)[0]) == 0
    # idf as before: bm25s's document frequencies
    for t in ["budget", "said", "7", "harbour"]:
        tid = bm.vocab_dict[t]
        df = int(bm.scores["indptr"][tid + 1] - bm.scores["indptr"][tid])
        assert lex.idf(t) == pytest.approx(float(np.log(1 + (len(ids) - df + 0.5) / (df + 0.5))), abs=0)


def test_update_equals_rebuild_and_keeps_the_old_index_valid(chunks) -> None:
    rng = random.Random(11)
    n0 = 1500
    base_texts, later = chunks[:n0], chunks[n0:]
    ids = np.arange(1, n0 + 1, dtype=np.int64)
    old = LexicalIndex.build(base_texts, ids)
    before = {q: old.search(q, 30) for q in QUERIES}

    live = dict(zip(ids.tolist(), base_texts))
    cur, next_id, pos = old, n0 + 1, 0
    for step in range(4):  # removes and adds, like index runs: new ids are always greater
        drop = rng.sample(sorted(live), 120 if step != 2 else 0)
        n_add = 0 if step == 1 else 200
        add_texts = later[pos:pos + n_add]
        pos += n_add
        add_ids = list(range(next_id, next_id + len(add_texts)))
        next_id += len(add_texts)
        cur = cur.update(drop + [10**9], add_texts, add_ids)  # an unknown id is ignored
        for d in drop:
            del live[d]
        live.update(zip(add_ids, add_texts))
        fresh = LexicalIndex.build(list(live.values()), np.array(list(live), dtype=np.int64))
        assert cur.ids.tolist() == fresh.ids.tolist()
        assert sorted(cur.vocab) == sorted(fresh.vocab)  # terms left in no chunk are forgotten
        _assert_same(cur, fresh)
        for t in ["budget", "7", "harbour", "zzz"]:
            assert cur.idf(t) == fresh.idf(t)
    # a removed chunk is never returned; the index the update started from is unchanged
    removed = set(ids.tolist()) - set(live)
    for q in QUERIES:
        assert not removed & set(cur.search(q, 1000)[0].tolist())
        np.testing.assert_array_equal(old.search(q, 30)[0], before[q][0])
        np.testing.assert_array_equal(old.search(q, 30)[1], before[q][1])
    # remove everything, then add again
    empty = cur.update(cur.ids, [], [])
    assert len(empty.ids) == 0 and empty.vocab == [] and len(empty.search("budget", 5)[0]) == 0
    again = empty.update([], chunks[:50], np.arange(50))
    _assert_same(again, LexicalIndex.build(chunks[:50], np.arange(50)))


def test_idf_of_a_term_no_chunk_contains_is_the_highest(chunks) -> None:
    lex = LexicalIndex.build(chunks[:500], np.arange(500))
    top = lex.idf("zzzunknownword")
    assert top == pytest.approx(float(np.log(1 + (500 + 0.5) / 0.5)))
    assert all(lex.idf(t) < top for t in lex.vocab)
    assert LexicalIndex.build([], np.zeros(0)).idf("x") == pytest.approx(float(np.log(2)))


def test_numbers_are_searchable() -> None:
    texts = ["The vote is on April 7.", "The vote is on April 8.", "Nothing here about votes.", "7 7 seven"]
    lex = LexicalIndex.build(texts, np.array([10, 11, 12, 13]))
    assert "7" in terms("April 7")
    ids, scores = lex.search("April 7", 10)
    assert ids[0] == 10 and set(ids.tolist()) == {10, 11, 13}
    assert lex.search("7", 10)[0].tolist()[0] == 13


def test_save_load_round_trip(tmp_path, chunks) -> None:
    lex = LexicalIndex.build(chunks[:800], np.arange(800) + 100)
    lex = lex.update([100, 150, 151], chunks[800:900], np.arange(900, 1000))
    lex.save(tmp_path / "b")
    back = LexicalIndex.load(tmp_path / "b")
    assert back.vocab == lex.vocab
    for name in ("indptr", "rows", "tf", "dl", "ids"):
        np.testing.assert_array_equal(getattr(back, name), getattr(lex, name))
    _assert_same(back, lex)
    # an empty index too
    LexicalIndex.build([], np.zeros(0)).save(tmp_path / "e")
    e = LexicalIndex.load(tmp_path / "e")
    assert len(e.ids) == 0 and e.vocab == [] and len(e.search("budget", 5)[0]) == 0
    # a truncated file is refused
    (tmp_path / "b" / "vocab.txt").write_text("a\nb")
    with pytest.raises(ValueError):
        LexicalIndex.load(tmp_path / "b")


def _postings_by_id(lex: LexicalIndex) -> dict[str, dict[int, int]]:
    """term -> {chunk id: tf}: an index's content, whatever the order of its terms."""
    ids = np.asarray(lex.ids)
    return {t: dict(zip(ids[lex.rows[a:b]].tolist(), lex.tf[a:b].tolist()))
            for t, a, b in zip(lex.vocab, lex.indptr[:-1].tolist(), lex.indptr[1:].tolist())}


def _assert_same_index(got: LexicalIndex, fresh: LexicalIndex) -> None:
    """The same chunks in the same rows, with the same postings (term order aside)."""
    assert got.ids.tolist() == fresh.ids.tolist()
    assert got.dl.tolist() == fresh.dl.tolist()
    assert sorted(got.vocab) == sorted(fresh.vocab)
    assert _postings_by_id(got) == _postings_by_id(fresh)
    assert all(np.all(np.diff(got.rows[a:b]) > 0) for a, b in zip(got.indptr[:-1], got.indptr[1:]))
    _assert_same(got, fresh, k=len(fresh.ids) + 1)


def test_merge_equals_build(chunks) -> None:
    ta, tb = chunks[:1200], chunks[1200:2100]
    ia = np.arange(len(ta), dtype=np.int64) * 2 + 5000  # b's ids below a's: merge must not assume ascending ids
    ib = np.arange(len(tb), dtype=np.int64) * 3
    a, b = LexicalIndex.build(ta, ia), LexicalIndex.build(tb, ib)
    fresh = LexicalIndex.build(ta + tb, np.concatenate([ia, ib]))
    merged = merge(a, b)
    assert len(merged.vocab) > len(a.vocab) and len(merged.vocab) > len(b.vocab)  # both bring terms of their own
    _assert_same_index(merged, fresh)
    assert merged.tf.dtype == fresh.tf.dtype
    for q in QUERIES:  # every hit, not just the top: k covers all chunks
        got_ids, got = merged.search(q, len(fresh.ids))
        ref_ids, ref = fresh.search(q, len(fresh.ids))
        np.testing.assert_array_equal(got, ref, err_msg=q)
        assert sorted(got_ids.tolist()) == sorted(ref_ids.tolist()), q
    # the parts are left as they were, and an empty side is no special case
    _assert_same_index(a, LexicalIndex.build(ta, ia))
    empty = LexicalIndex.build([], np.zeros(0, dtype=np.int64))
    _assert_same_index(merge(empty, b), b)
    _assert_same_index(merge(a, empty), a)
    with pytest.raises(ValueError, match="share chunk ids"):
        merge(a, LexicalIndex.build(["the budget"], ia[7:8]))


def _live_index(live: dict[int, str]) -> LexicalIndex:
    return LexicalIndex.build(list(live.values()), np.array(list(live), dtype=np.int64))


def _assert_equals_rebuild(seg: SegmentedLexical, live: dict[int, str]) -> LexicalIndex:
    """`seg` answers exactly as `LexicalIndex.build` over the live chunks (base minus removed, then delta)."""
    fresh = _live_index(live)
    assert len(seg) == len(fresh.ids) == len(live)
    assert seg.ids.tolist() == fresh.ids.tolist()
    assert seg.avgdl == (fresh.dl.mean() if len(fresh.dl) else 1.0)  # exactly, as float64
    _assert_same(seg, fresh, k=len(live) + 1)
    for q in QUERIES:
        ids, _ = seg.search(q, len(live) + 1)
        assert set(ids.tolist()) <= set(live), q  # removed chunks never come back
    probe = ["budget", "7", "harbour", "zzzunknownword"] + seg.base.vocab[::37] + seg.delta.vocab[::11]
    for t in probe:  # present, absent, and present only in removed chunks
        assert seg.idf(t) == fresh.idf(t), t
    return fresh


@pytest.mark.parametrize("ascending_ids", [True, False])
def test_segmented_updates_equal_rebuild(chunks, ascending_ids) -> None:
    rng = random.Random(5)
    n0 = 1500
    base_ids = np.arange(1, n0 + 1, dtype=np.int64)
    if not ascending_ids:
        base_ids = base_ids[np.random.default_rng(2).permutation(n0)] * 7
    base = LexicalIndex.build(chunks[:n0], base_ids)
    seg = SegmentedLexical.empty_delta(base)
    live = dict(zip(base_ids.tolist(), chunks[:n0]))
    _assert_equals_rebuild(seg, live)
    assert (seg.delta_chunks, seg.removed_chunks) == (0, 0)

    later, pos, next_id = chunks[n0:], 0, 10**6
    in_base = set(base_ids.tolist())
    for step in range(5):
        from_base = rng.sample(sorted(set(live) & in_base), 80)
        from_delta = rng.sample(sorted(set(live) - in_base), min(30, len(set(live) - in_base)))
        n_add = 0 if step == 2 else 150
        add_texts = later[pos:pos + n_add]
        pos += n_add
        add_ids = list(range(next_id, next_id + len(add_texts)))
        next_id += len(add_texts)
        if step == 3:  # an id removed from the base earlier comes back (with another text) in the delta
            back = sorted(in_base - set(live))[0]
            add_texts, add_ids = add_texts + [chunks[-5]], add_ids + [back]
        before = seg
        seg = seg.update(from_base + from_delta + [10**9], add_texts, add_ids)  # an unknown id is ignored
        assert seg.base is before.base  # the base is shared, never copied
        for d in from_base + from_delta:
            del live[d]
        live.update(zip(add_ids, add_texts))
        fresh = _assert_equals_rebuild(seg, live)
        assert seg.delta_chunks == len(set(live) - in_base) + (step >= 3)
        assert seg.removed_chunks == len(in_base - set(live)) + (step >= 3)
    assert seg.delta_chunks and seg.removed_chunks
    _assert_same_index(seg.compact(), fresh)
    # removing a re-added id takes it out of the delta; its base row stays removed
    seg = seg.update([back], [], [])
    del live[back]
    _assert_equals_rebuild(seg, live)
    # an id that is live already cannot be added again
    with pytest.raises(ValueError, match="live chunks of the base"):
        seg.update([], ["x"], [next(iter(set(live) & in_base))])
    with pytest.raises(ValueError):
        seg.update([], ["x", "y"], [10**8])


def test_segmented_update_leaves_the_old_object_valid(chunks) -> None:
    base = LexicalIndex.build(chunks[:800], np.arange(800))
    old = SegmentedLexical.empty_delta(base).update([1, 2, 3], chunks[800:900], np.arange(1000, 1100))
    before = {q: old.search(q, 50) for q in QUERIES}
    idf_before = {t: old.idf(t) for t in ["budget", "harbour", "7"]}
    n, ids = len(old), old.ids.copy()
    new = old.update(list(range(0, 400)) + list(range(1000, 1050)), chunks[900:1000], np.arange(2000, 2100))
    assert len(new) != n and new.search(QUERIES[0], 50)[1].tolist() != before[QUERIES[0]][1].tolist()
    assert len(old) == n and old.ids.tolist() == ids.tolist() and (old.delta_chunks, old.removed_chunks) == (100, 3)
    for q in QUERIES:
        np.testing.assert_array_equal(old.search(q, 50)[0], before[q][0], err_msg=q)
        np.testing.assert_array_equal(old.search(q, 50)[1], before[q][1], err_msg=q)
    assert {t: old.idf(t) for t in idf_before} == idf_before


def test_segmented_save_load_round_trip_over_a_memory_mapped_base(tmp_path, chunks) -> None:
    base_ids = np.arange(1000, dtype=np.int64) + 7
    LexicalIndex.build(chunks[:1000], base_ids).save(tmp_path / "base")
    base = LexicalIndex.load(tmp_path / "base", mmap=True)
    assert isinstance(base.rows, np.memmap) and not base.rows.flags.writeable
    live = dict(zip(base_ids.tolist(), chunks[:1000]))
    seg = SegmentedLexical.empty_delta(base).update(base_ids[::9], chunks[1000:1200], np.arange(5000, 5200))
    for d in base_ids[::9].tolist():
        del live[d]
    live.update(zip(range(5000, 5200), chunks[1000:1200]))
    _assert_equals_rebuild(seg, live)

    seg.save(tmp_path / "delta")
    names = sorted(p.name for p in (tmp_path / "delta").iterdir())
    assert names == sorted(["indptr.npy", "rows.npy", "tf.npy", "dl.npy", "ids.npy", "vocab.txt", REMOVED_FILE])
    assert len(np.load(tmp_path / "delta" / "ids.npy")) == 200  # the delta only, not the base
    back = SegmentedLexical.load(tmp_path / "delta", base=base)
    assert (back.delta_chunks, back.removed_chunks) == (200, len(base_ids[::9]))
    for q in QUERIES:
        for a, b in zip(back.search(q, 40), seg.search(q, 40)):
            np.testing.assert_array_equal(a, b, err_msg=q)
    _assert_equals_rebuild(back, live)
    # updating and compacting over the memory-mapped base works and equals the rebuild
    back = back.update([8, 5000], chunks[1200:1210], np.arange(6000, 6010))
    del live[8], live[5000]
    live.update(zip(range(6000, 6010), chunks[1200:1210]))
    _assert_same_index(back.compact(), _assert_equals_rebuild(back, live))
    # LexicalIndex.update on a memory-mapped index too
    _assert_same_index(base.update([8, 9], chunks[1300:1310], np.arange(7000, 7010)),
                       LexicalIndex.build(chunks[:1000], base_ids).update([8, 9], chunks[1300:1310],
                                                                          np.arange(7000, 7010)))

    # a removed id the base does not hold, or a delta chunk that is also a live base chunk, is refused
    np.save(tmp_path / "delta" / REMOVED_FILE, np.array([7, 123456], dtype=np.int64))
    with pytest.raises(ValueError, match="not in the base"):
        SegmentedLexical.load(tmp_path / "delta", base=base)
    np.save(tmp_path / "delta" / REMOVED_FILE, np.zeros(0, dtype=np.int64))
    LexicalIndex.build(["the budget"], [8]).save(tmp_path / "delta")
    with pytest.raises(ValueError, match="live chunks of the base"):
        SegmentedLexical.load(tmp_path / "delta", base=base)
    # an empty index and an empty delta round-trip, memory-mapped or not
    empty = SegmentedLexical.empty_delta(LexicalIndex.build([], np.zeros(0, dtype=np.int64)))
    empty.base.save(tmp_path / "e")
    empty.save(tmp_path / "ed")
    for mmap in (False, True):
        e = SegmentedLexical.load(tmp_path / "ed", base=LexicalIndex.load(tmp_path / "e", mmap=mmap), mmap=mmap)
        assert len(e) == 0 and e.base.vocab == [] and len(e.search("budget", 5)[0]) == 0


def test_segmented_edge_cases(chunks) -> None:
    # an empty base: the delta alone
    empty = LexicalIndex.build([], np.zeros(0, dtype=np.int64))
    seg = SegmentedLexical.empty_delta(empty)
    assert len(seg) == 0 and len(seg.search("budget", 5)[0]) == 0 and seg.idf("budget") == pytest.approx(np.log(2))
    live = dict(zip(range(300), chunks[:300]))
    _assert_equals_rebuild(seg.update([], chunks[:300], np.arange(300)), live)

    # a query whose terms only occur in removed base chunks finds nothing, and its terms are as if unknown
    base = LexicalIndex.build(chunks[:600], np.arange(600))
    seg = SegmentedLexical.empty_delta(base)
    rare = next(t for t, a, b in zip(base.vocab, base.indptr[:-1], base.indptr[1:]) if b - a == 2 and t.isalpha())
    holders = base.ids[base.rows[base.indptr[base.vocab_dict[rare]]:base.indptr[base.vocab_dict[rare] + 1]]]
    assert len(seg.search(rare, 10)[0]) == 2
    gone = seg.update(holders, [], [])
    assert len(gone.search(rare, 10)[0]) == 0 and len(gone.search(f"{rare} zzzunknownword", 10)[0]) == 0
    assert gone.idf(rare) == gone.idf("zzzunknownword") == pytest.approx(float(np.log(1 + 598.5 / 0.5)))
    assert seg.idf(rare) < gone.idf(rare)

    # every base chunk removed: the delta alone; then nothing at all
    seg = seg.update(np.arange(600), chunks[600:700], np.arange(1000, 1100))
    assert (len(seg), seg.removed_chunks, seg.delta_chunks) == (100, 600, 100)
    live = dict(zip(range(1000, 1100), chunks[600:700]))
    _assert_same_index(seg.compact(), _assert_equals_rebuild(seg, live))
    none = seg.update(range(1000, 1100), [], [])
    assert len(none) == 0 and none.ids.tolist() == [] and none.avgdl == 1.0
    for q in QUERIES:
        assert len(none.search(q, 10)[0]) == 0
    assert none.idf("budget") == pytest.approx(np.log(2))
    c = none.compact()
    assert len(c.ids) == 0 and c.vocab == [] and len(c.indptr) == 1
    # and adding again after that
    _assert_equals_rebuild(none.update([], chunks[:50], np.arange(2000, 2050)),
                           dict(zip(range(2000, 2050), chunks[:50])))


# --- the indexer's incremental path (a stand-in embedder: no model needed) ------------------------------------------
def _engine(tmp_path):
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings
    from tests.fakes import FakeEmbedder

    s = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False)
    return Engine(s, embedder=FakeEmbedder())


def _bm25_of_current_generation(tmp_path) -> tuple[SegmentedLexical, LexicalIndex]:
    """The current generation's BM25 (base + delta), and a BM25 built from scratch over the committed chunks."""
    from newsdesk.index.store import Store

    store = Store(tmp_path / "data")
    try:
        snap = store.snapshot()
        rows = store.conn.execute(
            "SELECT chunks.id, substr(documents.text, chunks.start + 1, chunks.end - chunks.start) "
            "FROM chunks JOIN documents ON documents.path = chunks.path ORDER BY chunks.id").fetchall()
        fresh = LexicalIndex.build([t for _, t in rows], np.array([i for i, _ in rows], dtype=np.int64))
        got = SegmentedLexical.load(snap.delta_path, base=LexicalIndex.load(snap.bm25_path, mmap=True))
        return got, fresh
    finally:
        store.close()


def test_index_runs_update_bm25_stat_skip_and_forget_dropped_embeddings(tmp_path, monkeypatch) -> None:
    import os
    import sqlite3

    import newsdesk.index.indexer as ix
    from newsdesk.index.errors import IndexDamaged

    # a file's ctime can't be set back, so trust even a just-written stat (the edits below are seconds apart)
    monkeypatch.setattr(ix, "MTIME_TRUST_NS", 0)

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"a{i}.txt").write_text(bench_index.article(i))
    old = time.time() - 60
    for p in corpus.iterdir():
        os.utime(p, (old, old))  # not "too recent": the stat is trusted
    eng = _engine(tmp_path)
    assert eng.index().added == 6
    db = sqlite3.connect(tmp_path / "data" / "newsdesk.sqlite")
    assert db.execute("SELECT COUNT(*) FROM documents WHERE mtime_ns IS NULL").fetchone()[0] == 0

    # add one, change one, delete one: the BM25 files equal a build from scratch; the old generation is intact
    (corpus / "new.txt").write_text(bench_index.article(100))
    (corpus / "a1.txt").write_text(bench_index.article(101))
    gone = {r[0] for r in db.execute("SELECT hash FROM chunks WHERE path='a2.txt'")}
    (corpus / "a2.txt").unlink()
    rep = eng.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (1, 1, 1, 4)
    got, fresh = _bm25_of_current_generation(tmp_path)
    assert sorted(got.ids.tolist()) == fresh.ids.tolist()
    _assert_same(got, fresh)
    _assert_same(got.compact(), fresh)
    # the deleted article's chunk vectors are forgotten
    assert not gone & {r[0] for r in db.execute("SELECT hash FROM embeddings")}
    assert db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == \
        db.execute("SELECT COUNT(DISTINCT hash) FROM chunks").fetchone()[0]

    # an edit that keeps the size and puts the mtime back is still seen: the ctime moved
    p = corpus / "a3.txt"
    st = p.stat()
    text = p.read_text()
    p.write_text(text.replace("the", "thy", 1))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size
    rep = eng.index()
    assert rep.updated == 1 and rep.unchanged == 5 and rep.chunks_embedded > 0
    assert rep.chunks_embedded < 6  # only a3's changed chunk(s)
    # touched, not changed: unchanged, and the new stat is remembered
    os.utime(p, (old + 5, old + 5))
    assert eng.index().unchanged == 6
    assert db.execute("SELECT mtime_ns FROM documents WHERE path='a3.txt'").fetchone()[0] == p.stat().st_mtime_ns

    # an index of the previous format: readers are told to rebuild, the next index run rebuilds it
    db.execute("UPDATE meta SET value='1' WHERE key='format_version'")
    db.commit()
    with pytest.raises(IndexDamaged, match="newsdesk index --rebuild"):
        _engine(tmp_path).ask("What did the finance minister say about the budget?")
    assert eng.index().updated == 6
    assert _engine(tmp_path).ask("What did the finance minister say about the budget?") is not None
    db.close()


def test_remembered_checksums_still_see_any_write(tmp_path) -> None:
    import os

    from newsdesk.index.store import dir_sha256, file_sha256

    p = tmp_path / "d" / "f.npy"
    p.parent.mkdir()
    p.write_bytes(b"a" * 5000)
    first = file_sha256(p)
    assert file_sha256(p) == first and dir_sha256(p.parent) == dir_sha256(p.parent)
    st = p.stat()
    time.sleep(0.05)  # file times tick in jiffies: a write in the same tick as the hashed one could look unchanged
    p.write_bytes(b"a" * 2500 + b"b" + b"a" * 2499)  # same size, then the same mtime: the ctime still moves
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_sha256(p) != first
    p.unlink()
    p.write_bytes(b"a" * 5000)  # replaced: another inode (or ctime)
    assert file_sha256(p) == first


def test_dotted_abbreviations_match_their_plain_spelling() -> None:
    texts = ["The U.N. envoy met rebel leaders in Tripoli.", "The union envoy met the strikers in Leeds.",
             "An envoy of the U.K. flew to Benghazi."]
    lex = LexicalIndex.build(texts, np.arange(3, dtype=np.int64))
    ids, scores = lex.search("Which UN envoy met rebel leaders?", 3)
    assert ids[0] == 0 and scores[0] > scores[1]
    assert lex.search("UK envoy", 1)[0].tolist() == [2]
    assert terms("U.N.") == terms("UN") and terms("e.g. 5 p.m.") == terms("eg 5 pm")
