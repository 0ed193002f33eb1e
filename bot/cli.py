"""`newsdesk`: the terminal front end (index, ask, chat, sources, eval, watch) and the `run` launcher."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from newsdesk.index.records import Answer


def _settings(args: argparse.Namespace):
    from newsdesk.index.settings import Settings

    over: dict[str, Any] = {}
    if getattr(args, "corpus", None):
        over["corpus"] = Path(args.corpus)
    if getattr(args, "data", None):
        over["data"] = Path(args.data)
    return Settings(**over)


def _engine(args: argparse.Namespace):
    from newsdesk.index.engine import Engine

    return Engine(_settings(args))


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=None))


def cmd_index(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_report

    eng = _engine(args)
    paths = None
    if args.paths:
        corpus = Path(eng.settings.corpus).resolve()
        paths = [Path(p).resolve() for p in args.paths]
        outside = [str(p) for p, full in zip(args.paths, paths) if full != corpus and corpus not in full.parents]
        if outside:
            print(f"newsdesk: not inside the corpus folder {corpus}: {', '.join(outside)}", file=sys.stderr)
            return 2
    rep = eng.index(rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty(), paths=paths)
    if args.json:
        _print_json(rep.to_json())
    else:
        print(render_report(rep))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_answer

    asked = dt.date.fromisoformat(args.asked_at) if args.asked_at else None
    ans = _engine(args).ask(args.question, k=args.k, asked_at=asked)
    if args.json:
        _print_json(ans.to_json())
    else:
        print(render_answer(ans))
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_status

    eng = _engine(args)
    st = eng.status()
    if args.json:
        from dataclasses import asdict

        _print_json(asdict(st))
    else:
        print(render_status(st))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_answer, render_report, render_status

    eng = _engine(args)
    print(render_report(eng.index(progress=sys.stderr.isatty())), file=sys.stderr)
    st = eng.status()
    print(f"newsdesk: {st.documents} articles indexed from {eng.settings.corpus}. "
          "Ask a question (/sources, /quit).", file=sys.stderr)
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if not line:
            continue
        if line in {"/quit", "/exit", "quit", "exit"}:
            return 0
        if line == "/sources":
            print(render_status(eng.status()))
            continue
        t = time.perf_counter()
        ans: Answer = eng.ask(line, asked_at=dt.datetime.now())
        print(render_answer(ans))
        print(f"({(time.perf_counter() - t) * 1000:.0f} ms)", file=sys.stderr)


def cmd_eval(args: argparse.Namespace) -> int:
    from newsdesk.index.quotes import verify_quote
    from newsdesk.index.evaluation import load_questions, metrics

    eng = _engine(args)
    eng.index(progress=False)
    questions = load_questions(Path(args.questions))
    pairs = []
    for q in questions:
        pairs.append((q, eng.ask(q.question, k=10, asked_at=q.asked_at)))
    def verbatim(r) -> bool:
        doc = eng.document(r.path)
        return doc is not None and verify_quote(doc.text, r.quote, r.start)

    m = metrics(pairs, verbatim)
    if args.json:
        _print_json({"metrics": m, "questions": [
            {"qid": q.qid, "question": q.question, "answer": a.to_json()} for q, a in pairs]})
    else:
        for k, v in m.items():
            print(f"{k:28s} {v:.3f}" if isinstance(v, float) else f"{k:28s} {v}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from newsdesk.bot.discord_settings import BotSettings

    bs = BotSettings()
    if bs.discord_token is not None and bs.discord_token.get_secret_value().strip():
        from newsdesk.bot.discord_app import run_bot

        return run_bot(_settings(args), bs)
    print("DISCORD_TOKEN is not set: starting the terminal front end (set it in .env to run the bot).",
          file=sys.stderr)
    return cmd_chat(args)


def cmd_export_int8(args: argparse.Namespace) -> int:
    from newsdesk.index.onnx_backend import cache_dir, ensure_int8, export_int8

    s = _settings(args)
    root = Path(s.model_cache or Path(s.data) / "models")
    path = export_int8(s.model, cache_dir(s.model, root)) if args.force else ensure_int8(s.model, root)
    print(f"int8 model for {s.model}: {path} (use it with NEWSDESK_BACKEND=onnx-int8, the CPU default)")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from newsdesk.index.watch import WatchRun, watch

    eng = _engine(args)

    told: set[tuple[str, str]] = set()  # skipped files already explained

    def report(run: WatchRun) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {run.line()}", flush=True)
        for s in run.report.skipped if run.report else []:
            if (s.path, s.reason) not in told:
                told.add((s.path, s.reason))
                print(f"{stamp}   skipped {s.path}: {s.reason}", flush=True)

    print(f"newsdesk: watching {eng.settings.corpus} (index in {eng.settings.data}); Ctrl-C to stop.",
          file=sys.stderr, flush=True)
    try:
        watch(eng, on_report=report)
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsdesk", description="Answer questions about news articles by quoting them.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--corpus", help="folder of source documents (NEWSDESK_CORPUS)")
        sp.add_argument("--data", help="folder holding the index (NEWSDESK_DATA)")

    sp = sub.add_parser("index", help="build or update the index")
    common(sp)
    sp.add_argument("paths", nargs="*", help="only these files or folders of the corpus (added, changed or "
                    "deleted); default: the whole corpus")
    sp.add_argument("--rebuild", action="store_true", help="rebuild everything from the corpus")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("ask", help="answer one question")
    sp.add_argument("question")
    common(sp)
    sp.add_argument("-k", type=int, default=None, help="number of results (default NEWSDESK_TOP_K)")
    sp.add_argument("--asked-at", help="resolve relative dates against this day (YYYY-MM-DD)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_ask)

    sp = sub.add_parser("eval", help="evaluate on a question file")
    sp.add_argument("questions")
    common(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("chat", help="ask questions interactively")
    common(sp)
    sp.set_defaults(func=cmd_chat)

    sp = sub.add_parser("sources", help="list what is indexed")
    common(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_sources)

    sp = sub.add_parser("watch", help="keep the index fresh as the corpus folder changes")
    common(sp)
    sp.set_defaults(func=cmd_watch)

    sp = sub.add_parser("export-int8", help="build (or reuse) the int8 ONNX model of NEWSDESK_MODEL")
    common(sp)
    sp.add_argument("--force", action="store_true", help="export again even when a build is cached")
    sp.set_defaults(func=cmd_export_int8)

    sp = sub.add_parser("run", help="the Discord bot if DISCORD_TOKEN is set, else the terminal chat")
    common(sp)
    sp.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from newsdesk.index.store import IndexError_

    try:
        return int(args.func(args) or 0)
    except IndexError_ as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
