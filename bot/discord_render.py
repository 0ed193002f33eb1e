"""Engine records → Discord messages. Pure functions (no I/O, no client), so they are unit-testable.

An answer is one message built around its best answer (index/presentation.py decides what that is): the lead
quotes with speaker and day in block quotes, grouped by article, each article named once (title, linked when it
has a URL, publisher, date as a Discord timestamp, the file otherwise). The other results are further pages of
the same message (the buttons of bot/discord_views.py turn them), and "Context" shows the passage around each
quote. Every message returned here respects Discord's limits (the constants below): a page that would not fit
shows shorter passages, then clipped blocks, never more than one message.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import discord
from discord.utils import escape_markdown

from newsdesk.index.presentation import (
    COMMENT_NOTE,
    AnswerView,
    ArticleRef,
    QuoteView,
    by_article,
    present,
    squash,
)
from newsdesk.index.records import Answer, IndexReport, IndexStatus

# Discord's documented limits.
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # all embeds of one message together
EMBEDS_PER_MESSAGE = 10
BUTTON_LABEL_LIMIT = 80
BUTTON_URL_LIMIT = 512
CUSTOM_ID_LIMIT = 100

PAGE_SIZE = 3  # results on each page after the lead
CONTEXT_WORDS = 90  # passage shown around each quote with "Context" (the quote included)
TITLE_CHARS = 150  # an article's title in its citation line
PUBLISHER_CHARS = 80
SOURCE_BUTTONS = 5  # link buttons at most (one row)

COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_ABSTAIN = discord.Colour.light_grey()
COLOUR_ADMIN = discord.Colour.green()
COLOUR_ERROR = discord.Colour.red()

ABSTAIN_TEXT = "The indexed articles don't answer this"
NEAR_MISS_LABEL = "closest passages (not an answer)"
QUESTION_PREFIX = "Q: "


@dataclass
class OutgoingMessage:
    """One Discord message: optional content, up to 10 embeds, and the buttons under it."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON body discord.py would send (used by tests to validate against the fake's rules)."""
        payload: dict[str, Any] = {}
        if self.content is not None:
            payload["content"] = self.content
        payload["embeds"] = [e.to_dict() for e in self.embeds]
        if self.view is not None:
            payload["components"] = self.view.to_components()
        return payload


# --- small text helpers -------------------------------------------------------------------------------------------

def clip(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters at a word boundary where possible, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return text[:limit]
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ellipsis


def link(url: str | None) -> str | None:
    """A URL wrapped as `<url>` so Discord shows no preview; None for anything that is not http(s)."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"^https?://\S+$", url):
        return None
    return f"<{url}>"


def format_time(value: str | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM UTC` (or the input unchanged when it does not parse)."""
    if not value:
        return "never"
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def footer_text(status: IndexStatus | None) -> str | None:
    if status is None:
        return None
    noun = "article" if status.documents == 1 else "articles"
    return clip(f"index of {status.documents} {noun}, updated {format_time(status.updated_at)}", EMBED_FOOTER_LIMIT)


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6000-per-message limit."""
    return len(embed)


# --- answers --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Which part of an answer a message shows: page `number` of the answer (0: the lead), with the passage
    around each quote (`context`), or the closest passages of an abstention (`near`)."""

    number: int = 0
    context: bool = False
    near: bool = False


@dataclass
class AnswerPage:
    """An answer page rendered: the message, and what its buttons need to know."""

    message: OutgoingMessage
    page: Page  # the page shown (a page number past the end is shown as the last page)
    pages: int  # pages the answer has (0 when it abstained)
    has_near: bool  # an abstention with closest passages to show
    sources: list[tuple[str, str]]  # (label, url) of the articles on the page that have a link


def discord_date(date: str | None) -> str | None:
    """A YYYY-MM-DD date as a Discord timestamp `<t:…:D>`, shown in each reader's locale. Noon UTC, so that
    every time zone from UTC-11 to UTC+11 shows the same day; other text is returned escaped."""
    if not date:
        return None
    try:
        day = dt.date.fromisoformat(date.strip())
    except ValueError:
        return escape_markdown(squash(date))
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone.utc)
    return f"<t:{int(noon.timestamp())}:D>"


