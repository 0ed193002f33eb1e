"""`run_bot` start-up failures against the Discord fake (on its own thread, as `run_bot` runs its own event loop),
and the Discord settings."""
from __future__ import annotations

import logging

import discord
import pytest

from newsdesk.bot.discord_app import run_bot
from newsdesk.bot.discord_settings import BotSettings
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from tests.discord_fake import FakeDiscordThread

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.wrong-token-do-not-print-0123456789"


@pytest.fixture
def restore_discord_urls():
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
def idle_engine(tmp_path) -> Engine:
    """A real Engine on an empty corpus; start-up failures never reach it."""
    (tmp_path / "corpus").mkdir()
    return Engine(Settings(corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False))


def settings_for(fake, token: str) -> BotSettings:
    return BotSettings(_env_file=None, discord_token=token, discord_api_base=fake.api_base,
                       discord_gateway_url=fake.gateway_url, discord_guild_id=None)


def all_output(caplog, capsys) -> str:
    captured = capsys.readouterr()
    return "\n".join([caplog.text, captured.out, captured.err])


def test_bad_token_is_a_clear_error_without_the_token(restore_discord_urls, idle_engine, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # even debug logs must not show the token
    with FakeDiscordThread() as fake:
        status = run_bot(bot_settings=settings_for(fake, SECRET), engine=idle_engine)
        assert [r.path for r in fake.requests] == ["/users/@me"]  # rejected at login
    assert status == 1
    out = all_output(caplog, capsys)
    assert "Discord rejected the bot token (DISCORD_TOKEN)" in out
    assert SECRET not in out and "wrong-token" not in out


def test_missing_privileged_intent_is_a_clear_error(restore_discord_urls, idle_engine, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with FakeDiscordThread(privileged_intents_granted=False) as fake:
        status = run_bot(None, settings_for(fake, fake.token), engine=idle_engine)
    assert status == 1
    out = all_output(caplog, capsys)
    assert "Message Content intent is not enabled" in out
    assert fake.token not in out


def test_unreachable_server_is_a_clear_error(restore_discord_urls, idle_engine, caplog):
    with FakeDiscordThread() as fake:
        settings = settings_for(fake, SECRET)
    status = run_bot(settings, engine=idle_engine)  # a BotSettings first is taken as the bot settings
    assert status == 1
    assert "Cannot reach Discord at" in caplog.text
    assert SECRET not in caplog.text


def test_missing_token(caplog):
    assert run_bot(bot_settings=BotSettings(_env_file=None, discord_token="  ")) == 2
    assert "DISCORD_TOKEN is not set" in caplog.text


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv\nDISCORD_ADMIN_ROLE=Editors\nUNRELATED=1\n")
    monkeypatch.setenv("DISCORD_CHANNELS", "111, 222,333")
    monkeypatch.setenv("DISCORD_GUILD_ID", "444")
    monkeypatch.setenv("DISCORD_COOLDOWN_SECONDS", "2.5")
    monkeypatch.setenv("NEWSDESK_WATCH", "true")
    monkeypatch.setenv("DISCORD_API_BASE", "")
    s = BotSettings()
    assert s.token() == "from-dotenv"
    assert "from-dotenv" not in repr(s) and "from-dotenv" not in str(s)
    assert s.discord_channels == [111, 222, 333]
    assert s.discord_guild_id == 444 and s.discord_admin_role == "Editors"
    assert s.discord_cooldown_seconds == 2.5 and Settings().watch is True
    assert s.discord_api_base is None and s.discord_gateway_url is None
    monkeypatch.setenv("DISCORD_CHANNELS", "")
    assert BotSettings().discord_channels == []
