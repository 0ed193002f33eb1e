"""`newsdesk`: the terminal front end (index, ask, chat, sources, eval, watch), the `run` launcher, and
`backup`/`restore` of the data folder."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsdesk.bot.exits import UsageError, run_command

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine


def _settings(args: argparse.Namespace):
    from newsdesk.index.settings import Settings

    over: dict[str, Any] = {}
    if getattr(args, "corpus", None):
        over["corpus"] = Path(args.corpus)
    if getattr(args, "data", None):
        over["data"] = Path(args.data)
    if not sys.stderr.isatty():  # a progress bar in a pipe, a log file or a service's journal is only noise
        over["progress"] = False
    return Settings(**over)


def _engine(args: argparse.Namespace):
    from newsdesk.index.engine import Engine

    return Engine(_settings(args))


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=None))


def _day(text: str) -> dt.date:
    """argparse type of --asked-at: a calendar day."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _check_paths(eng: Engine, given: list[str]) -> list[Path]:
    """The named paths, resolved; each must lie in the corpus and exist, or name indexed documents (a file deleted
    since is removed by the run). Raises UsageError naming every path that does neither."""
    from newsdesk.index.indexer import normalize_names

    corpus = Path(eng.settings.corpus).resolve()
    paths = [Path(p).resolve() for p in given]
    outside = [(g, full) for g, full in zip(given, paths) if full != corpus and corpus not in full.parents]
    if missing := [g for g, full in outside if not full.exists()]:
        raise UsageError(f"no such file or folder: {', '.join(missing)} (the corpus folder is {corpus})")
    if outside:
        raise UsageError(f"not inside the corpus folder {corpus}: {', '.join(g for g, _ in outside)}")
    gone = [(g, full) for g, full in zip(given, paths) if not full.exists()]
    if gone:
        indexed = eng.store.indexed(normalize_names(corpus, [full for _, full in gone]))
        unknown = []
        for g, full in gone:
            name = full.relative_to(corpus).as_posix()
            if not any(n == name or n.startswith(name + "/") for n in indexed):
                unknown.append(g)
        if unknown:
            raise UsageError(f"no such file or folder, and nothing indexed there: {', '.join(unknown)}")
    return paths


