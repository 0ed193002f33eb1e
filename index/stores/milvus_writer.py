"""An index run into Milvus: the same plan as the embedded indexer (scan, skip unchanged files by stat and
content hash, read what changed: `indexer.plan_run`), then per batch of documents: embed only chunk text Milvus
does not hold yet (by the text's hash), write the version's chunk and text rows, commit each document by
upserting its head row, update the term counts (add the new versions' chunks, subtract the replaced ones':
index/stores/milvus_terms.py), and delete the rows of the versions replaced (index/stores/milvus.py).

A killed run: documents whose head row was written are at their new version, the others at their previous one.
The paths a batch is writing are recorded first in `<data>/milvus-pending.json`; the next run on this machine
deletes the rows those paths have beyond their head's version (rows a killed run left unreferenced) and
recounts the term counts (the killed batch may have committed without counting).
One writer at a time per data folder (the same lock file as the embedded indexer); writers on other machines
write other origins' documents (`NEWSDESK_MILVUS_ORIGIN`), a path written by two is the last writer's.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..embedding import Embedder, set_threads
from ..indexer import EMBED_BLOCK, exclusive_run, finished, normalize_names, plan_run
from ..lexical import terms
from ..preparing import Prepared
from ..records import IndexReport
from ..speaker_index import QuotedIn, document_roles, quoted_in
from ..timeline import day_ordinal
from .. import facts
from ..store import DocRow, now_iso, pack_sentence_vectors
from . import milvus_terms
from .milvus import (META_MAX, PATH_MAX, VARCHAR_MAX, MilvusStore, chunk_id, clip, doc_key, encode_doc,
                     encode_quotes, lit, lit_list)

log = logging.getLogger(__name__)

PENDING_FILE = "milvus-pending.json"
FLUSH_MIN = 1_000  # chunks written by a run past which it flushes (Milvus advises against frequent flushes)
HEAD_FIELDS = ["path", "content_hash", "origin", "title", "author", "source", "date", "url", "indexed_at", "size",
               "mtime_ns", "ctime_ns", "chunks"]
_NONE = -1  # an unknown stat (None in the plan) as stored in an INT64 field


def run_index(store: MilvusStore, get_embedder: Callable[[], Embedder], *, rebuild: bool = False,
              progress: bool | None = None, paths: list[str | Path] | None = None) -> IndexReport:
    settings = store.settings
    t0 = time.perf_counter()
    with exclusive_run(settings, settings.lock_timeout):
        report = _run(store, get_embedder, rebuild=rebuild, progress=settings.progress if progress is None else progress,
                      names=None if paths is None else normalize_names(Path(settings.corpus), paths))
    return finished(report, t0)


def _run(store: MilvusStore, get_embedder: Callable[[], Embedder], *, rebuild: bool, progress: bool,
         names: list[str] | None) -> IndexReport:
    settings = store.settings
    pending = Path(settings.data) / PENDING_FILE
    if rebuild:
        log.warning("rebuilding: dropping the Milvus collections %s_*", settings.milvus_collection)
        store.drop()
        names = None
    if store.exists():
        store.check_model()
        dim = int(store.meta()["dimension"])
    else:
        dim = get_embedder().dim
        store.create(dim)
    milvus_terms.create(store)
    if _recover(store, pending) or not milvus_terms.has_total(store):
        milvus_terms.recount(store)  # after a killed run (its last batch's counts are unknown), or never counted
    origin = store.origin
    heads = _heads(store, origin, names)
    old = {p: tuple(None if h[k] == _NONE else int(h[k]) for k in ("size", "mtime_ns", "ctime_ns"))
           for p, h in heads.items()}
    plan = plan_run(settings, old, lambda p: heads[p]["content_hash"], names=names, rebuild=rebuild)
    report = plan.report
    if plan.restat:  # touched, not changed: remember the new stat
        rows = [{**heads[p], "size": _int(s), "mtime_ns": _int(m), "ctime_ns": _int(c), "_v": [0.0, 0.0]}
                for s, m, c, p in plan.restat]
        store.run(lambda c: c.upsert(store.heads_name, rows))
    if plan.removed:
        _journal(pending, plan.removed)
        _remove(store, plan.removed)
        _journal(pending, [])
    embedder: Embedder | None = None
    block: list[Prepared] = []
    size = 0
    for prep in plan.changed:
        block.append(prep)
        size += len(prep.hashes)
        if size >= EMBED_BLOCK:
            embedder, n = _write(store, block, embedder, get_embedder, origin, pending, set(heads))
            report.chunks_embedded += n
            block, size = [], 0
    if block:
        embedder, n = _write(store, block, embedder, get_embedder, origin, pending, set(heads))
        report.chunks_embedded += n
    written = sum(len(p.hashes) for p in plan.changed)
    if written >= FLUSH_MIN:  # seal what a large run wrote, so that Milvus indexes it now rather than later
        for name in (store.chunks_name, store.docs_name, store.heads_name):
            store.run(lambda c: c.flush(name))
    report.documents = store.count(store.heads_name)
    report.chunks = store.count(store.chunks_name)
    return report


def _int(v: int | None) -> int:
    return _NONE if v is None else int(v)


def _heads(store: MilvusStore, origin: str, names: list[str] | None) -> dict[str, dict]:
    """The head rows this run compares the corpus with: all of its origin's, or those at `names` (files, or
    everything under folders) whoever wrote them."""
    if names is None:
        return {r["path"]: r for r in store.scan(store.heads_name, f"origin == {lit(origin)}", HEAD_FIELDS)}
    return store.heads_under(names, HEAD_FIELDS)


def _journal(pending: Path, paths: list[str]) -> None:
    """Record the paths a batch is about to write (an empty list: none); fsync'd, as the next run trusts it."""
    pending.parent.mkdir(parents=True, exist_ok=True)
    tmp = pending.with_suffix(".tmp")
    with open(tmp, "w") as f:
        json.dump(paths, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, pending)


