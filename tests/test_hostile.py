"""Issue 13: hostile and odd files. A YAML alias bomb, markup bombs, a file that takes too long to read, a symlink
out of the corpus, FIFOs and dangling symlinks: each is skipped with a named reason, the run goes on, nothing
outside the corpus is read, and nothing hangs. Real model, real files, real worker processes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings

from tests.samples import SAMPLE_FILES, copy_samples, child_env

ROOT = Path(__file__).resolve().parent.parent

# About 400 bytes that yaml.safe_load expands to 9^9 (387 million) strings: the indexer grew to 23 GB and was killed.
YAML_BOMB = """---
title: Harbour news
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
---
The harbour reopened on Monday.
"""

KELP = ("Zorbian Council Approves Kelp Tax\n\nThe Zorbian council approved the Kelp Tax on 3 March 2019. The measure "
        "passed by a vote of seven to two after a long debate in the harbour hall.\n")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    c = tmp_path / "corpus"
    copy_samples(c)
    return c


def engine(tmp_path: Path, corpus: Path, embedder, **over) -> Engine:
    return Engine(Settings(_env_file=None, corpus=corpus, data=tmp_path / "data", progress=False, **over),
                  embedder=embedder)


def test_yaml_alias_bomb_is_skipped_with_its_reason_and_the_run_goes_on(tmp_path, corpus, embedder) -> None:
    assert len(YAML_BOMB.encode()) < 500
    (corpus / "bomb.md").write_text(YAML_BOMB)
    (corpus / "kelp.txt").write_text(KELP)
    (corpus / "deep.md").write_text("---\ntitle: " + "[" * 40 + "x" + "]" * 40 + "\n---\nDeep text.\n")
    eng = engine(tmp_path, corpus, embedder)
    rep = eng.index(progress=False)
    reasons = {s.path: s.reason for s in rep.skipped}
    assert reasons == {
        "bomb.md": "front matter uses YAML aliases (refused: a few aliases can expand to gigabytes)",
        "deep.md": "front matter nested more than 16 levels deep"}
    assert rep.added == len(SAMPLE_FILES) + 1
    assert eng.ask("When did the Zorbian council approve the Kelp Tax?").results[0].path == "kelp.txt"
    # ordinary front matter still gives the article its metadata
    (corpus / "plain.md").write_text("---\ntitle: Harbour Reopens\nsource: Harbour Gazette\ndate: 2024-05-06\n---\n"
                                     "The harbour reopened on Monday after the storm.\n")
    eng.index(progress=False)
    src = {s.path: s for s in eng.status().sources}["plain.md"]
    assert (src.title, src.source, src.date) == ("Harbour Reopens", "Harbour Gazette", "2024-05-06")


def test_markup_bombs_are_named_not_no_text_extracted(tmp_path, corpus, fake_embedder) -> None:
    (corpus / "wide.html").write_text("<html><body>" + "<b></b>" * 250_000 + "</body></html>")
    (corpus / "nested.html").write_text("<html><body>" + "<div>" * 20_000 + "</div>" * 20_000 + "</body></html>")
    rep = engine(tmp_path, corpus, fake_embedder).index(progress=False)
    reasons = {s.path: s.reason for s in rep.skipped}
    assert reasons["wide.html"] == "HTML with 500,004 tags (over 200,000; a markup bomb?)"
    assert reasons["nested.html"] == ("no text extracted: HTML nested 20,002 levels deep (a markup bomb? parsers "
                                      "stop at 255)")


BOUNDS = {  # what a file may cost its reading worker: the file that goes past it, and the reason given
    # under the tag cap, but trafilatura spends many seconds on it (~13 s on this machine)
    "time": ({"file_timeout": 2}, "slow.html", "<html><body>" + "<i></i>" * 95_000 + "</body></html>",
             "reading it took longer than 2 s (NEWSDESK_FILE_TIMEOUT); a hostile or broken file?"),
    # 3 MB of sentences: splitting, chunking and fact extraction need ~250 MB of address space, over this cap (a
    # worker that has read a small text file uses ~60 MB)
    "memory": ({"file_memory_mb": 150}, "huge.txt", "The council met on Tuesday and voted on the plan. " * 60_000,
               "reading it needed more memory than a file may use (NEWSDESK_FILE_MEMORY_MB)"),
}


@pytest.mark.parametrize("bound", sorted(BOUNDS))
def test_a_file_past_its_time_or_memory_bound_costs_that_file_only(tmp_path, corpus, embedder, bound) -> None:
    """Reading a file is bounded in time (past NEWSDESK_FILE_TIMEOUT its worker is killed and replaced) and in
    memory (each worker's address space is capped): the file is reported and the next one is read."""
    settings, name, text, reason = BOUNDS[bound]
    (corpus / name).write_text(text + "\n")
    (corpus / "zz-kelp.txt").write_text(KELP)  # read after it
    eng = engine(tmp_path, corpus, embedder, **settings)
    rep = eng.index(progress=False)
    assert [(s.path, s.reason) for s in rep.skipped] == [(name, reason)]
    assert eng.ask("When did the Zorbian council approve the Kelp Tax?").results[0].path == "zz-kelp.txt"


def test_symlink_out_of_the_corpus_is_never_read(tmp_path, corpus, embedder) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("The admin password is swordfish-42. Keep it safe.\n")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "inside.txt").symlink_to(corpus / SAMPLE_FILES[0].name)  # inside: counts
    (corpus / "dangling.txt").symlink_to(corpus / "gone.txt")
    eng = engine(tmp_path, corpus, embedder)
    rep = eng.index(progress=False)
    reasons = {s.path: s.reason for s in rep.skipped}
    assert reasons == {"passwd.txt": "symlink to a file outside the corpus folder (not read)",
                       "dangling.txt": f"dangling symlink (its target {str(corpus / 'gone.txt')!r} does not exist)"}
    assert "inside.txt" in {s.path for s in eng.status().sources}
    ans = eng.ask("What is the admin password?")
    assert not any("swordfish" in r.quote or "swordfish" in r.passage for r in list(ans.results) + list(ans.near_misses))
    # named, it is refused the same way
    rep = eng.index(progress=False, paths=["passwd.txt"])
    assert [(s.path, s.reason) for s in rep.skipped] == [
        ("passwd.txt", "symlink to a file outside the corpus folder (not read)")]
    assert "passwd.txt" not in {s.path for s in eng.status().sources}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_does_not_hang_named_or_full_index(tmp_path, corpus, fake_embedder) -> None:
    """A FIFO in the corpus used to block `newsdesk index PATH` (and the watcher) forever with the writer lock
    held. Named or found by the scan, it is skipped with its reason, and the lock is free afterwards."""
    engine(tmp_path, corpus, fake_embedder).index(progress=False)
    os.mkfifo(corpus / "pipe.txt")
    for args in ([str(corpus / "pipe.txt")], []):
        proc = subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", "index", *args, "--json", "--corpus",
                               str(corpus), "--data", str(tmp_path / "data")], cwd=ROOT, env=child_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert '"skipped": [{"path": "pipe.txt", "reason": "not a regular file (a FIFO)"}]' in proc.stdout
    # the watcher too: a FIFO created while it watches is reported, and the watcher goes on
    import queue

    from newsdesk.index.watch import start_watch_thread

    runs: queue.Queue = queue.Queue()
    thread, stop = start_watch_thread(engine(tmp_path, corpus, fake_embedder), runs.put, debounce_ms=200)
    try:
        assert runs.get(timeout=60).initial
        os.mkfifo(corpus / "pipe2.txt")
        run = runs.get(timeout=60)
        while "pipe2.txt" not in run.changed:
            run = runs.get(timeout=60)
        assert run.ok and [(s.path, s.reason) for s in run.report.skipped] == [
            ("pipe2.txt", "not a regular file (a FIFO)")]
        (corpus / "after.txt").write_text(KELP)
        while "after.txt" not in (run := runs.get(timeout=60)).changed:
            pass
        assert run.ok and run.report.added == 1
    finally:
        stop.set()
        thread.join(10)
    # a file swapped for a FIFO after the scan is refused when opened, without blocking
    from newsdesk.index.loaders import DocumentError, read_regular

    with pytest.raises(DocumentError, match=r"^not a regular file \(a FIFO\)$"):
        read_regular(corpus / "pipe.txt", corpus, 1 << 20)


