"""A small Discord fake on 127.0.0.1 for end-to-end tests of the unmodified discord.py client.

It serves the REST routes and the gateway websocket that discord.py 2.7 uses for login, READY, command sync,
interactions (callback, @original edit, follow-ups) and channel messages, over real sockets. It behaves like
Discord where it matters for the bot: it rejects over-limit and empty messages and a second interaction
callback, blanks message content without the message-content intent unless the bot is mentioned, closes the
gateway with 4014 when a privileged intent is requested but not granted, and answers 401 to a bad token.
Threads: starting a public thread from a message (`POST /channels/{c}/messages/{m}/threads`, name 1-100
characters, one thread per message) makes a type-11 channel owned by the caller, dispatched as THREAD_CREATE and
listed in later GUILD_CREATEs, so messages in it resolve to a `discord.Thread`; channel and message reads
(`GET /channels/{id}`, `/messages`, `/messages/{id}`) serve what the fake holds.
Every request is recorded so tests can assert on what the bot sent.
Message components: buttons in messages are kept and checked as Discord checks them (`validate_components`), and
`press()` sends a button's MESSAGE_COMPONENT interaction (type 3), answered by an update of that message (callback
types 6 and 7), a new (ephemeral) message (4 and 5) and later edits, all recorded on its `FakeInteraction`.

See /work/shared/discord/NOTES.md for the protocol details this follows.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

# --- ids and permissions -------------------------------------------------------------------------------------------

APP_ID = 900000000000000001  # the bot user's id is the application id
OWNER_ID = 900000000000000002
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200  # "general"
OTHER_CHANNEL_ID = 900000000000000201  # "random"
ADMIN_ROLE_ID = 900000000000000300
EDITOR_ROLE_ID = 900000000000000301
ADMIN_ROLE_NAME = "Admins"
EDITOR_ROLE_NAME = "Editors"
ADMIN_USER_ID = 900000000000000400
MEMBER_USER_ID = 900000000000000401
EDITOR_USER_ID = 900000000000000402

MANAGE_GUILD = 1 << 5
MESSAGE_CONTENT_INTENT = 1 << 15
GUILD_MESSAGE_REACTIONS_INTENT = 1 << 10  # not privileged; in discord.py's Intents.default()
BASE_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31)
)  # view channel, send messages, embed links, attach files, read history, use application commands
ADMIN_PERMISSIONS = BASE_PERMISSIONS | MANAGE_GUILD

# --- Discord's message limits ----------------------------------------------------------------------------------------

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
THREAD_NAME_LIMIT = 100
THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
HAS_THREAD_FLAG = 1 << 5

_snowflakes = itertools.count(int(time.time() * 1000 - 1420070400000) << 22)


def snowflake() -> int:
    return next(_snowflakes)


def iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def validate_message(payload: dict[str, Any], *, require_body: bool = True) -> tuple[int, str] | None:
    """Discord's checks on a message body: None when valid, else (error code, reason)."""
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    if content is not None and not isinstance(content, str):
        return 50035, "content: must be a string"
    if content is not None and len(content) > CONTENT_LIMIT:
        return 50035, f"content: must be {CONTENT_LIMIT} or fewer in length ({len(content)})"
    if len(embeds) > EMBEDS_PER_MESSAGE:
        return 50035, f"embeds: must be {EMBEDS_PER_MESSAGE} or fewer in length ({len(embeds)})"
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key)
            if value is not None and len(value) > limit:
                return 50035, f"embeds.{i}.{key}: must be {limit} or fewer in length ({len(value)})"
            total += len(value or "")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_LIMIT:
            return 50035, f"embeds.{i}.fields: must be {FIELDS_LIMIT} or fewer in length"
        for j, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            if not name or not value:
                return 50035, f"embeds.{i}.fields.{j}: name and value are required"
            if len(name) > FIELD_NAME_LIMIT:
                return 50035, f"embeds.{i}.fields.{j}.name: must be {FIELD_NAME_LIMIT} or fewer in length"
            if len(value) > FIELD_VALUE_LIMIT:
                return 50035, f"embeds.{i}.fields.{j}.value: must be {FIELD_VALUE_LIMIT} or fewer in length"
            total += len(name) + len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > FOOTER_LIMIT:
            return 50035, f"embeds.{i}.footer.text: must be {FOOTER_LIMIT} or fewer in length"
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > AUTHOR_LIMIT:
            return 50035, f"embeds.{i}.author.name: must be {AUTHOR_LIMIT} or fewer in length"
        total += len(footer) + len(author)
        if not any(embed.get(k) for k in ("title", "description", "fields", "footer", "author", "image",
                                            "thumbnail")):
            return 50035, f"embeds.{i}: embed is empty"
    if total > EMBED_TOTAL_LIMIT:
        return 50035, f"embeds: combined size must be {EMBED_TOTAL_LIMIT} or fewer characters ({total})"
    if require_body and not (content or embeds or payload.get("attachments") or payload.get("sticker_ids")
                             or payload.get("poll")):
        return 50006, "Cannot send an empty message"
    return validate_components(payload.get("components"))


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
            "bot": bot, "public_flags": 0, "flags": 0}


