"""The Discord bot: a `commands.Bot` over the engine, its factory, and `run_bot`.

Follows discord.py's own examples (advanced_startup.py, app_commands/basic.py): dependencies come in through
`__init__`, the cog is registered and slash commands are synced in `setup_hook`, and the bot runs inside
`async with bot`. Slash commands sync to DISCORD_GUILD_ID when set (instant), otherwise globally.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from newsdesk.index.feedback import FeedbackStore
from newsdesk.index.errors import IndexDamaged, IndexProblem
from newsdesk.index.fetching import FetchPolicy, policy_session
from newsdesk.index.settings import Settings

from .discord_commands import NewsdeskCog, NotAllowedToAdd, send_ephemeral
from .discord_feedback import FeedbackCog
from .discord_feeds import FeedsCog
from .discord_settings import BotSettings
from .discord_views import AnswerButton

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

log = logging.getLogger(__name__)



class NewsdeskTree(app_commands.CommandTree):
    """The command tree: the channel allow-list and friendly error messages."""

    client: NewsdeskBot

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        command = interaction.command
        if command is not None and command.name == "help":
            return True
        if self.client.channel_allowed(interaction.channel):
            return True
        allowed = ", ".join(f"<#{c}>" for c in self.client.bot_settings.discord_channels)
        await send_ephemeral(interaction, f"I answer only in {allowed}.")
        return False

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        name = interaction.command.name if interaction.command else "?"
        if isinstance(error, app_commands.CommandOnCooldown):
            text = f"One question at a time: you can ask again in {max(1, round(error.retry_after))} s."
        elif isinstance(error, NotAllowedToAdd):
            text = str(error)
        elif isinstance(error, app_commands.MissingPermissions):
            text = f"/{name} needs the Manage Server permission."
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = f"/{name} works only in a server."
        elif isinstance(error, app_commands.CheckFailure):
            text = f"You can't use /{name} here."
        else:
            original = getattr(error, "original", error)
            if isinstance(original, IndexDamaged):  # what is wrong and the command go to the admin's log
                log.error("/%s: %s", name, original)
                text = "The index is damaged, so I can't answer now; an admin can rebuild it (`newsdesk index --rebuild`)."
            elif isinstance(original, IndexProblem):  # the index can't be read (server down, damaged): say why
                log.warning("/%s failed: %s", name, original)
                text = f"Sorry, I can't answer right now: {original}"[:2000]
            else:
                log.error("/%s failed: %s: %s", name, type(original).__name__, original,
                          exc_info=(type(original), original, original.__traceback__))
                text = "Sorry, something went wrong; the error was logged."
            if interaction.response.is_done():
                try:  # replace the "thinking…" placeholder rather than leave it spinning
                    await interaction.edit_original_response(content=text, embeds=[])
                    return
                except discord.HTTPException:
                    pass
        await send_ephemeral(interaction, text)


class NewsdeskBot(commands.Bot):
    """The newsdesk bot. `engine` answers; `settings` are the Discord settings; `web_client` is the one HTTP
    session for links users give (/add), made by `index.fetching.policy_session` so it checks every address.
    Without one the bot opens its own at start-up and closes it with itself."""

    def __init__(self, engine: Engine, settings: BotSettings, *, web_client: aiohttp.ClientSession | None = None,
                 **options: Any) -> None:
        intents = discord.Intents.default()
        # Privileged: needed to read replies that don't mention the bot. Mentions and slash commands work
        # without it on real Discord, but the gateway refuses a connection that asks for it ungranted.
        intents.message_content = True
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None,
                         tree_cls=NewsdeskTree, **options)
        self.engine = engine
        self.bot_settings = settings
        self.web_client = web_client
        self._own_web_client = web_client is None
        self._synced = "no slash commands synced"  # for the log line at login
        self._watch: tuple[threading.Thread, threading.Event] | None = None
        self._catch_up: asyncio.Task | None = None  # the start-up index run (when not watching)
        self._warming: asyncio.Task | None = None  # Engine.warm in a thread (NEWSDESK_WARM_AT_START)
        self._warm_again = False  # an index run committed while warming: warm once more

    async def setup_hook(self) -> None:
        if self.web_client is None:
            self.web_client = policy_session(FetchPolicy.from_settings(self.engine.settings))
        newsdesk = NewsdeskCog(self, self.web_client)
        await self.add_cog(newsdesk)
        self.add_dynamic_items(AnswerButton)  # answers' buttons work for messages sent before a restart too
        await self.add_cog(FeedbackCog(self, FeedbackStore(Path(self.engine.settings.data)), newsdesk.state.answers))
        await self.add_cog(FeedsCog(self, on_new_articles=newsdesk.state.forget_status))
        if self.bot_settings.discord_admin_role:
            # /add (and the feed commands) are hidden behind Manage Server by default; with a configured role they
            # are shown to everyone so the role's members see them too, and the bot's own check gates them.
            for name in ("add", "follow", "unfollow", "feeds"):
                command = self.tree.get_command(name)
                if isinstance(command, app_commands.Command):
                    command.default_permissions = None
        guild_id = self.bot_settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            self._synced = f"{len(synced)} slash commands synced to server {guild_id}"
        else:
            synced = await self.tree.sync()
            self._synced = (f"{len(synced)} slash commands synced globally (Discord may take up to an hour to "
                            "show them; set DISCORD_GUILD_ID for instant sync)")
        if self.engine.settings.watch:
            self._start_watching(newsdesk.state.forget_status)  # its first run brings the index up to date
        else:
            self._catch_up = asyncio.create_task(self._index_at_start(newsdesk.state.forget_status),
                                                 name="newsdesk-index-at-start")
        self._warm_soon()  # beside the catch-up run, which it never waits for (nor it for warming)

    async def on_ready(self) -> None:
        assert self.user is not None
        cog = self.get_cog(NewsdeskCog.__cog_name__)
        status = await cog.state.index_status(fresh=True) if isinstance(cog, NewsdeskCog) else None
        articles = f"{status.documents} articles" if status is not None else "index unreadable"
        log.info("Logged in as %s (id %s) in %d server(s); %s from %s; %s", self.user, self.user.id,
                 len(self.guilds), articles, self.engine.settings.corpus, self._synced)

    async def on_message(self, message: discord.Message, /) -> None:
        # No prefix commands: mentions are handled by the cog's listener.
        return

    async def close(self) -> None:
        # the warm-up and the start-up index run: their tasks end here; their threads finish on their own (an index
        # run commits or leaves the previous index as it was, and the process waits for it before exiting)
        for name in ("_warming", "_catch_up"):
            task = getattr(self, name)
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            setattr(self, name, None)
        if self._watch is not None:
            thread, stop = self._watch
            stop.set()
            await asyncio.to_thread(thread.join, 10)
            self._watch = None
        await super().close()  # unloads the cogs first
        if self._own_web_client and self.web_client is not None:
            await self.web_client.close()
            self.web_client = None

    # -- helpers used by the cog and the tree -----------------------------------------------------------------------

    def channel_allowed(self, channel: Any) -> bool:
        allowed = self.bot_settings.discord_channels
        if not allowed or channel is None:
            return not allowed
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}  # threads count as their parent
        return any(i in allowed for i in ids if i is not None)

    def _start_watching(self, on_change: Callable[[], None]) -> None:
        """NEWSDESK_WATCH: index.watch's watcher thread indexes the corpus now and after every change."""
        from newsdesk.index.watch import start_watch_thread

        loop = asyncio.get_running_loop()

        def on_report(run: Any) -> None:  # in the watcher thread
            loop.call_soon_threadsafe(on_change)
            if run.report is not None and run.report.any_change:
                loop.call_soon_threadsafe(self._warm_soon)

        self._watch = start_watch_thread(self.engine, on_report=on_report)
        log.info("Watching %s for changes", self.engine.settings.corpus)

    async def _index_at_start(self, forget_status: Callable[[], None]) -> None:
        """Bring the index up to date with the corpus folder (changed while the bot was down) in a thread; questions
        are answered from the previous index meanwhile and from the new one as soon as it is committed."""
        try:
            report = await asyncio.to_thread(self.engine.index, progress=False)
        except Exception as exc:  # locked by another writer, or damaged: the bot still answers from what is there
            log.warning("Indexing the corpus at start-up failed: %s", exc)
            return
        forget_status()
        if report.any_change:
            self._warm_soon()  # the new generation's view and tables, before its first question
        log.info("Index up to date at start-up: %d added, %d updated, %d removed, %d skipped; %d articles",
                 report.added, report.updated, report.removed, len(report.skipped), report.documents)

    def _warm_soon(self) -> None:
        """NEWSDESK_WARM_AT_START: load the model, the current index generation and its tables in a thread
        (`Engine.warm`), so that the first question does not wait for them; the event loop never waits for it.
        Called again while warming, it warms once more after (a generation committed meanwhile)."""
        if not self.engine.settings.warm_at_start:
            return
        if self._warming is not None and not self._warming.done():
            self._warm_again = True
            return
        self._warming = asyncio.create_task(self._warm(), name="newsdesk-warm")

    async def _warm(self) -> None:
        while True:
            self._warm_again = False
            try:
                await asyncio.to_thread(self.engine.warm)
            except Exception as exc:  # damaged or unreachable: the first question reports it to the asker
                log.warning("Warming up failed (the first question will load the index): %s", exc)
            if not self._warm_again:
                return


