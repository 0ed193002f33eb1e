#!/usr/bin/env python
"""Indexing figures (issue 5). A benchmark, not a test: `.venv/bin/python scripts/bench_index.py`.

Generates a deterministic synthetic news corpus (varied sentences, names, places, organisations, dates, numbers)
in a scratch folder and prints:

  1. full index speed (chunks/s) of a ~1k-chunk corpus with the real model;
  2. for a 10k- and a 100k-chunk index, the time to add one article through the normal `engine.index()` path
     with the real model, with and without the model load, and where that time goes;
  3. the RSS of a separate process that loaded the 100k-chunk index and answered a question.

To reach 10k and 100k chunks quickly, the bulk of those corpora is indexed with *synthetic* embeddings (random
unit vectors, stored in the embeddings cache through the normal index path by a stand-in embedder) instead of
the model; only the one-article adds run the real model. Retrieval quality at those sizes is therefore
meaningless; time and memory are not.

Run time on 2 cores (AMD EPYC): about 5 minutes for the defaults (`--full-chunks 1000 --sizes 10000 100000`),
of which the 100k-chunk bulk index is about 2.5 minutes; the scratch folder needs about 1.5 GB (1.35 GB of it
the 100k-chunk data folder). `--sizes 10000` alone takes about a minute and a half.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

# --- a synthetic news corpus ---------------------------------------------------------------------------------------
FIRST = ("Amira Daniel Elena Farid Grace Hiro Ines Jonas Kemal Lena Marco Nadia Oskar Priya Quentin Rosa Samir Tomas "
         "Ulla Viktor Wen Yusuf Zofia Aaron Beatriz Chidi Dara Emeka Fatima Goran Hana Ivan Julia Kofi Leila Mateo "
         "Noor Omar Pavel Rania Sven Talia").split()
LAST = ("Okafor Lindqvist Moreau Haddad Tanaka Kowalski Mendes Brandt Osei Novak Rahman Castillo Petrov Andersen "
        "Nakamura Silva Dubois Kaya Fischer Romero Ivanova Mensah Larsen Costa Yilmaz Horvat Nguyen Schmidt Ortega "
        "Bianchi Adeyemi Quinn Sato Varga Keller").split()
SYLL = "bar cal den fir gor hal ist kel lom mar nor orv pel qua ril sar tem ulm var wes yor zan".split()
ROLES = ("mayor", "finance minister", "spokeswoman", "spokesman", "union leader", "chief executive", "economist",
         "police chief", "opposition leader", "health commissioner", "professor of law", "judge")
ORG_KIND = ("Council", "Ministry of Transport", "Port Authority", "Workers' Union", "Central Bank", "Water Board",
            "Chamber of Commerce", "Supreme Court", "Health Service", "Green Party", "Farmers' League", "Rail Company")
TOPICS = {
    "strike": ("dockworkers", "walked out", "wages", "the harbour", "a pay rise of {p} percent"),
    "budget": ("lawmakers", "approved", "the budget", "the capital", "spending of {m} million crowns"),
    "flood": ("residents", "were evacuated from", "the river banks", "the valley", "damage estimated at {m} million"),
    "election": ("voters", "turned out in", "the regional election", "the provinces", "a turnout of {p} percent"),
    "trial": ("prosecutors", "charged", "the former director", "the district court", "fraud worth {m} million"),
    "rail": ("engineers", "inspected", "the new rail line", "the northern corridor", "a delay of {n} months"),
    "hospital": ("doctors", "warned about", "waiting lists", "the public hospitals", "{n} thousand patients"),
    "trade": ("exporters", "complained about", "the new tariffs", "the border crossings", "losses of {m} million"),
}
MONTHS = "January February March April May June July August September October November December".split()


def _place(r: random.Random) -> str:
    return "".join(r.choice(SYLL) for _ in range(r.randint(2, 3))).capitalize()


def _person(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def _date(r: random.Random) -> str:
    return f"{r.randint(1, 28)} {r.choice(MONTHS)} {r.randint(2005, 2024)}"


def article(i: int, seed: int = 7) -> str:
    """Article `i` of the corpus with this seed (independent of the corpus size): about 450-700 words."""
    r = random.Random(seed * 1_000_003 + i)
    topic = r.choice(list(TOPICS))
    actors, verb, obj, where, figure = TOPICS[topic]
    town, org = _place(r), f"{_place(r)} {r.choice(ORG_KIND)}"

    def fig() -> str:
        return figure.format(p=r.randint(2, 95), m=r.randint(3, 900), n=r.randint(2, 40))

    def sentence() -> str:
        who, role = _person(r), r.choice(ROLES)
        forms = [
            lambda: f"{actors.capitalize()} in {town} {verb} {obj} on {_date(r)}, according to {org}.",
            lambda: f"\u201cWe cannot accept {fig()},\u201d said {who}, the {role} of {town}.",
            lambda: f"The {org} said {r.randint(2, 60)} people had been affected by {obj} in {where}.",
            lambda: f"{who}, who has been {role} since {r.randint(1995, 2022)}, called the decision {r.choice(['reckless', 'overdue', 'a compromise', 'historic', 'unlawful'])}.",
            lambda: f"By {_date(r)}, officials expect {fig()} across {where}.",
            lambda: f"Figures published by the {org} show {fig()}, up from {r.randint(1, 80)} last year.",
            lambda: f"In {_place(r)}, a town of {r.randint(2, 400)} thousand people, {actors} {verb} {obj} as well.",
            lambda: f"{who} told reporters that talks with the {org} would resume in {r.choice(MONTHS)}.",
            lambda: f"The {role} {who} denied any wrongdoing and said the {org} had acted within the law.",
            lambda: f"Critics noted that {fig()} would hit {r.choice(['families', 'small firms', 'pensioners', 'farmers', 'students'])} hardest.",
            lambda: f"Analysts at {_place(r)} Bank put the cost at {r.randint(5, 950)} million crowns over {r.randint(2, 12)} years.",
            lambda: f"A vote on the matter is scheduled for {_date(r)} in {where}.",
        ]
        return r.choice(forms)()

    title = f"{town}: {actors} {verb} {obj}"
    paras = [" ".join(sentence() for _ in range(r.randint(1, 4))) for _ in range(r.randint(12, 18))]
    return f"{title}\n\nBy {_person(r)}\n\n" + "\n\n".join(paras) + "\n"


def chunks_per_article(settings, sample: int = 60) -> float:
    from newsdesk.index.chunking import chunk_spans
    from newsdesk.index.loaders import load_document

    tmp = Path(tempfile.mkdtemp(prefix="nd-cal-"))
    try:
        total = 0
        for i in range(sample):
            p = tmp / f"a{i}.txt"
            p.write_text(article(10_000_000 + i))
            doc = load_document(p, tmp, max_bytes=1 << 24)
            total += len(chunk_spans(doc.text, target_words=settings.chunk_words, max_words=settings.max_chunk_words))
        return total / sample
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_corpus(folder: Path, n_articles: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, n_articles):
        (folder / f"{i // 1000:03d}").mkdir(exist_ok=True)
        (folder / f"{i // 1000:03d}" / f"article-{i:06d}.txt").write_text(article(i))


# --- a stand-in embedder for the bulk ------------------------------------------------------------------------------
class SyntheticEmbedder:
    """Random unit vectors in place of the model (bulk rows only). Implements the Embedder methods the indexer
    calls; anything else fails loudly."""

    def __init__(self, dim: int, name: str) -> None:
        self.dim, self.name = dim, name
        self.rng = np.random.default_rng(12345)

    def _unit(self, n: int) -> np.ndarray:
        v = self.rng.standard_normal((n, self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode(self, texts, **_kw) -> np.ndarray:
        return self._unit(len(texts))

    def encode_query(self, text: str) -> np.ndarray:
        return self._unit(1)[0]

    def encode_chunks(self, texts, sentences, **_kw):
        return self._unit(len(texts)), [self._unit(len(s)) for s in sentences]

    def block_size(self, batch_size: int, cpu_block: int) -> int:
        return cpu_block


# --- timing of the phases of one index run -------------------------------------------------------------------------
class Phases:
    """Wraps the indexer's steps (and times every SQL statement) while active."""

    def __init__(self) -> None:
        self.t: dict[str, float] = defaultdict(float)
        self.sql: dict[str, float] = defaultdict(float)
        self._undo: list = []

    def _wrap(self, owner, attr: str, label: str, kind: str = "func") -> None:
        orig = owner.__dict__[attr] if kind != "func" else getattr(owner, attr)
        fn = orig.__func__ if kind == "classmethod" else orig

        @functools.wraps(fn)
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.t[label] += time.perf_counter() - t0

        if kind == "generator":  # time spent producing each item, not the consumer's work in between
            @functools.wraps(fn)
            def timed(*a, **kw):
                it = iter(fn(*a, **kw))
                while True:
                    t0 = time.perf_counter()
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                    finally:
                        self.t[label] += time.perf_counter() - t0
                    yield item

        setattr(owner, attr, classmethod(timed) if kind == "classmethod" else timed)
        self._undo.append((owner, attr, orig))

    @contextlib.contextmanager
    def active(self):
        from newsdesk.index import indexer, store, vectors
        from newsdesk.index.lexical import LexicalIndex

        phases = self

        class TimedConnection(sqlite3.Connection):
            def execute(self, sql, *args):
                t0 = time.perf_counter()
                try:
                    return super().execute(sql, *args)
                finally:
                    phases.sql[" ".join(sql.split())[:70]] += time.perf_counter() - t0

            def executemany(self, sql, *args):
                t0 = time.perf_counter()
                try:
                    return super().executemany(sql, *args)
                finally:
                    phases.sql[" ".join(sql.split())[:70]] += time.perf_counter() - t0

        real_connect = sqlite3.connect
        store.sqlite3 = type("S", (), {"connect": staticmethod(
            lambda *a, **kw: real_connect(*a, factory=TimedConnection, **kw))})
        self._wrap(indexer, "scan", "scan folder (walk + stat)", kind="generator")
        # files are read (load, clean, chunk, facts) in worker processes: the wait for each one's outcome
        self._wrap(indexer, "prepare_all", "read changed files (worker processes)", kind="generator")
        self._wrap(indexer, "_embed", "embed new chunks (model)")
        self._wrap(indexer, "_files_ok", "verify current generation (sha256)")
        self._wrap(indexer, "_commit", "commit (everything below)")
        self._wrap(vectors, "load", "  FAISS read previous generation")
        self._wrap(vectors, "save", "  FAISS write + fsync")
        self._wrap(vectors, "add", "  FAISS add")
        self._wrap(vectors, "remove", "  FAISS remove")
        self._wrap(LexicalIndex, "build", "  BM25 build (tokenize all chunks)", kind="classmethod")
        self._wrap(LexicalIndex, "save", "  BM25 save", kind="method")
        if hasattr(LexicalIndex, "update"):
            self._wrap(LexicalIndex, "load", "  BM25 read previous generation", kind="classmethod")
            self._wrap(LexicalIndex, "update", "  BM25 update (analyse the added chunks only)", kind="method")
        self._wrap(indexer, "file_sha256", "  checksums (sha256; verify's included)")
        self._wrap(indexer, "dir_sha256", "  checksums (sha256; verify's included)")
        self._wrap(store.Store, "get_embeddings", "  read vectors from SQLite", kind="method")
        self._wrap(store.Store, "remove_old_generations", "remove old generations", kind="method")
        try:
            yield self
        finally:
            store.sqlite3 = sqlite3
            for owner, attr, orig in reversed(self._undo):
                setattr(owner, attr, orig)
            self._undo.clear()

    TOP = ("scan folder (walk + stat)", "load + clean changed files", "chunk changed files", "quotes/dates extraction",
           "embed new chunks (model)",
           "verify current generation (sha256)", "commit (everything below)", "remove old generations")

    def lines(self, total: float) -> list[str]:
        out = [f"      {k:<46s} {self.t[k]:6.2f} s" for k in self.TOP if self.t.get(k, 0) >= 0.005]
        out += [f"      {k:<46s} {v:6.2f} s" for k, v in self.t.items() if k not in self.TOP and v >= 0.005]
        other = total - sum(self.t.get(k, 0) for k in self.TOP)
        out.append(f"      {'other (stat compare, SQL, hashing changes)':<46s} {other:6.2f} s")
        top = sorted(self.sql.items(), key=lambda kv: -kv[1])[:4]
        out += [f"      sql: {k:<41.41s} {v:6.2f} s" for k, v in top if v >= 0.01]
        return out


