"""Answers that read at a glance, end to end: the unmodified discord.py client over real sockets against
tests/discord_fake.py, the real Engine over the sample corpus, buttons pressed as MESSAGE_COMPONENT interactions."""
from __future__ import annotations

from newsdesk.bot.discord_render import ABSTAIN_TEXT, NEAR_MISS_LABEL
from newsdesk.index.presentation import present
from tests.discord_fake import (
    ADMIN,
    MEMBER,
    buttons_of,
    message_text,
    validate_message,
)

POMPEO_QUESTION = "What did Pompeo say on April 7?"
POMPEO_STATEMENTS = ("We have made clear that we oppose the military offensive",
                     "There is no military solution to the Libya conflict")
REPORTING = "The alleged endorsement conflicts with"  # two sentences that only report Pompeo's statement


def next_result(engine) -> str:
    """The first words of the first result after the lead and the folded ones: what "More" shows first."""
    return " ".join(present(engine.ask(POMPEO_QUESTION)).rest[0].text.split()[:6])


def labels(message: dict) -> list[str]:
    return [b["label"] for b in buttons_of(message)]


def description(message: dict) -> str:
    return "\n".join(e.get("description") or "" for e in message["embeds"])


async def ask(fake, question: str, user=MEMBER) -> dict:
    interaction = await fake.send_slash("ask", {"question": question}, user=user)
    await fake.wait_response(interaction)
    assert len(interaction.messages) == 1  # one message, whatever the answer
    return interaction.messages[0]


async def press(fake, message: dict, label: str, user=MEMBER):
    interaction = await fake.press(message, label, user=user)
    return await fake.wait_pressed(interaction)


async def test_pompeo_answer_is_one_message_led_by_both_statements(sample_engine, discord_fake, start_discord_bot):
    await start_discord_bot(sample_engine)
    answer = await ask(discord_fake, POMPEO_QUESTION)
    first_lines = description(answer).splitlines()[:2]
    for statement, line in zip(POMPEO_STATEMENTS, first_lines):
        assert statement in line and line.startswith("> **Mike Pompeo, April 7:**"), first_lines
    text = message_text(answer)
    assert REPORTING not in text  # folded away: the statement itself is shown
    assert text.count("Trump appears to contradict his own secretary of state") == 1  # the article named once
    assert "Business Insider" in text and "`004_563c2adb94c7b42a.txt`" in text  # no URL: the file
    assert "2 similar sentences left out" in text
    assert labels(answer) == ["More", "Context"]
    assert discord_fake.rejections == []


async def test_more_and_context_turn_the_page_in_place_for_the_asker(sample_engine, discord_fake,
                                                                      start_discord_bot):
    await start_discord_bot(sample_engine)
    answer = await ask(discord_fake, POMPEO_QUESTION)
    more = await press(discord_fake, answer, "More")
    assert more.callback["type"] == 6 and more.original["id"] == answer["id"]  # the same message, updated
    page2 = discord_fake.messages[int(answer["id"])]
    assert next_result(sample_engine) in description(page2) and "page 2 of 2" in message_text(page2)
    assert POMPEO_STATEMENTS[1] not in description(page2)
    assert labels(page2) == ["Back", "Context"]
    await press(discord_fake, page2, "Back")
    assert POMPEO_STATEMENTS[1] in description(discord_fake.messages[int(answer["id"])])
    await press(discord_fake, answer, "Context")
    with_context = discord_fake.messages[int(answer["id"])]
    # the passage around each quote, the quote in bold
    assert ("Pompeo said at the time. **\"There is no military solution to the Libya conflict,\" Pompeo added. "
            "\"This is why") in description(with_context)
    assert "return to political negotiations.\"** The State Department reiterated" in description(with_context)
    assert labels(with_context) == ["More", "Hide context"]
    assert all(not i.ephemeral for i in discord_fake.interactions.values())
    assert discord_fake.rejections == []