def button_url(url: str | None) -> str | None:
    """`url` when a link button can carry it (http(s), at most 512 characters), else None."""
    wrapped = link(url)
    return wrapped[1:-1] if wrapped and len(wrapped) - 2 <= BUTTON_URL_LIMIT else None


def _title(article: ArticleRef, limit: int) -> str:
    return clip(escape_markdown(squash(article.name)).replace("[", "(").replace("]", ")"), limit)


def article_line(article: ArticleRef, *, linked: bool = True) -> str:
    """The article a group of quotes comes from, named once: title (a link when it has a URL, unless not
    `linked`: the Source button still has it), publisher, date, and the file when there is no link."""
    url = button_url(article.url)
    title = _title(article, TITLE_CHARS)
    parts = [f"[{title}]({url})" if url and linked and ")" not in url else f"**{title}**"]  # embeds never preview
    byline = f"by {article.author}" if article.author else None
    parts += [clip(escape_markdown(squash(x)), PUBLISHER_CHARS) for x in (byline, article.source) if x]
    when = discord_date(article.date)
    if when:
        parts.append(f"{when} (file date)" if article.date_from_file else when)
    if not url and article.title:
        parts.append(f"`{clip(article.path.replace('`', ''), 150)}`")
    return "— " + " · ".join(parts)


def _context_text(q: QuoteView, words: int) -> str | None:
    ctx = q.context(words)
    if ctx is None:
        return None
    pieces = ["…" if ctx.cut_before else ""]
    if ctx.before:
        pieces.append(escape_markdown(ctx.before) + (" " if ctx.space_before else ""))
    pieces.append(f"**{escape_markdown(squash(q.words))}**")
    if ctx.after:
        pieces.append((" " if ctx.space_after else "") + escape_markdown(ctx.after))
    pieces.append("…" if ctx.cut_after else "")
    return "".join(pieces)


def quote_block(q: QuoteView, *, context_words: int = 0, max_chars: int | None = None) -> str:
    """One quote as a block-quote line: speaker and day first, the quote (or, with `context_words`, the passage
    around it with the quote in bold), the reader-comment note, and other documents with the same words.
    `max_chars` clips the quote (only ever needed for quotes far over the engine's 60 words)."""
    who = f"**{escape_markdown(squash(q.attribution))}:** " if q.attribution else ""
    body = _context_text(q, context_words) if context_words else None
    body = body or escape_markdown(squash(q.quoted))
    text = f"> {who}{clip(body, max_chars) if max_chars else body}"
    if q.is_comment:
        text += f" *({COMMENT_NOTE})*"
    if q.also_in:
        names = [_title(a, 80) if a.title else f"`{clip(a.path.replace('`', ''), 80)}`" for a in q.also_in[:3]]
        more = f" and {len(q.also_in) - 3} more" if len(q.also_in) > 3 else ""
        text += f"\n> *also in:* {', '.join(names)}{more}"
    return text


@dataclass(frozen=True)
class _Fit:
    """How much a page shows: the passage words with "Context", links in the titles, quote length."""

    context_words: int
    linked: bool = True
    quote_chars: int | None = None


def _groups_text(quotes: Sequence[QuoteView], fit: _Fit) -> list[str]:
    """Quotes grouped by article, each group its quotes then the article line."""
    return ["\n".join([quote_block(q, context_words=fit.context_words, max_chars=fit.quote_chars) for q in group]
                      + [article_line(article, linked=fit.linked)])
            for article, group in by_article(quotes)]


def _source_buttons(quotes: Sequence[QuoteView]) -> list[tuple[str, str]]:
    links = [(a, url) for a, _ in by_article(quotes) if (url := button_url(a.url))]
    if len(links) == 1:
        return [("Source", links[0][1])]
    return [(clip(f"Source: {squash(a.source or a.name)}", BUTTON_LABEL_LIMIT), url)
            for a, url in links[:SOURCE_BUTTONS]]


def abstain_line(view: AnswerView) -> str:
    """One short line: the articles don't answer, and why when the engine knows."""
    reason = f": {escape_markdown(view.reason)}" if view.reason else ""
    return f"{ABSTAIN_TEXT}{reason}."