# --- steps ---------------------------------------------------------------------------------------------------------
def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1048576:.1f} GiB RAM"
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    import faiss
    import torch

    return (f"machine: {model}, {cores} cores ({usable} usable){mem}; Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), faiss {faiss.__version__}")


def settings_for(corpus: Path, data: Path):
    from newsdesk.index.settings import Settings

    return Settings(_env_file=None, corpus=corpus, data=data, progress=False)


def full_index(work: Path, target_chunks: int, per_article: float) -> None:
    from newsdesk.index.embedding import Embedder
    from newsdesk.index.engine import Engine

    n = max(1, round(target_chunks / per_article))
    corpus, data = work / "full" / "corpus", work / "full" / "data"
    write_corpus(corpus, n)
    s = settings_for(corpus, data)
    t0 = time.perf_counter()
    emb = Embedder.from_settings(s)
    load = time.perf_counter() - t0
    ph = Phases()
    with ph.active():
        rep = Engine(s, embedder=emb).index()
    emb_s = ph.t["embed new chunks (model)"]
    print(f"full index, real model: {rep.documents} articles, {rep.chunks} chunks in {rep.seconds:.1f} s "
          f"= {rep.chunks / rep.seconds:.1f} chunks/s (embedding {emb_s:.1f} s = "
          f"{rep.chunks_embedded / max(emb_s, 1e-9):.1f} chunks/s; model load {load:.1f} s not included)")
    for line in ph.lines(rep.seconds):
        print(line)


