"""Quiet, informative running (issue 16, item 2): the bot started as `newsdesk run` logs timestamped INFO lines
(login with the article count and where commands were synced, each question with its latency), honours
NEWSDESK_LOG_LEVEL and NEWSDESK_LOG_FILE, never writes the token, and prints no optional-dependency notices."""
from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys

import pytest

from newsdesk.bot.logs import MASK, setup_logging
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from tests.discord_fake import GUILD_ID
from tests.samples import child_env, copy_samples

STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
NOISE = ("PyNaCl", "davey", "voice will NOT be supported", "torchvision", "Traceback")


@pytest.fixture
def restore_root_logging():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def test_log_lines_are_stamped_and_mask_the_token(tmp_path, restore_root_logging):
    token = "MTIz.secret-token-value.456"
    setup_logging(logging.INFO, tmp_path / "logs" / "newsdesk.log", [token])
    log = logging.getLogger("newsdesk.test")
    log.debug("not at INFO")
    log.info("connecting with %s", token)
    try:
        raise RuntimeError(f"rejected {token}")
    except RuntimeError:
        log.exception("login failed")
    for h in logging.getLogger().handlers:
        h.flush()
    text = (tmp_path / "logs" / "newsdesk.log").read_text()
    assert token not in text and text.count(MASK) == 2  # the message, the exception in the traceback
    lines = text.splitlines()
    assert STAMPED.match(lines[0]) and lines[0].endswith(f"INFO newsdesk.test: connecting with {MASK}")
    assert "not at INFO" not in text and "Traceback" in text


async def test_bot_run_logs_login_questions_and_never_the_token(tmp_path, discord_fake, embedder):
    copy_samples(tmp_path / "corpus")
    Engine(Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False),
           embedder=embedder).index(progress=False)
    log_file = tmp_path / "logs" / "bot.log"
    env = child_env(DISCORD_TOKEN=discord_fake.token, DISCORD_API_BASE=discord_fake.api_base,
                    DISCORD_GATEWAY_URL=discord_fake.gateway_url, DISCORD_GUILD_ID=str(GUILD_ID),
                    DISCORD_COOLDOWN_SECONDS="0", NEWSDESK_CORPUS=str(tmp_path / "corpus"),
                    NEWSDESK_DATA=str(tmp_path / "data"), NEWSDESK_LOG_FILE=str(log_file),
                    NEWSDESK_LOG_LEVEL="DEBUG")  # even debug lines (discord.py's HTTP and gateway) hide the token
    stderr_file = tmp_path / "stderr.txt"
    with open(stderr_file, "wb") as err:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "newsdesk.bot.cli", "run", cwd=tmp_path,
                                                    env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            def logged(text: str):
                return lambda: log_file.exists() and text in log_file.read_text()

            await discord_fake.wait_until(logged("Logged in as"), timeout=120, what="the bot's login line")
            interaction = await discord_fake.send_slash("ask", {"question": "what did Pompeo say on April 7?"})
            await discord_fake.wait_response(interaction, timeout=120)
            await discord_fake.wait_until(logged("answered in"), timeout=30, what="the question's log line")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
    text, stderr = log_file.read_text(), stderr_file.read_text()
    assert discord_fake.token not in text and discord_fake.token not in stderr
    login = next(line for line in text.splitlines() if "Logged in as" in line)
    assert STAMPED.match(login) and " INFO newsdesk.bot.discord_app: " in login
    assert f"2 articles from {tmp_path / 'corpus'}" in login and f"synced to server {GUILD_ID}" in login
    asked = next(line for line in text.splitlines() if "answered in" in line)
    assert re.search(r"answered in \d+ ms \(\d+ quotes\): 'what did Pompeo say on April 7\?'", asked), asked
    assert login in stderr and asked in stderr  # the same lines go to stderr
    for noise in NOISE:
        assert noise not in stderr, (noise, stderr[-3000:])
