"""Per-term document frequencies of a Milvus index, kept by its writer in a collection of their own.

The answer builder reads the BM25 document frequency of every question term (`df`/`idf`). Counting chunks
with a `TEXT_MATCH` filter at question time costs a scan of the chunks on milvus-lite (seconds a term at 10k
chunks) and a fan-out to every segment on a cluster; here the writer keeps the counts instead, so a question
reads all its terms with one primary-key query, the same on milvus-lite, Standalone and Distributed.

`<prefix>_terms`: one row per term (as `lexical.terms` analyses it, the words of a chunk's `terms` field) with
the number of live chunks holding it, and the row `TOTAL` with the number of live chunks (live: the chunks
of the version each path's head row names, the chunks a question is answered from). The writer adds a
committed version's chunks and subtracts the version it replaced or removed (`apply`), reading the current
counts first: it is the one writer of its origin's documents, and writers of different origins writing at
the same moment can overwrite each other's update of a shared term (the counts then drift by those chunks
until a recount). A run killed between a commit and its count update leaves the counts off by that batch;
the next run on that machine sees the journal of the killed batch and recounts (`recount`: one scan of the
heads and the chunks' terms), as does a writer that finds no `TOTAL` row (an index built before this
collection existed). `newsdesk index --recount-terms` recounts on demand (the drift of two origins);
`newsdesk index --rebuild` rebuilds everything, counts included.

The row `COMMIT` is not a count: every commit (and recount) stamps it, and readers use it as the index's
generation (`MilvusStore.generation`), reading their timeline and speakers again when it changes.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import IndexDamaged
from .milvus import IN_BATCH, lit, lit_list

if TYPE_CHECKING:
    from .milvus import MilvusStore

log = logging.getLogger(__name__)

TOTAL = "#chunks"  # the live chunk count's row (no term holds '#': terms are word characters)
COMMIT = "#commit"  # the row whose `df` is the last commit's stamp (MilvusStore.generation)
TERM_MAX = 512  # bytes of a term's key; longer terms (a run of letters no article holds) are not counted


def exists(store: "MilvusStore") -> bool:
    return bool(store.run(lambda c: c.has_collection(store.terms_name)))


def create(store: "MilvusStore") -> None:
    """The terms collection, indexed and loaded (when missing)."""
    from pymilvus import DataType

    c = store.client()
    with store.guard():
        if c.has_collection(store.terms_name):
            return
        s = c.create_schema(auto_id=False)
        s.add_field("term", DataType.VARCHAR, max_length=TERM_MAX, is_primary=True)
        s.add_field("df", DataType.INT64)
        s.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field; unused
        ip = c.prepare_index_params()
        ip.add_index("_v", index_type="FLAT", metric_type="L2")
        c.create_collection(store.terms_name, schema=s, index_params=ip, consistency_level="Strong")


def chunk_terms(terms_field: str) -> list[str]:
    """The terms a chunk row counts for: the distinct words of its `terms` field that fit a key."""
    return [t for t in dict.fromkeys(terms_field.split()) if len(t.encode("utf-8")) <= TERM_MAX]


def count_rows(rows: Iterable[dict]) -> Counter[str]:
    """Document frequencies (and `TOTAL`) of chunk rows with a `terms` field."""
    out: Counter[str] = Counter()
    for r in rows:
        out.update(chunk_terms(r["terms"]))
        out[TOTAL] += 1
    return out


def version_counts(store: "MilvusStore", versions: dict[str, str]) -> Counter[str]:
    """Document frequencies of the chunks of the given document versions (path -> content hash)."""
    items = list(versions.items())
    out: Counter[str] = Counter()
    for i in range(0, len(items), 100):
        expr = " or ".join(f"(path == {lit(p)} and content_hash == {lit(h)})" for p, h in items[i : i + 100])
        out += count_rows(store.scan(store.chunks_name, expr, ["terms"]))
    return out


def apply(store: "MilvusStore", added: Counter[str], removed: Counter[str]) -> None:
    """Add `added` to the stored counts and subtract `removed` (read, then upsert; terms at 0 are deleted)."""
    delta = Counter(added)
    delta.subtract(removed)
    keys = [t for t, d in delta.items() if d]
    if not keys:
        return
    current = {r["term"]: int(r["df"]) for r in store.query_in(store.terms_name, "term", keys, ["term", "df"])}
    _write(store, {t: current.get(t, 0) + delta[t] for t in keys})


def _write(store: "MilvusStore", values: dict[str, int]) -> None:
    rows = [{"term": t, "df": v, "_v": [0.0, 0.0]} for t, v in values.items() if v > 0 and t != TOTAL]
    gone = [t for t, v in values.items() if v <= 0 and t != TOTAL]
    for i in range(0, len(rows), 5000):
        store.run(lambda c: c.upsert(store.terms_name, rows[i : i + 5000]))
    for i in range(0, len(gone), IN_BATCH):
        store.run(lambda c: c.delete(store.terms_name, filter=f"term in {lit_list(gone[i : i + IN_BATCH])}"))
    if TOTAL in values:  # last: a reader trusts the counts once this row exists
        store.run(lambda c: c.upsert(store.terms_name, [{"term": TOTAL, "df": max(0, values[TOTAL]),
                                                         "_v": [0.0, 0.0]}]))


def recount(store: "MilvusStore") -> None:
    """Count every term of the live chunks from scratch and replace the stored counts (one scan of the heads
    and of the chunks' terms: after a killed run, or for an index built before the counts were kept)."""
    log.info("counting the terms of the Milvus index %s (for question-time document frequencies)",
             store.chunks_name)
    create(store)
    heads = {r["path"]: r["content_hash"] for r in store.scan(store.heads_name, "", ["path", "content_hash"])}
    counts = count_rows(r for r in store.scan(store.chunks_name, "", ["path", "content_hash", "terms"])
                        if heads.get(r["path"]) == r["content_hash"])
    counts[TOTAL] += 0
    stale = {r["term"]: 0 for r in store.scan(store.terms_name, "", ["term"])
             if r["term"] not in counts and r["term"] != COMMIT}
    store.run(lambda c: c.delete(store.terms_name, filter=f"term == {lit(TOTAL)}"))  # untrusted while rewriting
    _write(store, {**stale, **counts})
    mark_commit(store)  # readers read their tables again (a killed run may have committed unstamped)


def mark_commit(store: "MilvusStore") -> None:
    """Stamp a commit (the time in nanoseconds): readers compare it with the generation they loaded."""
    store.run(lambda c: c.upsert(store.terms_name, [{"term": COMMIT, "df": time.time_ns(), "_v": [0.0, 0.0]}]))


def last_commit(store: "MilvusStore") -> int | None:
    """The last commit's stamp; None when nothing was stamped or there are no collections."""
    try:
        # `term in [...]` is a primary-key lookup; `term == ...` scans the collection on milvus-lite (a second)
        rows = store.query_in(store.terms_name, "term", [COMMIT], ["df"])
    except IndexDamaged:  # no terms collection (nothing indexed; checked by the caller)
        return None
    return int(rows[0]["df"]) if rows else None


def has_total(store: "MilvusStore") -> bool:
    """Whether the counts are complete (a recount or the first write finished)."""
    return bool(store.query_in(store.terms_name, "term", [TOTAL], ["df"]))


def read(store: "MilvusStore", terms: Iterable[str]) -> dict[str, int] | None:
    """The counts of `terms` (0 for a term no chunk holds) and `TOTAL`, in one query per 500 terms; None when
    the counts are not there (an index whose writer has not counted yet: the caller counts otherwise)."""
    want = [t for t in dict.fromkeys(terms) if len(t.encode("utf-8")) <= TERM_MAX] + [TOTAL]
    rows = store.query_in(store.terms_name, "term", want, ["term", "df"])
    got = {r["term"]: int(r["df"]) for r in rows}
    if TOTAL not in got:
        return None
    return {t: got.get(t, 0) for t in want}