def sized_index(work: Path, target_chunks: int, per_article: float) -> tuple[Path, Path, int]:
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import DEFAULT_MODEL

    n = max(1, round(target_chunks / per_article))
    corpus, data = work / f"n{target_chunks}" / "corpus", work / f"n{target_chunks}" / "data"
    t0 = time.perf_counter()
    write_corpus(corpus, n)
    gen_s = time.perf_counter() - t0
    s = settings_for(corpus, data)
    cpu0 = time.process_time()
    rep = Engine(s, embedder=SyntheticEmbedder(384, DEFAULT_MODEL)).index()
    main_us = (time.process_time() - cpu0) / max(rep.chunks, 1) * 1e6
    from newsdesk.index.preparing import PARALLEL_MIN

    workers = 1 if n < PARALLEL_MIN else (s.index_threads or os.cpu_count() or 1)
    print(f"{target_chunks // 1000}k index: {rep.documents} articles, {rep.chunks} chunks; corpus written in "
          f"{gen_s:.1f} s, indexed in {rep.seconds:.1f} s with SYNTHETIC embeddings (random unit vectors put in "
          f"the embeddings cache instead of running the model): {rep.chunks / rep.seconds:.0f} chunks/s, the "
          f"indexer's work besides the model, files read by {workers} process{'es' if workers > 1 else ''} "
          f"(what bounds an index run on a GPU); CPU time of the main process alone {main_us:.0f} µs a chunk "
          f"(~{1e6 / max(main_us, 1e-9):,.0f} chunks/s with unlimited cores for the workers)")
    return corpus, data, n


