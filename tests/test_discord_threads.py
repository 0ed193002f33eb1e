"""DISCORD_THREADS end to end: the unmodified discord.py client over real sockets against tests/discord_fake.py,
with the real Engine over the sample corpus. A mention opens a public thread named after the question and is
answered there; every later message in that thread is a follow-up of the thread's last question."""
from __future__ import annotations

import asyncio

import pytest

from tests.discord_fake import (
    APP_ID,
    CHANNEL_ID,
    MESSAGE_CONTENT_INTENT,
    THREAD_NAME_LIMIT,
    member_user,
    message_text,
)

POMPEO_QUESTION = "what did Pompeo say on April 7?"
POMPEO_QUOTES = ("There is no military solution to the Libya conflict",
                 "We have made clear that we oppose the military offensive")
NSC_FOLLOW_UP = "and what did the National Security Council say?"


@pytest.fixture
def asked(sample_engine):
    """The questions the engine is asked (the real `ask` still answers)."""
    questions: list[str] = []
    real_ask = sample_engine.ask

    def spy(question, **kw):
        questions.append(question)
        return real_ask(question, **kw)

    sample_engine.ask = spy
    yield questions
    del sample_engine.ask


async def ask_in_a_thread(discord_fake, question: str = POMPEO_QUESTION):
    """Mention the bot in #general; return (the asking message, its thread, the bot's answer in the thread)."""
    message = await discord_fake.send_message(question)
    await discord_fake.wait_until(lambda: discord_fake.thread_from(message["id"]) is not None, 30,
                                  "a thread started from the question")
    thread = discord_fake.thread_from(message["id"])
    answer = await discord_fake.wait_messages(thread["id"])
    return message, thread, answer


