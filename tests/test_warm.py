"""Warming up at start (`Engine.warm`, NEWSDESK_WARM_AT_START): the real model and index over the sample articles;
the per-generation tables are counted by wrapping the real view's `timeline` and `speakers` methods. The Discord
bot runs over real sockets against the loopback fake; the terminal chat reads its lines from a pipe."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from newsdesk.bot.chat import run_chat
from newsdesk.index.stores.embedded import EmbeddedView
from tests.samples import copy_samples

QUESTION = "what did Pompeo say on April 7?"  # names someone and pins a day: reads both tables
ASKED_AT = dt.datetime(2020, 6, 1, 12, 0)


@pytest.fixture
def corpus(tmp_path: Path, engine_over) -> Path:
    """The sample articles, indexed (by an engine the tests do not use: each test starts one as after a restart)."""
    folder = tmp_path / "corpus"
    copy_samples(folder)
    engine_over(folder).index(progress=False)
    return folder


def count_table_reads(monkeypatch: pytest.MonkeyPatch, hold_s: float = 0.0) -> Counter:
    """Count the reads of the real view's timeline and speaker tables. `hold_s` keeps each read open that long,
    so that threads arriving together certainly arrive while the first read is still going on."""
    reads: Counter = Counter()
    lock = threading.Lock()
    for name in ("timeline", "speakers"):
        original = getattr(EmbeddedView, name)

        def counted(self: EmbeddedView, _original: Callable = original, _name: str = name):
            with lock:
                reads[_name] += 1
            time.sleep(hold_s)
            return _original(self)

        monkeypatch.setattr(EmbeddedView, name, counted)
    return reads


def quotes(answer) -> list[tuple[str, str]]:
    return [(r.path, r.quote) for r in answer.results]


def test_a_question_reads_both_tables(corpus, engine_over, monkeypatch):
    """What warming saves: without it, the first question reads the tables."""
    reads = count_table_reads(monkeypatch)
    engine = engine_over(corpus)
    assert not engine.is_warm()
    engine.ask(QUESTION, asked_at=ASKED_AT)
    assert reads == {"timeline": 1, "speakers": 1}


def test_warm_loads_the_view_and_tables_and_the_next_question_reads_nothing_again(corpus, engine_over,
                                                                                   monkeypatch, caplog):
    reads = count_table_reads(monkeypatch)
    engine = engine_over(corpus)
    with caplog.at_level("INFO", logger="newsdesk.index.engine"):
        done = engine.warm()
    assert done.generation == engine.store.generation() > 0
    assert set(done.seconds) == {"model", "index", "tables"}
    assert engine.is_warm()
    assert reads == {"timeline": 1, "speakers": 1}
    lines = [r.getMessage() for r in caplog.records if "warm-up" in r.getMessage()]
    assert len(lines) == 1 and f"index generation {done.generation} ready" in lines[0], lines
    answer = engine.ask(QUESTION, asked_at=ASKED_AT)
    assert any("military" in r.quote for r in answer.results), quotes(answer)
    assert reads == {"timeline": 1, "speakers": 1}  # the question found them loaded
    assert engine.warm().generation == done.generation  # warming again loads nothing
    assert reads == {"timeline": 1, "speakers": 1}


def test_warm_without_an_index_loads_nothing_and_does_not_index(tmp_path, engine_over):
    folder = tmp_path / "corpus"
    copy_samples(folder)
    engine = engine_over(folder)
    assert engine.warm().generation == 0
    assert not engine.is_warm()
    assert engine.store.generation() == 0 and engine.status().documents == 0


def test_first_questions_arriving_together_while_warming_read_each_table_once(corpus, engine_over, monkeypatch):
    expected = quotes(engine_over(corpus).ask(QUESTION, asked_at=ASKED_AT))  # one question alone
    assert expected
    reads = count_table_reads(monkeypatch, hold_s=0.3)
    engine = engine_over(corpus)  # a restart: nothing loaded
    start = threading.Barrier(5)
    answers: list = []
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        start.wait()
        try:
            answers.append(job())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    jobs = [engine.warm] + [lambda: engine.ask(QUESTION, asked_at=ASKED_AT)] * 4
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert reads == {"timeline": 1, "speakers": 1}
    asked = [quotes(a) for a in answers if hasattr(a, "results")]
    assert len(asked) == 4 and all(a == expected for a in asked), asked


# --- front ends ------------------------------------------------------------------------------------------------------
async def wait_until(done: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll `done` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not warmed in time"
        await asyncio.sleep(0.05)


async def test_the_discord_bot_warms_at_start_without_a_question(corpus, engine_over, discord_fake,
                                                                 start_discord_bot, caplog):
    engine = engine_over(corpus)
    with caplog.at_level("INFO", logger="newsdesk.index.engine"):
        await start_discord_bot(engine)  # nothing is asked in this test
        await wait_until(engine.is_warm)
    assert not discord_fake.channel_messages
    assert any("warm-up: index generation" in r.getMessage() for r in caplog.records)


async def test_the_discord_bot_does_not_warm_when_turned_off(corpus, engine_over, start_discord_bot):
    engine = engine_over(corpus, warm_at_start=False)
    bot = await start_discord_bot(engine)
    assert bot._catch_up is not None
    await bot._catch_up  # noqa: SLF001 - the start-up index run, which loads the view but not the tables
    assert bot._warming is None  # noqa: SLF001
    assert not engine.is_warm()


def _chat(engine, monkeypatch, lines: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    out, err = io.StringIO(), io.StringIO()
    assert run_chat(engine, out=out, err=err, now=lambda: ASKED_AT) == 0
    return out.getvalue()


async def test_the_terminal_chat_warms_in_the_background(corpus, engine_over, monkeypatch):
    engine = engine_over(corpus)
    _chat(engine, monkeypatch, "/quit\n")  # no question asked
    await wait_until(engine.is_warm)


def test_the_terminal_chat_does_not_warm_when_turned_off(corpus, engine_over, monkeypatch):
    engine = engine_over(corpus, warm_at_start=False)
    _chat(engine, monkeypatch, "/quit\n")
    # no warming thread running, none that ran (it would have loaded the tables)
    assert not any(t.name == "newsdesk-warm" for t in threading.enumerate())
    assert not engine.is_warm()
    out = _chat(engine, monkeypatch, f"{QUESTION}\n")
    assert "military" in out  # the first question loads what it needs
    assert engine.is_warm()


async def test_closing_the_bot_during_its_start_up_index_run_leaves_nothing_pending(corpus, engine_over,
                                                                                   start_discord_bot):
    # the start-up run is held in its thread (the real Engine.index, entered and then kept waiting) while the bot
    # is closed: close() ends the task that awaits it, the run then finishes on its own and commits
    engine = engine_over(corpus, warm_at_start=False)
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    index = engine.index

    def held_index(*args, **kwargs):
        entered.set()
        release.wait(30)
        try:
            return index(*args, **kwargs)
        finally:
            finished.set()

    engine.index = held_index
    bot = await start_discord_bot(engine)
    task = bot._catch_up  # noqa: SLF001 - the start-up index run's task
    assert task is not None
    await asyncio.to_thread(entered.wait, 10)
    await asyncio.wait_for(bot.close(), 10)  # does not wait for the held run
    assert task.done() and bot._catch_up is None  # noqa: SLF001 - nothing left pending on the loop
    release.set()
    assert await asyncio.to_thread(finished.wait, 60)  # the run itself went on to its end
    assert engine.status().documents == 2
