"""`newsdesk` behaves like a Unix tool on bad input: one clear line on stderr, no traceback, a documented non-zero
exit status (README "Exit status"); a closed pipe ends it quietly. The real command in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.bot.exits import PIPE_CLOSED, USAGE
from tests.samples import child_env, copy_samples, indexed_samples

POMPEO_Q = "what did Pompeo say on April 7?"


@pytest.fixture(scope="module")
def home(tmp_path_factory, embedder) -> Path:
    """A folder with corpus/ (the samples) and data/ (their index); commands run from it."""
    return indexed_samples(tmp_path_factory.mktemp("cli-home"), embedder)


def newsdesk(home: Path, *args: str, stdout=subprocess.PIPE, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", *args], cwd=home, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=240,
                          env=child_env(**{"NEWSDESK_CORPUS": str(home / "corpus"), "NEWSDESK_DATA": str(home / "data")}
                                        | env))


def assert_clean_failure(p: subprocess.CompletedProcess, status: int, *expected: str) -> None:
    assert p.returncode == status, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "Error:" not in p.stderr, p.stderr
    for text in expected:
        assert text in p.stderr, (text, p.stderr)


@pytest.mark.parametrize("args", [("sources",), ("ask", POMPEO_Q), ("ask", POMPEO_Q, "--json")])
def test_a_closed_pipe_ends_quietly(home, args):
    """`newsdesk ask ... | head -1` after head has gone: no BrokenPipeError traceback, status 141 (as a shell
    reports a tool ended by SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes
    try:
        p = newsdesk(home, *args, stdout=write_end)
    finally:
        os.close(write_end)
    assert p.returncode == PIPE_CLOSED, p.stderr
    assert p.stderr == ""


def test_eval_json_into_a_closed_pipe_and_its_file_errors(home):
    qfile = home / "q.jsonl"
    qfile.write_text(json.dumps({"qid": "a", "question": POMPEO_Q, "gold": ["no military solution"]}) + "\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = newsdesk(home, "eval", str(qfile), "--json", stdout=write_end)
    finally:
        os.close(write_end)
    assert (p.returncode, p.stderr) == (PIPE_CLOSED, "")

    assert_clean_failure(newsdesk(home, "eval", "/missing.jsonl"), USAGE, "newsdesk: no such file or folder: /missing.jsonl")
    assert_clean_failure(newsdesk(home, "eval", str(home)), USAGE, f"{home} is a folder, not a file")
    bad = home / "bad.jsonl"
    bad.write_text(json.dumps({"qid": "a", "question": "q"}) + "\n{not json\n")
    assert_clean_failure(newsdesk(home, "eval", str(bad)), USAGE, "bad.jsonl:2: not a question line")
    bad.write_bytes(b"\xff\xfe\x00binary")
    assert_clean_failure(newsdesk(home, "eval", str(bad)), USAGE, "not UTF-8 text")
    bad.write_text("\n")
    assert_clean_failure(newsdesk(home, "eval", str(bad)), USAGE, "no questions in")


def test_a_bad_date_is_a_usage_error(home):
    p = newsdesk(home, "ask", POMPEO_Q, "--asked-at", "2023-13-45")
    assert_clean_failure(p, USAGE, "argument --asked-at: not a date (YYYY-MM-DD): '2023-13-45'")
    assert p.stdout == ""


def test_index_of_a_missing_or_outside_path_fails_and_a_deleted_file_is_removed(home, tmp_path):
    p = newsdesk(home, "index", "missing.txt", "--json")
    assert_clean_failure(p, USAGE, "no such file or folder: missing.txt")
    assert p.stdout == ""  # not `"added": 0`
    assert_clean_failure(newsdesk(home, "index", "corpus/missing.txt"), USAGE,
                         "no such file or folder, and nothing indexed there: corpus/missing.txt")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("Elsewhere\n\nA text outside the corpus.\n")
    assert_clean_failure(newsdesk(home, "index", str(outside)), USAGE, "not inside the corpus folder")
    # A file that is gone but indexed is a deletion to record, not an error.
    other = home / "corpus-copy"
    copy_samples(other)
    name = sorted(p.name for p in other.iterdir())[0]
    env = {"NEWSDESK_CORPUS": str(other), "NEWSDESK_DATA": str(tmp_path / "d")}
    assert newsdesk(home, "index", **env).returncode == 0
    (other / name).unlink()
    p = newsdesk(home, "index", f"corpus-copy/{name}", "--json", **env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["removed"] == 1


def test_malformed_settings_name_the_variable(home):
    assert_clean_failure(newsdesk(home, "sources", NEWSDESK_TOP_K="many"), USAGE,
                         "NEWSDESK_TOP_K: Input should be a valid integer", "'many'")
    assert_clean_failure(newsdesk(home, "sources", NEWSDESK_LOG_LEVEL="loud"), USAGE,
                         "NEWSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not 'loud'")


def test_a_damaged_index_is_a_usage_error_with_the_fix(home, tmp_path):
    data = tmp_path / "data"
    subprocess.run(["cp", "-r", str(home / "data"), str(data)], check=True)
    for f in data.glob("vectors-*.faiss"):
        f.write_bytes(b"garbage")
    p = newsdesk(home, "ask", POMPEO_Q, NEWSDESK_DATA=str(data))
    assert_clean_failure(p, USAGE, "newsdesk index --rebuild")


def test_a_first_ask_into_a_pipe_prints_only_the_answer(home, tmp_path):
    """`ask` indexes a new data folder first: with stderr not a terminal, no progress bar and no log lines."""
    p = newsdesk(home, "ask", POMPEO_Q, NEWSDESK_DATA=str(tmp_path / "new-data"))
    assert p.returncode == 0 and "Pompeo" in p.stdout
    assert p.stderr == ""
