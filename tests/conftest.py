# --- The user's data stays out (tests/samples.py) ------------------------------------------------------------------
import os as _os
import sys as _sys

import pytest as _pytest

from tests.samples import ROOT as _ROOT
from tests.samples import USER_PREFIXES as _USER_PREFIXES
from tests.samples import copy_samples as _copy_samples

_USER_FILES = (str(_ROOT / "corpus"), str(_ROOT / ".env"))
_guard_on = False


def _user_data_guard(event: str, args: tuple) -> None:
    """An audit hook: a test that opens or lists the user's corpus/ or .env fails, naming the path (the sample
    articles are in tests/fixtures/docs; settings come from the test, never from the user's .env)."""
    if not _guard_on or event not in ("open", "os.listdir", "os.scandir") or not args:
        return
    path = args[0]
    if isinstance(path, int) or path is None:
        return
    try:
        full = _os.path.abspath(_os.fsdecode(path))
    except (TypeError, ValueError):
        return
    for user in _USER_FILES:
        if full == user or full.startswith(user + _os.sep):
            raise PermissionError(f"a test read the user's {full}: tests use tests/fixtures and their own settings")


_sys.addaudithook(_user_data_guard)


@_pytest.fixture(scope="session", autouse=True)
def _no_user_state(tmp_path_factory):
    """For the whole session (module fixtures included): the working directory is a fresh folder, so no
    `.env` is read; the user's NEWSDESK_* and DISCORD_* variables are unset; reading corpus/ or .env fails."""
    global _guard_on
    with _pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        for var in [v for v in _os.environ if v.startswith(_USER_PREFIXES)]:
            mp.delenv(var)
        _guard_on = True
        try:
            yield
        finally:
            _guard_on = False


# --- Discord front end (tests/test_discord_*.py) -------------------------------------------------------------------


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
                      discord_channels=[], discord_admin_role=None, discord_cooldown_seconds=0)
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


@_pytest.fixture(scope="session")
def fake_embedder():
    """Text-seeded vectors in place of the model (tests/fakes.py), for tests where answers are not the point."""
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()


@_pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path, monkeypatch):
    """Each test starts in its own empty folder: a relative path it writes never lands in the repository."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in _os.environ if v.startswith(_USER_PREFIXES)]:  # set by an earlier test's child
        monkeypatch.delenv(var)


@_pytest.fixture(scope="module")
def sample_engine(tmp_path_factory, embedder):
    """A real Engine over a private copy of the sample corpus, indexed once per module."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    root = tmp_path_factory.mktemp("sample-engine")
    _copy_samples(root / "corpus")
    engine = Engine(Settings(corpus=root / "corpus", data=root / "data", progress=False), embedder=embedder)
    engine.index(progress=False)
    return engine


@_pytest.fixture
def engine_over(tmp_path, embedder):
    """`engine_over(corpus, **settings)` → a real Engine with the shared model over `corpus`, its index in
    `tmp_path / "data"`, no progress bar; keyword settings override those. Call it again for a second Engine
    on the same index (a restart, another process's view)."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    def make(corpus, **overrides):
        values = {"corpus": corpus, "data": tmp_path / "data", "progress": False, **overrides}
        return Engine(Settings(**values), embedder=embedder)

    return make
