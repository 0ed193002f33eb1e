"""Engine records → Discord messages. Pure functions (no I/O, no client), so they are unit-testable.

Every message returned here respects Discord's limits (see the constants below); long answers are split across
embeds and messages at result boundaries, never inside a quote. Each result is one embed; a result whose quote
alone would not fit one embed description (impossible for the engine's ≤60-word quotes, handled anyway) becomes
several consecutive embeds kept in the same message.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import discord
from discord.utils import escape_markdown

from newsdesk.index.records import Answer, IndexReport, IndexStatus, Result

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

MAX_RESULTS = 5
CONTEXT_WORDS = 70  # surrounding passage shown around a short quote
SHORT_QUOTE_WORDS = 30  # quotes shorter than this get their surrounding passage

COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_ABSTAIN = discord.Colour.light_grey()
COLOUR_ADMIN = discord.Colour.green()
COLOUR_ERROR = discord.Colour.red()

ABSTAIN_TEXT = "The indexed articles don't answer this."
NEAR_MISS_LABEL = "closest passages (not an answer)"
QUESTION_PREFIX = "Q: "


@dataclass
class OutgoingMessage:
    """One Discord message: optional content and up to 10 embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body discord.py would send (used by tests to validate against the fake's rules)."""
        payload: dict[str, Any] = {}
        if self.content is not None:
            payload["content"] = self.content
        payload["embeds"] = [e.to_dict() for e in self.embeds]
        return payload


# --- small text helpers -------------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse runs of whitespace (line breaks inside a quote) to single spaces for display."""
    return _WS.sub(" ", text).strip()


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


# --- results -------------------------------------------------------------------------------------------------------


def _context(result: Result, max_words: int = CONTEXT_WORDS) -> str | None:
    """The passage around the quote, the quote in bold, trimmed to about `max_words` words. None when the
    quote is long enough on its own or the passage adds nothing."""
    quote = squash(result.quote)
    passage = result.passage or ""
    if not passage or len(quote.split()) >= SHORT_QUOTE_WORDS:
        return None
    # Locate the quote in the passage: by offsets when they agree, else by search.
    start = result.start - result.passage_start
    end = result.end - result.passage_start
    if not (0 <= start <= end <= len(passage) and passage[start:end] == result.quote):
        start = passage.find(result.quote)
        if start < 0:
            return None
        end = start + len(result.quote)
    before = squash(passage[:start]).split()
    after = squash(passage[end:]).split()
    if not before and not after:
        return None
    budget = max(0, max_words - len(quote.split()))
    take_before = min(len(before), budget // 2)
    take_after = min(len(after), budget - take_before)
    take_before = min(len(before), budget - take_after)
    left = before[len(before) - take_before:] if take_before else []
    right = after[:take_after]
    pieces = []
    if len(left) < len(before):
        pieces.append("…")
    if left:  # keep the passage's own spacing around the quote (none before a comma, say)
        pieces.append(escape_markdown(" ".join(left)) + (" " if passage[start - 1:start].isspace() else ""))
    pieces.append(f"**{escape_markdown(quote)}**")
    if right:
        pieces.append((" " if passage[end:end + 1].isspace() else "") + escape_markdown(" ".join(right)))
    if len(right) < len(after):
        pieces.append("…")
    return "".join(pieces)


def _citation(result: Result) -> str:
    title = escape_markdown(squash(result.title)) if result.title else "(untitled)"
    parts = [f"**{clip(title, 300)}**"]
    byline = f"by {result.author}" if result.author else None
    meta = [escape_markdown(squash(x)) for x in (byline, result.source, result.date_shown) if x]
    if meta:
        parts.append(" — " + ", ".join(meta))
    line2 = [f"file: `{clip(result.path.replace('`', ''), 300)}`"]
    url = link(result.url)
    if url:
        line2.append(url)
    text = "".join(parts) + "\n" + " · ".join(line2)
    also = [d.get("path") for d in (result.also_in or []) if isinstance(d, dict) and d.get("path")]
    if also:
        shown = ", ".join(f"`{clip(str(p).replace('`', ''), 120)}`" for p in also[:3])
        more = f" and {len(also) - 3} more" if len(also) > 3 else ""
        text += f"\nalso in: {shown}{more}"
    return text


def _quote_line(result: Result) -> str:
    dots = "…" if result.clipped else ""
    text = f"“{dots}{escape_markdown(squash(result.quote))}{dots}”"
    if result.speaker:
        text += f"\n— {escape_markdown(squash(result.speaker))}"
        if result.when:
            text += f", {escape_markdown(squash(result.when))}"
    if result.is_comment:
        text += " *(reader comment)*" if result.speaker else "\n*(reader comment)*"
    return text


def result_embeds(number: int, result: Result, *, near_miss: bool = False) -> list[discord.Embed]:
    """One embed for a result (more only if its quote alone exceeds a description)."""
    colour = COLOUR_ABSTAIN if near_miss else COLOUR_ANSWER
    label = f"**{number}.** " if not near_miss else f"**closest passage {number} (not an answer)**\n"
    quote = _quote_line(result)
    citation = _citation(result)
    context = _context(result)
    body = f"{label}{quote}"
    if context:
        body += f"\n> {context}"
    body += f"\n\n{citation}"
    if len(body) <= EMBED_DESCRIPTION_LIMIT:
        return [discord.Embed(description=body, colour=colour)]
    # Too long: drop the context, and if the quote alone is still too long, give it embeds of its own,
    # split between words (the parts are consecutive embeds in one message).
    body = f"{label}{quote}\n\n{citation}"
    if len(body) <= EMBED_DESCRIPTION_LIMIT:
        return [discord.Embed(description=body, colour=colour)]
    parts = _split_words(f"{label}{quote}", EMBED_DESCRIPTION_LIMIT)
    embeds = [discord.Embed(description=p, colour=colour) for p in parts]
    embeds.append(discord.Embed(description=clip(citation, EMBED_DESCRIPTION_LIMIT), colour=colour))
    return embeds


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


def render_answer(answer: Answer, status: IndexStatus | None = None, *,
                  max_results: int = MAX_RESULTS) -> list[OutgoingMessage]:
    """An answer as one or more messages of embeds. The first embed carries the question as its author line
    (used to recover the question when someone replies to the answer)."""
    footer = footer_text(status)
    groups: list[list[discord.Embed]] = []
    if answer.abstained or not answer.results:
        count = f" {status.documents}" if status is not None else ""
        head = discord.Embed(
            title=ABSTAIN_TEXT,
            description=(f"None of the{count} indexed articles mentions "
                         f"{escape_markdown(' or '.join(answer.unknown_names))}, "
                         "so there is nothing to quote." if answer.unknown_names else
                         f"None of the{count} indexed articles contains a passage that answers the question, "
                         "so there is nothing to quote."),
            colour=COLOUR_ABSTAIN,
        )
        near = list(answer.near_misses or [])[:max_results]
        if near:
            head.description += f"\nBelow: the {NEAR_MISS_LABEL}."
        groups.append([head])
        for i, result in enumerate(near, 1):
            groups.append(result_embeds(i, result, near_miss=True))
    else:
        for i, result in enumerate(answer.results[:max_results], 1):
            groups.append(result_embeds(i, result))
    groups[0][0].set_author(name=question_label(answer.question))  # before packing: it counts towards 6000
    return pack(groups, footer=footer)


def question_from_embeds(embeds: Iterable[discord.Embed]) -> str | None:
    """The question an answer message was for (from its first embed's author line), or None."""
    for embed in embeds:
        name = embed.author.name if embed.author else None
        if name and name.startswith(QUESTION_PREFIX):
            return name[len(QUESTION_PREFIX):].rstrip("…").strip() or None
        return None
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
        "**/add** `file` or `url` — save an article into the corpus and index it (Manage Server"
        + (f" or the **{escape_markdown(admin_role)}** role" if admin_role else "") + ").",
        "**/help** — this message.",
    ]
    if channels:
        lines.append("")
        lines.append("I answer only in " + ", ".join(f"<#{c}>" for c in channels) + ".")
    if cooldown:
        lines.append(f"One question every {cooldown:g} s per person.")
    embed = discord.Embed(title="newsdesk", description="\n".join(lines), colour=COLOUR_ANSWER)
    return OutgoingMessage(embeds=[embed])


def render_error(text: str) -> OutgoingMessage:
    return OutgoingMessage(content=clip(text, CONTENT_LIMIT))


def render_add_result(path: str | Any, report: IndexReport, *,
                      status: IndexStatus | None = None) -> list[OutgoingMessage]:
    """The report of `/add`: which file was saved (path relative to the corpus) and what the index did."""
    name = str(path)
    verb = "Added" if report.added else ("Updated" if report.updated else "Saved")
    return render_index_report(report, title=f"{verb} {clip(name, 200)}", status=status)
