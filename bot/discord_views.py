"""The buttons under an answer: "More" and "Back" (the answer's other pages), "Context" (the passage around each
quote), "Closest" (an abstention's near misses) and "Source" (a link button per article with a URL).

The buttons on an answer posted in a channel are `discord.ui.DynamicItem`s: everything a press needs is in the
button's custom_id (`nd1:<asker>:<asked at>:<page>:<flags>`; the question is read back from the memory the
newsdesk cog keeps (bot/discord_state.py) or,
after a restart, from the message's author line), so they keep working across restarts for as long as the
message exists. A press by the asker turns the page in place; anyone else gets the page in an ephemeral message
with their own `ViewerView`, an ordinary view that times out (DISCORD_VIEW_TIMEOUT_SECONDS, under the 15 minutes
an interaction token lets the bot edit an ephemeral message) and then drops its buttons, Source links kept.
Each press asks the engine again (tens of milliseconds, in a thread), so no answer is kept in memory.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import discord
from discord import ui

from .discord_render import CUSTOM_ID_LIMIT, AnswerPage, OutgoingMessage, Page, question_from_embeds, render_answer

from .discord_state import DiscordState, state_of

if TYPE_CHECKING:
    from newsdesk.index.records import Answer, IndexStatus

log = logging.getLogger(__name__)

CUSTOM_ID = "nd1:{asker}:{asked}:{page}:{flags}"
CUSTOM_ID_TEMPLATE = r"nd1:(?P<asker>[0-9]{1,20}):(?P<asked>[0-9]{1,12}):(?P<page>[0-9]{1,4}):(?P<flags>[0-3])"
LOST_QUESTION = "I can't read this answer's question any more (it was too long to keep in the message); ask again."


@dataclass(frozen=True)
class AnswerState:
    """What a button shows when pressed: the page of the answer to `asker`'s question asked at `asked_at`."""

    asker: int  # user id
    asked_at: int  # Unix seconds: relative dates in the question ("yesterday") resolve against it
    page: Page

    def custom_id(self) -> str:
        flags = int(self.page.context) | int(self.page.near) << 1
        out = CUSTOM_ID.format(asker=self.asker, asked=self.asked_at, page=self.page.number, flags=flags)
        assert len(out) <= CUSTOM_ID_LIMIT
        return out

    @classmethod
    def from_match(cls, match: re.Match[str]) -> AnswerState:
        flags = int(match["flags"])
        return cls(int(match["asker"]), int(match["asked"]),
                   Page(int(match["page"]), context=bool(flags & 1), near=bool(flags & 2)))

    @property
    def asked_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.asked_at, dt.timezone.utc)


@dataclass(frozen=True)
class Action:
    """A button that shows another page of the answer."""

    label: str
    target: Page
    style: discord.ButtonStyle = discord.ButtonStyle.secondary


def actions(shown: AnswerPage) -> list[Action]:
    """The buttons for the page `shown`: Back / More, Context / Hide context, Closest / Hide closest."""
    page = shown.page
    out: list[Action] = []
    if shown.has_near:
        out.append(Action("Hide closest", Page()) if page.near else
                   Action("Closest", Page(near=True), discord.ButtonStyle.primary))
    if page.near or (not shown.has_near and shown.pages > 0):
        if page.number > 0:
            out.append(Action("Back", replace(page, number=page.number - 1)))
        if page.number < shown.pages - 1:
            out.append(Action("More", replace(page, number=page.number + 1), discord.ButtonStyle.primary))
        out.append(Action("Hide context" if page.context else "Context", replace(page, context=not page.context)))
    return out


def add_links(view: ui.View, shown: AnswerPage) -> None:
    for label, url in shown.sources:
        view.add_item(ui.Button(label=label, url=url, style=discord.ButtonStyle.link, row=1))