def _embeds_within(blocks: Sequence[str], budget: int) -> list[str] | None:
    """Blocks joined into embed descriptions (a blank line between blocks, a new embed when one is full; a block
    longer than a description split between words); None when they exceed `budget` characters in all."""
    descriptions: list[str] = []
    for block in blocks:
        if descriptions and len(descriptions[-1]) + 2 + len(block) <= EMBED_DESCRIPTION_LIMIT:
            descriptions[-1] += "\n\n" + block
        else:
            descriptions += _split_words(block, EMBED_DESCRIPTION_LIMIT)
    if sum(len(d) for d in descriptions) > budget or len(descriptions) > EMBEDS_PER_MESSAGE:
        return None
    return descriptions


def _page_blocks(view: AnswerView, page: Page, pages: list[tuple[QuoteView, ...]], fit: _Fit) -> list[str]:
    if view.abstained:
        if not page.near:
            return [abstain_line(view)]
        return [abstain_line(view), f"**{NEAR_MISS_LABEL[0].upper() + NEAR_MISS_LABEL[1:]}:**"] \
            + _groups_text(view.near_misses, fit)
    return _groups_text(pages[page.number], fit)


def _footer(view: AnswerView, page: Page, pages: int, status: IndexStatus | None) -> str | None:
    parts = []
    if pages > 1:
        parts.append(f"page {page.number + 1} of {pages}")
    if page.number == 0 and view.folded and not view.abstained:
        n = len(view.folded)
        parts.append(f"{n} similar {'sentence' if n == 1 else 'sentences'} left out")
    index = footer_text(status)
    if index:
        parts.append(index)
    return clip(" · ".join(parts), EMBED_FOOTER_LIMIT) if parts else None