def _children(pid: int) -> set[int]:
    """Live descendants of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_killed_index_run_leaves_no_worker_processes(tmp_path, corpus) -> None:
    """kill -9 of `newsdesk index` while its worker reads a file: the worker dies with it. (Workers used to stay,
    blocked on a pipe, until they finished their file: here one needs ~40 s of CPU, so a worker still alive 10 s
    after the kill is an orphan.)"""
    import signal
    import time

    (corpus / "long.txt").write_text("The council met on Tuesday and voted on the plan. " * 240_000 + "\n")  # 12 MB
    proc = subprocess.Popen([sys.executable, "-m", "newsdesk.bot.cli", "index", "--corpus", str(corpus), "--data",
                             str(tmp_path / "data")], cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        while proc.poll() is None and not workers:  # the reading worker is up
            workers = _children(proc.pid)
            time.sleep(0.02)
        time.sleep(1.0)  # and busy with the long file
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in workers if _alive(p)]
    for p in left:  # don't leak them into the rest of the session
        os.kill(p, signal.SIGKILL)
    assert workers and not left


def test_a_text_without_sentence_ends_is_cut_into_bounded_chunks(tmp_path, corpus, embedder) -> None:
    """A sentence-less text was one chunk of its whole size (5 MB), returned whole as the passage."""
    from newsdesk.index.chunking import CHARS_PER_WORD, chunk_spans

    five_mb = "harbour dredging notes without any full stop " * 112_000
    assert len(five_mb) > 5_000_000
    spans = chunk_spans(five_mb, max_words=180)
    assert max(s.end - s.start for s in spans) <= 180 * CHARS_PER_WORD
    assert max(len(five_mb[s.start:s.end].split()) for s in spans) <= 180
    assert "".join(five_mb[s.start:s.end] + " " for s in spans).split() == five_mb.split()  # nothing lost
    blob = "x" * 10_000  # no spaces either
    assert [(s.start, s.end) for s in chunk_spans(blob, max_words=180)] == [(0, 2160), (2160, 4320), (4320, 6480),
                                                                            (6480, 8640), (8640, 10_000)]

    (corpus / "notes.txt").write_text("Dredging log\n\n" + " ".join(
        f"barge{i} moved {i * 7} tonnes of silt from berth {i % 13}" for i in range(1500)) + "\n")
    eng = engine(tmp_path, corpus, embedder)
    eng.index(progress=False)
    ans = eng.ask("How many tonnes of silt did barge77 move?")
    shown = list(ans.results) + list(ans.near_misses)
    assert shown and all(len(r.passage) <= 180 * CHARS_PER_WORD and len(r.quote) <= 180 * CHARS_PER_WORD
                         for r in shown)


def test_watch_indexes_a_slowly_written_file_once(tmp_path, corpus, embedder) -> None:
    """A file written in ten parts with half-second pauses (a slow download) was indexed as ten versions; the watcher
    waits until its size and mtime stay the same over the debounce, so it is indexed once, complete."""
    import queue
    import time

    from newsdesk.index.watch import start_watch_thread

    eng = engine(tmp_path, corpus, embedder)
    runs: queue.Queue = queue.Queue()
    thread, stop = start_watch_thread(eng, runs.put)  # the defaults `newsdesk watch` and the bot use
    try:
        assert runs.get(timeout=60).initial
        with open(corpus / "slow.txt", "w") as f:
            f.write("Quorvath Ferry Strike Ends\n\n")
            for i in range(10):
                f.write(f"Ferry crews in Quorvath returned to work on day {i + 1} of the talks. ")
                f.flush()
                time.sleep(0.5)
            f.write("The strike at Quorvath ended with a pay rise of 14 percent.\n")
        got = [runs.get(timeout=60)]
        while True:  # late events of the same writes: runs that find nothing new
            try:
                got.append(runs.get(timeout=3))
            except queue.Empty:
                break
    finally:
        stop.set()
        thread.join(10)
    assert all(r.ok for r in got), [r.line() for r in got]
    assert sum(r.report.added + r.report.updated for r in got) == 1, [r.line() for r in got]
    assert any("14 percent" in r.quote for r in eng.ask("How much was the pay rise that ended the Quorvath strike?").results)


def test_a_file_that_gave_no_document_is_not_read_again_until_it_changes(tmp_path, corpus, fake_embedder,
                                                                      caplog) -> None:
    """Every run used to read a hostile file again (a time bomb would cost its time limit on each run and each
    watcher batch): it is remembered with its stat and reason, and read again once it changes."""
    import logging
    import time

    (corpus / "bomb.md").write_text(YAML_BOMB)
    os.utime(corpus / "bomb.md", (time.time() - 60, time.time() - 60))  # older than the stat-trust window
    time.sleep(2.1)  # and its ctime too
    eng = engine(tmp_path, corpus, fake_embedder)
    reason = "front matter uses YAML aliases (refused: a few aliases can expand to gigabytes)"
    assert [(s.path, s.reason) for s in eng.index(progress=False).skipped] == [("bomb.md", reason)]
    with caplog.at_level(logging.INFO, logger="newsdesk.index.indexer"):
        for paths in (None, ["bomb.md"]):
            caplog.clear()
            rep = eng.index(progress=False, paths=paths)
            assert [(s.path, s.reason) for s in rep.skipped] == [("bomb.md", reason)]  # still reported
            assert "1 files that gave no document were skipped unread (unchanged since)" in caplog.messages
    (corpus / "bomb.md").write_text("---\ntitle: Harbour news\n---\nThe harbour reopened on Monday.\n")
    rep = eng.index(progress=False)
    assert (rep.added, rep.skipped) == (1, [])
    assert "bomb.md" in {s.path for s in eng.status().sources}


def _as_unprivileged() -> list[str] | None:
    """A command prefix that makes a child subject to file permissions: none needed for a normal user; for root,
    setpriv dropping the capabilities that bypass them (root reads a mode-000 folder otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"] if setpriv else None


@pytest.mark.skipif(_as_unprivileged() is None, reason="running as root without setpriv to drop its file access")
def test_unreadable_folder_and_file_are_reported(tmp_path, corpus) -> None:
    (corpus / "locked").mkdir()
    (corpus / "locked" / "inside.txt").write_text(KELP)
    (corpus / "secret.txt").write_text(KELP)
    (corpus / "locked").chmod(0)
    (corpus / "secret.txt").chmod(0)
    try:
        proc = subprocess.run([*_as_unprivileged(), sys.executable, "-m", "newsdesk.bot.cli", "index", "--json",
                               "--corpus", str(corpus), "--data", str(tmp_path / "data")], cwd=ROOT, env=child_env(),
                              capture_output=True, text=True, timeout=300)
    finally:
        (corpus / "locked").chmod(0o755)
        (corpus / "secret.txt").chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert sorted((s["path"], s["reason"]) for s in rep["skipped"]) == [
        ("locked", "unreadable folder (Permission denied): its files are left out"),
        ("secret.txt", "unreadable file (Permission denied)")]
    assert rep["added"] == len(SAMPLE_FILES)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_reading_worker_outlives_the_thread_that_started_it(tmp_path, corpus, fake_embedder) -> None:
    """Workers die with their parent; the kernel ties that to the thread that started them. The worker a process
    keeps between runs must survive the end of the thread whose run started it (a watcher stopped, a request
    thread gone), or the next run's files could be left unread."""
    import threading

    from newsdesk.index import preparing

    preparing.stop_workers()  # the next run starts the kept worker afresh, from the thread below
    before = _children(os.getpid())
    eng = engine(tmp_path, corpus, fake_embedder)
    t = threading.Thread(target=eng.index, kwargs={"progress": False})
    t.start()
    t.join()
    kept = _children(os.getpid()) - before
    assert kept  # the worker (and multiprocessing's resource tracker) stay for the next run
    (corpus / "kelp.txt").write_text(KELP)
    rep = eng.index(progress=False)
    assert (rep.added, rep.skipped) == (1, [])
    assert all(_alive(p) for p in kept)
