"""Terminal rendering of answers, index reports and sources."""
from __future__ import annotations

import re
import textwrap
from typing import Callable

from newsdesk.index.records import Answer, IndexReport, IndexStatus, Result


def cite(r: Result) -> str:
    parts = [r.title or r.path]
    if r.author:
        parts.append(f"by {r.author}")
    if r.source:
        parts.append(r.source)
    if r.date:
        parts.append(r.date_shown or r.date)
    parts.append(f"{r.path}:{r.start}-{r.end}")
    return " · ".join(parts)


PASSAGE_AROUND = 40  # words of the passage shown on each side of a quote
Paint = Callable[[str, str], str]  # (role, text) -> text as shown; roles: label, quote, cite, passage, mark


def plain(_role: str, text: str) -> str:
    return text


def label(r: Result) -> str:
    """Who said the quote and when ("Mike Pompeo, April 7"), the date alone, or ""."""
    return ", ".join(x for x in (r.speaker, r.when) if x)


def render_passage(r: Result, width: int = 100, paint: Paint = plain, around: int = PASSAGE_AROUND) -> list[str]:
    """The passage around the quote (up to `around` words each side), indented under it, the quote itself
    marked by `paint` ("mark")."""
    a, b = r.start - r.passage_start, r.end - r.passage_start
    if not r.passage or not (0 <= a < b <= len(r.passage)) or r.passage.strip() == r.quote.strip():
        return []
    before, after = r.passage[:a].split(), r.passage[b:].split()
    left = ("\u2026 " if len(before) > around else "") + " ".join(before[-around:]) if before else ""
    right = " ".join(after[:around]) + (" \u2026" if len(after) > around else "") if after else ""
    marked = f"{left} \x01{r.passage[a:b]}\x02 {right}"
    lines = textwrap.wrap(" ".join(marked.split()), width=width - 5)
    out, inside = [], False
    for line in lines:
        pieces = re.split(r"([\x01\x02])", line)
        shown = ""
        for piece in pieces:
            if piece in ("\x01", "\x02"):
                inside = piece == "\x01"
            elif piece:
                shown += paint("mark" if inside else "passage", piece)
        out.append(f"   {paint('passage', '|')} {shown}")
    return out


def render_result(n: int, r: Result, width: int = 100, *, passage: bool = False, paint: Paint = plain) -> str:
    who = f"{label(r)}: " if label(r) else ""
    note = " (reader comment)" if r.is_comment else ""
    dots = "\u2026" if r.clipped else ""
    quote = textwrap.fill(f"{who}\u201c{dots}{r.quote}{dots}\u201d{note}", width=width, initial_indent=f"{n}. ",
                          subsequent_indent="   ")
    if who and quote.startswith(f"{n}. {who}"):
        quote = f"{n}. {paint('label', who)}{quote[len(f'{n}. {who}'):]}"
    lines = [quote]
    if passage:
        lines += render_passage(r, width, paint)
    lines.append(paint("cite", f"   \u2014 {cite(r)}"))
    if r.url:
        lines.append(f"   {r.url}")
    for other in r.also_in:
        lines.append(f"   also in: {other.get('title') or other.get('path')} ({other.get('path')})")
    return "\n".join(lines)


def render_answer(answer: Answer, width: int = 100, *, passage: bool = False, paint: Paint = plain) -> str:
    if answer.abstained:
        why = f": none of them mentions {' or '.join(answer.unknown_names)}" if answer.unknown_names else ""
        out = [f"The sources don't answer that{why}."]
        if answer.near_misses:
            out.append("Closest passages (not an answer):")
            out += [render_result(i, r, width, passage=passage, paint=paint)
                    for i, r in enumerate(answer.near_misses, 1)]
        return "\n".join(out)
    return "\n\n".join(render_result(i, r, width, passage=passage, paint=paint)
                       for i, r in enumerate(answer.results, 1))


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
