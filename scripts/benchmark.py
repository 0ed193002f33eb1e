#!/usr/bin/env python
"""Speed and scale figures (issue 6). A benchmark, not a test: `make bench` or
`.venv/bin/python scripts/benchmark.py [--sizes 10000 100000 1000000]`.

Prints, with the hardware it ran on:

  1. embedding throughput (chunks/s) of each backend: torch fp32 and onnx-int8 on the CPU threads of indexing,
     and on a CUDA GPU torch fp16 with large batches (when there is one), on generated news chunks; plus the
     full `engine.index()` speed (chunks/s, everything included) for each CPU backend;
  2. per index size (10k, 100k, 1M chunks): `ask` p50/p95 through the real Engine with one query thread (the
     question embedding is real, int8 backend), the RSS of a fresh process that loaded the index and answered,
     the vector index type, and the time to add one article through `engine.index()` (real model); with
     `--ask-only`, also `Engine.warm()` (what the bot and the chat do at start) and the first ask after it, in
     another fresh process.

The corpus is generated news (scripts/bench_index.py's article generator). To reach 100k and 1M chunks in
minutes, the bulk of each index is written straight into the data folder's format (SQLite rows, FAISS and BM25
files, as index/indexer.py `_commit` writes them) with SYNTHETIC embeddings: normalized vectors drawn around
real MiniLM chunk vectors (a pool of real vectors plus noise), so the vector index sees a realistic
distribution. Bulk documents carry their real extracted facts (the generator's attributed quotations and dates,
`facts.extract`) and publication dates spread over 2023, and half the timed questions ask what a generated
speaker said (on a day, as of a time), so the speaker, pinned-day and as-of paths run at every size. No timed
question is asked twice (the engine remembers the analysis of texts and the vectors of returned quotes). Answer
quality at those sizes means nothing; time and memory do. The output says so.

    --gpu-only                 only the GPU section (on the device machine), with a full engine.index() run of
                               --gpu-index-chunks generated chunks
    --dump-vectors N --out D   also write N real chunk vectors (int8-scaled .npy files) for recall checks
    --milvus                   instead, the same engine with NEWSDESK_STORE on a local milvus-lite server (a
                               Milvus of one process, on this machine, over gRPC): full index rate with the real
                               model (the embedded store's beside it), then per size the writer's rate with a
                               stand-in embedder, ask p50/p95 of a reader with no local index, and one article added
"""
from __future__ import annotations

import argparse
import datetime as dt
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

import bench_index  # noqa: E402  (the article generator, the stand-in embedder and the add-one profile)
from newsdesk.index import facts  # noqa: E402

QUESTIONS = [
    "What did the finance minister say about the budget?",
    "How many people were evacuated after the flood?",
    "Who called the decision reckless?",
    "When is the vote on the new rail line scheduled?",
    "What did the union leader say about the pay rise?",
    "Which court charged the former director with fraud?",
    "How much damage did the flood cause in the valley?",
    "What did the health commissioner say about waiting lists?",
    "Why did exporters complain about the new tariffs?",
    "What was the turnout in the regional election?",
]


# --- hardware ------------------------------------------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = ""
    with contextlib.suppress(OSError):
        text = open("/proc/cpuinfo").read()
        flags = ", ".join(f for f in ("avx512_vnni", "avx512f", "avx2", "amx_tile") if f" {f}" in text)
    mem = ""
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1048576:.0f} GiB RAM"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = f"CPU: {cpu} ({flags}), {os.cpu_count()} cores ({usable} usable){mem}; Python {platform.python_version()}"
    gpu = gpu_name()
    if gpu:
        out += f"; GPU: {gpu}"
    return out


def gpu_name() -> str | None:
    from newsdesk.index.embedding import cuda_available

    if not cuda_available():
        return None
    import torch

    p = torch.cuda.get_device_properties(0)
    return f"{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}"


