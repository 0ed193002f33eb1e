"""Issue 13, item 2: asks are safe from any number of threads while ids are removed and another process commits.

A segmentation fault cannot be caught inside pytest, so the asking runs in a child process and the test checks how
it ended. Real model, real FAISS, real files; the writer is this process committing generation after generation.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings

from tests.samples import copy_samples

ROOT = Path(__file__).resolve().parent.parent

# The child: a VectorSet hammered directly (ids removed from its base), then engines' asks in threads while the
# parent commits. Prints how many searches and asks it made; exits 1 if a removed id was ever returned.
CHILD = textwrap.dedent("""
    import sys, threading
    import numpy as np
    from newsdesk.index import vectors
    from newsdesk.index.engine import Engine
    from newsdesk.index.settings import Settings

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 64)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    base = vectors.new_index(64)
    vectors.add(base, x, list(range(4000)))
    removed = np.arange(0, 4000, 3)
    vs = vectors.VectorSet(base).update(removed.tolist(), x[:8], list(range(9000, 9008)))
    bad = []

    def hammer(seed):
        q = np.random.default_rng(seed).standard_normal(64).astype("float32")
        for _ in range(1500):
            ids, _ = vs.search(q, 10)
            if np.isin(ids, removed).any():
                bad.append(ids)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("searches", 4 * 1500, flush=True)

    engine = Engine(Settings(_env_file=None, corpus=sys.argv[1], data=sys.argv[2], progress=False))
    questions = ["What did Pompeo say on April 7?", "Who endorsed the attack on Tripoli?",
                 "When did the Zorbian council approve the Kelp Tax?", "What will the Quillon project cost?"]
    asked = []
    errors = []

    def ask(seed):
        for i in range(25):
            try:
                engine.ask(questions[(seed + i) % len(questions)])
                asked.append(1)
            except Exception as exc:  # a user-facing error is reported, not a crash
                errors.append(repr(exc))

    print("ready", flush=True)
    sys.stdin.readline()  # the parent starts committing, then says go
    threads = [threading.Thread(target=ask, args=(s,)) for s in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("asks", len(asked), "errors", errors, flush=True)
    sys.exit(1 if bad or errors else 0)
""")


def test_threaded_asks_during_commits_with_removed_ids(tmp_path, embedder) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    copy_samples(corpus)
    writer = Engine(Settings(_env_file=None, corpus=corpus, data=data, progress=False), embedder=embedder)
    writer.index(progress=False)
    # Ids removed from the base since the last compaction: an updated document's old chunks.
    first = sorted(corpus.iterdir())[0]
    first.write_text(first.read_text() + "\n\nThe Zorbian council approved the Kelp Tax on 3 March 2019.\n")
    writer.index(progress=False)

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["HF_HUB_OFFLINE"] = "1"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(data)], cwd=ROOT, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().startswith("searches"), child.stderr.read()[-3000:]
        assert child.stdout.readline().strip() == "ready", child.stderr.read()[-3000:]
        child.stdin.write("go\n")
        child.stdin.flush()
        for i in range(6):  # generation after generation while the child asks
            extra = corpus / f"quillon{i % 2}.txt"
            if extra.exists():
                extra.unlink()
            else:
                extra.write_text(f"Quillon{i} bridge plan\n\nThe Quillon project will cost {i + 3} million crowns, "
                                 "officials said on Tuesday.\n")
            writer.index(progress=False)
        out, err = child.communicate(timeout=240)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, f"child ended with {child.returncode}: {out}\n{err[-3000:]}"
    assert "asks 100 errors []" in out
