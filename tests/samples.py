"""The tests' own data, and what keeps the user's out.

The suite never reads the repository's `corpus/` (the user's articles: `make run` indexes it) or `.env` (the
user's settings): the two sample articles the tests ask about live in `tests/fixtures/docs/`, and each test gets
copies of them in a temporary folder. `child_env()` is the environment for the subprocesses tests start: the
user's `NEWSDESK_*` and `DISCORD_*` variables removed.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "docs"
# The two sample articles (also shipped in corpus/ for `make run`; the tests read only these copies).
SAMPLE_FILES = sorted(FIXTURES.glob("*.txt"))
USER_PREFIXES = ("NEWSDESK_", "DISCORD_")


def copy_samples(dest: Path) -> Path:
    """A corpus folder at `dest` holding copies of the sample articles (created if missing); returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in SAMPLE_FILES:
        shutil.copy2(f, dest / f.name)
    return dest


def indexed_samples(root: Path, embedder) -> Path:
    """`root/corpus` holding the sample articles and `root/data` their index (built with `embedder`); returns
    `root`."""
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    copy_samples(root / "corpus")
    Engine(Settings(_env_file=None, corpus=root / "corpus", data=root / "data", progress=False),
           embedder=embedder).index(progress=False)
    return root


def child_env(**extra: str) -> dict[str, str]:
    """os.environ without the user's newsdesk and Discord settings, offline, with `extra` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(USER_PREFIXES)}
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env