async def test_someone_else_pressing_more_gets_their_own_ephemeral_view(sample_engine, discord_fake,
                                                                         start_discord_bot):
    await start_discord_bot(sample_engine, discord_view_timeout_seconds=1.0)
    answer = await ask(discord_fake, POMPEO_QUESTION)
    before = description(answer)
    other = await press(discord_fake, answer, "More", user=ADMIN)
    assert other.ephemeral and other.callback["type"] == 5
    assert description(discord_fake.messages[int(answer["id"])]) == before  # the asker's message is untouched
    mine = other.original
    assert int(mine["flags"]) & 64 and next_result(sample_engine) in description(mine)
    assert labels(mine) == ["Back", "Context"]
    back = await press(discord_fake, mine, "Back", user=ADMIN)  # their own view pages their own copy
    assert back.callback["type"] == 6 and back.original["id"] == mine["id"]
    assert POMPEO_STATEMENTS[1] in description(mine)
    # the ephemeral view times out cleanly: its buttons go, the page stays
    await discord_fake.wait_until(lambda: buttons_of(mine) == [], 15, "the ephemeral view's buttons to go")
    assert POMPEO_STATEMENTS[1] in description(mine)
    assert labels(discord_fake.messages[int(answer["id"])]) == ["More", "Context"]  # persistent
    assert discord_fake.rejections == []


async def test_an_engine_failure_on_a_press_says_so_and_leaves_the_answer(sample_engine, discord_fake,
                                                                          start_discord_bot, caplog):
    bot = await start_discord_bot(sample_engine)
    answer = await ask(discord_fake, POMPEO_QUESTION)
    before = description(answer)

    def broken(question, **kw):
        raise RuntimeError("index exploded")

    bot.engine.ask = broken
    try:
        failed = await press(discord_fake, answer, "More")
    finally:
        del bot.engine.ask
    assert [f["content"] for f in failed.followups] == ["Sorry, something went wrong; the error was logged."]
    assert int(failed.followups[0]["flags"]) & 64  # only the presser sees it
    assert description(discord_fake.messages[int(answer["id"])]) == before
    assert "index exploded" in caplog.text


async def test_buttons_keep_working_after_a_restart(sample_engine, discord_fake, start_discord_bot):
    bot = await start_discord_bot(sample_engine)
    question = await discord_fake.send_message(POMPEO_QUESTION)
    (answer,) = await discord_fake.wait_reply(question)
    assert labels(answer) == ["More", "Context"]
    await bot.close()
    await start_discord_bot(sample_engine)  # a new client: nothing remembered, the message's buttons remain
    more = await press(discord_fake, answer, "More")
    assert more.callback["type"] == 6
    assert next_result(sample_engine) in description(discord_fake.messages[int(answer["id"])])
    assert discord_fake.rejections == []


async def test_a_question_too_long_for_the_message_pages_until_a_restart_then_says_so(sample_engine, discord_fake,
                                                                                     start_discord_bot):
    from newsdesk.index.records import Answer, Result

    results = [Result(quote=f"Statement number {n} was made in the capital.", passage="", path=f"a{n}.txt",
                      start=0, end=0, title=None, source=None, date=None, score=1.0) for n in range(4)]
    long_question = "What was said, " + "and by whom, " * 30 + "?"  # over the 256 characters of an author line
    bot = await start_discord_bot(sample_engine)
    bot.engine.ask = lambda q, **kw: Answer(q, False, results)
    try:
        answer = await ask(discord_fake, long_question)
        await press(discord_fake, answer, "More")  # the bot remembers the whole question
        assert "Statement number 1" in description(answer)
        await bot.close()
        restarted = await start_discord_bot(sample_engine)  # forgotten; the author line holds only part of it
        restarted.engine.ask = lambda q, **kw: Answer(q, False, results)
        lost = await press(discord_fake, answer, "Back")
    finally:
        del bot.engine.ask
    assert lost.ephemeral and "ask again" in lost.text()
    assert "Statement number 1" in description(answer)  # nothing else asked, nothing changed
    assert discord_fake.rejections == []


