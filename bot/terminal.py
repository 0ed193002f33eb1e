"""Terminal rendering of answers, index reports and sources."""
from __future__ import annotations

import textwrap

from newsdesk.index.presentation import COMMENT_NOTE, QuoteView, present
from newsdesk.index.records import Answer, IndexReport, IndexStatus


def cite(q: QuoteView) -> str:
    a = q.article
    parts = [a.name]
    if a.source:
        parts.append(a.source)
    if a.date:
        parts.append(a.date)
    parts.append(q.location)
    return " · ".join(parts)


def render_result(n: int, q: QuoteView, width: int = 100) -> str:
    who = f"{q.attribution}: " if q.attribution else ""
    note = f" ({COMMENT_NOTE})" if q.is_comment else ""
    quote = textwrap.fill(f"{who}{q.quoted}{note}", width=width, initial_indent=f"{n}. ", subsequent_indent="   ")
    lines = [quote, f"   \u2014 {cite(q)}"]
    if q.article.url:
        lines.append(f"   {q.article.url}")
    for other in q.also_in:
        lines.append(f"   also in: {other.name} ({other.path})")
    return "\n".join(lines)


def render_answer(answer: Answer, width: int = 100) -> str:
    view = present(answer)
    if view.abstained:
        why = f": {view.reason}" if view.reason else ""
        out = [f"The sources don't answer that{why}."]
        if view.near_misses:
            out.append("Closest passages (not an answer):")
            out += [render_result(q.rank, q, width) for q in view.near_misses]
        return "\n".join(out)
    return "\n\n".join(render_result(q.rank, q, width) for q in view.results)


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
