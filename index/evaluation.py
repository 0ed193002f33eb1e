"""Evaluation over a question file (format: shared eval README): hit@k, MRR@10, abstention, verbatim."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .records import Answer

_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'", "\u00a0": " "})


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(_FOLD).casefold()).strip()


@dataclass
class Question:
    qid: str
    question: str
    gold: list[str]
    docs: list[str] = field(default_factory=list)
    asked_at: dt.date | None = None
    kind: str | None = None  # the question file's `kind` (speaker+date, unanswerable, ...), for per-kind figures


def load_questions(path: Path) -> list[Question]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            asked = dt.date.fromisoformat(d["asked_at"]) if d.get("asked_at") else None
            out.append(Question(str(d["qid"]), d["question"], list(d.get("gold", [])), list(d.get("docs") or []), asked,
                                d.get("kind")))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a question line ({exc})") from None
    return out


def _first_hit(answer: Answer, q: Question, field_: str, strict: bool) -> int | None:
    gold = [fold(g) for g in q.gold]
    for rank, r in enumerate(answer.results, 1):
        text = fold(getattr(r, field_))
        if strict and q.docs and Path(r.path).name not in {Path(d).name for d in q.docs}:
            continue
        if any(g in text for g in gold):
            return rank
    return None


def metrics(pairs: list[tuple[Question, Answer]], verbatim: Callable[[Any], bool]) -> dict[str, float]:
    """The overall figures, then, when the file names kinds, `KIND/...` figures per kind: quote hit@1 and
    hit@3 (strict when the file gives `docs`) and the share abstained."""
    out = _metrics(pairs, verbatim)
    kinds = sorted({q.kind for q, _ in pairs if q.kind})
    for kind in kinds:
        sub = [(q, a) for q, a in pairs if q.kind == kind]
        m = _metrics(sub, verbatim)
        pre = "quote_strict" if "quote_strict_hit@1" in m else "quote"
        if any(q.gold for q, _ in sub):
            out[f"{kind}/{pre}_hit@1"] = m[f"{pre}_hit@1"]
            out[f"{kind}/{pre}_hit@3"] = m[f"{pre}_hit@3"]
        out[f"{kind}/abstained"] = sum(1 for _, a in sub if a.abstained) / len(sub)
        out[f"{kind}/questions"] = len(sub)
    return out


def _metrics(pairs: list[tuple[Question, Answer]], verbatim: Callable[[Any], bool]) -> dict[str, float]:
    answerable = [(q, a) for q, a in pairs if q.gold]
    out: dict[str, float] = {}
    kinds = [("quote", "quote", False), ("passage", "passage", False)]
    if any(q.docs for q, _ in answerable):
        kinds += [("quote_strict", "quote", True), ("passage_strict", "passage", True)]
    for name, fld, strict in kinds:
        ranks = [_first_hit(a, q, fld, strict) for q, a in answerable]
        n = len(ranks) or 1
        for k in (1, 3, 5):
            out[f"{name}_hit@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / n
        out[f"{name}_mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    abstained = [(q, a) for q, a in pairs if a.abstained]
    should = [q for q, _ in pairs if not q.gold]
    correct = sum(1 for q, _ in abstained if not q.gold)
    out["abstention_precision"] = correct / len(abstained) if abstained else 1.0
    out["abstention_recall"] = correct / len(should) if should else 1.0
    quotes = [r for _, a in pairs for r in a.results]
    out["verbatim"] = sum(1 for r in quotes if verbatim(r)) / len(quotes) if quotes else 1.0
    out["max_quote_words"] = max((len(r.quote.split()) for r in quotes), default=0)
    # quotes (and near misses) from documents published after the question was asked: must be 0
    out["after_asked_at"] = sum(1 for q, a in pairs if q.asked_at for r in a.results + a.near_misses
                                if r.date and r.date > q.asked_at.isoformat())
    out["questions"] = len(pairs)
    out["answerable"] = len(answerable)
    return out
