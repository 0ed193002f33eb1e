# --- Discord front end (tests/test_discord_*.py) -------------------------------------------------------------------
import shutil as _shutil
from pathlib import Path as _Path

import pytest as _pytest

_SAMPLE_CORPUS = _Path(__file__).resolve().parent.parent / "corpus"


@_pytest.fixture(scope="module")
def discord_engine(tmp_path_factory):
    """A real Engine over a private copy of the sample corpus, indexed once per test module."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    root = tmp_path_factory.mktemp("discord-engine")
    _shutil.copytree(_SAMPLE_CORPUS, root / "corpus")
    engine = Engine(Settings(corpus=root / "corpus", data=root / "data", progress=False))
    engine.index(progress=False)
    return engine


@_pytest.fixture
async def discord_fake():
    """The loopback Discord fake (tests/discord_fake.py), started on a random port."""
    from tests.discord_fake import FakeDiscord

    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


@_pytest.fixture
async def start_discord_bot(discord_fake):
    """`await start_discord_bot(engine, **bot_settings)` → a NewsdeskBot logged in to the fake and ready.
    Restores the discord.py class attributes the factory sets (REST base, gateway URL)."""
    import asyncio

    import discord

    from newsdesk.bot.discord_app import create_bot
    from newsdesk.bot.discord_settings import BotSettings
    from tests.discord_fake import GUILD_ID

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    running = []

    async def start(engine, **overrides):
        values = dict(discord_token=discord_fake.token, discord_api_base=discord_fake.api_base,
                      discord_gateway_url=discord_fake.gateway_url, discord_guild_id=GUILD_ID,
                      discord_channels=[], discord_admin_role=None, discord_cooldown_seconds=0,
                      newsdesk_watch=False)
        values.update(overrides)
        bot = create_bot(engine, BotSettings(_env_file=None, **values), guild_ready_timeout=0.05)
        await bot.login(discord_fake.token)
        task = asyncio.create_task(bot.connect(reconnect=False))
        running.append((bot, task))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        return bot

    yield start
    for bot, task in running:
        await bot.close()
        try:
            await asyncio.wait_for(task, 5)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
            task.cancel()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


# --- Engine (shared by every test module) ---------------------------------------------------------------------------
@_pytest.fixture(scope="session")
def embedder():
    """The real default model (all-MiniLM-L6-v2 from its PyPI package), loaded once per test session."""
    from newsdesk.index.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


@_pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path, monkeypatch):
    """No test reads the developer's .env or writes into the repo's data folder."""
    monkeypatch.chdir(tmp_path)
    for var in ("NEWSDESK_CORPUS", "NEWSDESK_DATA", "NEWSDESK_MODEL", "DISCORD_TOKEN"):
        monkeypatch.delenv(var, raising=False)


@_pytest.fixture(scope="module")
def sample_engine(tmp_path_factory, embedder):
    """A real Engine over a private copy of the sample corpus, indexed once per module."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    root = tmp_path_factory.mktemp("sample-engine")
    _shutil.copytree(_SAMPLE_CORPUS, root / "corpus")
    engine = Engine(Settings(corpus=root / "corpus", data=root / "data", progress=False), embedder=embedder)
    engine.index(progress=False)
    return engine