def render_page(view: AnswerView, page: Page = Page(), status: IndexStatus | None = None) -> AnswerPage:
    """One message for one page of an answer, within every Discord limit. The first embed's author line is the
    question (follow-ups and buttons read it back after a restart); the footer says the page, what was left
    out and the index's size and age. Passages shrink, then titles lose their links (the Source buttons keep
    them), then quotes are clipped, until the page fits."""
    pages = view.pages(PAGE_SIZE)
    if view.abstained:
        page = Page(context=page.context, near=page.near and bool(view.near_misses))
    else:
        page = Page(number=min(max(page.number, 0), len(pages) - 1), context=page.context)
    author = question_label(view.question)
    footer = _footer(view, page, len(pages), status)
    budget = EMBED_TOTAL_LIMIT - len(author) - len(footer or "")
    descriptions: list[str] | None = None
    words = CONTEXT_WORDS if page.context else 0
    for fit in (_Fit(words), _Fit(words // 2), _Fit(0), _Fit(0, linked=False),
                _Fit(0, linked=False, quote_chars=budget // (2 * max(PAGE_SIZE, len(view.near_misses))))):
        descriptions = _embeds_within(_page_blocks(view, page, pages, fit), budget)
        if descriptions is not None:
            break
    assert descriptions is not None  # the last try leaves each quote a share of the budget
    colour = COLOUR_ABSTAIN if view.abstained else COLOUR_ANSWER
    embeds = [discord.Embed(description=d, colour=colour) for d in descriptions]
    embeds[0].set_author(name=author)
    if footer:
        embeds[-1].set_footer(text=footer)
    shown = view.near_misses if page.near else (pages[page.number] if pages else ())
    return AnswerPage(OutgoingMessage(embeds=embeds), page, len(pages), bool(view.abstained and view.near_misses),
                      _source_buttons(shown))


def render_answer(answer: Answer, status: IndexStatus | None = None, page: Page = Page()) -> AnswerPage:
    """`answer` presented (index/presentation.py) and rendered as one page."""
    return render_page(present(answer), page, status)


def _split_words(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, between words."""
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(\s+)", text):
        if len(current) + len(word) <= limit:
            current += word
            continue
        if current.strip():
            pieces.append(current.rstrip())
        current = word.lstrip()
        while len(current) > limit:  # a single "word" longer than the limit
            pieces.append(current[:limit])
            current = current[limit:]
    if current.strip():
        pieces.append(current.rstrip())
    return pieces


# --- packing -------------------------------------------------------------------------------------------------------


def pack(groups: Sequence[Sequence[discord.Embed]], *, footer: str | None = None,
         first_content: str | None = None) -> list[OutgoingMessage]:
    """Pack groups of embeds into messages: at most 10 embeds and 6000 characters per message, a group never
    split across messages unless it alone exceeds a message. The footer goes on each message's last embed."""
    footer_len = len(footer) if footer else 0
    messages: list[OutgoingMessage] = []
    current: list[discord.Embed] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            messages.append(OutgoingMessage(embeds=current))
        current, size = [], 0

    for group in groups:
        group_size = sum(embed_size(e) for e in group)
        if current and (len(current) + len(group) > EMBEDS_PER_MESSAGE
                        or size + group_size + footer_len > EMBED_TOTAL_LIMIT):
            flush()
        if len(group) <= EMBEDS_PER_MESSAGE and group_size + footer_len <= EMBED_TOTAL_LIMIT:
            current.extend(group)
            size += group_size
            continue
        for embed in group:  # an oversized group: its embeds in order, across as many messages as needed
            n = embed_size(embed)
            if current and (len(current) + 1 > EMBEDS_PER_MESSAGE or size + n + footer_len > EMBED_TOTAL_LIMIT):
                flush()
            current.append(embed)
            size += n
    flush()
    if footer:
        for message in messages:
            message.embeds[-1].set_footer(text=footer)
    if first_content is not None:
        if messages:
            messages[0].content = clip(first_content, CONTENT_LIMIT)
        else:
            messages.append(OutgoingMessage(content=clip(first_content, CONTENT_LIMIT)))
    return messages


def question_label(question: str) -> str:
    return clip(QUESTION_PREFIX + squash(question), EMBED_AUTHOR_LIMIT)


def question_from_embeds(embeds: Iterable[discord.Embed], *, whole: bool = False) -> str | None:
    """The question an answer message was for (from its first embed's author line), or None. With `whole`, also
    None when the author line had to clip the question (a button must not ask something else)."""
    for embed in embeds:
        name = embed.author.name if embed.author else None
        if not name or not name.startswith(QUESTION_PREFIX):
            return None
        if whole and name.endswith("…") and len(name) > EMBED_AUTHOR_LIMIT // 2:  # as clip() leaves it
            return None
        return name[len(QUESTION_PREFIX):].rstrip("…").strip() or None
    return None


# --- sources, index reports, help, errors ----------------------------------------------------------------------------


def _lines_within(lines: Sequence[str], limit: int, more: str = "…and {n} more") -> str:
    """Join lines until `limit` characters, then say how many were left out."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        tail = more.format(n=len(lines) - i)
        extra = len(line) + (1 if out else 0)
        # keep room for the "…and N more" line unless this is the last line
        room = limit - (len(tail) + 1 if i < len(lines) - 1 else 0)
        if used + extra > room:
            out.append(tail)
            break
        out.append(line)
        used += extra
    return "\n".join(out)


def render_sources(status: IndexStatus) -> list[OutgoingMessage]:
    footer = footer_text(status)
    sources = list(status.sources)
    if not sources:
        embed = discord.Embed(title="Indexed sources", colour=COLOUR_ANSWER,
                              description="Nothing is indexed yet. An admin can add articles with /add or "
                              "put files in the corpus folder and run /reindex.")
        return pack([[embed]], footer=footer)
    dated = [s for s in sources if s.date]
    newest = max(dated, key=lambda s: s.date or "") if dated else None
    head = [f"**{status.documents}** articles, **{status.chunks}** passages (model `{status.model}`)."]
    if newest is not None:
        title = escape_markdown(squash(newest.title)) if newest.title else f"`{newest.path}`"
        pub = f" — {escape_markdown(newest.source)}" if newest.source else ""
        head.append(f"Newest: *{clip(title, 200)}*{pub}, {newest.date}")
    publishers = Counter((s.source or "unknown publisher") for s in sources)
    pub_lines = [f"{escape_markdown(clip(name, 200))}: {n}"
                 for name, n in sorted(publishers.items(), key=lambda kv: (-kv[1], kv[0].lower()))]
    description = "\n".join(head) + "\n\n**By publisher**\n"
    description += _lines_within(pub_lines, EMBED_DESCRIPTION_LIMIT - len(description) - 1, "…and {n} more publishers")
    summary = discord.Embed(title="Indexed sources", description=description, colour=COLOUR_ANSWER)

    ordered = sorted(sources, key=lambda s: (s.date or "", s.path), reverse=True)
    article_lines = []
    for s in ordered:
        title = escape_markdown(clip(squash(s.title), 120)) if s.title else "(untitled)"
        meta = ", ".join(escape_markdown(x) for x in (s.source, s.date) if x)
        article_lines.append(f"• {title}" + (f" — {meta}" if meta else "") + f" (`{clip(s.path, 120)}`)")
    listing = discord.Embed(
        title="Articles, newest first",
        description=_lines_within(article_lines, 3000, "…and {n} more articles"),
        colour=COLOUR_ANSWER,
    )
    return pack([[summary], [listing]], footer=footer)


def render_index_report(report: IndexReport, *, title: str = "Index updated",
                        status: IndexStatus | None = None) -> list[OutgoingMessage]:
    embed = discord.Embed(title=clip(title, EMBED_TITLE_LIMIT), colour=COLOUR_ADMIN)
    for name, value in (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed),
                        ("Unchanged", report.unchanged), ("Skipped", len(report.skipped))):
        embed.add_field(name=name, value=str(value), inline=True)
    lines = [f"{report.documents} articles, {report.chunks} passages; "
             f"{report.chunks_embedded} passages embedded in {report.seconds:.1f} s."]
    if report.skipped:
        skipped = [f"`{clip(s.path.replace('`', ''), 150)}`: {escape_markdown(clip(squash(s.reason), 300))}"
                   for s in report.skipped]
        lines.append("\n**Skipped**")
        lines.append(_lines_within(skipped, 3500, "…and {n} more skipped"))
    embed.description = "\n".join(lines)
    return pack([[embed]], footer=footer_text(status))


def render_help(*, channels: Sequence[int] = (), admin_role: str | None = None,
                cooldown: float = 0, threads: bool = False) -> OutgoingMessage:
    admin = "Manage Server" + (f" or the **{escape_markdown(admin_role)}** role" if admin_role else "")
    lines = [
        "I answer questions about the indexed news articles by quoting them word for word, with the article, "
        "publisher, date and file of every quote. When the articles don't answer, I say so.",
        "",
        "**/ask** `question` — ask a question.",
        "**@mention me** with a question — same as /ask"
        + (", answered in a new thread; every message in that thread is a follow-up." if threads else "."),
        "**Reply** to one of my answers — ask a follow-up (your reply is added to the previous question).",
        "**/sources** — what is indexed: count, newest article, per-publisher counts.",
        "**/reindex** — bring the index up to date with the corpus folder (Manage Server).",
        f"**/add** `file` or `url` — save an article into the corpus and index it ({admin}).",
        f"**/follow** `url` — follow a news feed (or a site's feeds): new articles are saved and indexed ({admin}).",
        f"**/unfollow** `url` — stop following a feed; its saved articles stay ({admin}).",
        f"**/feeds** — the feeds followed, with their last fetch and errors ({admin}).",
        "**👍 / 👎** on an answer — tell the admins whether it helped (kept in the data folder).",
        "**/help** — this message.",
    ]
    if channels:
        lines.append("")
        lines.append("I answer only in " + ", ".join(f"<#{c}>" for c in channels) + ".")
    if cooldown:
        lines.append(f"One question every {cooldown:g} s per person.")
    embed = discord.Embed(title="newsdesk", description="\n".join(lines), colour=COLOUR_ANSWER)
    return OutgoingMessage(embeds=[embed])


def render_add_result(path: str | Any, report: IndexReport, *,
                      status: IndexStatus | None = None) -> list[OutgoingMessage]:
    """The report of `/add`: which file was saved (path relative to the corpus) and what the index did."""
    name = str(path)
    verb = "Added" if report.added else ("Updated" if report.updated else "Saved")
    return render_index_report(report, title=f"{verb} {clip(name, 200)}", status=status)
