"""Scale features (issue 6), as behaviour, not timing: the int8 embedding backend against full precision, the
approximate (IVF) vector index against exact search, deletes, type changes by size, and memory-mapped loading."""
from __future__ import annotations


import numpy as np
import pytest

from newsdesk.index import vectors
from newsdesk.index.chunking import chunk_spans
from newsdesk.index.sentences import split_sentences
from tests.samples import SAMPLE_FILES, copy_samples



def _sample_chunks() -> tuple[list[str], list[list[tuple[int, int]]]]:
    texts = []
    for p in SAMPLE_FILES:
        t = p.read_text()
        texts += [t[s.start : s.end] for s in chunk_spans(t)]
    return texts, [[(s.start, s.end) for s in split_sentences(t)] for t in texts]


def _sample_sentences() -> list[str]:
    out = []
    for p in SAMPLE_FILES:
        t = p.read_text()
        out += [t[s.start : s.end] for s in split_sentences(t) if len(t[s.start : s.end].split()) >= 5]
    return out


@pytest.fixture(scope="module")
def fp32_embedder():
    """The full-precision reference (the default backend may be int8)."""
    from newsdesk.index.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2", "cpu", backend="torch", gpu_batch_size=1)


@pytest.fixture(scope="module")
def int8_embedder(tmp_path_factory):
    from newsdesk.index.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2", "cpu", backend="onnx-int8", cache=tmp_path_factory.mktemp("models"),
                    gpu_batch_size=1)


# --- int8 backend ---------------------------------------------------------------------------------------------------
def test_int8_build_is_cached_by_model_name(int8_embedder):
    from newsdesk.index.onnx_backend import MANIFEST, cache_dir, is_built

    folder = int8_embedder._impl.model.folder  # noqa: SLF001
    assert is_built(folder) and (folder / MANIFEST).is_file()
    assert folder == cache_dir("all-MiniLM-L6-v2", folder.parent)
    assert cache_dir("other-model", folder.parent) != folder
    assert int8_embedder.backend == "onnx-int8" and int8_embedder.dim == 384 and int8_embedder.name == "all-MiniLM-L6-v2"


def test_int8_vectors_close_to_full_precision(fp32_embedder, int8_embedder):
    assert fp32_embedder.backend == "torch"
    sents = _sample_sentences()[:12] + ["What did Pompeo say on April 7?", "Who met Trump on April 9?"]
    a, b = fp32_embedder.encode(sents), int8_embedder.encode(sents)
    assert a.shape == b.shape == (len(sents), 384) and b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-4)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.98, cos
    q = int8_embedder.encode_query(sents[-1])
    assert q.shape == (384,) and float(q @ a[-1]) > 0.98


def test_int8_sentence_vectors_have_the_same_semantics(fp32_embedder, int8_embedder):
    texts, spans = _sample_chunks()
    texts, spans = texts[:4], spans[:4]
    spans[0] = spans[0] + [(len(texts[0]) + 10, len(texts[0]) + 20)]  # a span past the text: zero vector
    fc, fs = fp32_embedder.encode_chunks(texts, spans)
    ic, isv = int8_embedder.encode_chunks(texts, spans)
    assert fc.shape == ic.shape == (4, 384)
    assert ((fc * ic).sum(axis=1) > 0.98).all()
    assert len(isv) == len(fs) == 4
    for f, i, sp in zip(fs, isv, spans):
        assert f.shape == i.shape == (len(sp), 384) and i.dtype == np.float32
        fz, iz = np.linalg.norm(f, axis=1) == 0, np.linalg.norm(i, axis=1) == 0
        assert (fz == iz).all()  # the same sentences get no vector
        assert ((f * i).sum(axis=1)[~fz] > 0.97).all()
    assert np.linalg.norm(isv[0][-1]) == 0
    # A sentence vector is a span of the chunk's own tokens: closer to its chunk than to another chunk.
    assert float(isv[1][1] @ ic[1]) > float(isv[1][1] @ ic[3])


def test_threaded_int8_path_matches_the_serial_one(int8_embedder):
    from newsdesk.index.embedding import set_threads

    texts, spans = _sample_chunks()
    set_threads(1)
    c1, s1 = int8_embedder.encode_chunks(texts, spans)
    set_threads(2)
    try:
        c2, s2 = int8_embedder.encode_chunks(texts, spans)
    finally:
        set_threads(1)
    assert np.allclose(c1, c2, atol=2e-3)
    assert all(np.allclose(a, b, atol=2e-3) for a, b in zip(s1, s2))