class AnswerButton(ui.DynamicItem[ui.Button], template=CUSTOM_ID_TEMPLATE):
    """A button on an answer in a channel; its custom_id carries the page it shows (survives restarts)."""

    def __init__(self, state: AnswerState, label: str = "More",
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(ui.Button(label=label, style=style, custom_id=state.custom_id(), row=0))
        self.state = state

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any],
                             match: re.Match[str], /) -> AnswerButton:
        return cls(AnswerState.from_match(match), getattr(item, "label", None) or "",
                   getattr(item, "style", discord.ButtonStyle.secondary))

    async def callback(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        state = state_of(interaction.client)
        question = state.answers.get(message.id) if message is not None else None
        if not question and message is not None:  # after a restart: the author line, if it holds it whole
            question = question_from_embeds(message.embeds, whole=True)
        if not question:
            await interaction.response.send_message(LOST_QUESTION, ephemeral=True)
            return
        if interaction.user.id == self.state.asker:
            await interaction.response.defer()  # the page turns in place
            await show(interaction, state, question, self.state, lambda shown: public_view(shown, self.state))
            return
        viewer = replace(self.state, asker=interaction.user.id)  # their own copy, in an ephemeral message
        await interaction.response.defer(ephemeral=True, thinking=True)
        await show(interaction, state, question, viewer, lambda shown: ViewerView(state, question, viewer, shown))


def public_view(shown: AnswerPage, state: AnswerState) -> ui.View:
    """The persistent buttons of an answer in a channel (no timeout: the custom_ids carry the state)."""
    view = ui.View(timeout=None)
    for action in actions(shown):
        view.add_item(AnswerButton(replace(state, page=action.target), action.label, action.style))
    add_links(view, shown)
    return view


class ViewerView(ui.View):
    """The buttons of an ephemeral copy of an answer, for someone who is not its asker. Times out cleanly: the
    message keeps its page and Source links and loses the buttons that would no longer answer."""

    def __init__(self, bot_state: DiscordState, question: str, state: AnswerState, shown: AnswerPage) -> None:
        super().__init__(timeout=bot_state.settings.discord_view_timeout_seconds)
        self.bot_state, self.question, self.state, self.shown = bot_state, question, state, shown
        self.interaction: discord.Interaction | None = None  # the last one that edited the message
        for action in actions(shown):
            button: ui.Button[ViewerView] = ui.Button(label=action.label, style=action.style, row=0)
            button.callback = self._turn(action.target)  # type: ignore[method-assign]
            self.add_item(button)
        add_links(self, shown)

    def _turn(self, target: Page) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def turn(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            self.stop()  # replaced by the next page's view
            state = replace(self.state, page=target)
            await show(interaction, self.bot_state, self.question, state,
                       lambda shown: ViewerView(self.bot_state, self.question, state, shown))
        return turn

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return interaction.user.id == self.state.asker

    async def on_timeout(self) -> None:
        if self.interaction is None:
            return
        links = ui.View(timeout=None)
        add_links(links, self.shown)
        try:
            await self.interaction.edit_original_response(view=links if links.children else None)
        except discord.HTTPException as exc:
            log.debug("Could not drop the buttons of a timed-out answer: %s", exc)


async def show(interaction: discord.Interaction, bot_state: DiscordState, question: str, state: AnswerState,
               make_view: Callable[[AnswerPage], ui.View]) -> None:
    """Ask again, render `state`'s page and put it in the deferred interaction's message with its buttons."""
    try:
        answer = await asyncio.to_thread(bot_state.engine.ask, question, asked_at=state.asked_time)
        status = await bot_state.index_status()
        shown = render_answer(answer, status, state.page)
        view = make_view(shown)
        await interaction.edit_original_response(content=None, embeds=shown.message.embeds, view=view)
    except Exception:
        log.exception("Turning an answer's page failed")
        await interaction.followup.send("Sorry, something went wrong; the error was logged.", ephemeral=True)
        return
    if isinstance(view, ViewerView):
        view.interaction = interaction


def answer_message(answer: Answer, status: IndexStatus | None, asker: int, asked_at: dt.datetime) -> OutgoingMessage:
    """The first page of an answer with its persistent buttons, as posted in a channel."""
    state = AnswerState(asker, int(asked_at.timestamp()), Page())
    shown = render_answer(answer, status, state.page)
    shown.message.view = public_view(shown, state)
    return shown.message
