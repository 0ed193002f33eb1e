"""The terminal chat (`newsdesk chat`, and `newsdesk run` without a Discord token).

Line editing and history come from GNU readline (the standard library's `readline`) when the chat runs in a
terminal; the history is kept in the data folder (`chat_history`) so the up arrow recalls questions from
earlier sessions too. A line that leans on the previous question ("and what did he add?") is asked together
with it, as a reply to an answer is on Discord (`index/followup.py`). Each quote is shown with the passage
around it unless `/passages` turns that off. Colour only when stdout is a terminal and NO_COLOR is not set.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from newsdesk.index.followup import combine_follow_up, looks_like_follow_up

from .terminal import Paint, plain, render_answer, render_report, render_status

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

log = logging.getLogger(__name__)

HISTORY_FILE = "chat_history"  # in the data folder
HISTORY_LENGTH = 1000  # lines kept
QUIT = frozenset({"/quit", "/exit", "/q", "quit", "exit"})

HELP = """\
Ask a question about the indexed articles; answers quote them word for word.
A line that continues the last question ("and what did he add?", "what about Trump?") is asked with it.
  /help            this help
  /passages        show or hide the passage around each quote (now: {passages})
  /new             forget the last question (the next line stands alone)
  /sources         what is indexed
  /quit            leave (also Ctrl-D)
Up and down arrows recall earlier questions, also from past sessions."""

_ANSI = {"label": "1;36", "cite": "2", "passage": "2", "mark": "1", "prompt": "1;32", "note": "33"}


def use_colour(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour when `stream` is a terminal, NO_COLOR is unset or empty (no-color.org) and TERM is not dumb."""
    env = os.environ if environ is None else environ
    return bool(stream.isatty()) and not env.get("NO_COLOR") and env.get("TERM", "") != "dumb"


def ansi(role: str, text: str) -> str:
    code = _ANSI.get(role)
    return f"\033[{code}m{text}\033[0m" if code and text else text


@dataclass
class ChatState:
    """What a chat remembers between lines: the last question asked and whether passages are shown."""

    previous: str | None = None
    passages: bool = True

    def question_for(self, line: str) -> str:
        """The query for `line`: with the previous question before it when `line` is a follow-up."""
        if self.previous and looks_like_follow_up(line):
            return combine_follow_up(self.previous, line)
        return line


class LineReader:
    """Reads lines with readline editing and a history file when stdin is a terminal, plain `input()`
    otherwise (piped questions: no prompt, no escape codes)."""

    def __init__(self, history: Path | None, prompt: str) -> None:
        self.interactive = sys.stdin.isatty()
        self.history = history
        self.prompt = prompt if self.interactive else ""
        self._readline = None
        if self.interactive:
            try:
                import readline  # noqa: PLC0415 - only for a terminal; importing it may emit escape codes
            except ImportError:  # a Python built without readline: input() still works, without editing
                log.info("readline is not available: no line editing or history")
            else:
                self._readline = readline
                readline.set_history_length(HISTORY_LENGTH)
                if history is not None and history.exists():
                    try:
                        readline.read_history_file(history)
                    except OSError as exc:
                        log.warning("could not read the chat history %s (%s)", history, exc)

    def read(self) -> str | None:
        """The next line, or None at the end of input (Ctrl-D, Ctrl-C, end of a pipe)."""
        try:
            line = input(self.prompt)
        except (EOFError, KeyboardInterrupt):
            return None
        if self._readline is not None and line.strip().lower() in QUIT:
            n = self._readline.get_current_history_length()  # leaving is not worth recalling
            if n:
                self._readline.remove_history_item(n - 1)
        return line

    def save(self) -> None:
        if self._readline is None or self.history is None:
            return
        try:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            self._readline.write_history_file(self.history)
        except OSError as exc:
            log.warning("could not save the chat history to %s (%s)", self.history, exc)


def run_chat(engine: Engine, *, out: TextIO | None = None, err: TextIO | None = None,
             now: Callable[[], dt.datetime] = dt.datetime.now) -> int:
    """Index what changed, then answer lines from stdin until /quit or the end of input; returns 0."""
    out, err = out or sys.stdout, err or sys.stderr
    paint: Paint = ansi if use_colour(out) else plain
    print(render_report(engine.index(progress=err.isatty())), file=err)
    warm_in_background(engine)  # after the catch-up run, whose generation it loads; the prompt does not wait
    prompt = "> " if paint is plain else f"\001\033[{_ANSI['prompt']}m\002> \001\033[0m\002"
    reader = LineReader(Path(engine.settings.data) / HISTORY_FILE, prompt)
    st = engine.status()
    print(f"newsdesk: {st.documents} articles indexed from {engine.settings.corpus}. "
          "Ask a question (/help, /quit).", file=err, flush=True)
    state = ChatState()
    try:
        while (line := reader.read()) is not None:
            line = line.strip()
            if not line:
                continue
            if line.startswith("/") or line.lower() in QUIT:
                if not _command(line, state, engine, out, paint):
                    break
                continue
            question = state.question_for(line)
            if question != line:
                print(paint("note", f"(follow-up: {question})"), file=err)
            t = time.perf_counter()
            try:
                answer = engine.ask(question, asked_at=now())
            except ValueError as exc:
                print(f"newsdesk: {exc}", file=err)
                continue
            print(render_answer(answer, passage=state.passages, paint=paint) + "\n", file=out, flush=True)
            print(f"({(time.perf_counter() - t) * 1000:.0f} ms)", file=err, flush=True)
            state.previous = question
    finally:
        reader.save()
    if reader.interactive:
        print(file=err)
    return 0


def warm_in_background(engine: Engine) -> threading.Thread | None:
    """NEWSDESK_WARM_AT_START: `Engine.warm` in a daemon thread (named newsdesk-warm), so that the model and the
    index are loaded while the user types the first question; None when the setting is off. A failure is logged
    (the first question meets it again and says why)."""
    if not engine.settings.warm_at_start:
        return None

    def warm() -> None:
        try:
            engine.warm()
        except Exception as exc:
            log.warning("warming up failed (the first question will load the index): %s", exc)

    thread = threading.Thread(target=warm, name="newsdesk-warm", daemon=True)
    thread.start()
    return thread


def _command(line: str, state: ChatState, engine: Engine, out: TextIO, paint: Paint) -> bool:
    """Run a /command; False to leave the chat."""
    name, _, arg = line.partition(" ")
    name = name.lower()
    if name in QUIT:
        return False
    if name in {"/help", "/?", "/h"}:
        print(HELP.format(passages="shown" if state.passages else "hidden"), file=out)
    elif name == "/passages":
        arg = arg.strip().lower()
        state.passages = {"on": True, "off": False}.get(arg, not state.passages)
        print(paint("note", f"passages {'shown' if state.passages else 'hidden'}"), file=out)
    elif name == "/new":
        state.previous = None
        print(paint("note", "the next question stands alone"), file=out)
    elif name == "/sources":
        print(render_status(engine.status()), file=out)
    else:
        print(f"unknown command {name}; /help lists them", file=out)
    out.flush()
    return True