def test_auto_backend_is_int8_on_a_cpu_machine(tmp_path, monkeypatch):
    from newsdesk.index import embedding

    monkeypatch.setattr(embedding, "cuda_available", lambda: False)
    e = embedding.Embedder("all-MiniLM-L6-v2", backend="auto", cache=tmp_path, gpu_batch_size=1)
    assert e.backend == "onnx-int8" and e.device == "cpu"


def test_unknown_backend_is_refused():
    from newsdesk.index.embedding import Embedder

    with pytest.raises(ValueError, match="unknown embedding backend"):
        Embedder("all-MiniLM-L6-v2", backend="tpu", gpu_batch_size=1)


# --- approximate index ----------------------------------------------------------------------------------------------
class _S:
    exact_max_chunks = 500
    ivf_nprobe = 0


@pytest.fixture(scope="module")
def real_set(embedder):
    """~3k vectors near real MiniLM vectors of the sample articles' sentences, and real question vectors."""
    sents = _sample_sentences()
    base = embedder.encode(sents)
    rng = np.random.default_rng(0)
    x = base[rng.integers(0, len(base), 3000)]
    x = x + rng.standard_normal(x.shape).astype(np.float32) * 0.03
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    x[: len(base)] = base
    queries = embedder.encode(["What did Pompeo say?", "Who supported Haftar's attack on Tripoli?",
                               "What did the White House statement say?", "the UN-backed government"] + sents[:20])
    return x, queries


def test_ivf_returns_the_exact_top_hits(real_set):
    x, queries = real_set
    ids = list(range(1000, 1000 + len(x)))
    exact = vectors.choose_index(len(x), 384, type("S", (), {"exact_max_chunks": 10**9})())
    approx = vectors.choose_index(len(x), 384, _S())
    assert vectors.kind(exact) == "flat" and vectors.kind(approx).startswith("ivf")
    vectors.add(exact, x, ids)
    vectors.add(approx, x, ids)
    hits = []
    for q in queries:
        e_ids, e_sc = vectors.search(exact, q, 10)
        a_ids, a_sc = vectors.search(approx, q, 10)
        assert a_ids[0] == e_ids[0] and abs(a_sc[0] - e_sc[0]) < 1e-5
        hits.append(len(set(a_ids) & set(e_ids)) / 10)
    assert np.mean(hits) >= 0.95


def test_ivf_supports_remove_and_add(real_set):
    x, queries = real_set
    idx = vectors.choose_index(len(x), 384, _S())
    vectors.add(idx, x, list(range(len(x))))
    top, _ = vectors.search(idx, queries[0], 5)
    vectors.remove(idx, [int(i) for i in top])
    assert idx.ntotal == len(x) - 5
    again, _ = vectors.search(idx, queries[0], 10)
    assert not set(again) & set(top)
    vectors.add(idx, x[top], [50_000 + int(i) for i in top])
    back, _ = vectors.search(idx, queries[0], 5)
    assert set(back) == {50_000 + int(i) for i in top}


def test_maintain_changes_type_by_size(real_set):
    x, _ = real_set
    small = vectors.new_index(384)
    vectors.add(small, x[:400], list(range(400)))
    assert vectors.maintain(small, _S()) is small
    vectors.add(small, x[400:], list(range(400, len(x))))
    big = vectors.maintain(small, _S())
    assert vectors.kind(big).startswith("ivf") and big.ntotal == len(x)
    ids, vecs = vectors.all_vectors(big)
    assert sorted(ids.tolist()) == list(range(len(x)))
    assert np.allclose(vecs[np.argsort(ids)], x)
    vectors.remove(big, list(range(300, len(x))))
    assert vectors.kind(vectors.maintain(big, _S())) == "flat"


def test_memory_mapped_index_answers_and_is_read_only(real_set, tmp_path):
    x, queries = real_set
    for settings in (_S(), type("S", (), {"exact_max_chunks": 10**9})()):
        idx = vectors.choose_index(len(x), 384, settings)
        vectors.add(idx, x, list(range(len(x))))
        path = tmp_path / f"{vectors.kind(idx)}.faiss"
        vectors.save(idx, path)
        mapped = vectors.load(path)
        assert mapped.ntotal == len(x) and vectors.kind(mapped) == vectors.kind(idx)
        for q in queries[:5]:
            assert vectors.search(mapped, q, 10)[0].tolist() == vectors.search(idx, q, 10)[0].tolist()
        with pytest.raises(ValueError, match="memory-mapped"):
            vectors.remove(mapped, [1])
        with pytest.raises(ValueError, match="memory-mapped"):
            vectors.add(mapped, x[:1], [10**7])
        writable = vectors.load(path, mmap=False)
        vectors.remove(writable, [0])
        assert writable.ntotal == len(x) - 1


