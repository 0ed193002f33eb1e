"""Draw attributed quotations at random from a corpus folder, with the words around them, for checking speaker
labels by hand: one quotation (with a speaker) from each of the first N documents that hold one, the documents
drawn with a fixed seed so a check can be repeated after an attribution change.

    .venv/bin/python scripts/label_sample.py CORPUS [--n 50] [--seed 2026] [--json]
    .venv/bin/python scripts/label_sample.py CORPUS --all [--n 400] > labels.json

Each line: the number, the label in brackets, and the text from 220 characters before the quotation to 70 after
it (paragraph breaks shown as " / "). The labels come from `index/speakers.py` run on the file's text as it is on
disk (front matter included), as an index run would attribute it. Judging them stays a person's work. With
`--all`, every quotation of the first N documents drawn (labelled or not) as JSON: run before and after an
attribution change, `--compare OLD.json NEW.json` counts and lists the labels that changed.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from newsdesk.index.speakers import extract_quotations

SUFFIXES = (".md", ".txt")


def sample(corpus: Path, n: int, seed: int) -> list[dict]:
    """Up to `n` labelled quotations, one from each of the documents drawn in turn."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    rng = random.Random(seed)
    rng.shuffle(files)
    out: list[dict] = []
    for path in files:
        if len(out) >= n:
            break
        text = path.read_text(encoding="utf-8", errors="replace")
        quotes = [q for q in extract_quotations(text) if q.speaker]
        if not quotes:
            continue
        q = rng.choice(quotes)
        context = text[max(0, q.start - 220) : q.end + 70].replace("\n", " / ")
        out.append({"path": path.relative_to(corpus).as_posix(), "start": q.start, "speaker": q.speaker,
                    "role": q.role, "context": context})
    return out


def every_label(corpus: Path, n: int, seed: int) -> list[dict]:
    """Every quotation, with its label or None, of the first `n` documents drawn (the same draw as `sample`)."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    random.Random(seed).shuffle(files)
    out: list[dict] = []
    for path in files[:n]:
        text = path.read_text(encoding="utf-8", errors="replace")
        out += [{"path": path.relative_to(corpus).as_posix(), "start": q.start, "speaker": q.speaker}
                for q in extract_quotations(text)]
    return out


def compare(old: list[dict], new: list[dict]) -> list[tuple[str, int, str | None, str | None]]:
    """The quotations of `old` whose label differs in `new`: (path, start, old label, new label)."""
    now = {(r["path"], r["start"]): r["speaker"] for r in new}
    return [(r["path"], r["start"], r["speaker"], now.get((r["path"], r["start"])))
            for r in old if now.get((r["path"], r["start"])) != r["speaker"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, nargs="?", default=Path("."))
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--all", action="store_true", help="every quotation of the N documents drawn, as JSON")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"), help="two --all outputs")
    args = ap.parse_args()
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.compare)
        changed = compare(old, new)
        for path, start, was, now in changed:
            print(f"{path}:{start}: {was!r} -> {now!r}")
        print(f"{len(changed)} of {len(old)} labels changed")
        return 0
    if not args.corpus.is_dir():
        print(f"not a folder: {args.corpus}", file=sys.stderr)
        return 2
    if args.all:
        print(json.dumps(every_label(args.corpus, args.n, args.seed), ensure_ascii=False))
        return 0
    rows = sample(args.corpus, args.n, args.seed)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for i, r in enumerate(rows, 1):
            print(f"{i}. [{r['speaker']}] ...{r['context']}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
