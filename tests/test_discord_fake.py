"""The Discord fake behaves like Discord where the bot's tests rely on it (checked with a plain discord.Client)."""
from __future__ import annotations

import asyncio

import discord
import pytest

from tests.discord_fake import CHANNEL_ID, MEMBER, validate_message


@pytest.fixture
async def plain_client(discord_fake):
    """A bare discord.Client without the message-content intent, connected to the fake."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = discord_fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = discord.gateway.yarl.URL(discord_fake.gateway_url)
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    seen: list[discord.Message] = []
    client.event(_collector(seen))
    client.seen = seen  # type: ignore[attr-defined]
    await client.login(discord_fake.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    yield client
    await client.close()
    await asyncio.wait_for(task, 5)
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def _collector(seen):
    async def on_message(message: discord.Message) -> None:
        seen.append(message)
    return on_message


async def test_content_is_blank_without_the_intent_unless_mentioned(discord_fake, plain_client):
    await discord_fake.send_message("hello there", mention_bot=False)
    await discord_fake.send_message("hello bot")
    await discord_fake.wait_until(lambda: len(plain_client.seen) == 2, 5, "two messages")
    plain, mention = plain_client.seen
    assert plain.content == ""
    assert mention.content.endswith("hello bot") and plain_client.user in mention.mentions


async def test_limits_and_empty_messages_are_rejected(discord_fake, plain_client):
    channel = plain_client.get_channel(CHANNEL_ID)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    with pytest.raises(discord.HTTPException) as big_embeds:
        await channel.send(embeds=[discord.Embed(description="y" * 4000) for _ in range(2)])
    assert big_embeds.value.code == 50035
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send(embeds=[])
    assert empty.value.code == 50006
    ok = await channel.send("x" * 2000)
    assert ok.content == "x" * 2000


async def test_a_second_interaction_response_is_rejected(discord_fake, plain_client):
    responses: list[Exception | None] = []

    @plain_client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        interaction.response._response_type = None  # get past discord.py's own guard: let Discord refuse it
        try:
            await interaction.response.send_message("again")
            responses.append(None)
        except discord.HTTPException as exc:
            responses.append(exc)

    interaction = await discord_fake.send_slash("ask", {"question": "hi"}, user=MEMBER)
    await discord_fake.wait_until(lambda: responses, 5, "the second response")
    assert isinstance(responses[0], discord.HTTPException) and responses[0].code == 40060
    assert interaction.callback_count == 2 and interaction.text() == "first"


@pytest.mark.parametrize("payload, code", [
    ({"content": "a" * 2001}, 50035),
    ({"content": ""}, 50006),
    ({"embeds": [{"title": "t" * 257}]}, 50035),
    ({"embeds": [{"description": "d" * 4097}]}, 50035),
    ({"embeds": [{"description": "d", "fields": [{"name": "n", "value": "v" * 1025}]}]}, 50035),
    ({"embeds": [{"description": "d", "fields": [{"name": "n", "value": "v"}] * 26}]}, 50035),
    ({"embeds": [{"description": "d" * 3000}, {"description": "d" * 3001}]}, 50035),
    ({"embeds": [{"description": "d"}] * 11}, 50035),
    ({"embeds": [{"description": "d", "footer": {"text": "f" * 2049}}]}, 50035),
    ({"embeds": [{"description": "d", "author": {"name": "a" * 257}}]}, 50035),
])
def test_validator_limits(payload, code):
    problem = validate_message(payload)
    assert problem is not None and problem[0] == code


def _row(*buttons: dict) -> dict:
    return {"type": 1, "components": list(buttons)}


def _button(custom_id: str | None = "b", label: str = "More", **kw) -> dict:
    out = {"type": 2, "style": 1, "label": label, **kw}
    if custom_id is not None:
        out["custom_id"] = custom_id
    return out


@pytest.mark.parametrize("components, problem", [
    ([_row(_button(f"b{i}")) for i in range(6)], "5 or fewer"),
    ([_row(*[_button(f"b{i}") for i in range(6)])], "between 1 and 5"),
    ([_row()], "between 1 and 5"),
    ([_row(_button("x" * 101))], "custom_id"),
    ([_row(_button(None))], "custom_id"),
    ([_row(_button("a"), _button("a"))], "duplicated"),
    ([_row(_button("a", label="l" * 81))], "label"),
    ([_row(_button(None, style=5))], "link button"),
    ([_row(_button("a", style=5, url="https://example.com"))], "link button"),
    ([_button("a")], "action row"),
])
def test_component_limits(components, problem):
    found = validate_message({"content": "answer", "components": components})
    assert found is not None and found[0] == 50035 and problem in found[1]
    ok = [_row(_button("a"), _button("b"), _button(None, style=5, url="https://example.com", label="Source"))]
    assert validate_message({"content": "answer", "components": ok}) is None