def test_engine_on_an_ivf_index_answers_adds_and_deletes(tmp_path, embedder):
    """Through the real indexer and engine: an IVF index from the first commit (threshold 0), memory-mapped by
    the engine, updated incrementally by adding and deleting an article."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    copy_samples(tmp_path / "corpus")
    s = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False,
                 exact_max_chunks=0)
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    view = eng._refresh(force=False)  # noqa: SLF001
    assert vectors.kind(view.retriever.index).startswith("ivf")
    ans = eng.ask("What did Pompeo say on April 7?")
    assert ans.results and not ans.abstained
    extra = "Flood in Tarnow\n\nThe river Vistula flooded the old town of Tarnow on Monday, the mayor said.\n"
    (tmp_path / "corpus" / "flood.txt").write_text(extra)
    rep = eng.index(progress=False)
    assert rep.added == 1
    assert any(r.path == "flood.txt" for r in eng.ask("Which river flooded Tarnow?").results)
    (tmp_path / "corpus" / "flood.txt").unlink()
    assert eng.index(progress=False).removed == 1
    assert not any(r.path == "flood.txt" for r in eng.ask("Which river flooded Tarnow?").results)


# --- the GPU feed (tokenizing worker processes), exercised on the CPU -------------------------------------------------
def test_worker_process_feed_gives_the_vectors_of_the_serial_path(fp32_embedder):
    """On a GPU, batches are tokenized by worker processes and sentences are found from per-token sentence
    indexes; run here on the CPU (pool_workers), it must give the serial path's chunk and sentence vectors."""
    texts, spans = _sample_chunks()
    spans[0] = spans[0] + [(len(texts[0]) + 10, len(texts[0]) + 20)]  # a span past the text: zero vector
    c1, s1 = fp32_embedder.encode_chunks(texts, spans, batch_size=4)
    fp32_embedder.pool_workers = 2
    try:
        assert fp32_embedder.block_size(4, 256) == 256 and fp32_embedder.block_size(512, 256) == 32 * 512
        c2, s2 = fp32_embedder.encode_chunks(texts, spans, batch_size=4)
        assert fp32_embedder._pool_size == 2  # noqa: SLF001 - the workers did the tokenizing
    finally:
        fp32_embedder.close()
        fp32_embedder.pool_workers = 0
    assert len(texts) > 2 * 4 and np.allclose(c1, c2, atol=1e-4)  # several batches
    assert all(a.shape == b.shape and np.allclose(a, b, atol=1e-4) for a, b in zip(s1, s2))
    assert np.linalg.norm(s2[0][-1]) == 0 and (np.linalg.norm(s2[1], axis=1) > 0.99).all()


def test_offset_free_token_feed_matches_the_tokenizer_with_offsets(fp32_embedder):
    """The GPU feed's workers tokenize BERT-style models without character offsets (index/token_feed.py): per
    character normalization and one marked piece per sentence. Ids, attention mask and each token's sentence
    must equal what the tokenizer with offsets gives, on news text and on text chosen to break it."""
    from newsdesk.index.token_feed import SentenceTokens

    tok_json, max_len = fp32_embedder.tokenizer.backend_tokenizer.to_str(), fp32_embedder.max_length
    fast, slow = SentenceTokens(tok_json, max_len), SentenceTokens(tok_json, max_len)
    slow.fast = False  # always the offsets path
    texts, spans = _sample_chunks()
    assert fast.fast and all(fast._marked(t, s) is not None for t, s in zip(texts, spans))  # noqa: SLF001
    tricky = [
        ("Café owners in Zürich and Ó’Brien’s “naïve” crew met at 9 a.m.; ΟΔΥΣΣΕΥΣ said so.", None),
        ("The 中国 delegation left.\tA bell\x07 rang\x0c twice\u00a0then stopped. e\u0301 and 👍 too.", None),
        ("He typed [MASK] into the form. Nobody answered.", None),  # a special token's text: offsets path
        ("abcdef ghi", [(0, 3), (3, 10)]),  # a sentence boundary inside a word: offsets path
        ("(AP) — Officials said on Monday. They left.", [(7, 32), (33, 43)]),  # text before the first sentence
        ("One sentence here. Two here.", [(19, 28), (0, 18), (40, 50)]),  # unsorted, and a span past the end
        ("x" * 150 + " is a long word. " + "Word " * 400, None),  # [UNK] and truncation at the model limit
        ("ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ said “hello” — twice.", None),  # capital sigmas: str.lower would differ
        ("İstanbul’s mayor spoke.", None),
    ]
    for text, sp in tricky:
        if sp is None:
            from newsdesk.index.sentences import split_sentences

            sp = [(s.start, s.end) for s in split_sentences(text)]
        texts.append(text)
        spans.append(sp)
    for i in range(0, len(texts), 5):
        got, want = fast.prepare(texts[i : i + 5], spans[i : i + 5]), slow.prepare(texts[i : i + 5], spans[i : i + 5])
        for g, w in zip(got, want):
            assert g.shape == w.shape and (g == w).all()
    assert fast._marked(tricky[2][0], [(0, 30)]) is None and fast._marked("abcdef ghi", [(0, 3), (3, 10)]) is None  # noqa: SLF001
    assert fast._marked(tricky[0][0], [(0, 21), (22, len(tricky[0][0]))]) is not None  # accents and curly quotes stay on the fast path  # noqa: SLF001