@dataclass
class FakeUser:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    permissions: int = BASE_PERMISSIONS

    def payload(self) -> dict[str, Any]:
        return user_payload(self.id, self.name)

    def member(self, *, with_permissions: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.payload(), "roles": [str(r) for r in self.roles], "joined_at": "2020-01-01T00:00:00+00:00",
            "deaf": False, "mute": False, "flags": 0, "nick": None, "avatar": None, "premium_since": None,
            "pending": False, "communication_disabled_until": None,
        }
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


ADMIN = FakeUser(ADMIN_USER_ID, "alice-admin", [ADMIN_ROLE_ID], ADMIN_PERMISSIONS)
MEMBER = FakeUser(MEMBER_USER_ID, "bob-member", [], BASE_PERMISSIONS)
EDITOR = FakeUser(EDITOR_USER_ID, "erin-editor", [EDITOR_ROLE_ID], BASE_PERMISSIONS)


def member_user(n: int) -> FakeUser:
    """Another plain member (distinct ids, e.g. for concurrent askers with per-user cooldowns)."""
    return FakeUser(MEMBER_USER_ID + 1000 + n, f"member-{n}", [], BASE_PERMISSIONS)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeInteraction:
    id: int
    token: str
    name: str
    user: FakeUser
    channel_id: int
    callback: dict[str, Any] | None = None  # the one accepted callback body
    callback_count: int = 0
    original: dict[str, Any] | None = None  # the original response message, as Discord holds it
    followups: list[dict[str, Any]] = field(default_factory=list)
    last_activity: float = 0.0
    custom_id: str | None = None  # a MESSAGE_COMPONENT interaction (type 3): the button pressed
    message_id: str | None = None  # ... and the message it is on
    edits: int = 0  # PATCHes of @original and UPDATE_MESSAGE callbacks applied

    @property
    def deferred(self) -> bool:
        return bool(self.callback and self.callback.get("type") == 5)

    @property
    def ephemeral(self) -> bool:
        data = (self.callback or {}).get("data") or {}
        return bool(int(data.get("flags") or 0) & 64)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What the user sees: the original response (once it has a body) then the follow-ups."""
        out = []
        if self.original is not None and not self.original.get("_loading"):
            out.append(self.original)
        out.extend(self.followups)
        return out

    def text(self) -> str:
        """All visible text of the response (content, embed titles, descriptions, fields, footers, authors)."""
        return "\n".join(message_text(m) for m in self.messages)


def message_text(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for e in message.get("embeds") or []:
        parts += [(e.get("author") or {}).get("name") or "", e.get("title") or "", e.get("description") or ""]
        for f in e.get("fields") or []:
            parts += [f.get("name") or "", f.get("value") or ""]
        parts.append((e.get("footer") or {}).get("text") or "")
    return "\n".join(p for p in parts if p)


# --- message components (buttons) and MESSAGE_COMPONENT interactions ---------------------------------------------------

ACTION_ROWS_LIMIT = 5
BUTTONS_PER_ROW = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
BUTTON_URL_LIMIT = 512
LINK_STYLE = 5


def validate_components(components: Any) -> tuple[int, str] | None:
    """Discord's checks on a message's buttons: at most 5 action rows of 1-5 buttons; a link button (style 5)
    has a URL and no custom_id, every other one a custom_id of 1-100 characters, unique in the message; labels
    at most 80 characters. None when valid, else (error code, reason)."""
    if not components:
        return None
    if len(components) > ACTION_ROWS_LIMIT:
        return 50035, f"components: must be {ACTION_ROWS_LIMIT} or fewer in length ({len(components)})"
    seen: set[str] = set()
    for i, row in enumerate(components):
        items = row.get("components") or []
        if row.get("type") != 1:
            return 50035, f"components.{i}: a top-level component must be an action row"
        if not 1 <= len(items) <= BUTTONS_PER_ROW:
            return 50035, f"components.{i}.components: must be between 1 and {BUTTONS_PER_ROW} in length"
        for j, button in enumerate(items):
            where = f"components.{i}.components.{j}"
            custom_id, label, url = button.get("custom_id"), button.get("label"), button.get("url")
            if button.get("type") != 2:
                return 50035, f"{where}: only buttons are supported by this fake"
            if label is not None and len(label) > BUTTON_LABEL_LIMIT:
                return 50035, f"{where}.label: must be {BUTTON_LABEL_LIMIT} or fewer in length ({len(label)})"
            if not label and not button.get("emoji"):
                return 50035, f"{where}: a button needs a label or an emoji"
            if button.get("style") == LINK_STYLE:
                if custom_id is not None or not url or len(url) > BUTTON_URL_LIMIT:
                    return 50035, f"{where}: a link button has a url (at most {BUTTON_URL_LIMIT}) and no custom_id"
                continue
            if not custom_id or len(custom_id) > CUSTOM_ID_LIMIT:
                return 50035, f"{where}.custom_id: must be between 1 and {CUSTOM_ID_LIMIT} in length"
            if custom_id in seen:
                return 50035, f"{where}.custom_id: component custom id cannot be duplicated"
            seen.add(custom_id)
    return None


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a message, row by row."""
    return [b for row in message.get("components") or [] for b in row.get("components") or []]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    """The button labelled `label` on `message` (AssertionError when it has none)."""
    found = [b for b in buttons_of(message) if b.get("label") == label]
    assert found, f"no {label!r} button on the message (buttons: {[b.get('label') for b in buttons_of(message)]})"
    return found[0]


