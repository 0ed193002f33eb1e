"""Slash commands and mention handling: a cog over the engine.

Every command that does work defers first (Discord's 3-second window) and runs engine calls in a thread
(`asyncio.to_thread`), so the event loop, and with it the gateway heartbeat, never waits on the model or the index.

Follow-ups: a reply to one of the bot's answers is answered as the previous question followed by the reply's
text (e.g. "what did Pompeo say on April 7?" + "and Trump?" → "what did Pompeo say on April 7? and Trump?").
The previous question comes from memory (the last 2048 answers) or, after a restart, from the answer's first
embed, which carries the question.

Threads (DISCORD_THREADS): a question asked by @mention (or reply) in a text channel is answered in a new public
thread started from the asking message and named after the question; every later message in a thread the bot
opened is a follow-up of the thread's last question, mention or not. Such threads are known from memory (the last
2048) or, after a restart, by `thread.owner_id` being the bot; their last question then comes from the bot's
latest answer in the thread (its first embed) or the thread's starter message. /ask answers in place: an
interaction's response is a webhook message, and a thread on it would split the answer from the command.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar
from urllib.parse import unquote, urlsplit

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from newsdesk.bot.terminal import render_report
from newsdesk.index.acceptance import SUPPORTED_SUFFIXES, plain_name, refusal, suffix_of
from newsdesk.index.errors import IndexProblem
from newsdesk.index.followup import combine_follow_up
from newsdesk.index.fetching import GENERIC_ERROR, FetchError, FetchPolicy, fetch

from .discord_render import (
    OutgoingMessage,
    clip,
    question_from_embeds,
    render_add_result,
    render_help,
    render_index_report,
    render_sources,
    squash,
)
from .discord_state import COG_NAME, DiscordState, state_of
from .discord_views import answer_message

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

    from .discord_app import NewsdeskBot

log = logging.getLogger(__name__)
T = TypeVar("T")

QUESTION_MAX_CHARS = 1000
THREAD_NAME_LIMIT = 100  # Discord: thread names are 1-100 characters
THREAD_AUTO_ARCHIVE_MINUTES = 1440  # a thread hides after a day without messages
THREAD_HISTORY_LIMIT = 50  # messages read back to find a thread's last question after a restart


class NotAllowedToAdd(app_commands.CheckFailure):
    """The member has neither Manage Server nor the configured role."""

    def __init__(self, role: str | None) -> None:
        self.role = role
        extra = f" or the **{discord.utils.escape_markdown(role)}** role" if role else ""
        super().__init__(f"You need the Manage Server permission{extra} to add sources.")


class UserFacingError(Exception):
    """An error whose message is safe and useful to show the user as is."""


# --- checks and cooldowns --------------------------------------------------------------------------------------------


def question_cooldown() -> Callable[[T], T]:
    """Per-user cooldown on questions (DISCORD_COOLDOWN_SECONDS; 0 disables it), raising discord.py's own
    `CommandOnCooldown`. The buckets (a `commands.CooldownMapping`) live in the cog's state, not in the
    decorator like `app_commands.checks.cooldown`'s, so they follow the settings and mentions share them."""

    async def predicate(interaction: discord.Interaction) -> bool:
        bucket, retry_after = state_of(interaction.client).question_retry_after(interaction.user.id)
        if bucket is not None and retry_after:
            raise app_commands.CommandOnCooldown(bucket, retry_after)
        return True

    return app_commands.check(predicate)


def has_role(member: discord.abc.User, role: str) -> bool:
    """Whether `member` has the role given by id or name (case-insensitive)."""
    roles = getattr(member, "roles", None) or []
    wanted = role.strip()
    for r in roles:
        if str(r.id) == wanted or r.name.casefold() == wanted.casefold():
            return True
    return False


def can_add() -> Callable[[T], T]:
    """Manage Server (as `app_commands.checks.has_permissions` checks it) OR the configured DISCORD_ADMIN_ROLE."""

    async def predicate(interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator:
            return True
        role = state_of(interaction.client).settings.discord_admin_role
        if role and has_role(interaction.user, role):
            return True
        raise NotAllowedToAdd(role)

    return app_commands.check(predicate)


# --- helpers ---------------------------------------------------------------------------------------------------------

_TYPE_SUFFIX = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
                "text/markdown": ".md", "application/pdf": ".pdf"}


def name_for_url(url: str, content_type: str | None) -> str:
    parts = urlsplit(url)
    name = plain_name(unquote(parts.path), fallback=plain_name(parts.hostname or "article"))
    suffix = _TYPE_SUFFIX.get((content_type or "").split(";")[0].strip().lower())
    if suffix and suffix_of(name).lower() not in SUPPORTED_SUFFIXES:
        name += suffix
    return name


