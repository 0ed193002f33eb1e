"""Which files newsdesk takes: one check of a file's name, type (suffix) and size, shared by every way a file
arrives: the index run's scan of the corpus (index/indexer.py), `Engine.add_file`, and Discord's /add, which
checks an attachment's name and declared size before downloading it. Reading a file (index/loaders.py) checks
its type and its size again on the bytes actually read.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["SUPPORTED_SUFFIXES", "max_bytes", "plain_name", "refusal", "size_text", "suffix_of", "too_large"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})
MB = 1024 * 1024
NAME_LIMIT = 120  # characters of a saved file's name

_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")


def plain_name(name: str, fallback: str = "article") -> str:
    """A plain file name for saving into the corpus: the last part of `name` (either slash), runs of characters
    other than ASCII letters, digits, '.', '_' and '-' made one '-', no leading or trailing '.', '-' or '_' (no
    hidden file, no '..'), at most NAME_LIMIT characters; `fallback` when nothing is left."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = _NOT_PLAIN.sub("-", base).strip(".-_")
    return base[:NAME_LIMIT] or fallback


def suffix_of(name: str) -> str:
    """os.path.splitext's suffix of the base name ("" for "file." and ".hidden" too), inlined: the index run
    calls it for every file of the corpus."""
    base = name[name.rfind("/") + 1 :]
    dot = base.rfind(".")
    if dot <= 0 or dot == len(base) - 1 or not base[:dot].strip("."):
        return ""
    return base[dot:]


def max_bytes(settings: Settings) -> int:
    """The size limit (`max_file_mb`) in bytes."""
    return int(settings.max_file_mb * MB)


def size_text(n: int) -> str:
    """A size for people: '25.3 MB', '9.8 KB', '12 bytes' (MB and KB of 1024)."""
    if n >= MB / 10:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n} bytes"


def too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    """The reason a file of `size` bytes (or more, `at_least`: reading stopped at the limit) is refused."""
    return f"file too large ({size_text(size)}{'+' if at_least else ''} > {size_text(limit)})"


def refusal(name: str, size: int | None, settings: Settings, *, upload: bool = False) -> str | None:
    """Why a file called `name` of `size` bytes (None: not known yet) is not taken, or None when it may be read.
    For an `upload` (a person sending one file) the reason also says what would be taken."""
    suffix = suffix_of(name).lower()
    if suffix not in SUPPORTED_SUFFIXES:
        reason = f"unsupported file type {suffix or '(none)'}"
        return f"{reason}: send one of {', '.join(sorted(SUPPORTED_SUFFIXES))}" if upload else reason
    limit = max_bytes(settings)
    if size is not None and size > limit:
        return too_large(size, limit) + (f"; the limit is {settings.max_file_mb:g} MB" if upload else "")
    return None