def load_note() -> str:
    """Other work on the machine skews every timing here: say how busy it was."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return ""
    cores = os.cpu_count() or 1
    busy = "  (BUSY: other processes share the cores; timings are pessimistic)" if one > cores + 0.5 else ""
    return (f"load average: {one:.1f} (1 min), {five:.1f} (5 min) on {cores} cores, this benchmark's own work "
            f"included{busy}")


def versions() -> str:
    parts = []
    for name in ("torch", "onnxruntime", "faiss", "sentence_transformers", "bm25s"):
        with contextlib.suppress(Exception):
            mod = __import__(name)
            parts.append(f"{name} {mod.__version__}")
    return ", ".join(parts)


# --- generated chunks ------------------------------------------------------------------------------------------------
def _chunks_of(i: int, target: int, most: int) -> list[tuple[str, list[tuple[int, int]]]]:
    from newsdesk.index.chunking import chunk_spans
    from newsdesk.index.sentences import split_sentences

    text = bench_index.article(i)
    out = []
    for sp in chunk_spans(text, target_words=target, max_words=most):
        t = text[sp.start : sp.end]
        out.append((t, [(s.start, s.end) for s in split_sentences(t)]))
    return out


def news_chunks(n: int, *, target: int = 140, most: int = 180, start: int = 0, procs: int = 1):
    """n generated news chunks with their sentence spans (chunking as the indexer does)."""
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    i = start
    if procs > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(procs) as ex:
            while len(texts) < n:
                step = max(64, (n - len(texts)) // 4)
                for part in ex.map(partial(_chunks_of, target=target, most=most), range(i, i + step), chunksize=64):
                    for t, s in part:
                        texts.append(t)
                        spans.append(s)
                i += step
    else:
        while len(texts) < n:
            for t, s in _chunks_of(i, target, most):
                texts.append(t)
                spans.append(s)
            i += 1
    return texts[:n], spans[:n]


# --- 1. embedding throughput -----------------------------------------------------------------------------------------
def embed_rate(emb, texts, spans, batch_size: int, repeat: int = 1) -> float:
    emb.encode_chunks(texts[: min(len(texts), 16)], spans[:16], batch_size=batch_size)  # warm up
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        emb.encode_chunks(texts, spans, batch_size=batch_size)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


def cpu_embedding(n: int, threads: int, model: str) -> list[tuple[str, str]]:
    from newsdesk.index.embedding import Embedder, set_threads

    texts, spans = news_chunks(n)
    ntok = np.mean([len(x) for x in Embedder_tokens(texts, model)])
    rows = []
    set_threads(threads)
    try:
        for backend in ("torch", "onnx-int8"):
            emb = Embedder(model, "cpu", backend=backend, gpu_batch_size=1, cache=model_cache())
            rate = embed_rate(emb, texts, spans, 32)
            rows.append((f"{backend} ({'fp32' if backend == 'torch' else 'int8'}), CPU {threads} threads",
                         f"{rate:7.1f} chunks/s  ({n} chunks, {ntok:.0f} tokens each on average; chunk + "
                         "sentence vectors)"))
    finally:
        set_threads(1)
    return rows


def feed_tokenizing(model: str, n: int = 3000) -> list[tuple[str, str]]:
    """The GPU feed's per-core tokenizing cost (no model, no GPU): the tokenizer with character offsets against
    the offset-free path (index/token_feed.py), on one core, batches of 512."""
    from transformers import AutoTokenizer

    from newsdesk.index.embedding import resolve_model
    from newsdesk.index.token_feed import SentenceTokens

    texts, spans = news_chunks(n, target=200, most=240)
    tok = AutoTokenizer.from_pretrained(resolve_model(model))
    rows = []
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core, as in each worker process
    for fast in (False, True):
        st = SentenceTokens(tok.backend_tokenizer.to_str(), 256)
        st.fast = st.fast and fast
        best = 1e9
        for _ in range(2):
            t0 = time.perf_counter()
            for i in range(0, n, 512):
                st.prepare(texts[i : i + 512], spans[i : i + 512])
            best = min(best, time.perf_counter() - t0)
        rows.append((f"GPU feed tokenizing, 1 core, {'offset-free' if fast else 'with offsets'}",
                     f"{n / best:7.0f} chunks/s  ({best / n * 1e6:.0f} µs a chunk; no model)"))
    if before is None:
        os.environ.pop("TOKENIZERS_PARALLELISM", None)
    else:
        os.environ["TOKENIZERS_PARALLELISM"] = before
    return rows


def Embedder_tokens(texts: list[str], model: str) -> list[list[int]]:  # noqa: N802
    from transformers import AutoTokenizer

    from newsdesk.index.embedding import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(model))
    return tok(texts, truncation=True, max_length=256)["input_ids"]


def model_cache() -> Path:
    return Path(os.environ.get("NEWSDESK_MODEL_CACHE") or ROOT / ".newsdesk" / "models")


def full_index_rates(work: Path, target_chunks: int, device: str = "cpu") -> list[tuple[str, str]]:
    """engine.index() of a fresh generated corpus, per backend (everything included; model load not): both CPU
    backends, or on a CUDA device torch fp16 fed by tokenizing worker processes."""
    from newsdesk.index.embedding import Embedder
    from newsdesk.index.engine import Engine

    per = bench_index.chunks_per_article(bench_index.settings_for(work, work / "none"))
    n = max(1, round(target_chunks / per))
    corpus = work / f"full-{device}" / "corpus"
    bench_index.write_corpus(corpus, n)
    rows = []
    for backend in ("torch", "onnx-int8") if device == "cpu" else ("torch",):
        s = bench_index.settings_for(corpus, work / f"full-{device}" / f"data-{backend}")
        emb = Embedder(s.model, device, backend=backend, cache=model_cache(),
                       gpu_batch_size=1 if device == "cpu" else s.gpu_batch_size)
        try:
            rep = Engine(s, embedder=emb).index()
        finally:
            emb.close()
        rows.append((f"full index, {backend}{'' if device == 'cpu' else ' on ' + device}",
                     f"{rep.chunks / rep.seconds:7.1f} chunks/s  ({rep.documents} articles, {rep.chunks} chunks in "
                     f"{rep.seconds:.1f} s: load, clean, chunk, embed, facts, BM25, write)"))
    return rows


def gpu_embedding(n: int, model: str, batch_sizes: list[int], dump: int, out: Path | None) -> list[tuple[str, str]]:
    import torch

    from newsdesk.index.embedding import Embedder

    rows = []
    procs = min(16, os.cpu_count() or 1)
    t0 = time.perf_counter()
    texts, spans = news_chunks(max(n, dump), target=200, most=240, procs=procs)
    prep = time.perf_counter() - t0
    emb = Embedder(model, "cuda", backend="torch", gpu_batch_size=max(batch_sizes))
    toks = Embedder_tokens(texts[:2000], model)
    ntok = np.mean([len(x) for x in toks])
    print(f"  {len(texts)} chunks generated in {prep:.0f} s ({ntok:.0f} tokens each on average, "
          f"{np.mean([len(s) for s in spans]):.1f} sentences)", flush=True)
    for bs in batch_sizes:
        emb.gpu_batch_size = bs
        rate = embed_rate(emb, texts[:n], spans[:n], bs, repeat=2)
        rows.append((f"torch fp16, {torch.cuda.get_device_name(0)}, batch {bs}",
                     f"{rate:9.0f} chunks/s  ({n} chunks, {ntok:.0f} tokens; chunk + sentence vectors)"))
        print("  " + " ".join(rows[-1]), flush=True)
    # Where the time goes: the worker processes' tokenizing alone, and the GPU side alone on batches tokenized
    # beforehand (forward + late-chunking pooling + copy back).
    bs = 512
    emb.gpu_batch_size = bs
    sub_t, sub_s = texts[:n], spans[:n]
    t0 = time.perf_counter()
    jobs = list(emb._pool_batches(sub_t, sub_s, bs))  # noqa: SLF001
    rows.append((f"  worker-process tokenizing alone ({emb._pool_size} processes)",  # noqa: SLF001
                 f"{n / (time.perf_counter() - t0):9.0f} chunks/s"))
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _idx, enc, sidx in jobs:
        emb._impl.forward(enc, sidx)  # noqa: SLF001
    rows.append(("  GPU side alone (forward + pooling + copy back)", f"{n / (time.perf_counter() - t0):9.0f} chunks/s"))
    del jobs
    # The model alone (no tokenizing, no pooling): the ceiling.
    enc = emb.tokenizer(texts[:max(batch_sizes)], padding="max_length", truncation=True, max_length=256,
                        return_tensors="pt")
    feats = {k: v.cuda() for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    m = emb._impl.model  # noqa: SLF001
    with torch.inference_mode():
        for _ in range(3):
            m.forward(dict(feats))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        reps = 20
        for _ in range(reps):
            m.forward(dict(feats))
        torch.cuda.synchronize()
    rate = reps * len(texts[: max(batch_sizes)]) / (time.perf_counter() - t0)
    rows.append(("torch fp16 forward only (256 tokens, padded)", f"{rate:9.0f} chunks/s  (model ceiling)"))
    if dump and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        vecs, _ = emb.encode_chunks(texts[:dump], spans[:dump])
        per_file = (16 * 2**20 - 4096) // vecs.shape[1]
        for k, i in enumerate(range(0, len(vecs), per_file)):
            np.save(out / f"vectors-{k}.npy", np.round(vecs[i : i + per_file] * 127).astype(np.int8))
        rows.append(("dumped real chunk vectors", f"{len(vecs)} in {time.perf_counter() - t0:.1f} s (int8-scaled)"))
    return rows


# --- 2. sizes: bulk data folder, ask latency, RSS, add one -----------------------------------------------------------
_SENT = re.compile(r"[^.!?\n]+[.!?\u201d]*")


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """A cheap sentence splitter for the bulk rows (the generator's sentences end in . ! ? or a quote)."""
    out = []
    for m in _SENT.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        if b - a > 1:
            out.append((a, b))
    return out


def _bulk_chunks(text: str, target: int = 140) -> list[tuple[int, int]]:
    """Paragraph-aligned chunks of about `target` words (bulk rows only; the indexer's chunker is slower)."""
    out, start, words = [], None, 0
    for m in re.finditer(r"[^\n]+", text):
        if start is None:
            start = m.start()
        words += len(m.group().split())
        if words >= target:
            out.append((start, m.end()))
            start, words = None, 0
    if start is not None:
        out.append((start, len(text.rstrip())))
    return out


class VectorPool:
    """Synthetic chunk vectors near real MiniLM ones: a real vector of a generated chunk plus Gaussian noise,
    normalized (cosine to its base ~0.9), so their distribution is like real embeddings."""

    def __init__(self, base: np.ndarray, seed: int = 1) -> None:
        self.base = base.astype(np.float32)
        self.rng = np.random.default_rng(seed)

    def __call__(self, n: int) -> np.ndarray:
        v = self.base[self.rng.integers(0, len(self.base), n)]
        v = v + self.rng.standard_normal(v.shape, dtype=np.float32) * (0.5 / np.sqrt(v.shape[1]))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def base_vectors(n: int, model: str) -> np.ndarray:
    """Real int8-backend vectors of n generated chunks (the pool the synthetic ones are drawn around)."""
    from newsdesk.index.embedding import Embedder, set_threads

    texts, spans = news_chunks(n, start=5_000_000)
    set_threads(0)
    try:
        emb = Embedder(model, "cpu", backend="onnx-int8", cache=model_cache(), gpu_batch_size=1)
        return emb.encode(texts)
    finally:
        set_threads(1)


def bulk_date(i: int) -> str:
    """Publication day of bulk article i: spread over 2023."""
    return (dt.date(2023, 1, 1) + dt.timedelta(days=(i * 7919) % 365)).isoformat()


ASKED_AT = dt.date(2023, 10, 1)  # timed questions are asked then: a quarter of the bulk is later (as-of filter)


def topic_questions(n: int) -> list[str]:
    """`n` distinct questions about the generator's topics: the fixed QUESTIONS first, then forms over its
    topics and roles (the timed questions never repeat, so no per-question cache answers one twice)."""
    forms = ("What did the {role} say about {obj}?", "How many {actors} {verb} {obj} in {where}?",
             "Why did {actors} criticise {obj}?", "When will {actors} decide on {obj}?",
             "What did the {role} of the town say about {obj} in {where}?")
    out = list(QUESTIONS)
    for form in forms:
        for role in bench_index.ROLES:
            for actors, verb, obj, where, _ in bench_index.TOPICS.values():
                out.append(form.format(role=role, actors=actors, verb=verb, obj=obj, where=where))
    return list(dict.fromkeys(out))[:n]


def timed_questions(n: int) -> tuple[str, list[str]]:
    """The distinct questions a benchmark asks: a first, untimed one that names someone (it reads the timeline
    and speaker tables), then `n` timed ones, topic and "what did X say" questions in turn."""
    half = n // 2 + 1
    speakers = speaker_questions(half + 1)
    return speakers[-1], [q for pair in zip(topic_questions(half), speakers) for q in pair][:n]


def speaker_questions(n: int = 10) -> list[str]:
    """"What did X say (on D / about the budget)?" for speakers the generator's articles quote (real extraction)."""
    out: list[str] = []
    i = 0
    while len(out) < n and i < 50 * n:
        text = bench_index.article(i)
        info = facts.extract(text, bulk_date(i))
        who = next((q.speaker for q in info.quotations if q.speaker and " " in q.speaker), None)
        if who:
            day = dt.date.fromisoformat(bulk_date(i))
            out.append(f"What did {who} say on {day:%B} {day.day}?" if len(out) % 2 else f"What did {who} say?")
        i += 1
    return out


def bulk_data(corpus: Path, data: Path, n_chunks: int, pool: VectorPool, settings) -> tuple[int, dict]:
    """Write a generated corpus and its index in the indexer's format, with synthetic embeddings and real
    extracted facts. Returns the number of articles and the seconds each phase took."""
    from newsdesk.index import vectors
    from newsdesk.index.chunking import chunk_hash, chunking_key
    from newsdesk.index.lexical import LexicalIndex, SegmentedLexical
    from newsdesk.index.store import (FORMAT_VERSION, Store, dir_sha256, file_sha256, fsync_dir, now_iso,
                             pack_sentence_vectors, remembered_sums)

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data)
    c = store.conn
    c.execute("PRAGMA synchronous=OFF")
    dim = pool.base.shape[1]
    ts = now_iso()
    chunk_rows, texts, i = 0, [], 0
    ids_all: list[int] = []
    vec_all: list[np.ndarray] = []
    # Sentence vectors: slices of a bank drawn once (generating ~12 per chunk one by one dominated the build).
    bank = pool(1 << 16)
    bank_bytes, row_bytes, b_at = pack_sentence_vectors(bank), bank.shape[1] + 4, 0
    c.execute("BEGIN")
    while chunk_rows < n_chunks:
        text = bench_index.article(i)
        rel = f"{i // 1000:04d}/article-{i:07d}.txt"
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(text)
        st = (corpus / rel).stat()
        doc_hash = hashlib.sha256(text.encode()).hexdigest()
        title = text.split("\n", 1)[0]
        date = bulk_date(i)
        c.execute("INSERT INTO documents(path, content_hash, title, source, date, url, author, text, comments, "
                  "facts, indexed_at, size, mtime_ns, ctime_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  (rel, doc_hash, title, None, date, None, None, text, "[]", facts.dumps(facts.extract(text, date)),
                   ts, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        spans = _bulk_chunks(text)
        vecs = pool(len(spans))
        chunk_rows_art, emb_rows = [], []
        for (s, e), v in zip(spans, vecs):
            piece = text[s:e]
            h = chunk_hash(piece)
            cid = len(ids_all) + 1
            ids_all.append(cid)
            chunk_rows_art.append((cid, rel, s, e, h))
            sents = np.asarray(_sentence_spans(piece), dtype=np.int32).reshape(-1, 2)
            k = len(sents)
            if b_at + k > len(bank):
                b_at = 0
            emb_rows.append((h, v.tobytes(), sents.tobytes(), bank_bytes[b_at * row_bytes : (b_at + k) * row_bytes]))
            b_at += k
            texts.append(piece)
        c.executemany("INSERT INTO chunks(id, path, start, end, hash) VALUES (?,?,?,?,?)", chunk_rows_art)
        vec_all.append(vecs)
        c.executemany("INSERT OR REPLACE INTO embeddings(hash, vector, sent_spans, sent_vectors) VALUES (?,?,?,?)",
                      emb_rows)
        chunk_rows += len(spans)
        i += 1
    c.execute("COMMIT")
    t["corpus + SQLite rows"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x = np.concatenate(vec_all)
    index = vectors.choose_index(len(x), dim, settings)
    vectors.add(index, x, ids_all)
    fpath = store.faiss_file(1)
    vectors.save(index, fpath)
    t[f"FAISS ({vectors.kind(index)}) build + write"] = time.perf_counter() - t0
    del x, vec_all

    t0 = time.perf_counter()
    lexical = LexicalIndex.build(texts, np.asarray(ids_all, dtype=np.int64))
    bdir = store.bm25_dir(1)
    lexical.save(bdir)
    del lexical, texts
    t["BM25 build + write"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ddir = store.delta_dir(1)  # generation 1 is its own base: an empty delta
    ddir.mkdir()
    vectors.VectorSet(vectors.load(fpath)).save_delta(ddir)
    SegmentedLexical.empty_delta(LexicalIndex.load(bdir, mmap=True)).save(ddir)
    meta = {"format_version": str(FORMAT_VERSION), "model": settings.model, "dimension": str(dim),
            "chunking": chunking_key(settings.chunk_words, settings.max_chunk_words),
            "generation": "1", "base": "1", "updated_at": ts, "faiss_sha256": file_sha256(fpath),
            "bm25_sha256": dir_sha256(bdir), "delta_sha256": dir_sha256(ddir)}
    meta["sums"] = remembered_sums(data, [fpath, bdir, ddir])
    c.execute("BEGIN")
    c.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(meta.items()))
    c.execute("COMMIT")
    fsync_dir(data)
    store.close()
    t["checksums + manifest"] = time.perf_counter() - t0
    return i, t


def probe(corpus: Path, data: Path, n_questions: int, warm: bool = False) -> dict:
    """Run in a fresh process: load the engine, ask; latencies and RSS. With `warm`, `Engine.warm()` first (as the
    bot and the chat do at start), timed as `warm_s`."""
    from newsdesk.index.engine import Engine

    def status_mib(key: str) -> float:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    base = status_mib("VmRSS")
    s = bench_index.settings_for(corpus, data)
    s.backend = "onnx-int8"
    s.model_cache = model_cache()
    eng = Engine(s)
    from newsdesk.index.embedding import Embedder

    eng._embedder = Embedder.from_settings(s)  # noqa: SLF001 - the engine's own default takes only model/device
    first_question, questions = timed_questions(n_questions)
    warmed = eng.warm() if warm else None
    t0 = time.perf_counter()
    eng.ask(first_question, asked_at=ASKED_AT)  # the first ask also reads the timeline and speaker tables
    first = time.perf_counter() - t0
    lat, cpu = [], []
    for q in questions:
        t0, c0 = time.perf_counter(), time.thread_time()
        eng.ask(q, asked_at=ASKED_AT)
        lat.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    from newsdesk.index import vectors

    view = eng._refresh(force=False)  # noqa: SLF001
    return {"first_s": first, "warm_s": warmed and warmed.total_s, "warm_parts": warmed and warmed.seconds,
            "lat": lat, "cpu": cpu, "rss_mib": status_mib("VmRSS"), "hwm_mib": status_mib("VmHWM"), "base_mib": base,
            "kind": vectors.kind(view.retriever.index)}


def add_one(corpus: Path, data: Path, run: int = 0) -> tuple[dict[str, float], list[str]]:
    """New articles through engine.index() with the model loaded (int8 backend): one found by a scan of the
    whole corpus (`newsdesk index`), one named (the watcher, `/add`, `newsdesk index PATH`); one deleted; a
    reader's reload of the new generation. Returns the times and where the scanned add's time goes."""
    from newsdesk.index.embedding import Embedder
    from newsdesk.index.engine import Engine

    s = bench_index.settings_for(corpus, data)
    s.backend, s.model_cache = "onnx-int8", model_cache()
    eng = Engine(s, embedder=Embedder.from_settings(s))
    reader = Engine(s, embedder=eng.embedder)
    reader._refresh(force=False)  # noqa: SLF001 - holds the current generation, as a running bot does
    (corpus / "new").mkdir(exist_ok=True)
    tag = f"-{run}" if run else ""  # another pair of new articles for each further run on a kept folder
    one, two = corpus / "new" / f"one{tag}.txt", corpus / "new" / f"two{tag}.txt"
    one.write_text(bench_index.article(900_000_001 + 10 * run))
    ph = bench_index.Phases()
    with ph.active():
        t0 = time.perf_counter()
        rep = eng.index(progress=False)
        scan = time.perf_counter() - t0
    assert rep.added == 1, rep
    t0 = time.perf_counter()
    reader._refresh(force=False)  # noqa: SLF001
    reload_s = time.perf_counter() - t0
    two.write_text(bench_index.article(900_000_002 + 10 * run))
    named_path = [two.relative_to(corpus).as_posix()]
    t0 = time.perf_counter()
    rep = eng.index(progress=False, paths=named_path)
    named = time.perf_counter() - t0
    assert rep.added == 1, rep
    two.unlink()
    t0 = time.perf_counter()
    rep = eng.index(progress=False, paths=named_path)
    delete = time.perf_counter() - t0
    assert rep.removed == 1, rep
    return {"scan": scan, "named": named, "delete": delete, "reload": reload_s}, ph.lines(scan)


def run_probe(corpus: Path, data: Path, n: int, warm: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--probe", "--corpus", str(corpus), "--data", str(data),
                          "--questions", str(n)] + (["--warm"] if warm else []), capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p95 in ms (the 95th percentile as the nearest sample)."""
    lat = sorted(latencies)
    return statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] * 1000


def du_mib(path: Path) -> dict[str, float]:
    out = {"sqlite": 0.0, "faiss": 0.0, "bm25": 0.0}
    for p in path.rglob("*"):
        if p.is_file():
            k = "sqlite" if "sqlite" in p.name else "faiss" if p.suffix == ".faiss" else (
                "bm25" if "bm25" in str(p.parent.name) else None)
            if k:
                out[k] += p.stat().st_size / 2**20
    return out


def sizes_section(work: Path, sizes: list[int], model: str, n_questions: int, base_n: int,
                  keep: bool = False) -> None:
    from newsdesk.index.settings import Settings

    print(f"\nbuilding the pool of real vectors ({base_n} generated chunks, int8 backend) ...", flush=True)
    pool = VectorPool(base_vectors(base_n, model))
    print("index sizes: bulk rows written straight into the data folder with SYNTHETIC embeddings (normalized "
          "vectors drawn around real MiniLM chunk vectors); question embeddings are real (onnx-int8); bulk "
          "documents carry their real extracted quotations and dates; half the questions ask what a quoted "
          f"speaker said, all asked as of {ASKED_AT}", flush=True)
    header = (f"{'chunks':>9} {'index':>18} {'bulk build':>10} {'ask p50':>8} {'ask p95':>8} {'first ask':>9} "
              f"{'RSS':>8} {'add/scan':>8} {'add/named':>8} {'delete':>7} {'reload':>7}   "
              "data folder (SQLite / FAISS / BM25)")
    lines = []
    for n in sizes:
        corpus, data = work / f"n{n}" / "corpus", work / f"n{n}" / "data"
        shutil.rmtree(work / f"n{n}", ignore_errors=True)
        s = Settings(_env_file=None, corpus=corpus, data=data, progress=False)
        t0 = time.perf_counter()
        n_art, phases = bulk_data(corpus, data, n, pool, s)
        build = time.perf_counter() - t0
        print(f"  {n} chunks ({n_art} articles) built in {build:.0f} s: "
              + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()), flush=True)
        sizes_mib = du_mib(data)
        r = run_probe(corpus, data, n_questions)
        p50, p95 = percentiles(r["lat"])
        t, prof = add_one(corpus, data)
        line = (f"{n:>9} {r['kind']:>18} {build:>9.0f}s {p50:>6.1f}ms {p95:>6.1f}ms {r['first_s']:>8.1f}s "
                f"{r['hwm_mib']:>6.0f}MiB {t['scan']:>7.2f}s {t['named']:>7.2f}s {t['delete']:>7.2f}s "
                f"{t['reload']:>7.2f}s   {sizes_mib['sqlite']:.0f} / {sizes_mib['faiss']:.0f} / "
                f"{sizes_mib['bm25']:.0f} MiB")
        lines.append(line)
        print(header + "\n" + line + "\n    " + load_note(), flush=True)
        print("    add one article found by a scan, where the time goes:\n" + "\n".join("  " + x for x in prof),
              flush=True)
        if not keep:
            shutil.rmtree(work / f"n{n}", ignore_errors=True)
    print("\n" + header)
    for line in lines:
        print(line)
    print(f"(ask: {n_questions} questions after a first one, 1 query thread, p95 = the {n_questions}-sample 95th "
          "percentile; RSS: peak of a fresh process that loaded the index and answered; add/scan: a new ~600-word "
          "article found by engine.index() scanning the corpus, model loaded; add/named: another, named by "
          "engine.index(paths=[...]) as the watcher and uploads do; delete: that one removed the same way; reload: "
          "a running reader picking up the new generation)")


# --- Milvus (NEWSDESK_STORE=milvus://...) against milvus-lite ---------------------------------------------------------
def milvus_section(work: Path, sizes: list[int], model: str, n_questions: int, full_chunks: int) -> None:
    from milvus_server import MilvusServer

    from newsdesk.index.embedding import Embedder
    from newsdesk.index.engine import Engine

    server = MilvusServer(work / "milvus-lite")
    server.start()
    print(f"\nMilvus: milvus-lite {_version('milvus-lite')} (one local process, gRPC on 127.0.0.1), pymilvus "
          f"{_version('pymilvus')}; dense index {bench_index.settings_for(work, work).milvus_index}", flush=True)
    try:
        emb = Embedder(model, "cpu", backend="onnx-int8", cache=model_cache(), gpu_batch_size=1)

        def settings(name: str, corpus: Path, **kw):
            s = bench_index.settings_for(corpus, work / name / "data")
            for k, v in {"store": server.store, "milvus_collection": name, **kw}.items():
                setattr(s, k, v)
            return s

        rows = []
        if full_chunks:
            per = bench_index.chunks_per_article(bench_index.settings_for(work, work / "none"))
            corpus = work / "m-full" / "corpus"
            bench_index.write_corpus(corpus, max(1, round(full_chunks / per)))
            for label, kw in (("embedded", {"store": "embedded"}), ("Milvus", {})):
                rep = Engine(settings(f"full_{label.lower()}", corpus, **kw), embedder=emb).index()
                rows.append((f"full index, onnx-int8, {label}", f"{rep.chunks / rep.seconds:7.1f} chunks/s  "
                             f"({rep.documents} articles, {rep.chunks} chunks in {rep.seconds:.1f} s)"))
            table("index rate with the real model (generated news):", rows)
        header = (f"{'chunks':>9} {'write rate':>14} {'ask p50':>8} {'ask p95':>8} {'first ask':>9} {'warm-up':>8} "
                  f"{'then first':>10} {'add/named':>9}")
        lines = []
        for n in sizes:
            per = bench_index.chunks_per_article(bench_index.settings_for(work, work / "none"))
            corpus = work / f"m{n}" / "corpus"
            write_dated_corpus(corpus, max(1, round(n / per)))
            s = settings(f"n{n}", corpus)
            rep = Engine(s, embedder=bench_index.SyntheticEmbedder(emb.dim, model)).index()
            reader = Engine(settings(f"n{n}", corpus, data=work / f"m{n}" / "reader"), embedder=emb)
            first_question, questions = timed_questions(n_questions)
            t0 = time.perf_counter()
            reader.ask(first_question, asked_at=ASKED_AT)  # the first ask also reads the timeline and speakers
            first = time.perf_counter() - t0
            lat = []
            for q in questions:
                t0 = time.perf_counter()
                reader.ask(q, asked_at=ASKED_AT)
                lat.append(time.perf_counter() - t0)
            p50, p95 = percentiles(lat)
            warmed = Engine(settings(f"n{n}", corpus, data=work / f"m{n}" / "warmed"), embedder=emb)  # a restart
            warm_s = warmed.warm().total_s  # as the bot and the chat do at start
            t0 = time.perf_counter()
            warmed.ask(first_question, asked_at=ASKED_AT)
            warm_first = time.perf_counter() - t0
            (corpus / "new").mkdir(exist_ok=True)
            (corpus / "new" / "one.txt").write_text(bench_index.article(900_000_001))
            t0 = time.perf_counter()
            added = Engine(s, embedder=emb).index(paths=["new/one.txt"])
            named = time.perf_counter() - t0
            assert added.added == 1, added
            line = (f"{rep.chunks:>9} {rep.chunks / rep.seconds:>8.0f} ch/s {p50:>6.1f}ms {p95:>6.1f}ms "
                    f"{first:>8.2f}s {warm_s:>7.2f}s {warm_first:>9.2f}s {named:>8.2f}s")
            lines.append(line)
            print(header + "\n" + line + "\n    " + load_note(), flush=True)
            shutil.rmtree(work / f"m{n}", ignore_errors=True)
        print("\n" + header)
        for line in lines:
            print(line)
        print(f"(write rate: engine.index() of a generated corpus into Milvus with a stand-in embedder (random "
              f"vectors): reading, chunking, facts and the Milvus writes, not the model; ask: {n_questions} questions "
              "(topic and \"what did X say\" questions in turn, asked on 2023-10-01: a quarter of the articles are "
              "later, the as-of filter runs in Milvus's search) after a first one that also reads the timeline and "
              "speakers, through an Engine with an empty data folder (everything read from Milvus), real question "
              "embeddings, 1 query thread; warm-up: Engine.warm() of another such Engine (a restart), then first: "
              "its first ask; add/named: one new article through engine.index(paths=[...]) with the "
              "real model)")
    finally:
        server.stop()


def write_dated_corpus(folder: Path, n_articles: int) -> None:
    """The generated articles as Markdown with their publication day (`bulk_date`) in the front matter, as the
    embedded bulk index dates them."""
    for i in range(n_articles):
        (folder / f"{i // 1000:03d}").mkdir(parents=True, exist_ok=True)
        (folder / f"{i // 1000:03d}" / f"article-{i:06d}.md").write_text(
            f'---\ndate: "{bulk_date(i)}"\n---\n\n{bench_index.article(i)}')


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


# --- main --------------------------------------------------------------------------------------------------------------
def table(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    w = max(len(r[0]) for r in rows)
    for a, b in rows:
        print(f"  {a:<{w}}  {b}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--embed-chunks", type=int, default=192, help="chunks per CPU embedding measurement")
    ap.add_argument("--full-chunks", type=int, default=500, help="chunks of the full-index measurement (0: skip)")
    ap.add_argument("--questions", type=int, default=60, help="questions timed per size")
    ap.add_argument("--base-vectors", type=int, default=3000, help="real vectors the synthetic ones derive from")
    ap.add_argument("--model", default=None)
    ap.add_argument("--gpu-only", action="store_true")
    ap.add_argument("--gpu-chunks", type=int, default=50_000)
    ap.add_argument("--gpu-batch", type=int, nargs="*", default=[256, 512, 1024])
    ap.add_argument("--gpu-index-chunks", type=int, default=20_000,
                    help="chunks of the full engine.index() measurement on the GPU (with --gpu-only; 0: skip)")
    ap.add_argument("--dump-vectors", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep each size's data folder (with --workdir)")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)  # the probe calls Engine.warm() first
    ap.add_argument("--add-only", type=int, default=0, metavar="RUNS",
                    help="with --corpus/--data (a folder kept by --keep): time RUNS more one-article adds, each in "
                    "this process with the model loaded, and nothing else")
    ap.add_argument("--ask-only", action="store_true",
                    help="with --corpus/--data (a folder kept by --keep): time `ask` and the RSS of a fresh process "
                    "that loads it, and nothing else")
    ap.add_argument("--corpus", type=Path, help="corpus of a kept size (with --ask-only or --add-only)")
    ap.add_argument("--data", type=Path, help="data folder of a kept size (with --ask-only or --add-only)")
    ap.add_argument("--milvus", action="store_true",
                    help="the Milvus store on a local milvus-lite server instead (--sizes, --full-chunks, --questions)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("NEWSDESK_MODEL_CACHE", str(model_cache()))
    if args.probe:
        print(json.dumps(probe(args.corpus, args.data, args.questions, warm=args.warm)))
        return
    if args.ask_only:
        print(load_note())
        r = run_probe(args.corpus, args.data, args.questions)
        p50, p95 = percentiles(r["lat"])
        c50, c95 = percentiles(r["cpu"])
        print(f"{r['kind']}: ask p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(r['lat'])} questions after a first one, "
              f"1 query thread); first ask {r['first_s']:.2f} s; RSS {r['hwm_mib']:.0f} MiB (peak of the fresh "
              "process that loaded the index and answered)")
        print(f"CPU time of the asking thread: p50 {c50:.1f} ms, p95 {c95:.1f} ms a question (less sensitive to "
              "other processes than the wall-clock figures)")
        w = run_probe(args.corpus, args.data, args.questions, warm=True)
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in w["warm_parts"].items())
        print(f"after Engine.warm() (as the bot and the chat do at start; another fresh process, model constructed "
              f"before as above): warm-up {w['warm_s']:.2f} s ({parts}), then first ask {w['first_s']:.2f} s; ask p50 "
              f"{percentiles(w['lat'])[0]:.1f} ms")
        return
    if args.add_only:
        print(load_note())
        for run in range(args.add_only):
            t, prof = add_one(args.corpus, args.data, run=int(time.time()) % 100_000 * 100 + run + 1)
            print(f"run {run + 1}: add/scan {t['scan']:.2f} s, add/named {t['named']:.2f} s, delete {t['delete']:.2f} s, "
                  f"reload {t['reload']:.2f} s; the scanned add:\n" + "\n".join("  " + x for x in prof), flush=True)
        return
    model = args.model or "all-MiniLM-L6-v2"
    t_start = time.perf_counter()
    print(machine())
    print(versions())
    print(load_note())
    if args.milvus:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the milvus-lite server
        work = args.workdir or Path(tempfile.mkdtemp(prefix="newsdesk-benchmark-"))
        try:
            milvus_section(work, args.sizes, model, args.questions, args.full_chunks)
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
        print(f"\nbenchmark run time: {time.perf_counter() - t_start:.0f} s")
        return
    if args.gpu_only:
        if gpu_name() is None:
            raise SystemExit("no CUDA GPU here")
        rows = gpu_embedding(args.gpu_chunks, model, args.gpu_batch, args.dump_vectors, args.out)
        rows += feed_tokenizing(model)
        if args.gpu_index_chunks:
            with tempfile.TemporaryDirectory(prefix="newsdesk-benchmark-") as tmp:
                rows += full_index_rates(Path(tmp), args.gpu_index_chunks, "cuda")
        table("embedding on the GPU (generated news chunks):", rows)
        print(f"\nbenchmark run time: {time.perf_counter() - t_start:.0f} s")
        return
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="newsdesk-benchmark-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = cpu_embedding(args.embed_chunks, threads, model) if args.embed_chunks else []
        rows += feed_tokenizing(model)
        if args.full_chunks:
            rows += full_index_rates(work, args.full_chunks)
        if gpu_name():
            rows += gpu_embedding(args.gpu_chunks, model, args.gpu_batch, 0, None)
        if rows:
            table("embedding throughput (generated news chunks):", rows)
        if args.sizes:
            sizes_section(work, args.sizes, model, args.questions, args.base_vectors, args.keep)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nbenchmark run time: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
