"""The terminal chat, driven as a person uses it: a real `newsdesk chat` process in a pseudo-terminal (pexpect)
with the real model and index; the up arrow recalls questions (also from an earlier session, from the history
file in the data folder), a follow-up is asked with the question before it, /passages toggles the passage shown
around each quote. Piped, the same chat writes no colour and no prompt."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from newsdesk.bot.chat import ChatState, use_colour
from newsdesk.index.followup import looks_like_follow_up

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
Q1 = "what did Pompeo say on April 7?"
UP = "\x1b[A"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DONE = r"\(\d+ ms\)"  # printed after every answer


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_33870d39bdde5ea7.txt", "004_563c2adb94c7b42a.txt"):
        shutil.copy(FIXTURES / name, corpus / name)
    return corpus, tmp_path / "data"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DISCORD_TOKEN")}
    env.update(TERM="xterm", INPUTRC="/dev/null", COLUMNS="120", **extra)
    return env


def _spawn(corpus: Path, data: Path) -> pexpect.spawn:
    """`newsdesk chat` in a pseudo-terminal, ready for input (waits are generous: under a niced suite on a
    busy machine starting the model can take a minute)."""
    child = pexpect.spawn(sys.executable, ["-m", "newsdesk.bot.cli", "chat", "--corpus", str(corpus), "--data", str(data)],
                          env=_env(), encoding="utf-8", timeout=240, dimensions=(50, 120))
    child.expect("Ask a question")
    return child


def _answer(child: pexpect.spawn) -> str:
    """Everything the chat printed up to the end of the next answer, colour codes removed."""
    child.expect(DONE)
    return ANSI.sub("", child.before)


def test_chat_in_a_terminal_history_follow_up_and_passages(folders: tuple[Path, Path]) -> None:
    corpus, data = folders
    child = _spawn(corpus, data)
    try:
        child.sendline(Q1)
        child.expect(DONE)
        raw = child.before
        first = ANSI.sub("", raw)
        assert "\x1b[" in raw  # a terminal gets colour
        assert "Mike Pompeo, April 7:" in first  # the speaker and date label
        assert "by David Choi · Business Insider" in first  # the byline in the citation
        # the passage around the quote, on its own marked lines under it
        assert re.search(r"\n\s+\| .*Khalifa Haftar's forces", first)

        child.sendline("and what did he add?")
        follow = _answer(child)
        assert f"(follow-up: {Q1} and what did he add?)" in follow
        assert '"There is no military solution to the Libya conflict," Pompeo added.' in follow
        assert "The sources don't answer that" not in follow

        child.sendline("/passages")
        child.expect("passages hidden")
        child.send(UP * 3)  # /passages, the follow-up, then the first question
        child.sendline("")
        again = _answer(child)
        assert Q1 in again  # the recalled line, echoed
        assert "(follow-up:" not in again  # it names its subject: asked alone
        assert "Mike Pompeo, April 7:" in again and not re.search(r"\n\s+\| ", again)  # no passages now

        child.sendline("/help")
        child.expect("/passages +show or hide the passage")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    history = (data / "chat_history").read_text()
    assert Q1 in history and "/quit" not in history

    # a new session recalls the last session's questions with the up arrow
    child = _spawn(corpus, data)
    try:
        child.send(UP * 2)  # the last line (/help), then the one before it: the recalled first question
        child.sendline("")
        assert Q1 in _answer(child)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_piped_chat_is_plain(folders: tuple[Path, Path]) -> None:
    corpus, data = folders
    run = subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", "chat", "--corpus", str(corpus), "--data", str(data)],
                         input=f"{Q1}\n/passages\nand what did he add?\n", capture_output=True, text=True, env=_env(),
                         timeout=300, check=True)
    assert "\x1b" not in run.stdout and not run.stdout.startswith(">")
    answers = run.stdout.split("passages hidden")
    assert "Mike Pompeo, April 7:" in answers[0] and re.search(r"\n\s+\| ", answers[0])
    assert "Pompeo added" in answers[1] and not re.search(r"\n\s+\| ", answers[1])
    assert f"(follow-up: {Q1} and what did he add?)" in run.stderr


def test_colour_only_on_a_terminal_without_no_color() -> None:
    main, other = os.openpty()
    try:
        with open(other, "w", closefd=False) as tty, open(os.devnull, "w") as null:
            assert use_colour(tty, {"TERM": "xterm"})
            assert not use_colour(tty, {"TERM": "xterm", "NO_COLOR": "1"})
            assert not use_colour(tty, {"TERM": "dumb"})
            assert not use_colour(null, {"TERM": "xterm"})
    finally:
        os.close(main)
        os.close(other)


def test_which_lines_are_follow_ups() -> None:
    state = ChatState(previous=Q1)
    assert state.question_for("and what did he add?") == f"{Q1} and what did he add?"
    assert state.question_for("what about Trump?") == f"{Q1} what about Trump?"
    assert state.question_for("Who met Trump on April 9?") == "Who met Trump on April 9?"
    assert ChatState().question_for("and what did he add?") == "and what did he add?"  # nothing before it
    assert not looks_like_follow_up("What did Fayez al-Sarraj say about the offensive?")
    assert not looks_like_follow_up("how many people died in the flood that hit the town?")
    assert looks_like_follow_up("what did she say next?")
