"""Feeds in Discord: admin-only /follow, /unfollow and /feeds, the follower thread, and the news channel.

The cog owns the follower (index/feeds.py) and its `FollowLoop` thread: started when the cog loads if any feed
is followed (or listed in NEWSDESK_FEEDS), else at the first /follow, and stopped when the bot closes (discord.py
removes cogs on close, which calls `cog_unload`). Each poll's new articles are announced in DISCORD_NEWS_CHANNEL,
one "new: <title> (<publisher>)" line each, when that setting is set.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from newsdesk.index.feeds import FollowError, FollowLoop, PollReport, engine_follower

from .discord_commands import can_add

if TYPE_CHECKING:
    from .discord_app import NewsdeskBot

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
T = TypeVar("T")


def chunk_lines(lines: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """`lines` joined into as few messages of at most `limit` characters as possible (long lines clipped)."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[: limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def admin_only(command: T) -> T:
    """Hidden from members by Discord (Manage Server by default), server only, and checked by the bot like /add
    (Manage Server or DISCORD_ADMIN_ROLE)."""
    return app_commands.default_permissions(manage_guild=True)(app_commands.guild_only()(can_add()(command)))


def news_lines(report: PollReport) -> list[str]:
    return [f"new: {a.title or a.url} ({a.publisher or 'unknown publisher'})" for a in report.new]


class FeedsCog(commands.Cog):
    """/follow, /unfollow, /feeds and the follower thread."""

    def __init__(self, bot: NewsdeskBot, on_new_articles: Callable[[], None] = lambda: None) -> None:
        self.bot = bot
        self.on_new_articles = on_new_articles  # called in the event loop when a poll saved articles
        self.follower = engine_follower(bot.engine)
        self.loop: FollowLoop | None = None

    async def cog_load(self) -> None:
        if self.follower.settings.feeds or await asyncio.to_thread(self.follower.state.feeds):
            self.start_following()

    async def cog_unload(self) -> None:
        if self.loop is not None:
            await asyncio.to_thread(self.loop.stop)
            self.loop = None

    def start_following(self) -> None:
        """Start the follower thread, or make it poll now when it runs."""
        if self.loop is not None and self.loop.running:
            self.loop.wake()
            return
        event_loop = asyncio.get_running_loop()

        def on_poll(report: PollReport) -> None:  # in the follower thread
            if report.articles:
                event_loop.call_soon_threadsafe(self.on_new_articles)  # e.g. footers show the new counts
            if report.new:
                asyncio.run_coroutine_threadsafe(self.announce(report), event_loop)

        self.loop = FollowLoop(self.follower, on_poll=on_poll).start()
        log.info("Following feeds every %g minutes", self.follower.settings.feed_minutes)

    async def announce(self, report: PollReport) -> None:
        """Post the poll's new articles in DISCORD_NEWS_CHANNEL (when set)."""
        channel_id = self.bot.bot_settings.discord_news_channel
        if not channel_id:
            return
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            for text in chunk_lines(news_lines(report)):
                await channel.send(text)  # type: ignore[union-attr]
        except (discord.HTTPException, AttributeError) as exc:
            log.warning("Could not post new articles in channel %s: %s", channel_id, exc)

    # -- commands -----------------------------------------------------------------------------------------------------

    @app_commands.command(name="follow", description="Follow a news feed (RSS/Atom, or a site page that announces one).")
    @app_commands.describe(url="The feed, or a page of the site (its feed is found from the page)")
    @admin_only
    async def follow(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        log.info("/follow %s by %s (%s)", url, interaction.user, interaction.user.id)
        try:
            res = await self.follower.follow(url)
        except FollowError as exc:
            await interaction.edit_original_response(content=f"Not followed: {exc}"[:MESSAGE_LIMIT])
            return
        self.start_following()
        verb = "Following" if res.new else "Already following"
        lines = [f"{verb} **{discord.utils.escape_markdown(res.title or 'untitled feed')}** <{res.feed}> "
                 f"({res.entries} entries now). New articles are saved and indexed on each poll "
                 f"(every {self.follower.settings.feed_minutes:g} minutes; the first starts now)."]
        lines += [f"The page also offers <{other}>." for other in res.also[:3]]
        await interaction.edit_original_response(content="\n".join(lines)[:MESSAGE_LIMIT])

    @app_commands.command(name="unfollow", description="Stop following a feed (its saved articles stay).")
    @app_commands.describe(url="The feed URL, or the page it was followed from")
    @admin_only
    async def unfollow(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        removed = await asyncio.to_thread(self.follower.unfollow, url)
        text = (f"Stopped following <{removed}>; its saved articles stay indexed." if removed
                else f"Not following <{url.strip()}>; /feeds lists what is followed.")
        await interaction.edit_original_response(content=text[:MESSAGE_LIMIT])

    @app_commands.command(name="feeds", description="Followed feeds: articles, last fetch, last new article, errors.")
    @admin_only
    async def feeds(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        statuses = await asyncio.to_thread(self.follower.statuses)
        lines = [line for s in statuses for line in s.lines()] or ["No feeds followed. Add one with /follow."]
        first, *rest = chunk_lines([discord.utils.escape_markdown(line) for line in lines])
        await interaction.edit_original_response(content=first)
        for text in rest[:4]:
            await interaction.followup.send(text, ephemeral=True)
