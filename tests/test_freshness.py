"""Issue 5: a fresh index. Incremental add/change/rename/delete, atomic generations under SIGKILL and concurrent
readers, the watcher, damage detection, the writer lock and model changes. Real model, FAISS, files and processes.

Each test gets its own corpus and data folder, copied from a module-wide template that is indexed once (the
copy carries the embeddings cache, so the sample articles are never embedded twice).
"""
from __future__ import annotations

import json
import logging
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from newsdesk.index.engine import Engine
from newsdesk.index.errors import IndexDamaged, IndexLocked, ModelMismatch
from newsdesk.index.settings import Settings
from newsdesk.index.watch import WatchRun, start_watch_thread
from tests.samples import SAMPLE_FILES, child_env, copy_samples

PY = sys.executable
REPORT_KEYS = {"documents", "chunks", "added", "updated", "removed", "unchanged", "chunks_embedded", "skipped",
               "seconds"}

KELP_Q = "When did the Zorbian council approve the Kelp Tax?"
KELP = """Zorbian Council Approves Kelp Tax

The Zorbian council approved the Kelp Tax on 3 March 2019. The measure passed by a vote of seven to two after a long \
debate in the harbour hall.

Fishermen in the northern villages protested the decision, saying the tax would double the price of dried kelp.
"""
KELP_CHANGED = """Zorbian Council Repeals Kelp Tax

The Zorbian council repealed the Kelp Tax on 9 June 2021. Councillors said the levy had raised far less than promised.

Fishermen in the northern villages celebrated the repeal with a parade of boats.
"""


# --- helpers -----------------------------------------------------------------------------------------------------
@dataclass
class Env:
    corpus: Path
    data: Path
    settings: Settings
    writer: Engine
    reader: Engine  # a second engine, as another process (bot, chat) would hold: proves live reload

    def engine(self, **over) -> Engine:
        return Engine(self.settings.model_copy(update=over), embedder=self.writer.embedder)

    def meta(self) -> dict[str, str]:
        with sqlite3.connect(self.data / "newsdesk.sqlite") as c:
            return dict(c.execute("SELECT key, value FROM meta").fetchall())

    def sql(self, query: str, *args) -> list[tuple]:
        c = sqlite3.connect(self.data / "newsdesk.sqlite", timeout=30)
        try:
            with c:
                return c.execute(query, args).fetchall()
        finally:
            c.close()


def hits(answer) -> list:
    """Every result shown to a user, near misses included."""
    return list(answer.results) + list(answer.near_misses)


def cli(env: Env, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "newsdesk.bot.cli", *args, "--corpus", str(env.corpus), "--data", str(env.data)],
                          cwd=env.data.parent, capture_output=True, text=True, timeout=timeout, env=child_env())


