"""👍/👎 on the bot's answers, end to end: the unmodified discord.py client against the loopback Discord fake
(reactions dispatched as MESSAGE_REACTION_ADD), the votes in the data folder's feedback file, then listed and
turned into an evaluation question file by `newsdesk feedback`."""
from __future__ import annotations

import json
from pathlib import Path

from newsdesk.bot.cli import main
from newsdesk.index.evaluation import load_questions
from newsdesk.index.feedback import FeedbackStore
from tests.discord_fake import ADMIN, EDITOR, GUILD_MESSAGE_REACTIONS_INTENT, MEMBER

QUESTION = "what did Pompeo say on April 7?"
THUMBS_UP, THUMBS_DOWN = "\N{THUMBS UP SIGN}", "\N{THUMBS DOWN SIGN}"


async def test_reactions_on_answers_are_recorded_and_others_are_not(sample_engine, discord_fake,
                                                                     start_discord_bot, capsys, tmp_path):
    data = Path(sample_engine.settings.data)
    before = len(FeedbackStore(data).all())
    await start_discord_bot(sample_engine)
    assert discord_fake.intents & GUILD_MESSAGE_REACTIONS_INTENT
    interaction = await discord_fake.send_slash("ask", {"question": QUESTION})
    await discord_fake.wait_response(interaction)
    answer = interaction.messages[0]
    chatter = await discord_fake.send_message("nice weather today", mention_bot=False)  # someone else's message
    # not recorded: a vote on another message, another emoji on the answer, the bot's own reaction
    await discord_fake.add_reaction(chatter, THUMBS_UP, user=EDITOR)
    await discord_fake.add_reaction(answer, "\N{PARTY POPPER}", user=EDITOR)
    # recorded: a 👎 (with a skin tone) and a 👍 on the answer
    await discord_fake.add_reaction(answer, THUMBS_DOWN + "\N{EMOJI MODIFIER FITZPATRICK TYPE-4}", user=MEMBER)
    await discord_fake.add_reaction(answer, THUMBS_UP, user=ADMIN)

    store = FeedbackStore(data)
    await discord_fake.wait_until(lambda: len(store.all()) >= before + 2, 30, "two recorded votes")
    votes = {fb.user_id: fb for fb in store.all() if fb.message_id == int(answer["id"])}
    assert {uid: fb.vote for uid, fb in votes.items()} == {MEMBER.id: "down", ADMIN.id: "up"}
    down = votes[MEMBER.id]
    assert down.question == QUESTION and down.user_name == MEMBER.name
    assert "There is no military solution to the Libya conflict" in down.answer  # the answer as shown
    assert down.at and down.asked_at
    assert not any(fb.message_id == int(chatter["id"]) for fb in store.all())
    assert len(store.all()) == before + 2  # neither the other message's vote nor the 🎉

    # a vote taken back is forgotten; the other reader's stays
    await discord_fake.remove_reaction(answer, THUMBS_UP, user=ADMIN)
    await discord_fake.wait_until(lambda: len(store.all()) == before + 1, 30, "the 👍 forgotten")
    assert [fb.user_id for fb in store.all() if fb.message_id == int(answer["id"])] == [MEMBER.id]
    await discord_fake.add_reaction(answer, THUMBS_UP, user=ADMIN)  # and given again
    await discord_fake.wait_until(lambda: len(store.all()) == before + 2, 30, "the 👍 again")

    # the command line: a list, JSON, and the 👎 ones as an eval question file to fill in
    assert main(["feedback", "--data", str(data)]) == 0
    listed = capsys.readouterr().out
    assert "down" in listed and QUESTION in listed and MEMBER.name in listed
    assert main(["feedback", "--data", str(data), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["vote"] for r in rows if r["message_id"] == int(answer["id"])} == {"up", "down"}
    out = tmp_path / "disliked.jsonl"
    assert main(["feedback", "--data", str(data), "--write-eval", str(out)]) == 0
    questions = load_questions(out)  # the evaluation reads it as it is
    assert [q.question for q in questions if q.qid == f"feedback-{answer['id']}"] == [QUESTION]
    assert all(q.gold == [] for q in questions)
    line = json.loads(out.read_text().splitlines()[-1])
    assert "There is no military solution" in line["disliked_answer"]
