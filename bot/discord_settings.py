"""Discord settings, read from the environment and `.env` (no prefix: `DISCORD_TOKEN`, `DISCORD_GUILD_ID`, ...).

Engine settings (`NEWSDESK_*`) live in `index.settings.Settings`; this class only adds what the Discord front end
needs. The token is a `SecretStr`: its repr and str are masked, so logging a `BotSettings` never shows it.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class BotSettings(BaseSettings):
    """Discord bot settings. Every field is documented in `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    discord_token: SecretStr | None = Field(
        default=None, description="Bot token from the Discord developer portal (Bot → Reset Token)."
    )
    discord_guild_id: int | None = Field(
        default=None,
        description="Server (guild) id: slash commands are synced to it instantly; unset syncs globally "
        "(Discord can take up to an hour to show global commands).",
    )
    discord_channels: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated channel ids the bot answers in; empty answers everywhere.",
    )
    discord_admin_role: str | None = Field(
        default=None,
        description="Role name or id whose members may use /add besides members with Manage Server.",
    )
    discord_api_base: str | None = Field(
        default=None,
        description="REST API base URL, e.g. http://127.0.0.1:8080/api/v10 for a Discord-compatible server; "
        "unset uses Discord's own.",
    )
    discord_gateway_url: str | None = Field(
        default=None, description="Gateway websocket URL; unset uses Discord's own."
    )
    discord_cooldown_seconds: float = Field(
        default=5.0, ge=0, description="Per-user cooldown between questions, in seconds; 0 disables it."
    )
    discord_view_timeout_seconds: float = Field(
        default=600.0, gt=0, le=840,
        description="Seconds the buttons of an answer's ephemeral copy (shown to someone who is not the asker) "
        "keep working after the last press; at most 840, as Discord lets the bot edit an ephemeral message for 15 "
        "minutes. The buttons on an answer in a channel do not time out.",
    )
    discord_threads: bool = Field(
        default=False,
        description="Answer @mentions in a new public thread started from the question; every later message "
        "in that thread is a follow-up (needs the Message Content intent; the bot needs Create Public Threads "
        "and Send Messages in Threads). /ask still answers in place.",
    )

    discord_news_channel: int | None = Field(
        default=None,
        description="Channel id where the bot posts one 'new: <title> (<publisher>)' line per article each feed "
        "poll brings; unset posts nothing.",
    )

    @field_validator("discord_channels", mode="before")
    @classmethod
    def _split_channels(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("discord_guild_id", "discord_news_channel", "discord_admin_role", "discord_api_base", "discord_gateway_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def token(self) -> str | None:
        """The raw token, for `Client.start` only."""
        return self.discord_token.get_secret_value() if self.discord_token is not None else None