def generated_article(i: int) -> str:
    """A short, distinct news-like article (one chunk) naming Quillon<i>."""
    rng = random.Random(i)
    towns = ["Harlow", "Brisk", "Tamsin", "Orrin", "Vell", "Caddow", "Mirelle", "Pyke"]
    things = ["bridge", "ferry", "water plant", "school", "market hall", "rail depot", "clinic", "sea wall"]
    town, thing = rng.choice(towns), rng.choice(things)
    n, m = rng.randint(2, 90), rng.randint(100, 9000)
    return (f"Quillon{i} {thing} plan for {town}\n\n"
            f"Officials in {town} said on Tuesday that the Quillon{i} {thing} would cost {m} thousand crowns. "
            f"The council voted {n} to {n // 2 + 1} in favour after a debate that lasted {i % 7 + 2} hours. "
            f"Residents of the {town} district number {i} had asked for the {thing} since {1990 + i % 30}. "
            f"Work is expected to start in spring and to employ {n * 3} people from the region. "
            f"Critics said the money should go to the {rng.choice(things)} instead.\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory, embedder):
    """The sample corpus indexed once; tests copy it."""
    root = tmp_path_factory.mktemp("fresh-template")
    copy_samples(root / "corpus")
    eng = Engine(Settings(_env_file=None, corpus=root / "corpus", data=root / "data", progress=False), embedder=embedder)
    eng.index(progress=False)
    return root


@pytest.fixture
def env(tmp_path, template, embedder) -> Env:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    shutil.copytree(template / "corpus", corpus)
    shutil.copytree(template / "data", data, ignore=shutil.ignore_patterns("index.lock"))
    settings = Settings(_env_file=None, corpus=corpus, data=data, progress=False, lock_timeout=0.3)
    return Env(corpus, data, settings, Engine(settings, embedder=embedder), Engine(settings, embedder=embedder))


# --- add / change / rename / delete ------------------------------------------------------------------------------
def test_add_change_rename_delete_reflected_by_ask(env: Env) -> None:
    sample_paths = sorted(p.name for p in env.corpus.iterdir())
    sample_ids = env.sql("SELECT id FROM chunks ORDER BY id")
    assert not [h for h in hits(env.reader.ask(KELP_Q)) if "Kelp" in h.quote]

    # add
    (env.corpus / "kelp.txt").write_text(KELP)
    rep = env.writer.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (1, 0, 0, len(sample_paths))
    n_kelp = rep.chunks - len(sample_ids)
    assert n_kelp >= 1 and rep.chunks_embedded == n_kelp  # only the new file's chunks were embedded
    ans = env.reader.ask(KELP_Q)
    assert not ans.abstained and ans.results[0].path == "kelp.txt"
    assert any("3 March 2019" in r.quote for r in ans.results)

    # change: only the changed file's chunks are replaced; the others keep their ids (no full rebuild)
    (env.corpus / "kelp.txt").write_text(KELP_CHANGED)
    rep = env.writer.index()
    assert (rep.added, rep.updated, rep.removed) == (0, 1, 0)
    assert 1 <= rep.chunks_embedded <= rep.chunks - len(sample_ids)
    assert env.sql("SELECT id FROM chunks WHERE path != 'kelp.txt' ORDER BY id") == sample_ids
    ans = env.reader.ask("What did the Zorbian council do with the Kelp Tax?")
    assert ans.results and ans.results[0].path == "kelp.txt"
    assert any("repealed the Kelp Tax on 9 June 2021" in r.quote for r in ans.results)
    assert not any("3 March 2019" in h.quote or "3 March 2019" in h.passage for h in hits(ans))

    # rename: same text under a new name, nothing embedded
    (env.corpus / "kelp.txt").rename(env.corpus / "kelp-2021.txt")
    rep = env.writer.index()
    assert (rep.added, rep.removed, rep.chunks_embedded) == (1, 1, 0)
    ans = env.reader.ask("What did the Zorbian council do with the Kelp Tax?")
    assert ans.results and ans.results[0].path == "kelp-2021.txt"
    assert all(h.path != "kelp.txt" for h in hits(ans))

    # delete: no result, near misses included, quotes the gone text
    (env.corpus / "kelp-2021.txt").unlink()
    rep = env.writer.index()
    assert (rep.removed, rep.documents, rep.chunks) == (1, len(sample_paths), len(sample_ids))
    for q in (KELP_Q, "What did the Zorbian council do with the Kelp Tax?", "Zorbian fishermen parade of boats"):
        for h in hits(env.reader.ask(q)):
            assert h.path in sample_paths
            assert "Kelp" not in h.quote and "Zorbian" not in h.passage
    assert [s.path for s in env.reader.status().sources] == sample_paths
    # the embeddings cache forgets text no chunk uses any more
    assert env.sql("SELECT COUNT(*) FROM embeddings WHERE hash NOT IN (SELECT hash FROM chunks)") == [(0,)]


def test_unchanged_rerun_embeds_nothing_cli_json(env: Env) -> None:
    (env.corpus / "notes.docx").write_bytes(b"PK\x03\x04 not supported")
    gen = env.meta()["generation"]
    proc = cli(env, "index", "--json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(rep) == REPORT_KEYS
    n = len(list(SAMPLE_FILES))
    assert (rep["added"], rep["updated"], rep["removed"], rep["unchanged"], rep["chunks_embedded"]) == (0, 0, 0, n, 0)
    assert rep["documents"] == n and rep["chunks"] > 0
    assert rep["skipped"] == [{"path": "notes.docx", "reason": rep["skipped"][0]["reason"]}]
    assert "unsupported" in rep["skipped"][0]["reason"]
    assert isinstance(rep["seconds"], (int, float))
    assert env.meta()["generation"] == gen  # nothing was rewritten


def test_index_of_named_paths_touches_only_them(env: Env) -> None:
    """`index(paths=...)` (uploads, the watcher): a named file is added or updated, a named file or folder that is
    gone is removed, and what is not named is left alone, changed or not."""
    (env.corpus / "kelp.txt").write_text(KELP)
    (env.corpus / "desk").mkdir()
    (env.corpus / "desk" / "q1.txt").write_text(generated_article(1))
    (env.corpus / "desk" / "q2.txt").write_text(generated_article(2))
    rep = env.writer.index(paths=["kelp.txt", env.corpus / "desk"])  # a name and an absolute folder
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (3, 0, 0, 0)
    assert env.reader.ask(KELP_Q).results[0].path == "kelp.txt"

    (env.corpus / "kelp.txt").write_text(KELP_CHANGED)  # changed but not named: not looked at
    (env.corpus / "desk" / "q3.txt").write_text(generated_article(3))
    rep = env.writer.index(paths=["desk/q3.txt"])
    assert (rep.added, rep.updated, rep.removed) == (1, 0, 0)
    assert any("3 March 2019" in r.quote for r in env.reader.ask(KELP_Q).results)

    shutil.rmtree(env.corpus / "desk")  # a deleted folder, named: everything indexed inside it goes
    rep = env.writer.index(paths=["desk", "kelp.txt", "../outside.txt"])  # outside the corpus: a full scan
    assert (rep.added, rep.updated, rep.removed) == (0, 1, 3)
    assert all(not h.path.startswith("desk/") for h in hits(env.reader.ask("What will the Quillon2 project cost?")))
    assert any("9 June 2021" in r.quote for r in env.reader.ask(
        "What did the Zorbian council do with the Kelp Tax?").results)


def test_updates_write_small_deltas_and_compact_into_a_new_base(env: Env, monkeypatch) -> None:
    """Each update writes only a delta folder beside the unchanged base; when the changes outgrow the limit the
    writer folds them into a new base. Answers are the same either way, and old generations' files go."""
    import newsdesk.index.indexer as ix

    meta0 = env.meta()
    base0 = meta0["base"]
    base_bytes = (env.data / f"vectors-{base0}.faiss").read_bytes()
    (env.corpus / "kelp.txt").write_text(KELP)
    env.writer.index()
    meta1 = env.meta()
    assert meta1["base"] == base0 and meta1["faiss_sha256"] == meta0["faiss_sha256"]
    assert (env.data / f"vectors-{base0}.faiss").read_bytes() == base_bytes  # the base was not rewritten
    assert (env.data / f"delta-{meta1['generation']}").is_dir()
    (env.corpus / "kelp.txt").write_text(KELP_CHANGED)  # the delta's own chunk replaced, a base chunk removed:
    os.remove(env.corpus / sorted(p.name for p in env.corpus.iterdir() if p.name != "kelp.txt")[0])
    rep = env.writer.index()
    assert (rep.updated, rep.removed) == (1, 1) and env.meta()["base"] == base0
    removed_path = sorted(p.name for p in SAMPLE_FILES)[0]
    status = env.reader.status()
    assert removed_path not in [s.path for s in status.sources]
    ans = env.reader.ask("What did the Zorbian council do with the Kelp Tax?")
    assert ans.results[0].path == "kelp.txt" and "9 June 2021" in " ".join(r.quote for r in ans.results)
    assert all(h.path != removed_path for h in hits(env.reader.ask("What did Pompeo say on April 7?")))
    before = env.reader.ask("Who endorsed the attack on Tripoli?")

    monkeypatch.setattr(ix, "DELTA_MIN", 1)
    monkeypatch.setattr(ix, "DELTA_MAX", 1)  # the next change compacts
    (env.corpus / "kelp.txt").write_text(KELP)
    env.writer.index()
    meta3 = env.meta()
    assert meta3["base"] == meta3["generation"] != base0
    def files() -> set[str]:
        return {p.name for p in env.data.iterdir() if p.name.split("-")[0] in ("vectors", "bm25", "delta")}

    g3, g2 = int(meta3["generation"]), int(meta3["generation"]) - 1
    # this generation's files and the previous one's (a reader may still be on it): its base and its delta
    assert files() == {f"vectors-{g3}.faiss", f"bm25-{g3}", f"delta-{g3}",
                       f"vectors-{base0}.faiss", f"bm25-{base0}", f"delta-{g2}"}
    after = env.reader.ask("Who endorsed the attack on Tripoli?")
    assert [(r.path, r.start) for r in after.results] == [(r.path, r.start) for r in before.results]
    assert env.reader.ask(KELP_Q).results[0].path == "kelp.txt"
    assert env.reader.status().chunks == env.sql("SELECT COUNT(*) FROM chunks")[0][0]
    monkeypatch.setattr(ix, "DELTA_MIN", 1000)
    (env.corpus / "kelp.txt").write_text(KELP_CHANGED)
    env.writer.index()  # a small change on the new base: the old base's files go
    assert files() == {f"vectors-{g3}.faiss", f"bm25-{g3}", f"delta-{g3}", f"delta-{g3 + 1}"}


def test_embeddings_a_killed_run_left_are_forgotten(env: Env) -> None:
    """A run killed after embedding leaves vectors in the cache for text that may never be indexed (the file
    changed or went away before the next run): the next run forgets them, whether it commits or not."""
    from newsdesk.index.store import Store

    def orphan(tag: str) -> None:
        store = Store(env.data)
        try:
            store.put_embeddings([tag * 64], np.ones((1, 384), dtype=np.float32))
        finally:
            store.close()

    def count() -> int:
        return env.sql("SELECT COUNT(*) FROM embeddings WHERE hash NOT IN (SELECT hash FROM chunks)")[0][0]

    orphan("a")
    assert count() == 1
    assert env.writer.index().chunks_embedded == 0  # nothing changed: no new generation, still forgotten
    assert count() == 0
    orphan("b")
    (env.corpus / "kelp.txt").write_text(KELP)
    env.writer.index()
    assert count() == 0 and env.sql("SELECT COUNT(*) FROM pending") == [(0,)]


# --- crashes -----------------------------------------------------------------------------------------------------
def test_sigkill_mid_embedding_keeps_previous_index_and_next_run_completes(env: Env) -> None:
    n_docs = len(list(env.corpus.iterdir()))
    gen = env.meta()["generation"]
    cached = env.sql("SELECT COUNT(*) FROM embeddings")[0][0]
    for i in range(150):
        (env.corpus / f"gen-{i:03d}.txt").write_text(generated_article(i))
    # The real CLI, committing the embeddings cache every 16 chunks so a kill lands between two commits.
    code = "import sys, newsdesk.index.indexer as ix; ix.EMBED_BLOCK = 16; from newsdesk.bot.cli import main; sys.exit(main())"
    proc = subprocess.Popen([PY, "-c", code, "index", "--corpus", str(env.corpus), "--data", str(env.data)],
                            cwd=env.data.parent, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while env.sql("SELECT COUNT(*) FROM embeddings")[0][0] == cached:
            assert proc.poll() is None, f"index run ended before it could be killed: {proc.communicate()}"
            assert time.monotonic() < deadline, "the index run never started embedding"
            time.sleep(0.05)
        assert proc.poll() is None, "index run finished before it could be killed; use a larger corpus"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = env.sql("SELECT COUNT(*) FROM embeddings")[0][0] - cached
    assert 0 < partial < 150

    # A fresh engine answers from the previous index; nothing of the killed run is visible.
    assert env.meta()["generation"] == gen
    fresh = env.engine()
    ans = fresh.ask("Who endorsed the attack on Tripoli?")
    assert not ans.abstained and ans.results
    assert fresh.status().documents == n_docs
    assert all(not h.path.startswith("gen-") for h in hits(fresh.ask("What will the Quillon7 project cost?")))

    # The next run completes, counts everything and resumes from the embeddings that survived.
    n_chunks = fresh.status().chunks
    rep = fresh.index()
    assert (rep.added, rep.documents) == (150, n_docs + 150)
    assert rep.chunks_embedded == rep.chunks - n_chunks - partial
    assert int(env.meta()["generation"]) == int(gen) + 1
    assert any(r.path == "gen-007.txt" for r in fresh.ask("What will the Quillon7 project cost?").results)


def test_sigkill_between_file_writes_and_commit(env: Env) -> None:
    """Killed after the next generation's FAISS and BM25 files are in place, inside the uncommitted SQLite
    transaction: the previous generation still answers, and the next run redoes the work."""
    (env.corpus / "kelp.txt").write_text(KELP)
    env.writer.index()
    assert env.reader.ask(KELP_Q).results[0].path == "kelp.txt"
    gen = int(env.meta()["generation"])
    (env.corpus / "kelp.txt").unlink()  # a deletion: the killed run needs no model
    code = ("import os, signal, sys, newsdesk.index.indexer as ix\n"
            "ix.fsync_dir = lambda p: os.kill(os.getpid(), signal.SIGKILL)\n"
            "from newsdesk.bot.cli import main; sys.exit(main())")
    proc = subprocess.run([PY, "-c", code, "index", "--corpus", str(env.corpus), "--data", str(env.data)],
                          cwd=env.data.parent, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (env.data / f"delta-{gen + 1}").is_dir()  # the kill came after the new files were written
    assert int(env.meta()["generation"]) == gen
    ans = env.engine().ask(KELP_Q)  # the previous index, complete and consistent
    assert ans.results[0].path == "kelp.txt" and "3 March 2019" in " ".join(r.quote for r in ans.results)
    rep = env.writer.index()
    assert (rep.removed, rep.chunks_embedded) == (1, 0)
    assert int(env.meta()["generation"]) == gen + 1
    assert all(h.path != "kelp.txt" for h in hits(env.reader.ask(KELP_Q)))
    assert not list(env.data.glob(".tmp-*"))


# --- concurrent reader and writer --------------------------------------------------------------------------------
def test_reader_never_errors_nor_quotes_text_gone_from_the_files(env: Env, caplog) -> None:
    caplog.set_level(logging.ERROR)
    versions = [KELP.replace("3 March 2019", f"{d} March 2019").replace("seven to two", f"{w} to two")
                for d, w in zip(range(4, 10), ["eight", "nine", "ten", "eleven", "twelve", "thirteen"])]
    live: dict[int, list[float]] = {}  # version -> [written at, deletion committed by]
    samples = dict(env.sql("SELECT path, text FROM documents"))
    asks: list[tuple[float, float, list]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                ans = env.reader.ask(KELP_Q)
            except BaseException as exc:  # noqa: BLE001 - any error fails the test
                errors.append(exc)
                return
            asks.append((t0, time.monotonic(), hits(ans)))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i, text in enumerate(versions):
            live[i] = [time.monotonic(), float("inf")]
            (env.corpus / "kelp.txt").write_text(text)
            env.writer.index()
            time.sleep(0.15)
            (env.corpus / "kelp.txt").unlink()
            env.writer.index()
            live[i][1] = time.monotonic()
            time.sleep(0.15)
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    assert len(asks) >= 10
    seen_kelp = 0
    for t0, t1, shown in asks:
        for h in shown:
            if h.path in samples:
                assert h.quote in samples[h.path]
                continue
            assert h.path == "kelp.txt"
            owners = [i for i, v in enumerate(versions) if h.quote in v and h.passage in v]
            assert owners, f"quote in no version of the file: {h.quote!r}"
            # the version quoted was in the files at some moment while this ask ran
            assert any(t0 <= live[i][1] and t1 >= live[i][0] for i in owners), (h.quote, t0, t1)
            seen_kelp += 1
    assert seen_kelp, "the reader never saw the article: the test proved nothing"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# --- the watcher -------------------------------------------------------------------------------------------------
def _wait_for(pred, timeout: float, step: float = 0.1) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


def _quiet(q: queue.Queue, for_s: float = 1.0) -> list[WatchRun]:
    """The runs reported until none came for `for_s` seconds."""
    out = []
    while True:
        try:
            out.append(q.get(timeout=for_s))
        except queue.Empty:
            return out


def _until(q: queue.Queue, pred, timeout: float = 10) -> WatchRun:
    """The first run (skipping others, e.g. no-op runs for late events) that satisfies `pred`."""
    deadline = time.monotonic() + timeout
    while True:
        run = q.get(timeout=max(0.01, deadline - time.monotonic()))
        if pred(run):
            return run


def test_watcher_indexes_additions_and_deletions_ignores_temp_files_waits_for_writes(env: Env) -> None:
    runs: queue.Queue[WatchRun] = queue.Queue()
    thread, stop = start_watch_thread(env.writer, runs.put, debounce_ms=200, settle_ms=400, lock_retry_s=0.5)
    try:
        first = runs.get(timeout=30)
        assert first.initial and first.ok and first.report.chunks_embedded == 0

        # a new file is answered within a few seconds, by another engine (live reload)
        (env.corpus / "kelp.txt").write_text(KELP)
        took = _wait_for(lambda: any(h.path == "kelp.txt" for h in env.reader.ask(KELP_Q).results), 10)
        assert took < 5
        run = _until(runs, lambda r: "kelp.txt" in r.changed)
        assert run.ok and run.report.added == 1
        _quiet(runs)

        # editors' temporary files and hidden files trigger nothing
        temp = (".kelp.txt.swp", "kelp.txt~", ".#kelp.txt", "~$kelp.txt", "kelp.txt.part", ".hidden.txt")
        for name in temp:
            (env.corpus / name).write_text(KELP_CHANGED)
        (env.corpus / ".git").mkdir()
        (env.corpus / ".git" / "x.txt").write_text(KELP_CHANGED)
        assert [r.changed for r in _quiet(runs, 1.5)] == []

        # a file written slowly (pauses shorter than the settle time) is indexed once, complete
        slow = env.corpus / "slow.txt"
        with open(slow, "w") as f:
            f.write("Quorvath Ferry Strike Ends\n\n")
            for i in range(6):
                f.write(f"Ferry crews in Quorvath returned to work on day {i + 1} of the talks. ")
                f.flush()
                time.sleep(0.12)
            f.write("The strike at Quorvath ended with a pay rise of 14 percent.\n")
        got = [_until(runs, lambda r: "slow.txt" in r.changed)] + _quiet(runs, 1.2)
        assert sum(r.report.added for r in got) == 1 and sum(r.report.updated for r in got) == 0, \
            [r.line() for r in got]
        assert env.writer.status().documents == 4
        ans = env.reader.ask("How much was the pay rise that ended the Quorvath strike?")
        assert any("14 percent" in r.quote for r in ans.results)

        # a deletion too
        (env.corpus / "kelp.txt").unlink()
        _wait_for(lambda: all(h.path != "kelp.txt" for h in hits(env.reader.ask(KELP_Q))), 10)
        run = _until(runs, lambda r: "kelp.txt" in r.changed)
        assert run.ok and run.report.removed == 1
        _quiet(runs)

        # an index error is reported and the watcher keeps going
        real_index = env.writer.index
        calls = []

        def failing_once(**kw):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("disk on fire")
            return real_index(**kw)

        env.writer.index = failing_once
        (env.corpus / "a.txt").write_text(generated_article(1))
        run = _until(runs, lambda r: "a.txt" in r.changed)
        assert not run.ok and "disk on fire" in run.error and run.report is None
        (env.corpus / "b.txt").write_text(generated_article(2))
        run = _until(runs, lambda r: "b.txt" in r.changed)
        assert run.ok and run.report.added == 2  # a.txt too, missed by the failed run
        _quiet(runs)

        # another writer holds the lock: the run is postponed, then retried without a new change
        lock = FileLock(str(env.data / "index.lock"))
        with lock:
            (env.corpus / "c.txt").write_text(generated_article(3))
            run = _until(runs, lambda r: "c.txt" in r.changed)
            assert not run.ok and "another index run" in run.error
        while not (run := runs.get(timeout=10)).ok:
            assert "another index run" in run.error
        assert run.report.added == 1 and "c.txt" in run.changed
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


# --- damage, lock, model ------------------------------------------------------------------------------------------
def test_damaged_index_file_gives_rebuild_message_and_rebuild_fixes_it(env: Env) -> None:
    base = env.meta()["base"]
    faiss_file = env.data / f"vectors-{base}.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[: faiss_file.stat().st_size // 2])
    with pytest.raises(IndexDamaged, match="newsdesk index --rebuild"):
        env.engine().ask("Who endorsed the attack on Tripoli?")
    proc = cli(env, "ask", "Who endorsed the attack on Tripoli?")
    assert proc.returncode == 2 and "newsdesk index --rebuild" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr

    proc = cli(env, "index", "--rebuild", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["chunks_embedded"] == 0  # the cache survived
    assert env.engine().ask("Who endorsed the attack on Tripoli?").results

    # a flipped byte inside the base's BM25 folder, or in the generation's delta folder, is caught too
    for folder in ("bm25-{base}", "delta-{generation}"):
        victim_dir = env.data / folder.format(**env.meta())
        victim = sorted(p for p in victim_dir.iterdir() if p.stat().st_size > 16)[0]
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        victim.write_bytes(bytes(raw))
        with pytest.raises(IndexDamaged, match="newsdesk index --rebuild"):
            env.engine().ask("Who endorsed the attack on Tripoli?")
        env.writer.index(rebuild=True)
        assert env.engine().ask("Who endorsed the attack on Tripoli?").results


def test_a_new_process_trusts_the_writers_checksums_only_while_the_files_are_untouched(env: Env, monkeypatch) -> None:
    """The manifest keeps each generation file's checksum with its stat; a process that starts later does not
    read the files again (the base is 1.5 GB at 1M chunks) unless one was written to since."""
    import newsdesk.index.store as store_mod
    from newsdesk.index.indexer import verify
    from newsdesk.index.store import Store

    (env.corpus / "kelp.txt").write_text(KELP)
    env.writer.index()
    monkeypatch.setattr(store_mod, "_SHA_MEMO", {})  # as in a new process
    reads: list[str] = []
    monkeypatch.setattr(store_mod, "open", lambda p, *a, **k: reads.append(str(p)) or open(p, *a, **k), raising=False)
    store = Store(env.data)
    try:
        verify(store)
        assert reads == []
        victim = env.data / f"vectors-{env.meta()['base']}.faiss"
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0xFF  # same size; the write moves the ctime
        victim.write_bytes(bytes(raw))
        with pytest.raises(IndexDamaged, match="newsdesk index --rebuild"):
            verify(store)
        assert reads
    finally:
        store.close()


def test_second_writer_gets_clear_lock_message(env: Env) -> None:
    (env.corpus / "kelp.txt").write_text(KELP)
    with FileLock(str(env.data / "index.lock")):
        t0 = time.monotonic()
        with pytest.raises(IndexLocked, match=r"another index run is writing to .*index\.lock"):
            env.writer.index()
        assert time.monotonic() - t0 < 5
    assert env.writer.index().added == 1


def test_model_change_on_ask_says_how_to_rebuild_and_index_rebuilds(env: Env) -> None:
    n_chunks = env.writer.status().chunks
    env.sql("UPDATE meta SET value='old-model' WHERE key='model'")
    with pytest.raises(ModelMismatch, match=r"old-model.*newsdesk index --rebuild"):
        env.engine().ask("Who endorsed the attack on Tripoli?")
    # the same for an engine configured with another model than the index's
    env.sql("UPDATE meta SET value=? WHERE key='model'", env.settings.model)
    with pytest.raises(ModelMismatch, match=r"paraphrase-MiniLM-L3-v2.*newsdesk index --rebuild"):
        env.engine(model="paraphrase-MiniLM-L3-v2").ask("Who endorsed the attack on Tripoli?")
    # `index` with the configured model rebuilds everything with it
    env.sql("UPDATE meta SET value='old-model' WHERE key='model'")
    rep = env.writer.index()
    assert rep.chunks_embedded == n_chunks == rep.chunks
    assert env.meta()["model"] == env.settings.model
    assert env.reader.ask("Who endorsed the attack on Tripoli?").results


def test_full_scan_walks_like_os_walk_and_passes_over_hidden_temp_and_linked_folders(tmp_path: Path) -> None:
    """The streamed, folder-relative scan behind `newsdesk index` finds the same files, in the same order, with
    the same stats as a plain os.walk would, and leaves out what the indexer must never read."""
    from newsdesk.index.indexer import is_candidate, scan

    root = tmp_path / "corpus"
    rng = random.Random(7)
    for i in range(300):  # a nested tree, names deliberately out of creation order
        folder = root.joinpath(*[f"d{rng.randrange(4)}" for _ in range(rng.randrange(4))])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{rng.randrange(10**6)}.txt").write_text("x" * rng.randrange(1, 500))
    for bad in (".hidden.txt", "a.txt.swp", "a.txt~", "#a.txt#", "~$a.txt", "a.txt.part"):
        (root / bad).write_text("temp")
    (root / ".git").mkdir()
    (root / ".git" / "config.txt").write_text("hidden folder")
    (root / "linked").symlink_to(root / "d1", target_is_directory=True)  # a symlinked folder: left out
    (root / "alias.txt").symlink_to(next(root.rglob("f*.txt")))  # a symlinked file: counts
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")

    expected = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(folder) / d).is_symlink())
        for f in sorted(files):
            p = Path(folder) / f
            if is_candidate(p) and p.is_file():
                expected.append((p.relative_to(root).as_posix(), os.stat(p)))
    found = list(scan(root))
    got = [(n, st) for n, st in found if not isinstance(st, str)]
    assert [n for n, _ in got] == [n for n, _ in expected]
    assert len(got) == 301 and "alias.txt" in dict(got)
    # what os.walk passes over in silence comes with its reason (issue 13)
    assert {n: st for n, st in found if isinstance(st, str)} == {
        "dangling.txt": f"dangling symlink (its target {str(root / 'nowhere.txt')!r} does not exist)",
        "linked": "symlinked folder (not followed)"}
    assert all((a.st_size, a.st_mtime_ns, a.st_ino) == (b.st_size, b.st_mtime_ns, b.st_ino)
               for (_, a), (_, b) in zip(got, expected))


def test_many_changed_files_are_read_in_worker_processes_with_the_same_index(tmp_path: Path, embedder, monkeypatch,
                                                                              caplog) -> None:
    """Past PARALLEL_MIN files to read, loading, cleaning, chunking and fact extraction run in worker processes:
    the index they give is the one the in-process path gives, and a broken file among them is skipped and
    reported, not fatal."""
    from newsdesk.index import preparing

    monkeypatch.setattr(preparing, "PARALLEL_MIN", 4)
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    for i in range(6):
        (corpus / f"quillon{i}.txt").write_text(generated_article(i))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 not really a pdf")
    (corpus / "blank.md").write_text("   \n")
    # an ideographic space before a full stop made sentencex 1.0.32 panic, which used to abort the whole run
    (corpus / "odd-space.txt").write_text("Vell ferry\n\nThe mayor of Vell\u3000. said the\u00a0ferry to Pyke "
                                          "will run again in May. Tickets cost nine crowns.\n")

    def build(workers: int):
        s = Settings(_env_file=None, corpus=corpus, data=tmp_path / f"data-{workers}", progress=False,
                     index_threads=workers)
        with caplog.at_level(logging.INFO, logger="newsdesk.index.preparing"):
            caplog.clear()
            rep = Engine(s, embedder=embedder).index(progress=False)
            pooled = any("worker processes" in r.getMessage() for r in caplog.records)
        db = sqlite3.connect(tmp_path / f"data-{workers}" / "newsdesk.sqlite")
        rows = (db.execute("SELECT path, content_hash, title, source, date, text, comments, facts FROM documents "
                           "ORDER BY path").fetchall(),
                db.execute("SELECT id, path, start, end, hash FROM chunks ORDER BY id").fetchall(),
                db.execute("SELECT hash, sent_spans FROM embeddings ORDER BY hash").fetchall())
        db.close()
        return rep, pooled, rows

    rep1, pooled1, rows1 = build(1)
    rep2, pooled2, rows2 = build(2)
    assert not pooled1 and pooled2
    assert (rep2.added, rep2.documents, rep2.chunks) == (rep1.added, rep1.documents, rep1.chunks) == (9, 9, rep1.chunks)
    assert sorted((s.path, s.reason) for s in rep2.skipped) == sorted((s.path, s.reason) for s in rep1.skipped)
    assert {s.path for s in rep2.skipped} == {"broken.pdf", "blank.md"}
    assert rows2 == rows1 and len(rows1[0]) == 9 and all('"quotations"' in r[7] for r in rows1[0])
    eng = Engine(Settings(_env_file=None, corpus=corpus, data=tmp_path / "data-2", progress=False), embedder=embedder)
    assert eng.ask("What will the Quillon3 project cost?").results[0].path == "quillon3.txt"
    assert "will run again in May" in eng.ask("When will the ferry to Pyke run again?").results[0].quote
