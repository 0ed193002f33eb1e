"""The suite owns its data: it passes whatever the user keeps in corpus/ and .env (issue 16, item 1)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import pytest

from tests.samples import ROOT, USER_PREFIXES

# Settings that break the sample answers if a test picked them up: another corpus and data folder, one result,
# tiny chunks, a model that does not exist, a Discord token and channel list the fake does not know.
HOSTILE = {
    "NEWSDESK_TOP_K": "1",
    "NEWSDESK_CHUNK_WORDS": "20",
    "NEWSDESK_MAX_CHUNK_WORDS": "25",
    "NEWSDESK_MODEL": "no-such-org/no-such-model",
    "NEWSDESK_BACKEND": "torch",
    "NEWSDESK_QUOTE_WEIGHT": "0",
    "NEWSDESK_LOCK_TIMEOUT": "0",
    "DISCORD_TOKEN": "hostile-token",
    "DISCORD_CHANNELS": "42",
    "DISCORD_COOLDOWN_SECONDS": "600",
    "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
}
USER_ARTICLE = """Pompeo visits the harbour

Mike Pompeo said on April 7 that the harbour of Tarnow would get a new lighthouse. "We have made clear that we \
support the lighthouse," Pompeo said.
"""
# A representative subset: CLI subprocesses (index, ask, eval, named paths), module-wide engines over the samples,
# settings from .env, the Discord bot's start-up, the quote tests that read the sample article's text.
SUBSET = [
    "tests/test_engine.py::test_cli_index_and_ask_json",
    "tests/test_engine.py::test_cli_index_of_named_files",
    "tests/test_engine.py::test_eval_reports_metrics",
    "tests/test_engine.py::test_a_change_of_chunking_rechunks_every_document_and_embeds_only_new_chunks",
    "tests/test_settings.py",
    "tests/test_discord_startup.py",
    "tests/test_discord_bot.py::test_slash_ask_quotes_pompeo",
    "tests/test_freshness.py::test_unchanged_rerun_embeds_nothing_cli_json",
    "tests/test_answers.py::test_syndicated_copy_collapses_into_one_result_with_both_sources",
    "tests/test_speakers.py",
]


def test_reading_the_users_corpus_or_env_fails_a_test():
    """The conftest guard: a test that opens the repository's corpus/ or .env fails with the path named."""
    with pytest.raises(PermissionError, match="tests use tests/fixtures"):
        (ROOT / "corpus" / "004_563c2adb94c7b42a.txt").read_text()
    with pytest.raises(PermissionError, match=r"\.env"):
        open(ROOT / ".env")  # noqa: SIM115 - the open itself is refused


def test_suite_passes_with_the_users_own_articles_and_a_hostile_env(tmp_path):
    """A copy of the repository's tests, scripts and configuration whose corpus/ holds only the user's own
    articles (no samples) and whose .env and environment set every setting a test could trip on: the subset
    still passes, and neither the user's corpus nor the data folder their settings name is touched."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", ".env.example"):
        shutil.copy2(ROOT / name, repo / name)
    corpus = repo / "corpus"
    corpus.mkdir()
    (corpus / "my-article.txt").write_text(USER_ARTICLE, encoding="utf-8")
    (corpus / "004_563c2adb94c7b42a.txt").write_text("My own notes, named like a sample.\n", encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    hostile = HOSTILE | {"NEWSDESK_CORPUS": str(corpus), "NEWSDESK_DATA": str(repo / "user-data")}
    (repo / ".env").write_text("".join(f"{k}={v}\n" for k, v in hostile.items()), encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith(USER_PREFIXES)}
    env.pop("PYTHONPATH", None)
    env |= hostile | {"HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SUBSET],
                       cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert " passed" in p.stdout and " skipped" not in p.stdout, p.stdout[-2000:]
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
    assert not (repo / "user-data").exists() and not (repo / ".newsdesk").exists()