class _Components:
    """MESSAGE_COMPONENT interactions of FakeDiscord: a user presses a button; the bot updates the message or
    answers with a new (ephemeral) one. Kept apart from the slash-command code it shares the records with."""

    interactions: dict[str, FakeInteraction]
    messages: dict[int, dict[str, Any]]

    async def press(self, message: dict[str, Any], label: str, *, user: FakeUser = MEMBER) -> FakeInteraction:
        """Dispatch the INTERACTION_CREATE Discord sends when `user` presses the button labelled `label` on
        `message` (as Discord holds it now). Link and disabled buttons send nothing: pressing one is an error."""
        held = self.messages[int(message["id"])]
        pressed = button(held, label)
        assert pressed.get("style") != LINK_STYLE and not pressed.get("disabled"), f"{label!r} cannot be pressed"
        interaction = FakeInteraction(id=snowflake(), token=f"ctoken-{snowflake()}", name=f"button {label}", user=user,
                                      channel_id=int(held["channel_id"]), last_activity=time.monotonic(),
                                      custom_id=pressed["custom_id"], message_id=str(held["id"]))
        self.interactions[interaction.token] = interaction
        payload = {
            "id": str(interaction.id), "application_id": str(APP_ID), "type": 3, "token": interaction.token,
            "version": 1, "attachment_size_limit": 25 * 1024 * 1024, "guild_id": str(GUILD_ID),
            "guild_locale": "en-US", "locale": "en-US", "app_permissions": str(ADMIN_PERMISSIONS),
            "channel_id": held["channel_id"], "channel": self._channel_payload(int(held["channel_id"])),
            "member": user.member(with_permissions=True), "message": self._public(held),
            "data": {"custom_id": pressed["custom_id"], "component_type": 2}, "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)}, "context": 0,
        }
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    async def wait_pressed(self, interaction: FakeInteraction, timeout: float = 30.0,
                           settle: float = 0.3) -> FakeInteraction:
        """Wait until the bot has answered a button press (an update of the message, a new message or an edit
        of a deferred one, or a follow-up) and then nothing more for `settle` seconds."""
        def done() -> bool:
            kind = (interaction.callback or {}).get("type")
            answered = kind in (4, 7) or interaction.edits > 0 or bool(interaction.followups)
            return answered and time.monotonic() - interaction.last_activity >= settle
        await self.wait_until(done, timeout, f"an answer to the press of {interaction.name}")
        return interaction

    def _update_callback(self, interaction: FakeInteraction, body: dict[str, Any],
                         request: web.Request) -> web.Response:
        """Callback types 6 (DEFERRED_UPDATE_MESSAGE) and 7 (UPDATE_MESSAGE): only for a component interaction,
        and they act on the message the button is on (@original is that message from then on)."""
        path = f"/interactions/.../{interaction.token}/callback"
        if interaction.message_id is None:
            return self._error(path, 400, 50035, "type: an update is only valid for a component interaction")
        target = self.messages[int(interaction.message_id)]
        data = body.get("data") or {}
        if body.get("type") == 7:
            problem = validate_message(data, require_body=False)
            if problem:
                return self._error(path, 400, *problem)
            for key in ("content", "embeds", "components"):
                if key in data:
                    target[key] = data[key] or ([] if key != "content" else "")
            target["edited_timestamp"] = iso_now()
            interaction.edits += 1
        interaction.callback = body
        interaction.original = target
        result = {"interaction": {"id": str(interaction.id), "type": 3, "response_message_id": target["id"],
                                  "response_message_loading": False, "response_message_ephemeral": False},
                  "resource": {"type": body.get("type"), "message": self._public(target)}}
        if request.query.get("with_response") in ("1", "true", "True"):
            return self._json(result)
        return web.Response(status=204)


@dataclass
class Connection:
    ws: web.WebSocketResponse
    heartbeats: int = 0
    heartbeat_times: list[float] = field(default_factory=list)  # time.monotonic() of each heartbeat
    identified: bool = False
    intents: int = 0