def add_one(corpus: Path, data: Path, n: int) -> None:
    from newsdesk.index.engine import Engine

    s = settings_for(corpus, data)
    reader = Engine(s)  # another front end holding the index: times its live reload
    reader._refresh(force=False)  # noqa: SLF001 - load the current generation now

    # A new process (`newsdesk index`, as cron would run it): start-up, imports and model load included.
    (corpus / "new").mkdir(exist_ok=True)
    (corpus / "new" / "one.txt").write_text(article(900_000_001))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", "index", "--json", "--corpus", str(corpus),
                          "--data", str(data)], capture_output=True, text=True, cwd=ROOT)
    cold = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    rep1 = json.loads(out.stdout.strip().splitlines()[-1])

    # A running engine (watcher, bot) whose model is loaded already.
    eng = Engine(s)
    eng.embedder  # noqa: B018 - load the model
    (corpus / "new" / "two.txt").write_text(article(900_000_002))
    ph = Phases()
    with ph.active():
        t0 = time.perf_counter()
        rep2 = eng.index()
        without = time.perf_counter() - t0
    assert rep1["added"] == 1 and rep2.added == 1 and rep2.chunks_embedded > 0, (rep1, rep2)

    t0 = time.perf_counter()
    reader._refresh(force=False)  # noqa: SLF001
    reload_s = time.perf_counter() - t0

    (corpus / "new" / "two.txt").unlink()
    t0 = time.perf_counter()
    rep3 = eng.index()
    delete_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    rep4 = eng.index()
    noop_s = time.perf_counter() - t0
    assert rep3.removed == 1 and rep4.chunks_embedded == 0

    print(f"  add one article, new `newsdesk index` process (start-up + model load included): {cold:5.2f} s "
          f"(of which the index run {rep1['seconds']:.2f} s; {rep1['chunks_embedded']} chunks embedded)")
    print(f"  add one article, running engine, model already loaded: {without:5.2f} s "
          f"({rep2.chunks_embedded} chunks embedded); where the time goes:")
    for line in ph.lines(without):
        print(line)
    print(f"  delete one article: {delete_s:5.2f} s; unchanged re-run: {noop_s:5.2f} s; "
          f"a reader's live reload of the new generation: {reload_s:5.2f} s")


