"""`newsdesk backup` / `restore` (issue 16, item 6): a consistent copy of the index taken while index runs commit,
restored into a fresh data folder that answers. Real model, real index files, real threads and processes."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from newsdesk.index import backup as backup_module
from newsdesk.index.backup import BACKUP_FILE, BackupError, backup, restore
from newsdesk.index.engine import Engine
from newsdesk.index.indexer import verify
from newsdesk.index.settings import Settings
from newsdesk.index.store import Store
from tests.samples import child_env, copy_samples

POMPEO_Q = "what did Pompeo say on April 7?"


def article(i: int) -> str:
    return (f"Harbour works number {i}\n\nThe council of Brisk approved harbour works number {i} on Monday. "
            f"Mayor Ada Quill{i} said the works would cost {100 + i} thousand crowns.\n")


def engine(corpus: Path, data: Path, embedder) -> Engine:
    return Engine(Settings(_env_file=None, corpus=corpus, data=data, progress=False), embedder=embedder)


def assert_restored_answers(src: Path, tmp: Path, embedder, corpus: Path) -> dict:
    """Restore `src` into a new data folder; it must verify, hold what backup.json says, and answer."""
    info = json.loads((src / BACKUP_FILE).read_text())
    data = tmp / f"restored-{src.name}"
    restore(src, data)
    store = Store(data)
    try:
        verify(store)
        assert store.generation() == info["generation"]
    finally:
        store.close()
    eng = engine(corpus, data, embedder)
    status = eng.status()
    assert (status.documents, status.chunks) == (info["documents"], info["chunks"])
    ans = eng.ask(POMPEO_Q)
    assert not ans.abstained and any("Pompeo" in r.quote for r in ans.results), ans
    return info


def test_backups_taken_while_index_runs_commit_restore_and_answer(tmp_path, embedder):
    corpus, data = copy_samples(tmp_path / "corpus"), tmp_path / "data"
    writer = engine(corpus, data, embedder)
    writer.index(progress=False)
    stop, commits, errors = threading.Event(), [], []

    def keep_writing() -> None:  # one new article and one committed generation after another
        try:
            i = 0
            while not stop.is_set():
                (corpus / f"works-{i}.txt").write_text(article(i))
                writer.index(progress=False, paths=[f"works-{i}.txt"])
                commits.append(i)
                i += 1
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    taken = []
    try:
        while len(taken) < 4 or len(commits) < 4:
            before = len(commits)
            dest = tmp_path / f"backup-{len(taken)}"
            backup(data, dest)
            taken.append((dest, before))
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    assert len({n for _, n in taken}) > 1, "the writer committed between backups"
    checked = list(dict.fromkeys(taken[:: max(1, len(taken) // 6)] + taken[-1:]))  # every one: only slower
    generations = [assert_restored_answers(dest, tmp_path, embedder, corpus)["generation"] for dest, _ in checked]
    assert generations == sorted(generations) and generations[-1] > generations[0]
    assert sorted(p.name for p in taken[-1][0].iterdir()) == sorted(
        [BACKUP_FILE, *json.loads((taken[-1][0] / BACKUP_FILE).read_text())["files"]])


def test_a_generation_replaced_during_the_copy_is_copied_again(tmp_path, embedder, monkeypatch):
    """Two index runs commit between the SQLite snapshot and the copy of its files, so the writer has deleted
    them: the copy fails its checksums and is taken again from the newer generation."""
    corpus, data = copy_samples(tmp_path / "corpus"), tmp_path / "data"
    writer = engine(corpus, data, embedder)
    writer.index(progress=False)
    real_copy = backup_module._copy
    raced = []

    def copy_after_two_commits(src: Path, dst: Path) -> None:
        if not raced:
            raced.append(True)
            for i in range(2):
                (corpus / f"works-{i}.txt").write_text(article(i))
                writer.index(progress=False, paths=[f"works-{i}.txt"])
        real_copy(src, dst)

    monkeypatch.setattr(backup_module, "_copy", copy_after_two_commits)
    info = backup(data, tmp_path / "bk")
    assert info.attempts == 2 and info.generation == 3 and info.documents == 4
    assert assert_restored_answers(tmp_path / "bk", tmp_path, embedder, corpus)["generation"] == 3
    assert not any(p.name.startswith(".bk.partial") for p in tmp_path.iterdir())


def test_restore_refuses_an_existing_index_and_a_damaged_backup(tmp_path, embedder):
    corpus, data = copy_samples(tmp_path / "corpus"), tmp_path / "data"
    engine(corpus, data, embedder).index(progress=False)
    backup(data, tmp_path / "bk")
    with pytest.raises(BackupError, match="already holds an index"):
        restore(tmp_path / "bk", data)
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(data, tmp_path / "bk")
    with pytest.raises(BackupError, match="not a newsdesk backup"):
        restore(corpus, tmp_path / "new")
    delta = next((tmp_path / "bk").glob("delta-*"))
    for f in delta.iterdir():
        f.write_bytes(b"damaged")
    with pytest.raises(BackupError, match="damaged"):
        restore(tmp_path / "bk", tmp_path / "new")
    assert not (tmp_path / "new" / "newsdesk.sqlite").exists()  # nothing half-restored


def test_cli_backup_while_the_bot_reads_then_restore_and_ask(tmp_path, embedder):
    """The commands, with a reader (a running engine, as the bot holds one) open on the data folder."""
    corpus, data = copy_samples(tmp_path / "corpus"), tmp_path / "data"
    reader = engine(corpus, data, embedder)
    reader.index(progress=False)
    assert reader.ask(POMPEO_Q).results
    env = child_env(NEWSDESK_CORPUS=str(corpus))

    def newsdesk(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=240)

    p = newsdesk("backup", "bk", "--data", str(data))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("backed up generation 1 of ") and "(2 documents, 11 chunks" in p.stdout
    assert newsdesk("sources", "--data", "fresh").returncode == 0  # a health check made an empty database there
    assert (tmp_path / "fresh" / "newsdesk.sqlite").exists()
    p = newsdesk("restore", "bk", "--data", "fresh", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["documents"] == 2
    p = newsdesk("ask", POMPEO_Q, "--data", "fresh", "--json")
    assert p.returncode == 0, p.stderr
    assert any("Pompeo" in r["quote"] for r in json.loads(p.stdout)["results"])
    p = newsdesk("restore", "bk", "--data", "fresh")
    assert p.returncode == 2 and "already holds an index" in p.stderr and "Traceback" not in p.stderr


def test_a_backup_from_an_older_index_format_restores_and_the_next_run_rebuilds(tmp_path, embedder, caplog):
    """After an upgrade that changed the index format, an old backup still restores; `ask` names the fix and
    the next index run rebuilds from the corpus (README "Upgrades")."""
    import sqlite3

    from newsdesk.index.errors import IndexProblem
    from newsdesk.index.store import FORMAT_VERSION

    corpus, data = copy_samples(tmp_path / "corpus"), tmp_path / "data"
    engine(corpus, data, embedder).index(progress=False)
    backup(data, tmp_path / "bk")
    with sqlite3.connect(tmp_path / "bk" / "newsdesk.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION - 1),))
    db.close()
    restore(tmp_path / "bk", tmp_path / "new")
    assert "the next `newsdesk index` rebuilds" in caplog.text
    eng = engine(corpus, tmp_path / "new", embedder)
    with pytest.raises(IndexProblem, match="newsdesk index --rebuild"):
        eng.ask(POMPEO_Q)
    report = eng.index(progress=False)
    assert report.documents == 2 and report.chunks_embedded == 0  # the same text: vectors from the cache
    assert any("Pompeo" in r.quote for r in eng.ask(POMPEO_Q).results)
