"""Keep the index fresh while the corpus folder changes (`newsdesk watch`, or a thread inside the bot).

Changes are collected by watchfiles and debounced; hidden files, editors' temporary and backup files and
the data folder are ignored. Before each run the watcher waits until the changed files stop changing (size and
modification time unchanged for `settle_ms`, by default the debounce), so a file still being copied or written
slowly is not indexed half written. Each batch runs one incremental `engine.index(paths=...)` over the changed
files and folders (the rest of the corpus is not scanned; the first run after start scans it all): only those
files are touched, and
readers (a bot, `chat`, `ask`) pick up the new generation on their next question. An index error is logged
and the watcher keeps going; when another writer holds the lock, the run is retried a few seconds later.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .records import IndexReport

log = logging.getLogger(__name__)

DEBOUNCE_MS = 800
SETTLE_MS = DEBOUNCE_MS  # a file must keep its size and mtime this long before it is indexed
MAX_SETTLE_S = 60.0
LOCK_RETRY_S = 5.0


@dataclass
class WatchRun:
    """One index run made by the watcher."""

    report: IndexReport | None  # None when the run failed
    error: str | None = None
    changed: list[str] = field(default_factory=list)  # corpus-relative paths that triggered the run
    initial: bool = False  # the catch-up run made when watching starts

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """A one-line summary for logs and the terminal."""
        if self.report is None:
            return f"index run failed: {self.error}"
        r = self.report
        line = (f"indexed in {r.seconds:.1f} s: {r.added} added, {r.updated} updated, {r.removed} removed, "
                f"{r.unchanged} unchanged, {r.chunks_embedded} chunks embedded; "
                f"{r.documents} documents, {r.chunks} chunks")
        if r.skipped:
            line += f"; {len(r.skipped)} skipped ({', '.join(s.path for s in r.skipped[:3])}"
            line += ", ...)" if len(r.skipped) > 3 else ")"
        return line


def make_filter(corpus: Path, data: Path | None = None) -> Callable[[object, str], bool]:
    """watchfiles filter: corpus files the indexer would look at (and folders, whose deletion matters)."""
    from .indexer import is_candidate

    corpus = corpus.resolve()
    data_r = data.resolve() if data is not None else None

    def keep(change: object, path: str) -> bool:
        p = Path(path)
        if data_r is not None and (p == data_r or data_r in p.parents):
            return False
        try:
            parts = p.relative_to(corpus).parts
        except ValueError:
            parts = (p.name,)
        if any(part.startswith(".") for part in parts[:-1]):
            return False  # inside a hidden folder
        return is_candidate(p)

    return keep


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def wait_until_stable(paths: list[Path], *, settle_s: float = SETTLE_MS / 1000, max_wait_s: float = MAX_SETTLE_S,
                      stop_event: threading.Event | None = None) -> bool:
    """Wait until no file in `paths` changed size or mtime for `settle_s` (a copy or download in progress
    has finished), at most `max_wait_s`. Returns False when stopped."""
    stop = stop_event or threading.Event()
    last = {p: _signature(p) for p in paths}
    deadline = time.monotonic() + max_wait_s
    while True:
        if stop.wait(settle_s):
            return False
        cur = {p: _signature(p) for p in paths}
        if cur == last:
            return True
        if time.monotonic() >= deadline:
            log.warning("files still changing after %.0f s; indexing them as they are", max_wait_s)
            return True
        last = cur


def _index_once(engine, changed: list[str], initial: bool, full: bool = False) -> tuple[WatchRun, bool]:
    """One run; returns the run and whether it should be retried (another writer held the lock).
    Only the changed files and folders are looked at, unless `full` (or `initial`): the whole corpus."""
    from .indexer import IndexLocked
    from .stores.base import StoreUnavailable

    try:
        report = engine.index(progress=False, paths=None if initial or full or not changed else changed)
    except (IndexLocked, StoreUnavailable) as exc:  # another writer, or the index's server is away: try again
        log.warning("index run postponed: %s", exc)
        return WatchRun(None, str(exc), changed, initial), True
    except Exception as exc:  # keep watching whatever went wrong
        log.exception("index run failed")
        return WatchRun(None, f"{type(exc).__name__}: {exc}", changed, initial), False
    run = WatchRun(report, None, changed, initial)
    log.info("%s", run.line())
    return run, False


def watch(engine, *, debounce_ms: int = DEBOUNCE_MS, settle_ms: int | None = None,
          stop_event: threading.Event | None = None, on_report: Callable[[WatchRun], None] | None = None,
          initial: bool = True, lock_retry_s: float = LOCK_RETRY_S, force_polling: bool | None = None) -> None:
    """Watch `engine.settings.corpus` and index after each debounced batch of changes, until `stop_event`
    is set (or KeyboardInterrupt). `on_report(run)` is called after every run, from this thread.
    With `initial`, one run is made first to catch up with changes made while nobody watched. A changed file is
    indexed once its size and mtime stayed the same for `settle_ms` (default: the debounce), so a file written
    slowly, with pauses shorter than that, is indexed once, complete."""
    import watchfiles

    settle_ms = debounce_ms if settle_ms is None else settle_ms
    corpus = Path(engine.settings.corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    data = Path(engine.settings.data)
    stop = stop_event or threading.Event()
    keep = make_filter(corpus, data)
    retry_at: float | None = None
    pending: list[str] = []
    rescan = False  # a run failed: what it missed is unknown, so the next run scans the whole corpus

    def run(changed: list[str], first: bool = False) -> None:
        nonlocal retry_at, pending, rescan
        result, retry = _index_once(engine, changed, first, full=rescan)
        if retry:
            pending = sorted(set(pending) | set(changed))
            retry_at = time.monotonic() + lock_retry_s
        else:
            pending, retry_at = [], None
            rescan = result.report is None
        if on_report is not None:
            try:
                on_report(result)
            except Exception:
                log.exception("on_report failed")

    if initial and not stop.is_set():
        run([], first=True)
    log.info("watching %s", corpus)
    # rust_timeout/yield_on_timeout: wake up now and then with an empty batch to retry a postponed run.
    for changes in watchfiles.watch(corpus, watch_filter=keep, debounce=debounce_ms, stop_event=stop,
                                    rust_timeout=1000, yield_on_timeout=True, force_polling=force_polling):
        if stop.is_set():
            break
        if not changes:
            if retry_at is not None and time.monotonic() >= retry_at:
                run(pending)
            continue
        paths = sorted({Path(p) for _, p in changes})
        names = []
        for p in paths:
            try:
                names.append(p.resolve().relative_to(corpus.resolve()).as_posix())
            except ValueError:
                names.append(str(p))
        log.info("changed: %s", ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
        if not wait_until_stable([p for p in paths if p.is_file()], settle_s=settle_ms / 1000, stop_event=stop):
            break
        run(sorted(set(pending) | set(names)))
    log.info("stopped watching %s", corpus)


def start_watch_thread(engine, on_report: Callable[[WatchRun], None] | None = None, **kwargs) -> tuple[
        threading.Thread, threading.Event]:
    """Run `watch` in a daemon thread; set the returned event (then `thread.join()`) to stop it.

    For an asyncio front end, `on_report` runs in the watcher thread: hand results to the loop with
    `loop.call_soon_threadsafe(...)`. Asks keep working meanwhile; they pick up each new generation."""
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(engine,), kwargs={"stop_event": stop, "on_report": on_report, **kwargs},
                         name="newsdesk-watch", daemon=True)
    t.start()
    return t, stop