async def fetch_url(url: str, policy: FetchPolicy, session: aiohttp.ClientSession | None = None) -> tuple[str, bytes]:
    """Download `url` under the fetch policy (index/fetching.py), in `session` (from `policy_session`) when
    given; returns (file name, bytes). Every failure past the scheme check is the same generic text (details in
    the log), so replies can't map a network."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise UserFacingError("Only http:// and https:// links can be added.")
    try:
        fetched = await fetch(url, policy, session=session)
    except FetchError:
        raise UserFacingError(f"{GENERIC_ERROR} Nothing was added.") from None
    return name_for_url(fetched.url, fetched.headers.get("Content-Type")), fetched.body


async def fetch_attachment(file: discord.Attachment, policy: FetchPolicy) -> bytes:
    """An attachment's bytes, streamed with the size cap (an attachment that declares 1 KB and sends 60 MB
    stops at the cap). Its URL comes from Discord's own payload, not from the user, so the address policy
    does not apply to it (a Discord-compatible server on the LAN or loopback works); it gets a session of its
    own, as a session's connector checks addresses under one policy only (the bot's is the strict one)."""
    limit_mb = policy.max_bytes / (1024 * 1024)
    name = plain_name(file.filename)
    try:
        return (await fetch(file.url, dataclasses.replace(policy, allow_private=True))).body
    except FetchError as exc:
        if exc.too_large:
            raise UserFacingError(f"`{name}` is larger than the {limit_mb:g} MB limit.") from None
        raise UserFacingError(f"Could not download `{name}` from Discord; nothing was added.") from None


def add_notice(requested: str, saved: str, *, renamed: bool, unchanged: bool) -> str | None:
    """The line above /add's report when the upload did not simply land under the name asked for."""
    req, got = requested.replace("`", ""), saved.replace("`", "")
    if unchanged:
        return (f"`{got}` is already in the corpus with exactly this content; nothing changed."
                + (f" (`{req}` holds a different file.)" if renamed else ""))
    if renamed:
        return (f"`{req}` already holds a different file, which was kept: this upload was saved as `{got}`. "
                "Delete the old file from the corpus folder to replace it.")
    return None


def strip_mentions(text: str, user_id: int) -> str:
    return " ".join(re.sub(rf"<@!?{user_id}>", " ", text).split())


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral notice, whatever state the interaction response is in."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        else:
            await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("Could not tell the user about an error: %s", exc)


# --- the cog ----------------------------------------------------------------------------------------------------------


