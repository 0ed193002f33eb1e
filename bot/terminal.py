"""Terminal rendering of answers, index reports and sources."""
from __future__ import annotations

import re
import textwrap
from typing import Callable

from newsdesk.index.presentation import COMMENT_NOTE, QuoteView, present
from newsdesk.index.records import Answer, IndexReport, IndexStatus


def cite(q: QuoteView) -> str:
    a = q.article
    parts = [a.name]
    if a.author:
        parts.append(f"by {a.author}")
    if a.source:
        parts.append(a.source)
    if a.date:
        parts.append(a.date_shown or a.date)
    parts.append(q.location)
    return " · ".join(parts)


PASSAGE_AROUND = 40  # words of the passage shown on each side of a quote
Paint = Callable[[str, str], str]  # (role, text) -> text as shown; roles: label, quote, cite, passage, mark


def plain(_role: str, text: str) -> str:
    return text


def render_passage(q: QuoteView, width: int = 100, paint: Paint = plain, around: int = PASSAGE_AROUND) -> list[str]:
    """The passage around the quote (about `around` words each side), indented under it, the quote itself
    marked by `paint` ("mark")."""
    ctx = q.context(len(q.text.split()) + 2 * around)
    if ctx is None:
        return []
    left = ("\u2026 " if ctx.cut_before else "") + ctx.before
    right = ctx.after + (" \u2026" if ctx.cut_after else "")
    marked = f"{left} \x01{ctx.quote}\x02 {right}"
    lines = textwrap.wrap(" ".join(marked.split()), width=width - 5)
    out, inside = [], False
    for line in lines:
        shown = ""
        for piece in re.split(r"([\x01\x02])", line):
            if piece in ("\x01", "\x02"):
                inside = piece == "\x01"
            elif piece:
                shown += paint("mark" if inside else "passage", piece)
        out.append(f"   {paint('passage', '|')} {shown}")
    return out


def render_result(n: int, q: QuoteView, width: int = 100, *, passage: bool = False, paint: Paint = plain) -> str:
    who = f"{q.attribution}: " if q.attribution else ""
    note = f" ({COMMENT_NOTE})" if q.is_comment else ""
    quote = textwrap.fill(f"{who}{q.quoted}{note}", width=width, initial_indent=f"{n}. ", subsequent_indent="   ")
    if who and quote.startswith(f"{n}. {who}"):
        quote = f"{n}. {paint('label', who)}{quote[len(f'{n}. {who}'):]}"
    lines = [quote]
    if passage:
        lines += render_passage(q, width, paint)
    lines.append(paint("cite", f"   \u2014 {cite(q)}"))
    if q.article.url:
        lines.append(f"   {q.article.url}")
    for other in q.also_in:
        lines.append(f"   also in: {other.name} ({other.path})")
    return "\n".join(lines)


def render_answer(answer: Answer, width: int = 100, *, passage: bool = False, paint: Paint = plain) -> str:
    view = present(answer)
    if view.abstained:
        why = f": {view.reason}" if view.reason else ""
        out = [f"The sources don't answer that{why}."]
        if view.near_misses:
            out.append("Closest passages (not an answer):")
            out += [render_result(q.rank, q, width, passage=passage, paint=paint) for q in view.near_misses]
        return "\n".join(out)
    return "\n\n".join(render_result(q.rank, q, width, passage=passage, paint=paint) for q in view.results)


def render_report(rep: IndexReport) -> str:
    lines = [
        f"indexed {rep.documents} documents, {rep.chunks} chunks in {rep.seconds:.1f} s: "
        f"{rep.added} added, {rep.updated} updated, {rep.removed} removed, {rep.unchanged} unchanged; "
        f"{rep.chunks_embedded} chunks embedded"
    ]
    for s in rep.skipped:
        lines.append(f"skipped {s.path}: {s.reason}")
    return "\n".join(lines)


def render_status(st: IndexStatus) -> str:
    lines = [f"{st.documents} documents, {st.chunks} chunks, model {st.model}, updated {st.updated_at or 'never'}"]
    for s in st.sources:
        meta = " · ".join(x for x in (s.source, s.date) if x)
        lines.append(f"- {s.path}: {s.title or '(untitled)'}" + (f" ({meta})" if meta else "") + f", {s.chunks} chunks")
    return "\n".join(lines)