class FakeDiscord(_Components):
    """Start with `await fake.start()`; point discord.py at `fake.api_base` / `fake.gateway_url`."""

    def __init__(self, *, token: str = "fake-bot-token", heartbeat_interval_ms: int = 300,
                 privileged_intents_granted: bool = True, attachment_size_limit: int = 25 * 1024 * 1024) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents_granted = privileged_intents_granted
        self.attachment_size_limit = attachment_size_limit
        self.requests: list[Recorded] = []
        self.rejections: list[tuple[str, int, str]] = []  # (path, code, reason) for every refused message
        self.connections: list[Connection] = []
        self.identify: dict[str, Any] | None = None
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.channel_messages: list[dict[str, Any]] = []  # messages the bot posted to channels
        self.messages: dict[int, dict[str, Any]] = {}  # every message by id (users' and the bot's)
        self.threads: dict[int, dict[str, Any]] = {}  # thread channels by id (type 11)
        self.files: dict[str, tuple[bytes, str]] = {}  # served at /files/{name}: (data, content type)
        self.port = 0
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._command_ids: dict[str, int] = {}
        self.bot_user = user_payload(APP_ID, "newsdesk", bot=True)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/files/{name}", self._serve_file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- helpers for tests ---------------------------------------------------------------------------------------------

    @property
    def heartbeats(self) -> int:
        return sum(c.heartbeats for c in self.connections)

    def heartbeat_times(self) -> list[float]:
        return sorted(t for c in self.connections for t in c.heartbeat_times)

    @property
    def intents(self) -> int:
        return int((self.identify or {}).get("intents") or 0)

    def serve_file(self, name: str, data: bytes, content_type: str = "text/plain") -> str:
        self.files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    def attachment(self, filename: str, data: bytes, content_type: str = "text/plain",
                   size: int | None = None) -> dict[str, Any]:
        """A resolved attachment payload whose URL this fake serves (size may be overstated for tests)."""
        url = self.serve_file(filename, data, content_type)
        return {"id": str(snowflake()), "filename": filename, "size": len(data) if size is None else size,
                "url": url, "proxy_url": url, "content_type": content_type}

    def command_names(self, guild_id: int | None = None) -> set[str]:
        cmds = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        return {c["name"] for c in cmds}

    async def send_slash(self, name: str, options: dict[str, Any] | None = None, *, user: FakeUser = MEMBER,
                         channel_id: int = CHANNEL_ID) -> FakeInteraction:
        """Dispatch a slash-command INTERACTION_CREATE. Option values: str, int, bool, or an attachment payload
        from `attachment()`."""
        opts: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for key, value in (options or {}).items():
            if isinstance(value, dict) and "filename" in value:
                resolved.setdefault("attachments", {})[value["id"]] = value
                opts.append({"name": key, "type": 11, "value": value["id"]})
            elif isinstance(value, bool):
                opts.append({"name": key, "type": 5, "value": value})
            elif isinstance(value, int):
                opts.append({"name": key, "type": 4, "value": value})
            else:
                opts.append({"name": key, "type": 3, "value": str(value)})
        guild_cmds = self.guild_commands.get(GUILD_ID, [])
        data: dict[str, Any] = {"id": str(self._command_id(name)), "name": name, "type": 1, "options": opts}
        if any(c["name"] == name for c in guild_cmds):
            data["guild_id"] = str(GUILD_ID)
        if resolved:
            data["resolved"] = resolved
        interaction = FakeInteraction(id=snowflake(), token=f"itoken-{snowflake()}", name=name, user=user,
                                      channel_id=channel_id, last_activity=time.monotonic())
        self.interactions[interaction.token] = interaction
        payload = {
            "id": str(interaction.id), "application_id": str(APP_ID), "type": 2, "token": interaction.token,
            "version": 1, "attachment_size_limit": self.attachment_size_limit, "guild_id": str(GUILD_ID),
            "guild_locale": "en-US", "locale": "en-US", "app_permissions": str(ADMIN_PERMISSIONS),
            "channel_id": str(channel_id), "channel": self._channel(channel_id),
            "member": user.member(with_permissions=True), "data": data, "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)}, "context": 0,
        }
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    async def send_message(self, content: str, *, user: FakeUser = MEMBER, mention_bot: bool = True,
                           reply_to: dict[str, Any] | None = None, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        """Dispatch a user's MESSAGE_CREATE (a mention puts `<@bot>` in front, as the Discord client does)."""
        text = f"<@{APP_ID}> {content}" if mention_bot else content
        message = self._message(channel_id=channel_id, author=user.payload(), content=text, embeds=[])
        message["member"] = {k: v for k, v in user.member().items() if k != "user"}
        message["mentions"] = [dict(self.bot_user, member={"roles": [], "joined_at": "2020-01-01T00:00:00+00:00",
                                                           "deaf": False, "mute": False, "flags": 0})] \
            if mention_bot else []
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {"type": 0, "message_id": reply_to["id"],
                                            "channel_id": reply_to["channel_id"], "guild_id": str(GUILD_ID)}
            message["referenced_message"] = reply_to
        self.messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", self._as_seen(message))
        return message

    def _as_seen(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the bot receives it: Discord blanks content, embeds, attachments and components unless
        the message-content intent is granted, the bot is mentioned, or it is the bot's own message."""
        wire = self._public(message)
        own = str((message.get("author") or {}).get("id")) == str(APP_ID)
        mentioned = any(str(u.get("id")) == str(APP_ID) for u in message.get("mentions") or [])
        if not (self.intents & MESSAGE_CONTENT_INTENT) and not own and not mentioned:
            wire.update(content="", embeds=[], attachments=[], components=[])
        return wire

    async def open_thread(self, message: dict[str, Any], name: str, *, owner: FakeUser = MEMBER,
                          auto_archive_duration: int = 1440) -> dict[str, Any]:
        """A user starts a public thread from `message` (as the Discord client would); returns the thread."""
        thread = self._start_thread(message, name, owner_id=owner.id, auto_archive_duration=auto_archive_duration)
        await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
        return thread

    def thread_from(self, message_id: int | str) -> dict[str, Any] | None:
        """The thread started from message `message_id`, if any (a thread's id is its starter message's id)."""
        return self.threads.get(int(message_id))

    def messages_in(self, channel_id: int | str) -> list[dict[str, Any]]:
        """The bot's messages posted to `channel_id` (a channel or a thread), oldest first."""
        return [m for m in self.channel_messages if str(m["channel_id"]) == str(channel_id)]

    async def wait_messages(self, channel_id: int | str, count: int = 1, timeout: float = 30.0,
                            settle: float = 0.3) -> list[dict[str, Any]]:
        """Wait until the bot has posted at least `count` messages to `channel_id` and then nothing for `settle`."""
        state = {"n": 0, "t": time.monotonic()}

        def done() -> bool:
            n = len(self.messages_in(channel_id))
            if n != state["n"]:
                state["n"], state["t"] = n, time.monotonic()
            return n >= count and time.monotonic() - state["t"] >= settle
        await self.wait_until(done, timeout, f"{count} bot message(s) in channel {channel_id}")
        return self.messages_in(channel_id)

    def replies_to(self, message_id: int | str) -> list[dict[str, Any]]:
        """The bot's channel messages replying to `message_id`."""
        return [m for m in self.channel_messages
                if str((m.get("message_reference") or {}).get("message_id")) == str(message_id)]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.02)

    async def wait_response(self, interaction: FakeInteraction, timeout: float = 30.0,
                            settle: float = 0.3) -> FakeInteraction:
        """Wait until the interaction has a visible response and nothing more arrived for `settle` seconds."""
        def done() -> bool:
            return bool(interaction.messages) and time.monotonic() - interaction.last_activity >= settle
        await self.wait_until(done, timeout, f"a response to /{interaction.name}")
        return interaction

    async def wait_reply(self, message: dict[str, Any], timeout: float = 30.0,
                         settle: float = 0.3) -> list[dict[str, Any]]:
        state = {"n": 0, "t": time.monotonic()}

        def done() -> bool:
            replies = self.replies_to(message["id"])
            if len(replies) != state["n"]:
                state["n"], state["t"] = len(replies), time.monotonic()
            return bool(replies) and time.monotonic() - state["t"] >= settle
        await self.wait_until(done, timeout, f"a reply to message {message['id']}")
        return self.replies_to(message["id"])

    # -- reactions ------------------------------------------------------------------------------------------------------

    async def add_reaction(self, message: dict[str, Any], emoji: str, *, user: FakeUser = MEMBER) -> dict[str, Any]:
        """A user reacts to `message` with a unicode emoji. Discord sends MESSAGE_REACTION_ADD (with the message's
        author id and the reacting member) only to a connection that asked for the guild message reactions intent;
        returns the event as sent."""
        event = {"user_id": str(user.id), "channel_id": str(message["channel_id"]), "message_id": str(message["id"]),
                 "guild_id": str(GUILD_ID), "member": user.member(), "emoji": {"id": None, "name": emoji},
                 "message_author_id": str((message.get("author") or {}).get("id")), "burst": False,
                 "burst_colors": [], "type": 0}
        if self.intents & GUILD_MESSAGE_REACTIONS_INTENT:
            await self.dispatch("MESSAGE_REACTION_ADD", event)
        return event

    async def remove_reaction(self, message: dict[str, Any], emoji: str, *, user: FakeUser = MEMBER) -> None:
        """The user takes the reaction back: MESSAGE_REACTION_REMOVE (no member, no author id, as Discord sends
        it) to a connection with the guild message reactions intent."""
        event = {"user_id": str(user.id), "channel_id": str(message["channel_id"]), "message_id": str(message["id"]),
                 "guild_id": str(GUILD_ID), "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0}
        if self.intents & GUILD_MESSAGE_REACTIONS_INTENT:
            await self.dispatch("MESSAGE_REACTION_REMOVE", event)

    # -- gateway -------------------------------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for conn in list(self.connections):
            if conn.identified and not conn.ws.closed:
                self._seq += 1
                await conn.ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws)
        self.connections.append(conn)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                conn.heartbeats += 1
                conn.heartbeat_times.append(time.monotonic())
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                data = payload.get("d") or {}
                if data.get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                intents = int(data.get("intents") or 0)
                if intents & MESSAGE_CONTENT_INTENT and not self.privileged_intents_granted:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                self.identify = {k: v for k, v in data.items() if k != "token"}
                conn.identified, conn.intents = True, intents
                await self._send_ready(conn)
            elif op == 6:  # resume: not supported, ask for a fresh session
                await ws.send_str(json.dumps({"op": 9, "d": False}))
        return ws

    async def _send_ready(self, conn: Connection) -> None:
        ready = {
            "v": 10, "user": dict(self.bot_user, verified=True, mfa_enabled=False, email=None),
            "session_id": f"session-{snowflake()}", "resume_gateway_url": self.gateway_url,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": [],
        }
        for event, data in (("READY", ready), ("GUILD_CREATE", self._guild())):
            self._seq += 1
            await conn.ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    def _channel(self, channel_id: int) -> dict[str, Any]:
        name = "general" if channel_id == CHANNEL_ID else "random"
        return {"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "name": name,
                "position": 0 if channel_id == CHANNEL_ID else 1, "permission_overwrites": [], "nsfw": False,
                "parent_id": None, "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    @staticmethod
    def _role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {"id": str(role_id), "name": name, "color": 0, "hoist": False, "icon": None,
                "unicode_emoji": None, "position": position, "permissions": str(permissions), "managed": False,
                "mentionable": False, "flags": 0}

    def _guild(self) -> dict[str, Any]:
        bot_member = {"user": self.bot_user, "roles": [], "joined_at": "2020-01-01T00:00:00+00:00", "deaf": False,
                      "mute": False, "flags": 0}
        return {
            "id": str(GUILD_ID), "name": "Newsroom", "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(OWNER_ID), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "features": [], "mfa_level": 0,
            "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "joined_at": "2020-01-01T00:00:00+00:00", "large": False,
            "unavailable": False, "member_count": 4, "emojis": [], "stickers": [], "voice_states": [],
            "presences": [], "threads": list(self.threads.values()), "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "roles": [self._role(GUILD_ID, "@everyone", BASE_PERMISSIONS, 0),
                      self._role(ADMIN_ROLE_ID, ADMIN_ROLE_NAME, ADMIN_PERMISSIONS, 2),
                      self._role(EDITOR_ROLE_ID, EDITOR_ROLE_NAME, 0, 1)],
            "channels": [self._channel(CHANNEL_ID), self._channel(OTHER_CHANNEL_ID)],
            "members": [bot_member] + [u.member() for u in (ADMIN, MEMBER, EDITOR)],
        }

    # -- REST ----------------------------------------------------------------------------------------------------------

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # discord.py parses JSON only when the content type is exactly application/json (no charset).
        return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json")

    def _error(self, path: str, status: int, code: int, message: str) -> web.Response:
        self.rejections.append((path, code, message))
        return self._json({"code": code, "message": message, "errors": {}}, status)

    async def _serve_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.requests.append(Recorded("GET", f"/files/{name}", dict(request.query), None, 200))
        if name not in self.files:
            return web.Response(status=404)
        data, content_type = self.files[name]
        return web.Response(body=data, headers={"Content-Type": content_type})

    @staticmethod
    async def _body(request: web.Request) -> Any:
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            body: Any = None
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(await part.text())  # type: ignore[union-attr]
            return body
        raw = await request.read()
        return json.loads(raw) if raw else None

    async def _api(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await self._body(request)
        rec = Recorded(request.method, path, dict(request.query), body)
        self.requests.append(rec)
        response = await self._route(request, path, body)
        rec.status = response.status
        return response

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        m = request.method
        parts = path.strip("/").split("/")
        # Interaction callbacks and webhooks are authorized by the token in the URL.
        if parts[0] == "interactions" and len(parts) == 4 and parts[3] == "callback" and m == "POST":
            return self._interaction_callback(parts[2], body or {}, request)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return await self._webhook(m, parts, body or {}, request)
        if not self._authorized(request):
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        if path == "/users/@me" and m == "GET":
            return self._json(self.bot_user)
        if path == "/oauth2/applications/@me" and m == "GET":
            return self._json({
                "id": str(APP_ID), "name": "newsdesk", "description": "", "icon": None, "bot_public": True,
                "bot_require_code_grant": False, "owner": user_payload(OWNER_ID, "owner"), "verify_key": "0" * 64,
                "flags": 0, "summary": "", "team": None, "rpc_origins": [],
            })
        if path in ("/gateway", "/gateway/bot") and m == "GET":
            return self._json({"url": self.gateway_url, "shards": 1,
                               "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                       "max_concurrency": 1}})
        if parts[0] == "applications" and parts[-1] == "commands":
            guild_id = int(parts[3]) if len(parts) == 5 and parts[2] == "guilds" else None
            if m == "PUT":
                stored = [self._command(c, guild_id) for c in (body or [])]
                if guild_id is None:
                    self.global_commands = stored
                else:
                    self.guild_commands[guild_id] = stored
                return self._json(stored)
            if m == "GET":
                return self._json(self.guild_commands.get(guild_id, []) if guild_id else self.global_commands)
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "typing" and m == "POST":
            return web.Response(status=204)
        if parts[0] == "channels" and len(parts) >= 2 and not self._channel_known(int(parts[1])):
            return self._error(path, 404, 10003, "Unknown Channel")
        if parts[0] == "channels" and len(parts) == 2 and m == "GET":
            return self._json(self._channel_payload(int(parts[1])))
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages" and m == "GET":
            return self._history(int(parts[1]), request.query)
        if parts[0] == "channels" and len(parts) == 4 and parts[2] == "messages" and m == "GET":
            found = self.messages.get(int(parts[3]))
            if found is None or str(found["channel_id"]) != parts[1]:
                return self._error(path, 404, 10008, "Unknown Message")
            return self._json(self._as_seen(found))
        if (parts[0] == "channels" and len(parts) == 5 and parts[2] == "messages" and parts[4] == "threads"
                and m == "POST"):
            return await self._thread_from_message(path, int(parts[1]), int(parts[3]), body or {})
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages" and m == "POST":
            problem = validate_message(body or {})
            if problem:
                return self._error(path, 400, *problem)
            message = self._message(channel_id=int(parts[1]), author=self.bot_user, content=body.get("content") or "",
                                    embeds=body.get("embeds") or [])
            message["components"] = body.get("components") or []
            ref = body.get("message_reference")
            if ref:
                message["type"] = 19
                message["message_reference"] = {"type": 0, "message_id": str(ref["message_id"]),
                                                "channel_id": parts[1], "guild_id": str(GUILD_ID)}
                message["referenced_message"] = self.messages.get(int(ref["message_id"]))
            self.channel_messages.append(message)
            self.messages[int(message["id"])] = message
            await self.dispatch("MESSAGE_CREATE", message)
            return self._json(message)
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    # -- channels and threads --------------------------------------------------------------------------------------

    def _channel_known(self, channel_id: int) -> bool:
        return channel_id in (CHANNEL_ID, OTHER_CHANNEL_ID) or channel_id in self.threads

    def _channel_payload(self, channel_id: int) -> dict[str, Any]:
        return self.threads[channel_id] if channel_id in self.threads else self._channel(channel_id)

    def _history(self, channel_id: int, query: Any) -> web.Response:
        """`GET /channels/{id}/messages`: newest first, `limit` 1-100 (default 50), `before` / `after`."""
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return self._error(f"/channels/{channel_id}/messages", 400, 50035, "limit: must be between 1 and 100")
        before, after = int(query.get("before") or 1 << 63), int(query.get("after") or 0)
        found = sorted((m for i, m in self.messages.items()
                        if str(m["channel_id"]) == str(channel_id) and after < i < before
                        and not m.get("_loading") and not int(m.get("flags") or 0) & 64),
                       key=lambda m: int(m["id"]), reverse=True)
        if query.get("after") and not query.get("before"):  # Discord returns the oldest after `after`
            found = sorted(found, key=lambda m: int(m["id"]))[:limit][::-1]
        return self._json([self._as_seen(m) for m in found[:limit]])

    def _start_thread(self, message: dict[str, Any], name: str, *, owner_id: int,
                      auto_archive_duration: int) -> dict[str, Any]:
        thread_id = int(message["id"])  # Discord: a thread started from a message has the message's id
        now = iso_now()
        thread = {
            "id": str(thread_id), "type": 11, "guild_id": str(GUILD_ID), "parent_id": str(message["channel_id"]),
            "owner_id": str(owner_id), "name": name, "last_message_id": None, "rate_limit_per_user": 0,
            "message_count": 0, "member_count": 1, "total_message_sent": 0, "flags": 0, "applied_tags": [],
            "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                "archive_timestamp": now, "locked": False, "create_timestamp": now},
        }
        self.threads[thread_id] = thread
        message["thread"] = thread
        message["flags"] = int(message.get("flags") or 0) | HAS_THREAD_FLAG
        return thread

    async def _thread_from_message(self, path: str, channel_id: int, message_id: int,
                                   body: dict[str, Any]) -> web.Response:
        """`POST /channels/{c}/messages/{m}/threads`, checked as Discord checks it."""
        if channel_id in self.threads:
            return self._error(path, 400, 50024, "Cannot execute action on this channel type")
        message = self.messages.get(message_id)
        if message is None or str(message["channel_id"]) != str(channel_id):
            return self._error(path, 404, 10008, "Unknown Message")
        if message_id in self.threads:
            return self._error(path, 400, 160004, "A thread has already been created for this message")
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) or len(name) > THREAD_NAME_LIMIT:
            return self._error(path, 400, 50035,
                               f"name: must be between 1 and {THREAD_NAME_LIMIT} in length")
        duration = body.get("auto_archive_duration")
        if duration is None:
            duration = 1440
        if duration not in THREAD_ARCHIVE_DURATIONS:
            return self._error(path, 400, 50035, "auto_archive_duration: value must be one of "
                               f"{THREAD_ARCHIVE_DURATIONS}")
        slowmode = body.get("rate_limit_per_user")
        if slowmode is not None and not 0 <= int(slowmode) <= 21600:
            return self._error(path, 400, 50035, "rate_limit_per_user: must be between 0 and 21600")
        thread = self._start_thread(message, name.strip(), owner_id=APP_ID, auto_archive_duration=duration)
        await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
        member = {"id": thread["id"], "user_id": str(APP_ID), "join_timestamp": iso_now(), "flags": 0}
        return self._json(dict(thread, member=member))

    def _command_id(self, name: str) -> int:
        return self._command_ids.setdefault(name, snowflake())

    def _command(self, data: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        perms = data.get("default_member_permissions")
        out = dict(data)
        out.update(id=str(self._command_id(data["name"])), application_id=str(APP_ID), version=str(snowflake()),
                   type=data.get("type", 1), default_member_permissions=None if perms is None else str(perms),
                   nsfw=data.get("nsfw", False), options=data.get("options", []))
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        return out

    def _message(self, *, channel_id: int, author: dict[str, Any], content: str, embeds: list[dict[str, Any]],
                 flags: int = 0) -> dict[str, Any]:
        return {
            "id": str(snowflake()), "channel_id": str(channel_id), "guild_id": str(GUILD_ID), "type": 0,
            "content": content, "author": author, "embeds": embeds, "attachments": [], "mentions": [],
            "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False, "timestamp": iso_now(),
            "edited_timestamp": None, "flags": flags, "components": [],
        }

    def _interaction_callback(self, token: str, body: dict[str, Any], request: web.Request) -> web.Response:
        path = f"/interactions/.../{token}/callback"
        interaction = self.interactions.get(token)
        if interaction is None:
            return self._error(path, 404, 10062, "Unknown interaction")
        interaction.last_activity = time.monotonic()
        interaction.callback_count += 1
        if interaction.callback is not None:
            return self._error(path, 400, 40060, "Interaction has already been acknowledged.")
        if body.get("type") in (6, 7):
            return self._update_callback(interaction, body, request)
        kind = body.get("type")
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        if kind == 4:
            problem = validate_message(data)
            if problem:
                return self._error(path, 400, *problem)
        interaction.callback = body
        message = self._message(channel_id=interaction.channel_id, author=self.bot_user,
                                content=data.get("content") or "", embeds=data.get("embeds") or [], flags=flags)
        message["components"] = data.get("components") or []
        message["interaction_metadata"] = {"id": str(interaction.id), "type": 3 if interaction.custom_id else 2,
                                           "name": interaction.name,
                                           "user": interaction.user.payload(),
                                           "authorizing_integration_owners": {}}
        if kind == 5:
            message["_loading"] = True
            message["flags"] = flags | 128
        interaction.original = message
        self.messages[int(message["id"])] = message
        result = {"interaction": {"id": str(interaction.id), "type": 2, "response_message_id": message["id"],
                                  "response_message_loading": kind == 5,
                                  "response_message_ephemeral": bool(flags & 64)},
                  "resource": {"type": kind, "message": self._public(message)}}
        if request.query.get("with_response") in ("1", "true", "True"):
            return self._json(result)
        return web.Response(status=204)

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if not k.startswith("_")}

    async def _webhook(self, method: str, parts: list[str], body: dict[str, Any],
                       request: web.Request) -> web.Response:
        path = "/" + "/".join(parts[:2]) + "/…/" + "/".join(parts[3:])
        token = parts[2]
        interaction = self.interactions.get(token)
        if interaction is None:
            return self._error(path, 404, 10015, "Unknown Webhook")
        interaction.last_activity = time.monotonic()
        if interaction.callback is None:
            return self._error(path, 404, 10008, "Unknown Message")  # nothing to edit or follow up yet
        if len(parts) == 5 and parts[3] == "messages":  # .../messages/@original or /{id}
            target = interaction.original if parts[4] == "@original" else next(
                (f for f in interaction.followups if f["id"] == parts[4]), None)
            if target is None:
                return self._error(path, 404, 10008, "Unknown Message")
            if method == "GET":
                return self._json(self._public(target))
            if method == "DELETE":
                return web.Response(status=204)
            if method == "PATCH":
                merged = {"content": body.get("content", target.get("content")),
                          "embeds": body.get("embeds", target.get("embeds")),
                          "components": body.get("components", target.get("components"))}
                problem = validate_message(merged)
                if problem:
                    return self._error(path, 400, *problem)
                target.update(content=merged["content"] or "", embeds=merged["embeds"] or [],
                              components=merged["components"] or [], edited_timestamp=iso_now())
                interaction.edits += 1
                target.pop("_loading", None)
                target["flags"] = int(target.get("flags") or 0) & ~128
                interaction.last_activity = time.monotonic()
                return self._json(self._public(target))
        if len(parts) == 3 and method == "POST":  # follow-up
            problem = validate_message(body)
            if problem:
                return self._error(path, 400, *problem)
            message = self._message(channel_id=interaction.channel_id, author=self.bot_user,
                                    content=body.get("content") or "", embeds=body.get("embeds") or [],
                                    flags=int(body.get("flags") or 0))
            message["components"] = body.get("components") or []
            interaction.followups.append(message)
            self.messages[int(message["id"])] = message
            interaction.last_activity = time.monotonic()
            if request.query.get("wait") in ("1", "true", "True"):
                return self._json(message)
            return web.Response(status=204)
        return self._error(path, 405, 0, "405: Method Not Allowed")


class FakeDiscordThread:
    """The fake on its own event loop in a background thread, for synchronous tests (e.g. of `run_bot`)."""

    def __init__(self, **kwargs: Any) -> None:
        self.fake = FakeDiscord(**kwargs)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeDiscord:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
