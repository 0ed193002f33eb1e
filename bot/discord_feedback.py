"""👍/👎 reactions on the bot's answers, recorded in the data folder (`index/feedback.py`).

Listens to the raw reaction events (`on_raw_reaction_add`, `on_raw_reaction_remove`), which come for every message, cached or not, with
the default intents' reactions intent. A reaction counts when it is 👍 or 👎, comes from someone other than the
bot, and is on one of the bot's answers: a message the bot remembers answering, or (after a restart) one of its
messages whose first embed carries the question. The answer is read back from Discord, so what is recorded is
what the reader saw. Taking the reaction back forgets the vote.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Mapping

import discord
from discord.ext import commands

from newsdesk.index.feedback import Feedback, FeedbackStore, vote_of

from .discord_render import question_from_embeds, squash

if TYPE_CHECKING:
    from .discord_app import NewsdeskBot

log = logging.getLogger(__name__)


def answer_text(message: discord.Message) -> str:
    """The visible text of an answer message: its content and its embeds' titles, texts and fields."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}: {f.value}" for f in embed.fields]
    return "\n".join(squash(p) for p in parts if p and p.strip())


class FeedbackCog(commands.Cog):
    def __init__(self, bot: NewsdeskBot, store: FeedbackStore, answers: Mapping[int, str]) -> None:
        self.bot = bot
        self.store = store
        self.answers = answers  # answer message id → question (the newsdesk cog's memory)

    async def cog_unload(self) -> None:
        self.store.close()

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.bot.user
        vote = vote_of(str(payload.emoji))
        if vote is None or me is None or payload.user_id == me.id:
            return
        if payload.message_author_id is not None and payload.message_author_id != me.id:
            return  # Discord names the message's author: not one of the bot's
        remembered = self.answers.get(payload.message_id)
        try:
            message = await self.bot.get_partial_messageable(payload.channel_id).fetch_message(payload.message_id)
        except discord.HTTPException as exc:
            log.warning("feedback on message %s not recorded: reading it failed (%s)", payload.message_id, exc)
            return
        if message.author.id != me.id:
            return
        question = remembered or question_from_embeds(message.embeds)
        if not question:
            return  # the bot's message but not an answer (/sources, /help, a notice)
        member = payload.member
        fb = Feedback(message_id=payload.message_id, user_id=payload.user_id, vote=vote, question=question,
                      answer=answer_text(message), user_name=member.display_name if member else None,
                      channel_id=payload.channel_id, asked_at=message.created_at.isoformat())
        await asyncio.to_thread(self.store.record, fb)
        log.info("feedback %s on the answer to %r by %s", vote, question[:80], fb.user_name or fb.user_id)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        vote = vote_of(str(payload.emoji))
        if vote is None or (self.bot.user is not None and payload.user_id == self.bot.user.id):
            return
        if await asyncio.to_thread(self.store.remove, payload.message_id, payload.user_id, vote):
            log.info("feedback %s on message %s taken back by %s", vote, payload.message_id, payload.user_id)