def _recover(store: MilvusStore, pending: Path) -> bool:
    """Delete the rows a killed run left for the paths it was writing, beyond each one's head version. True
    when there was such a run."""
    try:
        paths = json.loads(pending.read_text())
    except (OSError, ValueError):
        return False
    if paths:
        log.info("cleaning up after an interrupted index run (%d documents)", len(paths))
        heads = store.heads(paths)
        _delete_stale(store, {p: (heads[p]["content_hash"] if p in heads else None) for p in paths})
    _journal(pending, [])
    return bool(paths)


def _delete_stale(store: MilvusStore, live: dict[str, str | None]) -> None:
    """For each path, delete its chunk and text rows of every version but `live[path]` (all when None)."""
    items = list(live.items())
    for i in range(0, len(items), 100):
        expr = " or ".join(f"(path == {lit(p)}" + (f" and content_hash != {lit(h)})" if h else ")")
                           for p, h in items[i : i + 100])
        for name in (store.chunks_name, store.docs_name):
            store.run(lambda c: c.delete(name, filter=expr))


def _delete_unkept(store: MilvusStore, paths: list[str], chunk_ids: list[int], doc_keys: list[str]) -> None:
    """Delete the chunk and text rows of `paths` that are not the ones just written (`chunk_ids`, `doc_keys`):
    the versions the batch replaced, and a re-chunked version's chunks that are gone. Two requests a batch."""
    where = f"path in {lit_list(paths)}"
    ids = ", ".join(str(i) for i in chunk_ids)
    store.run(lambda c: c.delete(store.chunks_name, filter=f"{where} and not (id in [{ids}])"))
    store.run(lambda c: c.delete(store.docs_name, filter=f"{where} and not (key in {lit_list(doc_keys)})"))


def _remove(store: MilvusStore, paths: list[str]) -> None:
    old = milvus_terms.version_counts(store, {p: r["content_hash"] for p, r in store.heads(paths).items()})
    for i in range(0, len(paths), 500):
        expr = f"path in {lit_list(paths[i : i + 500])}"
        store.run(lambda c: c.delete(store.heads_name, filter=expr))
    milvus_terms.mark_commit(store)
    milvus_terms.apply(store, Counter(), old)
    _delete_stale(store, {p: None for p in paths})


