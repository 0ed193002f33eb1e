"""End to end: the unmodified discord.py client over real sockets against tests/discord_fake.py, with the real
Engine over the sample corpus. Questions, answers, follow-ups, limits, cooldowns and concurrency."""
from __future__ import annotations

import asyncio
import time

from discord.utils import escape_markdown

from newsdesk.bot.discord_render import ABSTAIN_TEXT
from tests.discord_fake import (
    ADMIN,
    CHANNEL_ID,
    GUILD_ID,
    MESSAGE_CONTENT_INTENT,
    OTHER_CHANNEL_ID,
    buttons_of,
    member_user,
    message_text,
)

POMPEO_QUOTES = ("There is no military solution to the Libya conflict",
                 "We have made clear that we oppose the military offensive")
POMPEO_QUESTION = "what did Pompeo say on April 7?"


def assert_pompeo(text: str) -> None:
    assert any(q in text for q in POMPEO_QUOTES), text[:3000]


async def test_login_syncs_commands_to_the_guild(sample_engine, discord_fake, start_discord_bot):
    bot = await start_discord_bot(sample_engine)
    assert bot.user is not None and bot.user.id == int(discord_fake.bot_user["id"])
    assert discord_fake.intents & MESSAGE_CONTENT_INTENT
    puts = [r for r in discord_fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1 and f"/guilds/{GUILD_ID}/" in puts[0].path  # DISCORD_GUILD_ID: guild sync
    commands = {c["name"]: c for c in puts[0].body}
    assert set(commands) == {"ask", "sources", "reindex", "add", "help", "follow", "unfollow", "feeds"}
    for admin_only in ("reindex", "add", "follow", "unfollow", "feeds"):
        assert int(commands[admin_only]["default_member_permissions"]) == 1 << 5  # Manage Server
    for public in ("ask", "sources", "help"):
        assert commands[public].get("default_member_permissions") is None
    assert {o["name"] for o in commands["add"]["options"]} == {"file", "url"}
    assert commands["ask"]["options"][0]["name"] == "question"


async def test_global_sync_without_guild_id(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine, discord_guild_id=None)
    puts = [r.path for r in discord_fake.requests if r.method == "PUT"]
    assert puts == [f"/applications/{discord_fake.bot_user['id']}/commands"]
    assert discord_fake.command_names() == {"ask", "sources", "reindex", "add", "help", "follow", "unfollow",
                                            "feeds"}


async def test_slash_ask_quotes_pompeo(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)
    interaction = await discord_fake.send_slash("ask", {"question": POMPEO_QUESTION})
    await discord_fake.wait_response(interaction)
    assert interaction.deferred and not interaction.ephemeral  # deferred first, public answer
    assert interaction.callback_count == 1
    text = interaction.text()
    assert_pompeo(text)
    assert "`004_563c2adb94c7b42a.txt`" in text and "Business Insider" in text
    assert "index of 2 articles, updated" in text
    assert discord_fake.rejections == []


async def test_mention_quotes_pompeo_and_reply_asks_a_follow_up(sample_engine, discord_fake, start_discord_bot):
    bot = await start_discord_bot(sample_engine)
    question = await discord_fake.send_message(POMPEO_QUESTION)
    replies = await discord_fake.wait_reply(question)
    text = "\n".join(message_text(m) for m in replies)
    assert_pompeo(text)
    assert all(m["message_reference"]["message_id"] == question["id"] for m in replies)
    # A reply to the answer (no mention) is a follow-up: previous question + new text.
    asked: list[str] = []
    real_ask = sample_engine.ask

    def spy(q, **kw):
        asked.append(q)
        return real_ask(q, **kw)

    bot.engine.ask = spy  # instance attribute; the module's engine is restored below
    try:
        follow = await discord_fake.send_message("and what did Trump indicate to Haftar?", mention_bot=False,
                                                 reply_to=replies[0])
        follow_replies = await discord_fake.wait_reply(follow)
    finally:
        del bot.engine.ask
    assert asked == [f"{POMPEO_QUESTION} and what did Trump indicate to Haftar?"]
    assert "Haftar" in "\n".join(message_text(m) for m in follow_replies)
    assert discord_fake.rejections == []


async def test_follow_up_after_restart_reads_the_question_from_the_answer(sample_engine, discord_fake,
                                                                          start_discord_bot):
    bot = await start_discord_bot(sample_engine)
    question = await discord_fake.send_message(POMPEO_QUESTION)
    replies = await discord_fake.wait_reply(question)
    bot.get_cog("newsdesk").state.answers.clear()  # as after a restart: nothing remembered
    asked: list[str] = []
    real_ask = sample_engine.ask
    bot.engine.ask = lambda q, **kw: (asked.append(q), real_ask(q, **kw))[1]
    try:
        follow = await discord_fake.send_message("what else?", mention_bot=False, reply_to=replies[0])
        await discord_fake.wait_reply(follow)
    finally:
        del bot.engine.ask
    assert asked == [f"{POMPEO_QUESTION} what else?"]


async def test_plain_messages_are_ignored(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)
    message = await discord_fake.send_message(POMPEO_QUESTION, mention_bot=False)
    await asyncio.sleep(0.5)
    assert discord_fake.replies_to(message["id"]) == []


async def test_abstains_on_a_question_the_sources_do_not_answer(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)
    interaction = await discord_fake.send_slash("ask", {"question": "What is the capital of Australia?"})
    await discord_fake.wait_response(interaction)
    text = interaction.text()
    assert ABSTAIN_TEXT in text
    assert "Canberra" not in text
    # near misses, behind "Closest", are never presented as answers
    (message,) = interaction.messages
    await discord_fake.wait_pressed(await discord_fake.press(message, "Closest"))
    text = message_text(message)
    assert ABSTAIN_TEXT in text and "closest passages (not an answer)" in text.lower()
    assert "Canberra" not in text


async def test_twenty_concurrent_asks_all_answered_while_heartbeats_continue(sample_engine, discord_fake,
                                                                           start_discord_bot):
    discord_fake.heartbeat_interval_ms = 150  # sent in HELLO
    await start_discord_bot(sample_engine, discord_cooldown_seconds=5)
    await asyncio.sleep(0.4)
    before = discord_fake.heartbeats
    started = time.monotonic()
    questions = [POMPEO_QUESTION, "What did Trump tell Haftar on the phone?", "Who is Khalifa Haftar?",
                 "What did the National Security Council dispute?"]
    interactions = await asyncio.gather(*[
        discord_fake.send_slash("ask", {"question": questions[i % len(questions)]}, user=member_user(i))
        for i in range(20)])
    # Every interaction is acknowledged (deferred) quickly, long before the answers are all in.
    await discord_fake.wait_until(lambda: all(i.callback is not None for i in interactions), 2.5,
                                  "all 20 interactions deferred within Discord's window")
    await asyncio.gather(*[discord_fake.wait_response(i, timeout=60, settle=0.05) for i in interactions])
    finished = time.monotonic()
    await asyncio.sleep(0.3)
    assert discord_fake.heartbeats > before, "the gateway heartbeat stalled during the burst"
    beats = [t for t in discord_fake.heartbeat_times() if started - 0.3 <= t <= finished + 0.3]
    gaps = [b - a for a, b in zip([started] + beats, beats + [finished])]
    assert max(gaps) < 2.0, f"heartbeat gap of {max(gaps):.2f} s during the burst"
    assert all(i.callback_count == 1 and i.deferred for i in interactions)
    for n, i in enumerate(interactions):
        if questions[n % len(questions)] == POMPEO_QUESTION:
            assert_pompeo(i.text())
        assert "index of 2 articles" in i.text()
    assert discord_fake.rejections == []


async def test_cooldown_gives_a_friendly_ephemeral_message(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine, discord_cooldown_seconds=30)
    first = await discord_fake.send_slash("ask", {"question": POMPEO_QUESTION})
    await discord_fake.wait_response(first)
    second = await discord_fake.send_slash("ask", {"question": "Who is Haftar?"})
    await discord_fake.wait_response(second)
    assert second.ephemeral and second.callback["type"] == 4
    assert "you can ask again in" in second.text()
    # another user is not affected
    other = await discord_fake.send_slash("ask", {"question": "Who is Haftar?"}, user=ADMIN)
    await discord_fake.wait_response(other)
    assert not other.ephemeral and "Haftar" in other.text()
    # mentions have the same per-user cooldown
    m1 = await discord_fake.send_message("Who is Haftar?", user=member_user(1))
    await discord_fake.wait_reply(m1)
    m2 = await discord_fake.send_message("Who is Haftar, again?", user=member_user(1))
    replies = await discord_fake.wait_reply(m2)
    assert "you can ask again in" in replies[0]["content"]


async def test_channel_allow_list(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine, discord_channels=[CHANNEL_ID])
    elsewhere = await discord_fake.send_slash("ask", {"question": POMPEO_QUESTION}, channel_id=OTHER_CHANNEL_ID)
    await discord_fake.wait_response(elsewhere)
    assert elsewhere.ephemeral and f"I answer only in <#{CHANNEL_ID}>" in elsewhere.text()
    helped = await discord_fake.send_slash("help", channel_id=OTHER_CHANNEL_ID)  # /help works anywhere
    await discord_fake.wait_response(helped)
    assert "/ask" in helped.text() and "/follow" in helped.text() and "/feeds" in helped.text()
    mention = await discord_fake.send_message(POMPEO_QUESTION, channel_id=OTHER_CHANNEL_ID)
    here = await discord_fake.send_slash("ask", {"question": POMPEO_QUESTION}, channel_id=CHANNEL_ID)
    await discord_fake.wait_response(here)
    assert_pompeo(here.text())
    assert discord_fake.replies_to(mention["id"]) == []


async def test_sources_and_help(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)
    sources = await discord_fake.send_slash("sources")
    await discord_fake.wait_response(sources)
    text = sources.text()
    assert "**2** articles" in text
    assert "Business Insider: 1" in text and "The American Conservative: 1" in text
    helped = await discord_fake.send_slash("help")
    await discord_fake.wait_response(helped)
    assert helped.ephemeral and "/reindex" in helped.text()


async def test_long_answers_are_split_within_the_fakes_limits(sample_engine, discord_fake, start_discord_bot):
    """The fake rejects anything over Discord's limits; a long answer must arrive whole, in pages of one message
    (the "More" button turns them)."""
    from newsdesk.index.records import Answer, Result

    bot = await start_discord_bot(sample_engine)
    quote = " ".join(f"extraordinary{i:02d}" for i in range(60))  # the longest quote the contract allows
    passage = " ".join(f"pre{i}" for i in range(60)) + " " + quote + " " + " ".join(f"post{i}" for i in range(60))
    results = [Result(quote=quote.replace("extraordinary", f"r{n}x"), passage=passage, path="x/" + "p" * 200 +
                      f"{n}.txt", start=0, end=0, title="A very long title " * 20, source="Publisher " * 20,
                      date="2019-04-07", score=1.0, url="https://example.com/" + "u" * 200, speaker=f"Speaker {n}")
               for n in range(5)]
    bot.engine.ask = lambda q, **kw: Answer(q, False, results)
    try:
        interaction = await discord_fake.send_slash("ask", {"question": "long " * 150})
        await discord_fake.wait_response(interaction)
        (message,) = interaction.messages
        pages = [message_text(message)]
        while "More" in [b["label"] for b in buttons_of(message)]:
            await discord_fake.wait_pressed(await discord_fake.press(message, "More"))
            pages.append(message_text(message))
    finally:
        del bot.engine.ask
    assert discord_fake.rejections == []
    assert len(pages) >= 2
    for r in results:
        assert sum(page.count(f"“{escape_markdown(r.quote)}”") for page in pages) == 1


async def test_an_engine_failure_replaces_the_thinking_message(sample_engine, discord_fake, start_discord_bot,
                                                               caplog):
    bot = await start_discord_bot(sample_engine)

    def broken(question, **kw):
        raise RuntimeError("index exploded")

    bot.engine.ask = broken
    try:
        interaction = await discord_fake.send_slash("ask", {"question": POMPEO_QUESTION})
        await discord_fake.wait_response(interaction)
    finally:
        del bot.engine.ask
    assert interaction.callback_count == 1
    assert interaction.text() == "Sorry, something went wrong; the error was logged."
    assert "index exploded" in caplog.text
    assert discord_fake.token not in caplog.text