def test_offset_free_token_feed_matches_on_random_multilingual_text(fp32_embedder):
    """A seeded fuzz: words of Latin, accented, Greek, Cyrillic and CJK letters, punctuation, emoji, combining
    marks, control characters and odd spaces, split into sentences as the indexer does. Same arrays either way,
    and most texts take the fast path."""
    import random

    from newsdesk.index.sentences import split_sentences
    from newsdesk.index.token_feed import SentenceTokens

    tok_json, max_len = fp32_embedder.tokenizer.backend_tokenizer.to_str(), fp32_embedder.max_length
    fast, slow = SentenceTokens(tok_json, max_len), SentenceTokens(tok_json, max_len)
    slow.fast = False
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 6
            + list(".,;:!?\"'()-—–“”‘’…/&%$#@*[]{}") + list("éèêëÉÓóñÑüÜöÖäÄçÇßẞøØåÅıİ") + list("ΑΒΓΔΣσςαβγΩω")
            + list("АБВабвЖж") + list("中国人日本語한국어")
            + ["\u0301", "\u0308", "\u00a0", "\u2009", "\u3000", "\u200b", "\u200d", "\ufeff", "\x07", "\x0b",
               "\x0c", "\x1c", "\x7f", "\t", "\r", "\ufffd", "😀", "👍🏽", "ﬁ", "Ⅻ", "①", "™", "©", "°", "€"])
    rng = random.Random(1)
    texts, spans = [], []
    for _ in range(300):
        words = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(5, 80))]
        text = " ".join(w + (rng.choice([".", "!", "?", '."', ".”"]) if rng.random() < 0.12 else "") for w in words)
        texts.append(text)
        spans.append([(s.start, s.end) for s in split_sentences(text)])
    for i in range(0, len(texts), 25):
        got, want = fast.prepare(texts[i : i + 25], spans[i : i + 25]), slow.prepare(texts[i : i + 25], spans[i : i + 25])
        for g, w in zip(got, want):
            assert g.shape == w.shape and (g == w).all()
    assert sum(fast._marked(t, s) is not None for t, s in zip(texts, spans)) > 0.9 * len(texts)  # noqa: SLF001


def test_int8_backend_tokenizer_matches_hugging_face_without_importing_it(int8_embedder):
    """The int8 backend tokenizes with the `tokenizers` library alone (no transformers, so no torch at query
    time); ids, attention mask and offsets equal the Hugging Face tokenizer's, padding and truncation included."""
    from transformers import AutoTokenizer

    folder = int8_embedder._impl.model.folder  # noqa: SLF001
    hf, ours = AutoTokenizer.from_pretrained(str(folder)), int8_embedder.tokenizer
    texts, _ = _sample_chunks()
    texts += ["Café 中国 \x07 e\u0301 ΟΔΥΣΣΕΥΣ said “no”.", "", "x" * 3000, "Word " * 600, "[MASK] and [SEP] inside", "a"]
    for max_length in (256, 16):
        for i in range(0, len(texts), 7):
            batch = texts[i : i + 7]
            want = hf(batch, padding=True, truncation=True, max_length=max_length, return_offsets_mapping=True,
                      return_tensors="np")
            got = ours(batch, padding=True, truncation=True, max_length=max_length, return_offsets_mapping=True,
                       return_tensors="np")
            for k in ("input_ids", "attention_mask", "offset_mapping"):
                assert got[k].shape == want[k].shape and (got[k] == want[k]).all(), k
            assert (want.get("token_type_ids", np.zeros(1)) == 0).all()  # the backend feeds zeros itself
