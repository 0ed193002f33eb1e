"""The Discord front end's memory (bot/discord_state.py): bounded, shared cooldowns, a status cache the index
changes invalidate. The bot-level behaviour (follow-ups, page turns, cooldown replies) is in test_discord_bot,
test_discord_views and test_discord_threads."""
from __future__ import annotations

from newsdesk.bot.discord_settings import BotSettings
from newsdesk.bot.discord_state import REMEMBERED_ANSWERS, DiscordState


def state(engine, **settings) -> DiscordState:
    return DiscordState(engine, BotSettings(_env_file=None, **settings))


def test_memory_of_answers_is_bounded_and_keeps_the_latest(sample_engine):
    s = state(sample_engine)
    for message_id in range(REMEMBERED_ANSWERS + 500):
        s.answers[message_id] = f"question {message_id}"
    assert len(s.answers) == REMEMBERED_ANSWERS
    assert s.answers.get(0) is None
    assert s.answers.get(REMEMBERED_ANSWERS + 499) == f"question {REMEMBERED_ANSWERS + 499}"
    assert s.first_thread_notice(7) is True and s.first_thread_notice(7) is False


def test_question_cooldown_is_per_user_and_off_at_zero(sample_engine):
    s = state(sample_engine, discord_cooldown_seconds=30)
    assert s.question_retry_after(1)[1] is None
    bucket, wait = s.question_retry_after(1)
    assert bucket is not None and wait is not None and 0 < wait <= 30
    assert s.question_retry_after(2)[1] is None  # another user is not held back
    off = state(sample_engine, discord_cooldown_seconds=0)
    assert [off.question_retry_after(1) for _ in range(3)] == [(None, None)] * 3


async def test_status_is_reused_until_the_index_changes(sample_engine):
    s = state(sample_engine)
    first = await s.index_status()
    assert first is not None and first.documents > 0
    assert await s.index_status() is first  # footers reuse it
    s.forget_status()  # a watcher or feed poll changed the index
    again = await s.index_status()
    assert again is not first and again.documents == first.documents
    assert await s.index_status(fresh=True) is not again
