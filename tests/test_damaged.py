"""Issue 13, items 7 and 10: a damaged data folder is always recoverable. A garbage manifest value or damaged
SQLite pages make `ask` say what is wrong and how to fix it (no traceback), and `index --rebuild` always works; what
a killed run left behind is cleaned at the next run. The CLI in child processes, real model and files."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings

from tests.samples import indexed_samples

ROOT = Path(__file__).resolve().parent.parent
POMPEO_Q = "what did Pompeo say on April 7?"


@pytest.fixture(scope="module")
def template(tmp_path_factory, embedder) -> Path:
    return indexed_samples(tmp_path_factory.mktemp("damaged-template"), embedder)


@pytest.fixture
def folder(tmp_path, template) -> Path:
    shutil.copytree(template / "corpus", tmp_path / "corpus")
    shutil.copytree(template / "data", tmp_path / "data", ignore=shutil.ignore_patterns("index.lock"))
    return tmp_path


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", *args, "--corpus", str(folder / "corpus"),
                           "--data", str(folder / "data")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def damage_manifest(data: Path) -> None:
    with sqlite3.connect(data / "newsdesk.sqlite") as c:
        c.execute("UPDATE meta SET value='garbage' WHERE key='generation'")


def damage_pages(data: Path) -> None:
    db = data / "newsdesk.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    with open(db, "r+b") as f:
        f.seek(3 * 4096)
        f.write(b"\xde\xad\xbe\xef" * 2048)  # two pages of garbage


@pytest.mark.parametrize("damage, message", [
    (damage_manifest, "the index in {data} is damaged: its manifest's generation is 'garbage', not a number; "
                      "rebuild it with: newsdesk index --rebuild --data {data}"),
    (damage_pages, "the index database in {data} is damaged (database disk image is malformed); rebuild it with: "
                   "newsdesk index --rebuild --data {data} (the damaged files are moved aside)"),
])
def test_damaged_data_folder_says_how_to_fix_it_and_rebuild_recovers(folder, damage, message) -> None:
    data = folder / "data"
    damage(data)
    for command in (["ask", POMPEO_Q], ["index"]):
        proc = cli(folder, *command)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == f"newsdesk: {message.format(data=data)}\n"  # one line, no traceback
    proc = cli(folder, "index", "--rebuild", "--json")
    assert proc.returncode == 0, proc.stderr
    proc = cli(folder, "ask", POMPEO_Q, "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"path": "004_563c2adb94c7b42a.txt"' in proc.stdout
    aside = sorted(data.glob("damaged-*"))
    if damage is damage_pages:  # the damaged database is kept, moved aside, for whoever wants to look
        assert len(aside) == 1 and (aside[0] / "newsdesk.sqlite").exists()
    else:  # the documents and embeddings were sound: kept, nothing moved
        assert aside == []


def test_leftovers_of_a_killed_run_are_removed_by_the_next(folder, embedder) -> None:
    data = folder / "data"
    gen = int(sqlite3.connect(data / "newsdesk.sqlite").execute(
        "SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    # what a --rebuild killed while writing leaves: temporary files and folders, and the files of a generation it
    # wrote but never committed
    (data / f".tmp-vectors-{gen + 1}.faiss").write_bytes(b"half written")
    (data / f".tmp-bm25-{gen + 1}").mkdir()
    (data / f".tmp-bm25-{gen + 1}" / "vocab.txt").write_text("half")
    (data / f"vectors-{gen + 1}.faiss").write_bytes(b"never committed")
    (data / f"delta-{gen + 1}").mkdir()
    before = {p.name for p in data.iterdir()}
    eng = Engine(Settings(_env_file=None, corpus=folder / "corpus", data=data, progress=False), embedder=embedder)
    rep = eng.index(progress=False)
    assert rep.unchanged == 2
    assert before - {p.name for p in data.iterdir()} == {f".tmp-vectors-{gen + 1}.faiss", f".tmp-bm25-{gen + 1}",
                                                         f"vectors-{gen + 1}.faiss", f"delta-{gen + 1}"}
    assert eng.ask(POMPEO_Q).results[0].path == "004_563c2adb94c7b42a.txt"


async def test_bot_says_the_index_is_damaged(folder, embedder, discord_fake, start_discord_bot) -> None:
    eng = Engine(Settings(_env_file=None, corpus=folder / "corpus", data=folder / "data", progress=False),
                 embedder=embedder)
    damage_pages(folder / "data")
    await start_discord_bot(eng)
    asked = await discord_fake.send_slash("ask", {"question": POMPEO_Q})
    await discord_fake.wait_response(asked, timeout=60)
    assert asked.text() == ("The index is damaged, so I can't answer now; an admin can rebuild it "
                            "(`newsdesk index --rebuild`).")