async def test_a_mention_opens_a_thread_named_after_the_question_and_answers_in_it(
        sample_engine, discord_fake, start_discord_bot, asked):
    await start_discord_bot(sample_engine, discord_threads=True)
    message, thread, answer = await ask_in_a_thread(discord_fake)
    create = [r for r in discord_fake.requests
              if r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages/{message['id']}/threads"]
    assert len(create) == 1 and create[0].status == 200
    assert create[0].body["name"] == POMPEO_QUESTION
    assert create[0].body["auto_archive_duration"] in (60, 1440, 4320, 10080)
    assert thread["type"] == 11 and thread["parent_id"] == str(CHANNEL_ID) and thread["owner_id"] == str(APP_ID)
    assert thread["name"] == POMPEO_QUESTION
    text = "\n".join(message_text(m) for m in answer)
    assert any(q in text for q in POMPEO_QUOTES), text[:3000]
    assert "index of 2 articles" in text
    assert discord_fake.messages_in(CHANNEL_ID) == []  # nothing posted in the channel itself
    assert asked == [POMPEO_QUESTION]
    assert discord_fake.rejections == []


async def test_a_plain_message_in_the_thread_is_a_follow_up_of_its_question(
        sample_engine, discord_fake, start_discord_bot, asked):
    await start_discord_bot(sample_engine, discord_threads=True)
    _message, thread, first = await ask_in_a_thread(discord_fake)
    follow = await discord_fake.send_message(NSC_FOLLOW_UP, mention_bot=False, channel_id=int(thread["id"]))
    replies = await discord_fake.wait_reply(follow)
    assert all(m["channel_id"] == thread["id"] for m in replies)  # answered in the thread
    assert asked == [POMPEO_QUESTION, f"{POMPEO_QUESTION} {NSC_FOLLOW_UP}"]
    text = "\n".join(message_text(m) for m in replies)
    assert "National Security Council" in text, text[:3000]
    # the thread remembers its last question: a second follow-up builds on the first
    again = await discord_fake.send_message("and Trump?", mention_bot=False, channel_id=int(thread["id"]))
    await discord_fake.wait_reply(again)
    assert asked[-1] == f"{POMPEO_QUESTION} {NSC_FOLLOW_UP} and Trump?"
    assert len(discord_fake.threads) == 1  # follow-ups open no new threads
    assert discord_fake.rejections == []


async def test_a_long_question_names_the_thread_within_discords_limit(sample_engine, discord_fake,
                                                                      start_discord_bot):
    await start_discord_bot(sample_engine, discord_threads=True)
    question = "what did Pompeo say on April 7 about the military offensive on Tripoli " * 4
    _message, thread, _answer = await ask_in_a_thread(discord_fake, question)
    assert 1 <= len(thread["name"]) <= THREAD_NAME_LIMIT
    assert thread["name"].startswith("what did Pompeo say on April 7")
    assert discord_fake.rejections == []


async def test_with_threads_disabled_no_thread_is_opened(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)  # DISCORD_THREADS defaults to false
    message = await discord_fake.send_message(POMPEO_QUESTION)
    replies = await discord_fake.wait_reply(message)
    assert all(m["channel_id"] == str(CHANNEL_ID) for m in replies)  # answered in place, as a reply
    assert discord_fake.threads == {}
    assert not any(r.path.endswith("/threads") for r in discord_fake.requests)


async def test_messages_in_a_thread_the_bot_did_not_open_are_ignored(sample_engine, discord_fake,
                                                                      start_discord_bot, asked):
    await start_discord_bot(sample_engine, discord_threads=True)
    start = await discord_fake.send_message("Libya, anyone?", mention_bot=False)
    thread = await discord_fake.open_thread(start, "Libya chat")
    assert thread["owner_id"] != str(APP_ID)
    plain = await discord_fake.send_message(POMPEO_QUESTION, mention_bot=False, channel_id=int(thread["id"]),
                                            user=member_user(2))
    await asyncio.sleep(0.5)
    assert discord_fake.replies_to(plain["id"]) == []
    assert discord_fake.messages_in(thread["id"]) == [] and asked == []
    # a mention there is still answered, in place (a thread can't hold another thread)
    mention = await discord_fake.send_message(POMPEO_QUESTION, channel_id=int(thread["id"]))
    replies = await discord_fake.wait_reply(mention)
    assert all(m["channel_id"] == thread["id"] for m in replies)
    assert asked == [POMPEO_QUESTION] and len(discord_fake.threads) == 1
    assert discord_fake.rejections == []


async def test_after_a_restart_the_thread_is_known_by_its_owner_and_its_last_question_recovered(
        sample_engine, discord_fake, start_discord_bot, asked):
    bot = await start_discord_bot(sample_engine, discord_threads=True)
    _message, thread, _answer = await ask_in_a_thread(discord_fake)
    await bot.close()  # a restart: a new bot with no memory and an empty message cache
    await start_discord_bot(sample_engine, discord_threads=True)
    follow = await discord_fake.send_message(NSC_FOLLOW_UP, mention_bot=False, channel_id=int(thread["id"]))
    replies = await discord_fake.wait_reply(follow)
    assert all(m["channel_id"] == thread["id"] for m in replies)
    assert asked == [POMPEO_QUESTION, f"{POMPEO_QUESTION} {NSC_FOLLOW_UP}"]
    assert discord_fake.rejections == []


async def test_without_the_message_content_intent_the_thread_says_once_that_mentions_work(
        sample_engine, discord_fake, start_discord_bot, asked):
    await start_discord_bot(sample_engine, discord_threads=True)
    _message, thread, _answer = await ask_in_a_thread(discord_fake)
    discord_fake.identify["intents"] &= ~MESSAGE_CONTENT_INTENT  # Discord stops sending message content
    first = await discord_fake.send_message(NSC_FOLLOW_UP, mention_bot=False, channel_id=int(thread["id"]))
    notice = await discord_fake.wait_reply(first)
    assert len(notice) == 1 and "Mention me" in notice[0]["content"]
    second = await discord_fake.send_message("and Trump?", mention_bot=False, channel_id=int(thread["id"]))
    await asyncio.sleep(0.5)
    assert discord_fake.replies_to(second["id"]) == []  # told once per thread, not on every message
    # a mention in the thread still works, as a follow-up
    mention = await discord_fake.send_message("and Trump?", channel_id=int(thread["id"]))
    await discord_fake.wait_reply(mention)
    assert asked == [POMPEO_QUESTION, f"{POMPEO_QUESTION} and Trump?"]
    assert discord_fake.rejections == []


async def test_an_uncached_thread_is_fetched_and_its_question_read_from_the_starter_message(
        sample_engine, discord_fake, start_discord_bot, asked):
    bot = await start_discord_bot(sample_engine, discord_threads=True)
    _message, thread, answer = await ask_in_a_thread(discord_fake)
    await bot.close()
    bot = await start_discord_bot(sample_engine, discord_threads=True)
    guild = bot.get_guild(int(thread["guild_id"]))
    guild._remove_thread(guild.get_thread(int(thread["id"])))  # unknown to discord.py: a PartialMessageable
    for m in answer:  # and no answer of the bot's left in the thread to read the question from
        del discord_fake.messages[int(m["id"])]
    follow = await discord_fake.send_message(NSC_FOLLOW_UP, mention_bot=False, channel_id=int(thread["id"]))
    replies = await discord_fake.wait_reply(follow)
    assert all(m["channel_id"] == thread["id"] for m in replies)
    assert asked == [POMPEO_QUESTION, f"{POMPEO_QUESTION} {NSC_FOLLOW_UP}"]
    reads = [r.path for r in discord_fake.requests if r.method == "GET" and r.path.startswith("/channels/")]
    assert f"/channels/{thread['id']}" in reads  # the thread fetched
    assert f"/channels/{CHANNEL_ID}/messages/{thread['id']}" in reads  # its starter message read
    assert discord_fake.rejections == []
