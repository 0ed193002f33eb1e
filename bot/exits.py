"""How `newsdesk` ends: the one place that turns an exception into a message on stderr and an exit status.

A command raises; `run_command` decides what the user sees. Problems the user can fix (a missing or malformed
file, a bad argument, a damaged or locked index) are one line naming the problem, without a traceback;
anything else is reported as unexpected, with the traceback under -v. A reader that closes the pipe early
(`newsdesk ask ... | head -1`) ends the command quietly, as it would end a Unix tool.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

log = logging.getLogger("newsdesk")

OK = 0
FAILED = 1  # unexpected: a bug or a system failure (the traceback is logged with -v)
USAGE = 2  # the user can fix it: bad argument or input file, path outside the corpus, damaged or locked index
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
PIPE_CLOSED = 141  # the reader of stdout went away (128 + SIGPIPE, as a shell reports a tool killed by it)


class UsageError(Exception):
    """A problem with what the user asked for; its message is shown as is, exit status USAGE."""


def describe(exc: BaseException) -> tuple[int, str] | None:
    """(exit status, message) for an exception the user can act on, or None for an unexpected one."""
    from pydantic import ValidationError

    from newsdesk.index.errors import IndexProblem

    if isinstance(exc, (UsageError, IndexProblem)):
        return USAGE, str(exc)
    if isinstance(exc, ValidationError):  # a setting from the environment or .env
        prefix = "NEWSDESK_" if exc.title == "Settings" else ""
        return USAGE, "; ".join(f"{prefix}{'_'.join(map(str, e['loc'])).upper()}: {e['msg']} (got {e['input']!r})"
                                for e in exc.errors())
    if isinstance(exc, UnicodeDecodeError):
        return USAGE, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, ValueError):  # malformed input: a question file's line, a setting's value (pydantic)
        return USAGE, str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        name = os.fsdecode(exc.filename)
        if isinstance(exc, FileNotFoundError):
            return USAGE, f"no such file or folder: {name}"
        if isinstance(exc, IsADirectoryError):
            return USAGE, f"{name} is a folder, not a file"
        if isinstance(exc, PermissionError):
            return USAGE, f"permission denied: {name}"
        return FAILED, f"{name}: {exc.strerror or exc}"
    return None


def _stdout_gone() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a subcommand; returns its exit status, after one line on stderr when it failed."""
    try:
        status = int(func(args) or OK)
        sys.stdout.flush()  # a closed pipe shows here when the output was buffered
        return status
    except BrokenPipeError:
        _stdout_gone()
        return PIPE_CLOSED
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place every failure is turned into a message
        known = describe(exc)
        if known is not None:
            status, message = known
            log.debug("%s", message, exc_info=exc)
        else:
            status = FAILED
            message = (f"unexpected error: {type(exc).__name__}: {exc}"
                       + ("" if log.isEnabledFor(logging.INFO) else " (run with -v to see where)"))
            log.info("traceback of the unexpected error", exc_info=exc)
        try:
            print(f"newsdesk: {message}", file=sys.stderr)
        except BrokenPipeError:
            pass
        return status