def create_bot(engine: Engine, settings: BotSettings, **options: Any) -> NewsdeskBot:
    """Build the bot. DISCORD_API_BASE and DISCORD_GATEWAY_URL point discord.py at a Discord-compatible
    server (they set class attributes of discord.py; tests restore them)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    # newsdesk never joins voice channels: no "PyNaCl / davey is not installed" warnings at start-up
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    return NewsdeskBot(engine, settings, **options)


async def start_bot(bot: NewsdeskBot, token: str) -> int:
    """Run `bot` until it closes; returns the process exit status, after a one-line message on failure."""
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        log.error("Discord rejected the bot token (DISCORD_TOKEN). Copy a fresh one from the developer portal "
                  "(Bot → Reset Token) into .env.")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("The Message Content intent is not enabled for this bot. Turn it on in the developer portal "
                  "(Bot → Privileged Gateway Intents → Message Content Intent) and start again.")
        return 1
    except (aiohttp.ClientConnectionError, OSError) as exc:
        log.error("Cannot reach Discord at %s: %s", discord.http.Route.BASE, type(exc).__name__)
        return 1
    except discord.HTTPException as exc:
        log.error("Discord refused a request while starting: HTTP %s %s", exc.status, exc.text or "")
        return 1
    return 0


def run_bot(settings: Settings | BotSettings | None = None, bot_settings: BotSettings | None = None, *,
            engine: Engine | None = None, **options: Any) -> int:
    """Run the Discord bot until interrupted; returns an exit status (0 on a clean stop).

    `settings` are the engine settings (default: from the environment); `bot_settings` the Discord ones
    (default: from the environment and `.env`). A BotSettings passed first is taken as `bot_settings`."""
    if isinstance(settings, BotSettings):
        settings, bot_settings = None, settings
    bot_settings = bot_settings or BotSettings()
    token = bot_settings.token()
    if not logging.getLogger().handlers:  # called as a library; `newsdesk run` has set logging up already
        from .logs import level_of, setup_logging

        engine_settings = engine.settings if engine is not None else settings or Settings()
        setup_logging(level_of(engine_settings.log_level, logging.INFO), engine_settings.log_file, [token or ""])
    if not token:
        log.error("DISCORD_TOKEN is not set. Put the bot token from the Discord developer portal in .env.")
        return 2

    async def main() -> int:
        if engine is None:
            from newsdesk.index.engine import Engine  # the model loads here, not at import

            ready = await asyncio.to_thread(Engine, settings)
        else:
            ready = engine
        # discord.py's advanced_startup.py: the HTTP session is opened here and passed in, and closed after the bot
        async with policy_session(FetchPolicy.from_settings(ready.settings)) as web_client:
            return await start_bot(create_bot(ready, bot_settings, web_client=web_client, **options), token)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        log.info("Stopped.")
        return 0
