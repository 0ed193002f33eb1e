"""What the Discord front end remembers between events: one object, owned by the newsdesk cog.

The cog (bot/discord_commands.py) creates it; the answer buttons (bot/discord_views.py) reach it through the cog
(`state_of`), and the feedback and feeds cogs are handed the parts they use when the bot sets them up. Every
memory is bounded, with one implementation: cachetools' LRU map (least recently used entries go first), and its
TTL map for the index status footers show. The per-user question cooldown is discord.py's own
`commands.CooldownMapping`, which drops a user's bucket once it is full again.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache, TTLCache
from discord import app_commands
from discord.ext import commands

from newsdesk.index.errors import IndexProblem
from newsdesk.index.records import IndexStatus

from .discord_settings import BotSettings

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

log = logging.getLogger(__name__)

COG_NAME = "newsdesk"  # the name the newsdesk cog is registered under (`Bot.get_cog`)
REMEMBERED_ANSWERS = 2048  # answer message id → question, for follow-ups and feedback
REMEMBERED_THREADS = 2048  # id of a thread the bot opened → its last question (DISCORD_THREADS)
STATUS_TTL_SECONDS = 10.0  # footers reuse the index status this long


def _user_id(user_id: int) -> int:
    return user_id


def question_cooldowns(seconds: float) -> commands.CooldownMapping[int] | None:
    """One question per `seconds` per user id (shared by /ask and mentions); None when `seconds` is 0."""
    if seconds <= 0:
        return None
    return commands.CooldownMapping(app_commands.Cooldown(1, seconds), _user_id)


@dataclass
class DiscordState:
    """The engine and settings the commands and buttons use, and the bot's bounded memories:

    - `answers`: message id of an answer → its question (follow-up replies, page turns, feedback);
    - `threads`: id of a thread the bot opened → the last question asked in it;
    - `thread_notices`: threads already told to mention the bot (each is told once).
    """

    engine: Engine
    settings: BotSettings
    answers: LRUCache[int, str] = field(default_factory=lambda: LRUCache(REMEMBERED_ANSWERS))
    threads: LRUCache[int, str] = field(default_factory=lambda: LRUCache(REMEMBERED_THREADS))
    thread_notices: LRUCache[int, bool] = field(default_factory=lambda: LRUCache(REMEMBERED_THREADS))
    _status: TTLCache[str, IndexStatus] = field(init=False, default_factory=lambda: TTLCache(1, STATUS_TTL_SECONDS))
    _cooldowns: commands.CooldownMapping[int] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._cooldowns = question_cooldowns(self.settings.discord_cooldown_seconds)

    def question_retry_after(self, user_id: int) -> tuple[app_commands.Cooldown | None, float | None]:
        """Take one question from `user_id`'s bucket: (bucket, seconds to wait) when over the rate, else
        (bucket, None). No bucket when DISCORD_COOLDOWN_SECONDS is 0."""
        if self._cooldowns is None:
            return None, None
        bucket = self._cooldowns.get_bucket(user_id)
        return bucket, bucket.update_rate_limit() if bucket is not None else None

    def first_thread_notice(self, thread_id: int) -> bool:
        """True the first time it is asked for `thread_id` (bounded memory), False after."""
        if thread_id in self.thread_notices:
            return False
        self.thread_notices[thread_id] = True
        return True

    async def index_status(self, *, fresh: bool = False) -> IndexStatus | None:
        """The engine's status (cached briefly for answer footers); None if the engine can't tell."""
        if not fresh and "status" in self._status:
            return self._status["status"]
        try:
            status = await asyncio.to_thread(self.engine.status)
        except IndexProblem as exc:  # e.g. the index's server is away: one line, no traceback
            log.warning("Reading the index status failed: %s", exc)
            return None
        except Exception:
            log.exception("Reading the index status failed")
            return None
        self._status["status"] = status
        return status

    def forget_status(self, *_: Any) -> None:
        """Drop the cached status (the index changed: footers must show the new counts)."""
        self._status.clear()

    def corpus_relative(self, path: Path | str) -> str:
        """`path` relative to the corpus folder, or its bare name when it lies outside."""
        path = Path(path)
        try:
            return path.resolve().relative_to(Path(self.engine.settings.corpus).resolve()).as_posix()
        except (ValueError, OSError):
            return path.name


def state_of(client: Any) -> DiscordState:
    """The state of the newsdesk cog loaded in `client` (a `commands.Bot`), for the answer buttons."""
    cog = client.get_cog(COG_NAME) if isinstance(client, commands.Bot) else None
    state = getattr(cog, "state", None)
    if not isinstance(state, DiscordState):
        raise RuntimeError("the newsdesk cog is not loaded")
    return state
