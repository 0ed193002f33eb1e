"""The incremental BM25 (index/lexical.py): bm25s's rankings and scores, updates equal to rebuilds, files."""
from __future__ import annotations

import random
import time
import sys
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.lexical import LexicalIndex, terms, tokenize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_index  # noqa: E402  (its synthetic news articles)

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
    for p in sorted((ROOT / "tests" / "fixtures" / "docs").iterdir()) + sorted((ROOT / "corpus").glob("*.txt")):
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


# --- the indexer's incremental path (a stand-in embedder: no model needed) ------------------------------------------
def _engine(tmp_path):
    from index.engine import Engine
    from index.settings import DEFAULT_MODEL, Settings

    s = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False)
    return Engine(s, embedder=bench_index.SyntheticEmbedder(384, DEFAULT_MODEL))


def _bm25_of_current_generation(tmp_path) -> tuple[LexicalIndex, LexicalIndex]:
    """The current generation's BM25 files, and a BM25 built from scratch over the committed chunks."""
    from index.store import Store

    store = Store(tmp_path / "data")
    try:
        snap = store.snapshot()
        fresh = LexicalIndex.build([snap.chunk_text(i) for i in range(len(snap.chunk_ids))], snap.chunk_ids)
        return LexicalIndex.load(snap.bm25_path), fresh
    finally:
        store.close()


def test_index_runs_update_bm25_stat_skip_and_forget_dropped_embeddings(tmp_path) -> None:
    import os
    import sqlite3

    from index.store import IndexDamaged

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
    assert got.ids.tolist() == fresh.ids.tolist() and sorted(got.vocab) == sorted(fresh.vocab)
    _assert_same(got, fresh)
    # the deleted article's chunk vectors are forgotten
    assert not gone & {r[0] for r in db.execute("SELECT hash FROM embeddings")}
    assert db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == \
        db.execute("SELECT COUNT(DISTINCT hash) FROM chunks").fetchone()[0]

    # same size and mtime: not read again (an edit that keeps both goes unnoticed until --rebuild)
    p = corpus / "a3.txt"
    st = p.stat()
    text = p.read_text()
    p.write_text(text.replace("the", "thy", 1))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size
    rep = eng.index()
    assert rep.unchanged == 6 and rep.updated == 0
    rep = eng.index(rebuild=True)
    assert rep.updated == 6 and rep.chunks_embedded > 0  # a3's changed chunk
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

    from index.store import dir_sha256, file_sha256

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