async def test_abstention_is_one_line_with_the_closest_passages_behind_a_button(sample_engine, discord_fake,
                                                                               start_discord_bot):
    await start_discord_bot(sample_engine)
    answer = await ask(discord_fake, "What did Angela Merkel say?")
    assert description(answer) == f"{ABSTAIN_TEXT}: none of them mentions Angela Merkel."
    assert labels(answer) == ["Closest"]
    await press(discord_fake, answer, "Closest")
    near = discord_fake.messages[int(answer["id"])]
    assert description(near).startswith(f"{ABSTAIN_TEXT}: none of them mentions Angela Merkel.")
    assert NEAR_MISS_LABEL in description(near).lower()
    assert labels(near) == ["Hide closest", "Context"]
    await press(discord_fake, near, "Hide closest")
    assert labels(discord_fake.messages[int(answer["id"])]) == ["Closest"]
    assert discord_fake.rejections == []


async def test_five_articles_with_long_titles_stay_within_every_limit(sample_engine, discord_fake,
                                                                       start_discord_bot):
    from newsdesk.index.records import Answer, Result

    bot = await start_discord_bot(sample_engine)
    results = []
    for n in range(5):
        quote = " ".join(f"statement{n}w{i:02d}" for i in range(60))  # the longest quote the engine gives
        passage = " ".join(f"pre{i}" for i in range(100)) + " " + quote + " " + " ".join(f"post{i}" for i in range(100))
        start = passage.index(quote)
        results.append(Result(quote=quote, passage=passage, path=f"feeds/{'p' * 200}{n}.html", start=start,
                              end=start + len(quote), title=f"A very long headline number {n} " * 12,
                              source=f"Publisher {n} " * 30, date=f"2019-04-0{n + 1}", score=1.0 - n / 10,
                              url=f"https://example.com/{n}/" + "u" * 480, speaker="Mike Pompeo", when="April 7",
                              passage_start=0, passage_end=len(passage)))
    bot.engine.ask = lambda q, **kw: Answer(q, False, results)
    try:
        answer = await ask(discord_fake, "long " * 150)
        first_page, first_buttons = description(answer), [dict(b) for b in buttons_of(answer)]
        seen: list[str] = []
        page = answer
        for step in range(4):
            text = description(page)
            seen += [r.quote for r in results if r.quote in text]
            await press(discord_fake, page, "Context")
            page = discord_fake.messages[int(answer["id"])]
            assert all(r.quote.split()[0] in description(page) for r in results if r.quote in text)
            await press(discord_fake, page, "Hide context")
            page = discord_fake.messages[int(answer["id"])]
            if "More" not in labels(page):
                break
            await press(discord_fake, page, "More")
            page = discord_fake.messages[int(answer["id"])]
    finally:
        del bot.engine.ask
    assert sorted(seen) == sorted(r.quote for r in results)  # every quote, whole, on one page or another
    assert "<t:1554120000:D>" in first_page  # 2019-04-01 as a Discord timestamp (noon UTC)
    # the lead: the three April 7 statements, in three articles, each named once under its quote
    assert [line.startswith("— [A very long headline number") for line in first_page.splitlines()
            if line.startswith("— ")] == [True] * 3
    sources = [b for b in first_buttons if b["style"] == 5]
    assert [b["url"] for b in sources] == [r.url for r in results[:3]]
    assert [b["label"][:19] for b in sources] == [f"Source: Publisher {n}" for n in range(3)]
    for message in discord_fake.messages.values():
        assert validate_message(message, require_body=False) is None
        assert all(len(b.get("custom_id") or "") <= 100 and len(b["label"]) <= 80 for b in buttons_of(message))
    assert discord_fake.rejections == []
