"""The Discord bot: a `commands.Bot` over the engine, its factory, and `run_bot`.

Follows discord.py's own examples (advanced_startup.py, app_commands/basic.py): dependencies come in through
`__init__`, the cog is registered and slash commands are synced in `setup_hook`, and the bot runs inside
`async with bot`. Slash commands sync to DISCORD_GUILD_ID when set (instant), otherwise globally.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from newsdesk.index.records import IndexStatus
from newsdesk.index.store import IndexError_
from newsdesk.index.settings import Settings

from .discord_commands import NewsdeskCog, NotAllowedToAdd, send_ephemeral
from .discord_settings import BotSettings

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

log = logging.getLogger(__name__)

REMEMBERED_ANSWERS = 2048  # answer message id → question, for follow-ups
REMEMBERED_THREADS = 2048  # id of a thread the bot opened → its last question (DISCORD_THREADS)
STATUS_TTL_SECONDS = 10.0  # footers reuse the index status this long


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
            if isinstance(original, IndexError_):  # the index can't be read (server down, damaged): say why
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
    """The newsdesk bot. `engine` answers; `settings` are the Discord settings."""

    def __init__(self, engine: Engine, settings: BotSettings, **options: Any) -> None:
        intents = discord.Intents.default()
        # Privileged: needed to read replies that don't mention the bot. Mentions and slash commands work
        # without it on real Discord, but the gateway refuses a connection that asks for it ungranted.
        intents.message_content = True
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None,
                         tree_cls=NewsdeskTree, **options)
        self.engine = engine
        self.bot_settings = settings
        self._answers: OrderedDict[int, str] = OrderedDict()
        self._threads: OrderedDict[int, str] = OrderedDict()
        self._thread_notices: OrderedDict[int, None] = OrderedDict()  # threads told "mention me" (once each)
        self._cooldowns: dict[int, app_commands.Cooldown] = {}  # user id → bucket (/ask and mentions)
        self._status: tuple[float, IndexStatus] | None = None
        self._watch: tuple[threading.Thread, threading.Event] | None = None

    async def setup_hook(self) -> None:
        await self.add_cog(NewsdeskCog(self))
        if self.bot_settings.discord_admin_role:
            # /add is hidden behind Manage Server by default; with a configured role it is shown to everyone so
            # the role's members see it too, and the bot's own check (Manage Server or the role) gates it.
            add = self.tree.get_command("add")
            if isinstance(add, app_commands.Command):
                add.default_permissions = None
        guild_id = self.bot_settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Synced %d slash commands to server %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("Synced %d slash commands globally (Discord may take up to an hour to show them; "
                     "set DISCORD_GUILD_ID for instant sync)", len(synced))
        if self.bot_settings.newsdesk_watch:
            self._start_watching()

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Logged in as %s (id %s) in %d server(s)", self.user, self.user.id, len(self.guilds))

    async def on_message(self, message: discord.Message, /) -> None:
        # No prefix commands: mentions are handled by the cog's listener.
        return

    async def close(self) -> None:
        if self._watch is not None:
            thread, stop = self._watch
            stop.set()
            await asyncio.to_thread(thread.join, 10)
            self._watch = None
        await super().close()

    # -- helpers used by the cog and the tree -----------------------------------------------------------------------

    def channel_allowed(self, channel: Any) -> bool:
        allowed = self.bot_settings.discord_channels
        if not allowed or channel is None:
            return not allowed
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}  # threads count as their parent
        return any(i in allowed for i in ids if i is not None)

    def remember(self, message_id: int, question: str) -> None:
        self._answers[message_id] = question
        self._answers.move_to_end(message_id)
        while len(self._answers) > REMEMBERED_ANSWERS:
            self._answers.popitem(last=False)

    def recall(self, message_id: int) -> str | None:
        return self._answers.get(message_id)

    def remember_thread(self, thread_id: int, question: str) -> None:
        """A thread the bot opened (DISCORD_THREADS) and the last question asked in it."""
        self._threads[thread_id] = question
        self._threads.move_to_end(thread_id)
        while len(self._threads) > REMEMBERED_THREADS:
            self._threads.popitem(last=False)

    def recall_thread(self, thread_id: int) -> str | None:
        return self._threads.get(thread_id)

    def first_thread_notice(self, thread_id: int) -> bool:
        """True the first time it is asked for `thread_id` (bounded memory), False after."""
        if thread_id in self._thread_notices:
            return False
        self._thread_notices[thread_id] = None
        while len(self._thread_notices) > REMEMBERED_THREADS:
            self._thread_notices.popitem(last=False)
        return True

    def question_cooldown(self, user_id: int) -> tuple[app_commands.Cooldown | None, float | None]:
        """Take one question from `user_id`'s bucket: (bucket, seconds to wait) when over the rate, else
        (bucket, None). One question per DISCORD_COOLDOWN_SECONDS; 0 disables the cooldown."""
        seconds = self.bot_settings.discord_cooldown_seconds
        if seconds <= 0:
            return None, None
        now = time.time()
        if len(self._cooldowns) > 10_000:  # forget buckets that are full again
            self._cooldowns = {k: b for k, b in self._cooldowns.items() if b.get_tokens(now) < b.rate}
        bucket = self._cooldowns.setdefault(user_id, app_commands.Cooldown(1, seconds))
        return bucket, bucket.update_rate_limit(now)

    async def index_status(self, *, fresh: bool = False) -> IndexStatus | None:
        """The engine's status (cached briefly for answer footers); None if the engine can't tell."""
        now = time.monotonic()
        if not fresh and self._status is not None and now - self._status[0] < STATUS_TTL_SECONDS:
            return self._status[1]
        try:
            status = await asyncio.to_thread(self.engine.status)
        except IndexError_ as exc:  # e.g. the index's server is away: one line, no traceback
            log.warning("Reading the index status failed: %s", exc)
            return None
        except Exception:
            log.exception("Reading the index status failed")
            return None
        self._status = (time.monotonic(), status)
        return status

    def corpus_relative(self, path: Path | str) -> str:
        path = Path(path)
        try:
            return path.resolve().relative_to(Path(self.engine.settings.corpus).resolve()).as_posix()
        except (ValueError, OSError):
            return path.name

    def _start_watching(self) -> None:
        """NEWSDESK_WATCH: index.watch's watcher thread indexes the corpus now and after every change."""
        from newsdesk.index.watch import start_watch_thread

        loop = asyncio.get_running_loop()

        def on_report(_run: Any) -> None:  # in the watcher thread
            loop.call_soon_threadsafe(self._forget_status)

        self._watch = start_watch_thread(self.engine, on_report=on_report)
        log.info("Watching %s for changes", self.engine.settings.corpus)

    def _forget_status(self) -> None:
        self._status = None


def create_bot(engine: Engine, settings: BotSettings, **options: Any) -> NewsdeskBot:
    """Build the bot. DISCORD_API_BASE and DISCORD_GATEWAY_URL point discord.py at a Discord-compatible
    server (they set class attributes of discord.py; tests restore them)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
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
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = bot_settings.token()
    if not token:
        log.error("DISCORD_TOKEN is not set. Put the bot token from the Discord developer portal in .env.")
        return 2

    async def main() -> int:
        if engine is None:
            from newsdesk.index.engine import Engine  # the model loads here, not at import

            bot = create_bot(await asyncio.to_thread(Engine, settings), bot_settings, **options)
        else:
            bot = create_bot(engine, bot_settings, **options)
        return await start_bot(bot, token)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        log.info("Stopped.")
        return 0
