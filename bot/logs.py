"""Logging for the `newsdesk` command and the bot: timestamped lines on stderr (and in NEWSDESK_LOG_FILE when set),
secrets masked, and the optional-dependency notices of third-party libraries left out.

Why here and not in the engine: `newsdesk.index` is a library and only emits records; the front ends decide
where they go and how loud they are.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MASK = "[hidden]"
LOG_FILE_BYTES = 10 * 1024 * 1024  # a log file rotates at this size, keeping LOG_FILE_BACKUPS old ones
LOG_FILE_BACKUPS = 5

# Libraries whose INFO lines narrate their own internals (faiss: each CPU-specific build it could not load; onnx_ir
# and onnxscript: every pass of the int8 export; sentence-transformers, transformers, huggingface_hub: model
# loading): at WARNING unless NEWSDESK_LOG_LEVEL=DEBUG. discord.py's INFO lines (login, gateway) stay.
QUIET_BELOW_DEBUG = ("faiss", "onnx_ir", "onnxscript", "torch", "transformers", "sentence_transformers",
                     "huggingface_hub", "httpx", "urllib3", "filelock")

# Records that tell a user about optional features newsdesk never uses, by logger name and message start.
_OPTIONAL_NOTICES = {
    # torch.onnx.export, while building the int8 model: torchvision's detection operators are not needed.
    "torch.onnx._internal.exporter._registration": ("torchvision is not installed",),
}


class MaskingFormatter(logging.Formatter):
    """A formatter that replaces every secret (the Discord token) in the whole formatted record, traceback
    included, so no handler ever writes one."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT, datefmt: str = DATE_FORMAT) -> None:
        super().__init__(fmt, datefmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class _DropNotices(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def level_of(name: str | None, default: int) -> int:
    """The logging level named `name` (DEBUG, INFO, WARNING, ERROR; any case), else `default`."""
    if not name:
        return default
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"NEWSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {name!r}")
    return level


def quiet_optional_dependencies() -> None:
    """Leave out notices about optional dependencies newsdesk does not use: torchvision during the int8 export,
    Hugging Face progress bars while a model loads. (discord.py's voice notices: `discord_app.create_bot`.)"""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name, starts in _OPTIONAL_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotices) for f in logger.filters):
            logger.addFilter(_DropNotices(starts))


def setup_logging(level: int, log_file: Path | None = None, secrets: Iterable[str] = ()) -> None:
    """Log records at `level` and above to stderr, and to `log_file` (rotated at 10 MB, 5 kept) when given; each
    line `2026-11-30 08:00:00 INFO name: message`, with `secrets` masked. Replaces earlier handlers of the
    root logger (a second call, e.g. from `run`, reconfigures)."""
    secrets = list(secrets)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES,
                                                             backupCount=LOG_FILE_BACKUPS, encoding="utf-8"))
    for h in handlers:
        h.setFormatter(MaskingFormatter(secrets))
        root.addHandler(h)
    root.setLevel(level)
    if level > logging.DEBUG:
        for name in QUIET_BELOW_DEBUG:
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    quiet_optional_dependencies()