def _write(store: MilvusStore, block: list[Prepared], embedder: Embedder | None,
           get_embedder: Callable[[], Embedder], origin: str, pending: Path,
           indexed: set[str]) -> tuple[Embedder | None, int]:
    """Write a batch of document versions and commit them (head rows); then delete the rows of the versions
    they replaced (for paths in `indexed`; a new path has none). Returns the embedder (loaded when some chunk
    text was new) and how many chunks were embedded."""
    settings = store.settings
    _journal(pending, [p.doc.path for p in block])
    needed: dict[str, tuple[str, list[tuple[int, int]]]] = {}
    for prep in block:
        for (s, e), h, sents in zip(prep.spans, prep.hashes, prep.sentences):
            needed.setdefault(h, (prep.doc.text[s:e], sents))
    known: dict[str, dict] = {}
    for r in store.query_in(store.chunks_name, "hash", needed, ["hash", "vector", "sent_spans", "sent_vectors"]):
        known.setdefault(r["hash"], r)
    missing = [h for h in needed if h not in known]
    if missing:
        embedder = embedder or get_embedder()
        store.check_model(embedder.dim)
        set_threads(settings.index_threads)
        try:
            vecs, sent_vecs = embedder.encode_chunks([needed[h][0] for h in missing], [needed[h][1] for h in missing],
                                                     batch_size=settings.batch_size)
        finally:
            set_threads(settings.query_threads)
        for h, v, sv in zip(missing, vecs, sent_vecs):
            known[h] = {"vector": np.asarray(v, dtype=np.float32).tolist(), **_sentences(needed[h][1], sv)}
    chunk_rows, doc_rows, head_rows = [], [], []
    ts = now_iso()
    for prep in block:
        d = prep.doc
        day = day_ordinal(d.date)
        quoted, roles = _quoted(prep)
        first = min(prep.spans, default=None)
        for (s, e), h in zip(prep.spans, prep.hashes):
            cid = chunk_id(d.path, d.content_hash, s, e)
            k = known[h]
            text = d.text[s:e]
            chunk_rows.append({"id": cid, "path": d.path, "content_hash": d.content_hash, "start": s, "end": e,
                               "hash": h, "text": clip(text, VARCHAR_MAX), "vector": k["vector"],
                               "terms": clip(" ".join(dict.fromkeys(terms(text))), VARCHAR_MAX),
                               "sent_spans": k["sent_spans"], "sent_vectors": k["sent_vectors"], "day": day,
                               "quotes": encode_quotes(quoted.get(cid, []), roles if (s, e) == first else ())})
        row = DocRow(d.path, d.content_hash, d.title, d.source, d.date, d.url, d.author, d.text, d.comments,
                     prep.facts)
        key = doc_key(d.path, d.content_hash)
        doc_rows += [{"key": f"{key}:{i}", "path": d.path, "content_hash": d.content_hash, "part": i, "blob": part,
                      "_v": [0.0, 0.0]} for i, part in enumerate(encode_doc(row))]
        head_rows.append({"path": d.path, "content_hash": d.content_hash, "origin": clip(origin, PATH_MAX),
                          "title": clip(d.title, META_MAX), "author": clip(d.author, META_MAX),
                          "source": clip(d.source, META_MAX), "date": d.date or "",
                          "url": clip(d.url, META_MAX), "indexed_at": ts, "size": _int(prep.size),
                          "mtime_ns": _int(prep.mtime_ns), "ctime_ns": _int(prep.ctime_ns), "chunks": len(prep.spans),
                          "_v": [0.0, 0.0]})
    # the term counts of the versions these replace (whoever wrote them), read before their rows change
    replacing = store.heads([prep.doc.path for prep in block])
    old = milvus_terms.version_counts(store, {path: r["content_hash"] for path, r in replacing.items()})
    for name, rows in ((store.chunks_name, chunk_rows), (store.docs_name, doc_rows)):
        for part in _by_size(rows):
            store.run(lambda c: c.upsert(name, part))
    store.run(lambda c: c.upsert(store.heads_name, head_rows))  # the commit point of these documents
    milvus_terms.mark_commit(store)
    milvus_terms.apply(store, milvus_terms.count_rows(chunk_rows), old)
    replaced = {p.doc.path for p in block} & indexed
    if replaced:
        _delete_unkept(store, sorted(replaced), [r["id"] for r in chunk_rows if r["path"] in replaced],
                       [r["key"] for r in doc_rows if r["path"] in replaced])
    _journal(pending, [])
    return embedder, len(missing)


def _quoted(prep: Prepared) -> tuple[dict[int, list[QuotedIn]], list[tuple[str, str]]]:
    """The document's attributed quotations by the chunk (id) each starts in, as the speaker index reads them,
    and the roles it gives quoted people where it names them."""
    info = facts.loads(prep.facts)
    if info is None:
        return {}, []
    d = prep.doc
    placed = sorted((s, chunk_id(d.path, d.content_hash, s, e)) for s, e in prep.spans)
    out: dict[int, list[QuotedIn]] = {}
    quoted = [(q.speaker, q.start, q.role) for q in info.quotations]
    for q in quoted_in(quoted, [s for s, _ in placed], [i for _, i in placed]):
        out.setdefault(q.chunk_id, []).append(q)
    return out, document_roles(info.roles)


def _by_size(rows: list[dict], limit: int = 4 << 20) -> Iterator[list[dict]]:
    """`rows` in requests of about `limit` bytes of text (gRPC messages stay well under Milvus's 64 MB)."""
    part: list[dict] = []
    size = 0
    for r in rows:
        n = sum(len(v) for v in r.values() if isinstance(v, str)) + 4 * len(r.get("vector", ()))
        if part and size + n > limit:
            yield part
            part, size = [], 0
        part.append(r)
        size += n
    if part:
        yield part


def _sentences(spans: list[tuple[int, int]], vecs: np.ndarray) -> dict[str, str]:
    """A chunk's sentence spans and int8 sentence vectors as the two VARCHAR fields (base64); none when they
    would not fit (a chunk of hundreds of one-word sentences: it is then ranked by its passage alone)."""
    sp = base64.b64encode(np.asarray(spans, dtype=np.int32).reshape(-1, 2).tobytes()).decode("ascii")
    sv = base64.b64encode(pack_sentence_vectors(vecs)).decode("ascii")
    if len(sp) > VARCHAR_MAX or len(sv) > VARCHAR_MAX:
        log.warning("a chunk's %d sentences do not fit a Milvus field; stored without sentence vectors", len(spans))
        return {"sent_spans": "", "sent_vectors": ""}
    return {"sent_spans": sp, "sent_vectors": sv}