def rss(corpus: Path, data: Path) -> None:
    out = subprocess.run([sys.executable, __file__, "--rss-probe", "--corpus", str(corpus), "--data", str(data)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        print(out.stderr[-3000:])
        raise SystemExit("RSS probe failed")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  RSS of a process that loaded this index and answered a question: max {r['maxrss_mib']:.0f} MiB "
          f"(now {r['rss_mib']:.0f} MiB; before loading anything {r['base_mib']:.0f} MiB); first ask "
          f"{r['first_ask_s']:.2f} s (loads model + index), next ask {r['second_ask_s']:.3f} s")


def rss_probe(corpus: Path, data: Path) -> None:
    def status_mib(key: str) -> float:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def current_mib() -> float:
        return status_mib("VmRSS")

    from newsdesk.index.engine import Engine

    base = current_mib()
    eng = Engine(settings_for(corpus, data))
    t0 = time.perf_counter()
    eng.ask("What did the finance minister say about the budget?")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng.ask("How many people were evacuated after the flood?")
    second = time.perf_counter() - t0
    # VmHWM, not getrusage's ru_maxrss: the latter survives execve, so a child of a big parent inherits its peak.
    hwm = status_mib("VmHWM")
    if hwm != hwm:  # no /proc: fall back to getrusage
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"maxrss_mib": hwm,
                      "rss_mib": current_mib(), "base_mib": base, "first_ask_s": first, "second_ask_s": second}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full-chunks", type=int, default=1000, help="chunks of the real-model full index")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000], help="index sizes (chunks)")
    ap.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.rss_probe:
        return rss_probe(args.corpus, args.data)

    t_start = time.perf_counter()
    print(machine())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        s = settings_for(work, work / "none")
        per = chunks_per_article(s)
        print(f"corpus: synthetic news articles (seed 7), {per:.1f} chunks per article on average; scratch {work}")
        if args.full_chunks:
            full_index(work, args.full_chunks, per)
        for size in args.sizes:
            corpus, data, _n = sized_index(work, size, per)
            add_one(corpus, data, _n)
            if size == max(args.sizes):
                rss(corpus, data)
            du = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
            print(f"  data folder: {du / 1048576:.0f} MiB")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"benchmark run time: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