def cmd_index(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_report

    eng = _engine(args)
    paths = _check_paths(eng, args.paths) if args.paths else None
    if args.recount_terms:
        try:
            eng.recount_terms()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    rep = eng.index(rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty(), paths=paths)
    if args.json:
        _print_json(rep.to_json())
    else:
        print(render_report(rep))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from newsdesk.bot.terminal import render_answer

    ans = _engine(args).ask(args.question, k=args.k, asked_at=args.asked_at)
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
    from newsdesk.bot.chat import run_chat

    return run_chat(_engine(args))


def cmd_eval(args: argparse.Namespace) -> int:
    from newsdesk.index.quotes import verify_quote
    from newsdesk.index.evaluation import load_questions, metrics

    questions = load_questions(Path(args.questions))  # a missing or malformed file fails before the model loads
    if not questions:
        raise UsageError(f"no questions in {args.questions}")
    eng = _engine(args)
    eng.index(progress=False)
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


def cmd_feedback(args: argparse.Namespace) -> int:
    from newsdesk.index.feedback import FeedbackStore, eval_lines

    items = FeedbackStore(Path(_settings(args).data)).all()
    if args.write_eval:
        lines = eval_lines(items)
        Path(args.write_eval).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        print(f"wrote {len(lines)} disliked answers to {args.write_eval} as eval questions; put the words a right "
              "answer quotes in each \"gold\" (left empty, the evaluation expects an abstention)", file=sys.stderr)
    elif args.json:
        _print_json([fb.to_json() for fb in items])
    elif not items:
        print("no feedback yet (readers react with \N{THUMBS UP SIGN} or \N{THUMBS DOWN SIGN} to the bot's answers)")
    else:
        for fb in items:
            answer = " ".join(fb.answer.split())
            shown = answer if len(answer) <= 200 else answer[:200] + "\u2026"
            print(f"{fb.at}  {fb.vote:4}  {fb.user_name or fb.user_id}: {fb.question}\n    {shown}")
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


def _print_poll(report: Any) -> None:
    stamp = time.strftime("%H:%M:%S")
    for line in report.lines():
        print(f"{stamp} feeds: {line}", flush=True)


def cmd_follow(args: argparse.Namespace) -> int:
    import asyncio

    from newsdesk.index.feeds import FollowError, engine_follower

    if not args.url and not args.poll:
        print("newsdesk: give a feed or page URL to follow, or --poll", file=sys.stderr)
        return 2
    follower = engine_follower(_engine(args))
    if args.url:
        try:
            res = asyncio.run(follower.follow(args.url))
        except FollowError as exc:
            print(f"newsdesk: {exc}", file=sys.stderr)
            return 2
        print(f"{'following' if res.new else 'already following'} {res.title or '(untitled)'} <{res.feed}> "
              f"({res.entries} entries now)")
        for other in res.also:
            print(f"  the page also offers {other} (follow it too with: newsdesk follow {other})")
        if not args.poll:
            print("its articles are fetched on the next poll: newsdesk follow --poll, newsdesk watch or the bot")
    if args.poll:
        _print_poll(asyncio.run(follower.poll(force=args.force)))
    return 0


def cmd_unfollow(args: argparse.Namespace) -> int:
    from newsdesk.index.feeds import Follower

    removed = Follower(_settings(args)).unfollow(args.url)
    if removed is None:
        print(f"newsdesk: not following {args.url}", file=sys.stderr)
        return 2
    print(f"stopped following {removed} (its saved articles stay in the corpus)")
    if removed in _settings(args).feeds or args.url in _settings(args).feeds:
        print("note: it is listed in NEWSDESK_FEEDS and will be followed again; remove it there", file=sys.stderr)
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    from newsdesk.index.feeds import Follower

    statuses = Follower(_settings(args)).statuses()
    if args.json:
        _print_json([s.to_json() for s in statuses])
    elif not statuses:
        print("no feeds followed (newsdesk follow URL, or NEWSDESK_FEEDS)")
    else:
        print("\n".join(line for s in statuses for line in s.lines()))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from newsdesk.index.feeds import FollowLoop, engine_follower
    from newsdesk.index.watch import WatchRun, watch

    eng = _engine(args)
    following = FollowLoop(engine_follower(eng), on_poll=_print_poll).start()

    told: set[tuple[str, str]] = set()  # skipped files already explained

    def report(run: WatchRun) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {run.line()}", flush=True)
        for s in run.report.skipped if run.report else []:
            if (s.path, s.reason) not in told:
                told.add((s.path, s.reason))
                print(f"{stamp}   skipped {s.path}: {s.reason}", flush=True)

    # Ctrl-C lets the index run under way finish, then stops; a second Ctrl-C stops at once (an interrupted run
    # leaves the previous index in use)
    stop = threading.Event()

    def on_interrupt(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nnewsdesk: stopping after the current index run (Ctrl-C again to stop now)", file=sys.stderr,
              flush=True)

    print(f"newsdesk: watching {eng.settings.corpus} (index in {eng.settings.data}); Ctrl-C to stop.",
          file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        watch(eng, on_report=report, stop_event=stop)
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        following.stop()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from newsdesk.index.backup import backup

    s = _settings(args)
    info = backup(Path(s.data), Path(args.dir), lock_timeout=max(s.lock_timeout, 600.0))
    if args.json:
        _print_json(info.to_json())
    else:
        print(f"backed up generation {info.generation} of {s.data} ({info.documents} documents, {info.chunks} "
              f"chunks, {info.bytes / 1048576:.1f} MB) to {args.dir} in {info.seconds:.1f} s")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from newsdesk.index.backup import restore

    s = _settings(args)
    info = restore(Path(args.dir), Path(s.data), lock_timeout=s.lock_timeout)
    if args.json:
        _print_json(info.to_json())
    else:
        print(f"restored generation {info.generation} ({info.documents} documents, {info.chunks} chunks, backed "
              f"up {info.created_at}) into {s.data}")
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
    sp.add_argument("--recount-terms", action="store_true", help="Milvus store: first count every term of the "
                    "index again (repairs counts two writers left off; no rebuild)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("ask", help="answer one question")
    sp.add_argument("question")
    common(sp)
    sp.add_argument("-k", type=int, default=None, help="number of results (default NEWSDESK_TOP_K)")
    sp.add_argument("--asked-at", type=_day, help="resolve relative dates against this day (YYYY-MM-DD)")
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

    sp = sub.add_parser("watch", help="keep the index fresh as the corpus folder changes, and follow the feeds")
    common(sp)
    sp.set_defaults(func=cmd_watch)

    sp = sub.add_parser("follow", help="follow an RSS/Atom feed (or the feed a page announces); --poll fetches "
                        "new articles of every followed feed once (for cron)")
    sp.add_argument("url", nargs="?", help="feed or page URL")
    common(sp)
    sp.add_argument("--poll", action="store_true", help="poll every followed feed once, save and index new articles")
    sp.add_argument("--force", action="store_true", help="with --poll: also poll feeds backing off after an error")
    sp.set_defaults(func=cmd_follow)

    sp = sub.add_parser("unfollow", help="stop following a feed (its saved articles stay)")
    sp.add_argument("url", help="the feed URL, or the page it was followed from")
    common(sp)
    sp.set_defaults(func=cmd_unfollow)

    sp = sub.add_parser("feeds", help="followed feeds: title, articles, last fetch, last new article, last error")
    common(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_feeds)

    sp = sub.add_parser("export-int8", help="build (or reuse) the int8 ONNX model of NEWSDESK_MODEL")
    common(sp)
    sp.add_argument("--force", action="store_true", help="export again even when a build is cached")
    sp.set_defaults(func=cmd_export_int8)

    sp = sub.add_parser("feedback", help="readers' thumbs up/down on the bot's answers")
    common(sp)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--write-eval", metavar="FILE", help="write the thumbs-down answers as an eval question file")
    sp.set_defaults(func=cmd_feedback)

    sp = sub.add_parser("run", help="the Discord bot if DISCORD_TOKEN is set, else the terminal chat")
    common(sp)
    sp.set_defaults(func=cmd_run)

    for name, func, what, folder in (
        ("backup", cmd_backup, "copy the index into a new folder, consistently, while the bot runs",
         "a new (or empty) folder for the backup"),
        ("restore", cmd_restore, "put a backup into the data folder (which must hold no index)",
         "a folder written by `newsdesk backup`"),
    ):
        sp = sub.add_parser(name, help=what)
        sp.add_argument("dir", help=folder)
        common(sp)
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=func)
    return p


def _setup_logging(args: argparse.Namespace) -> None:
    """Timestamped log lines on stderr (and NEWSDESK_LOG_FILE): INFO for the bot and the watcher, WARNING for
    one-off commands and the terminal chat, INFO for any with -v; NEWSDESK_LOG_LEVEL overrides. The Discord
    token is masked."""
    import os

    from newsdesk.bot.logs import level_of, setup_logging

    s = _settings(args)
    secrets = [os.environ.get("DISCORD_TOKEN", "").strip()]
    try:
        from newsdesk.bot.discord_settings import BotSettings

        secrets.append(BotSettings().token() or "")
    except ValueError:  # a malformed Discord setting: `run` reports it; other commands don't need them
        pass
    long_running = args.command == "watch" or (args.command == "run" and any(secrets))  # `run` without: chat
    level = level_of(s.log_level, logging.INFO if long_running else logging.WARNING)
    if args.verbose:
        level = min(level, logging.INFO)
    setup_logging(level, s.log_file, secrets)


def main(argv: list[str] | None = None) -> int:
    """The `newsdesk` command; returns the exit status (README: "Exit status")."""
    args = build_parser().parse_args(argv)
    status = run_command(_setup_logging, args)
    return status if status else run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