class NewsdeskCog(commands.Cog, name=COG_NAME):
    """/ask, /sources, /reindex, /add, /help and mentions. Owns the front end's state (`DiscordState`: memory of
    answers and threads, cooldowns, the cached index status); `web_client` is the bot's one HTTP session for
    links users give (from `index.fetching.policy_session`)."""

    def __init__(self, bot: NewsdeskBot, web_client: aiohttp.ClientSession | None = None) -> None:
        self.bot = bot
        self.web_client = web_client
        self.state = DiscordState(bot.engine, bot.bot_settings)

    @property
    def engine(self) -> Engine:
        return self.state.engine

    async def answer_messages(self, question: str, asked_at: dt.datetime, asker: int) -> list[OutgoingMessage]:
        """The answer to `asker`'s question: one message, its first page, with the buttons that turn it."""
        t0 = time.perf_counter()
        answer = await asyncio.to_thread(self.engine.ask, question, asked_at=asked_at)
        log.info("answered in %.0f ms (%s): %r", (time.perf_counter() - t0) * 1000,
                 "abstained" if answer.abstained else f"{len(answer.results)} quotes", question)
        status = await self.state.index_status()
        return [answer_message(answer, status, asker, asked_at)]

    async def respond(self, interaction: discord.Interaction, messages: list[OutgoingMessage], *,
                      remember: str | None = None) -> None:
        """Send `messages` as the (deferred) response: the first edits the original, the rest follow up."""
        first, *rest = messages
        view = {"view": first.view} if first.view is not None else {}
        sent = await interaction.edit_original_response(content=first.content, embeds=first.embeds, **view)
        if remember:
            self.state.answers[sent.id] = remember
        for message in rest:
            kwargs: dict[str, Any] = {"embeds": message.embeds, "wait": True}
            if message.content:
                kwargs["content"] = message.content
            if message.view is not None:
                kwargs["view"] = message.view
            extra = await interaction.followup.send(**kwargs)
            if remember and extra is not None:
                self.state.answers[extra.id] = remember

    # -- /ask --------------------------------------------------------------------------------------------------------

    @app_commands.command(name="ask", description="Ask a question; the answer quotes the indexed news articles.")
    @app_commands.describe(question="What do you want to know?")
    @question_cooldown()
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, QUESTION_MAX_CHARS]) -> None:
        await interaction.response.defer(thinking=True)
        messages = await self.answer_messages(question, interaction.created_at, interaction.user.id)
        await self.respond(interaction, messages, remember=question)

    # -- /sources ----------------------------------------------------------------------------------------------------

    @app_commands.command(name="sources", description="What is indexed: article count, newest, per publisher.")
    async def sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        status = await self.state.index_status(fresh=True)
        await self.respond(interaction, render_sources(status))

    # -- /reindex ----------------------------------------------------------------------------------------------------

    @app_commands.command(name="reindex", description="Bring the index up to date with the corpus folder.")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        log.info("/reindex by %s (%s)", interaction.user, interaction.user.id)
        try:
            report = await asyncio.to_thread(self.engine.index, progress=False)
        except IndexProblem as exc:  # busy (another writer holds the lock) or damaged: say so
            log.warning("/reindex failed: %s", exc)
            await interaction.edit_original_response(content=f"Reindexing failed: {exc}"[:2000])
            return
        log.info("/reindex: %s", render_report(report))
        status = await self.state.index_status(fresh=True)
        await self.respond(interaction, render_index_report(report, status=status))

    # -- /add --------------------------------------------------------------------------------------------------------

    @app_commands.command(name="add", description="Save an article (attached file or link) into the corpus and index it.")
    @app_commands.describe(file="The article as a file (text, Markdown, HTML or PDF)",
                           url="Or a link to the article (http or https)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @can_add()
    async def add(self, interaction: discord.Interaction, file: Optional[discord.Attachment] = None,
                  url: Optional[str] = None) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        settings = self.engine.settings
        policy = FetchPolicy.from_settings(settings)
        try:
            if (file is None) == (url is None):
                raise UserFacingError("Attach a file or give a link (one of the two).")
            if file is not None:
                name = plain_name(file.filename)
                if (reason := refusal(name, file.size, settings, upload=True)) is not None:  # before downloading
                    raise UserFacingError(f"Could not add `{name}`: {reason}")
                data = await fetch_attachment(file, policy)
            else:
                name, data = await fetch_url(url.strip(), policy, self.web_client)  # type: ignore[union-attr]
            log.info("/add %s (%d bytes) by %s (%s)", name, len(data), interaction.user, interaction.user.id)
            try:
                added = await asyncio.to_thread(self.engine.add_file, name, data)
            except (ValueError, IndexProblem) as exc:
                raise UserFacingError(f"Could not add `{name}`: {exc}") from None
            log.info("/add %s: %s", name, render_report(added.report))
        except UserFacingError as exc:
            await interaction.edit_original_response(content=str(exc)[:2000], embeds=[])
            return
        status = await self.state.index_status(fresh=True)
        saved = self.state.corpus_relative(added.path)
        messages = render_add_result(saved, added.report, status=status)
        messages[0].content = add_notice(added.requested, saved, renamed=added.renamed, unchanged=added.unchanged)
        await self.respond(interaction, messages)

    # -- /help -------------------------------------------------------------------------------------------------------

    @app_commands.command(name="help", description="How to use newsdesk.")
    async def help(self, interaction: discord.Interaction) -> None:
        # Answered at once (nothing to wait for), so no defer is needed.
        s = self.state.settings
        message = render_help(channels=s.discord_channels, admin_role=s.discord_admin_role,
                              cooldown=s.discord_cooldown_seconds, threads=s.discord_threads)
        await interaction.response.send_message(embeds=message.embeds, ephemeral=True)

    # -- mentions, replies and threads ------------------------------------------------------------------------------

    def previous_question(self, message: discord.Message) -> str | None:
        """The question of the bot answer this message replies to, or None."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        remembered = self.state.answers.get(ref.message_id)
        if remembered:
            return remembered
        resolved = ref.resolved
        if isinstance(resolved, discord.Message) and self.bot.user and resolved.author.id == self.bot.user.id:
            return question_from_embeds(resolved.embeds)
        return None

    async def bot_thread(self, channel: discord.abc.Messageable) -> discord.Thread | None:
        """`channel` when it is a thread the bot opened (DISCORD_THREADS), else None. Known by memory or, after
        a restart, by the thread's owner; a thread not in discord.py's cache is fetched once."""
        me = self.bot.user
        if me is None or not self.state.settings.discord_threads:
            return None
        if isinstance(channel, discord.PartialMessageable) and channel.guild is not None:
            try:  # a thread discord.py doesn't know (not in its cache): ask Discord what it is
                channel = await self.bot.fetch_channel(channel.id)  # type: ignore[assignment]
            except discord.HTTPException:
                return None
        if not isinstance(channel, discord.Thread):
            return None
        if self.state.threads.get(channel.id) is not None or channel.owner_id == me.id:
            return channel
        return None

    async def thread_question(self, thread: discord.Thread) -> str | None:
        """The last question asked in a thread the bot opened: from memory, else (after a restart) from the
        bot's latest answer in the thread (its first embed carries the question), else from the message the
        thread was started from."""
        remembered = self.state.threads.get(thread.id)
        if remembered:
            return remembered
        me = self.bot.user
        assert me is not None
        question: str | None = None
        try:
            async for old in thread.history(limit=THREAD_HISTORY_LIMIT):
                if old.author.id == me.id:
                    question = question_from_embeds(old.embeds)
                    if question:
                        break
        except discord.HTTPException as exc:
            log.debug("Reading the history of thread %s failed: %s", thread.id, exc)
        if not question:
            starter = thread.starter_message  # the starter message's id is the thread's id
            if starter is None and thread.parent is not None:
                try:
                    starter = await thread.parent.fetch_message(thread.id)  # type: ignore[union-attr]
                except discord.HTTPException as exc:
                    log.debug("Fetching the starter message of thread %s failed: %s", thread.id, exc)
            if starter is not None:
                question = strip_mentions(starter.content, me.id)[:QUESTION_MAX_CHARS] or None
        if question:
            self.state.threads[thread.id] = question
        return question

    async def open_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A new public thread started from `message`, named after the question; None when it can't be made
        (no permission, not a text channel, a thread already there), and the answer then goes in place."""
        try:
            thread = await message.create_thread(name=clip(squash(question), THREAD_NAME_LIMIT) or "question",
                                                 auto_archive_duration=THREAD_AUTO_ARCHIVE_MINUTES)
        except (discord.HTTPException, ValueError) as exc:
            log.warning("Could not open a thread for a question in channel %s (%s); answering in place",
                        message.channel.id, getattr(exc, "text", None) or exc)
            return None
        self.state.threads[thread.id] = question
        return thread

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return  # system messages (thread starters, pins, joins...)
        previous = self.previous_question(message)
        mentioned = any(u.id == me.id for u in message.mentions)
        thread = await self.bot_thread(message.channel)
        if previous is None and not mentioned and thread is None:
            return
        if not self.bot.channel_allowed(message.channel):
            log.debug("Ignoring a mention in channel %s (not in DISCORD_CHANNELS)", message.channel.id)
            return
        text = strip_mentions(message.content, me.id)
        if thread is not None and previous is None:
            previous = await self.thread_question(thread)
        if not text and thread is not None and not mentioned:
            if content_withheld(message) and self.state.first_thread_notice(thread.id):
                await message.reply("I can't read messages here: the bot lacks the Message Content intent. "
                                    "Mention me with your question (“@newsdesk and what did Trump say?”) and "
                                    "I'll answer.", mention_author=False)
            return  # an attachment or sticker with no text: nothing to ask
        if previous is not None and text:
            question = combine_follow_up(previous, text)
        elif text:
            question = text[:QUESTION_MAX_CHARS]
        else:
            await message.reply("Ask me a question after the mention, e.g. “@newsdesk what did Pompeo say on "
                                "April 7?”, or use /ask.", mention_author=False)
            return
        _bucket, retry_after = self.state.question_retry_after(message.author.id)
        if retry_after:
            await message.reply(f"One question at a time: you can ask again in {retry_after:.0f} s.",
                                mention_author=False)
            return
        new_thread: discord.Thread | None = None
        if (thread is None and self.state.settings.discord_threads
                and isinstance(message.channel, discord.TextChannel)):
            new_thread = await self.open_thread(message, question)
        if thread is not None:
            self.state.threads[thread.id] = question
        try:
            async with (new_thread or message.channel).typing():
                messages = await self.answer_messages(question, message.created_at, message.author.id)
        except Exception as exc:
            if isinstance(exc, IndexProblem):  # the index can't be read (its server down, damaged): say why
                log.warning("Answering a mention failed: %s", exc)
                text = f"Sorry, I can't answer right now: {exc}"[:2000]
            else:
                log.exception("Answering a mention failed")
                text = "Sorry, something went wrong while answering; the error was logged."
            if new_thread is not None:
                await new_thread.send(text)
            else:
                await message.reply(text, mention_author=False)
            return
        for part in messages:
            if new_thread is not None:  # the thread starts from the question: no reply reference needed
                sent = await new_thread.send(content=part.content, embeds=part.embeds, view=part.view)
            else:
                sent = await message.reply(content=part.content, embeds=part.embeds, view=part.view,
                                           mention_author=False)
            self.state.answers[sent.id] = question


def content_withheld(message: discord.Message) -> bool:
    """Whether Discord blanked this message for want of the Message Content intent: no text, attachment,
    embed, sticker, poll or component at all (every real message has one of them)."""
    return not (message.content or message.attachments or message.embeds or message.stickers
                or message.poll or message.components)
