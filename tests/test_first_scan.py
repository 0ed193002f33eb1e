"""Issue 13, item 9: a first named index on a fresh data folder must not hide the rest of the corpus, and the bot
brings the index up to date at start-up. Real model, real files, the CLI in a child process, the bot over the
Discord fake."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings

from tests.samples import copy_samples

ROOT = Path(__file__).resolve().parent.parent
POMPEO_Q = "what did Pompeo say on April 7?"
POMPEO_FILE = "004_563c2adb94c7b42a.txt"
KELP = ("Zorbian Council Approves Kelp Tax\n\nThe Zorbian council approved the Kelp Tax on 3 March 2019. The measure "
        "passed by a vote of seven to two after a long debate in the harbour hall.\n")


def fresh(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    (corpus / "kelp.txt").write_text(KELP)
    return corpus, tmp_path / "data"


def test_first_named_index_scans_the_whole_corpus(tmp_path, embedder) -> None:
    corpus, data = fresh(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", "index", str(corpus / "kelp.txt"), "--json",
                           "--corpus", str(corpus), "--data", str(data)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 3  # kelp.txt and the two sample articles
    eng = Engine(Settings(_env_file=None, corpus=corpus, data=data, progress=False), embedder=embedder)
    assert eng.ask(POMPEO_Q).results[0].path == POMPEO_FILE
    # once the whole corpus was seen, named runs look at the named files only again
    (corpus / "late.txt").write_text(KELP.replace("Kelp", "Sponge"))
    (corpus / "unnamed.txt").write_text(KELP.replace("Kelp", "Coral"))
    rep = eng.index(progress=False, paths=["late.txt"])
    assert (rep.added, rep.documents) == (1, 4)


def test_first_upload_on_a_fresh_data_folder_indexes_the_corpus(tmp_path, embedder) -> None:
    corpus, data = fresh(tmp_path)
    eng = Engine(Settings(_env_file=None, corpus=corpus, data=data, progress=False), embedder=embedder)
    added = eng.add_file("ferry.txt", b"Ferry news\n\nThe ferry to Pyke will run again in May, the mayor said.\n")
    assert added.report.documents == 4
    assert eng.ask(POMPEO_Q).results[0].path == POMPEO_FILE


async def test_bot_brings_the_index_up_to_date_at_start_up(tmp_path, embedder, discord_fake, start_discord_bot):
    corpus, data = fresh(tmp_path)
    (corpus / "kelp.txt").unlink()
    eng = Engine(Settings(_env_file=None, corpus=corpus, data=data, progress=False), embedder=embedder)
    eng.index(progress=False)
    (corpus / "kelp.txt").write_text(KELP)  # arrived while the bot was down
    await start_discord_bot(eng)
    for _ in range(600):  # the start-up run, in the background
        if (await asyncio.to_thread(eng.status)).documents == 3:
            break
        await asyncio.sleep(0.1)
    asked = await discord_fake.send_slash("ask", {"question": "When did the Zorbian council approve the Kelp Tax?"})
    await discord_fake.wait_response(asked, timeout=60)
    assert "`kelp.txt`" in asked.text() and "3 March 2019" in asked.text()
    assert "index of 3 articles" in asked.text()
