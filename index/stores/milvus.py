"""The Milvus store: everything a question reads lives in a Milvus server (Standalone, Distributed, or
milvus-lite's local server), so a question-answering process needs no local index and any number of them, on
any machines, answer from the same collections.

Collections (prefix `NEWSDESK_MILVUS_COLLECTION`, default `newsdesk`):
    <prefix>_chunks  one row per chunk of a document version: id (from path, content hash and span), path,
                     content_hash, start/end in the document's clean text, the chunk text's hash, the text itself
                     (analysed by Milvus: standard tokenizer, lowercase, English stop words and Snowball stemmer;
                     a BM25 function turns it into the `sparse` field), the dense `vector`, `terms` (the chunk's
                     terms as `lexical.terms` analyses them, matched with TEXT_MATCH for the answer builder's
                     document frequencies), the sentence spans and int8 sentence vectors (base64), `day`
                     (the document's publication day as a date ordinal, 0 undated: the as-of filter runs
                     inside the search as `day <= N`) and `quotes` (the attributed quotations starting in the
                     chunk: speaker, role, start; JSON), the tables of "what did X say" and pinned-day
                     questions, read once per commit by a question-answering process (`MilvusView.timeline`).
    <prefix>_docs    a document version's clean text, metadata, reader-comment spans and facts (quotations,
                     dates), compressed and cut into parts; keyed by path and content hash, never modified.
    <prefix>_heads   one row per indexed path: the content hash of its live version, the writer's origin, the
                     file's stat when hashed, metadata for /sources and the byline ("who wrote ..."). A
                     document's head row is its commit point.
    <prefix>_terms   per term, how many live chunks hold it, and the live chunk count: the answer builder's
                     document frequencies, kept by the writer (index/stores/milvus_terms.py), and the row
                     `#commit`, a stamp every commit rewrites: the store's generation, which tells a reader to
                     read its timeline and speakers again.
The chunks collection's property `newsdesk.meta` records the model, dimension and format: another model is refused with
the command that rebuilds.

Consistency: the collections are created with consistency level Strong (a read sees every write acknowledged
before it). A writer inserts a document version's chunk and text rows first, then upserts its head row, then
deletes the rows of the version it replaced; readers keep only the chunks whose content hash is their path's
head's. So every document is answered from one whole version, the old one until its head row is written; a
run killed at any point leaves each document at its previous or its new version, never a mix, and the rows it
left unreferenced are deleted by the next run (index/stores/milvus_writer.py). The term counts follow each
commit (milvus_terms says when they can drift and how they are recounted).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..lexical import _idf, terms
from ..records import IndexReport, IndexStatus, SourceInfo, Span
from ..retrieval import Candidate, fuse, make_fusion
from ..settings import Settings
from ..errors import IndexDamaged, IndexProblem, ModelMismatch
from ..speaker_index import QuotedIn, SpeakerIndex
from ..store import ChunkRow, DocRow, unpack_sentence_vectors
from ..timeline import AsOf, Timeline
from .base import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

FORMAT = 2  # 2: chunk rows carry `day` and `quotes`, head rows `author`
META_PROPERTY = "newsdesk.meta"  # the chunks collection's property holding model, dimension and format (JSON)
TEXT_ANALYZER = {"tokenizer": "standard", "filter": [
    "lowercase", {"type": "stop", "stop_words": ["_english_"]}, {"type": "stemmer", "language": "english"}]}
VARCHAR_MAX = 65535  # bytes, Milvus's limit for a VARCHAR field
PART_CHARS = 60_000  # characters of a document's (ASCII) encoded form per row of <prefix>_docs
PATH_MAX = 4096
META_MAX = 2048
STATS_TTL = 5.0  # seconds a reader reuses the live chunk count and a term's document frequency
DOC_CACHE = 512
QUERY_LIMIT = 16_384  # Milvus's largest query result
IN_BATCH = 500  # values in one `in [...]` filter
CHUNK_FIELDS = ["id", "path", "content_hash", "start", "end", "hash", "text", "sparse", "vector", "terms",
                "sent_spans", "sent_vectors", "day", "quotes"]
SCAN_BATCH = 4000  # rows per request when a reader reads its timeline and speakers
TABLES_FULL = 200  # past this many changed documents a reader reads every chunk's day and quotes again


# per live chunk, as the per-generation tables read it: (chunk id, publication day, quotations, roles)
ChunkTables = tuple[int, int, list[QuotedIn], list[tuple[str, str]]]


def server_uri(store: str) -> str:
    """The gRPC address pymilvus takes for a NEWSDESK_STORE value (milvus://host:port -> http://host:port)."""
    for scheme in ("milvus://", "tcp://"):
        if store.startswith(scheme):
            return "http://" + store[len(scheme):]
    return store


def lit(value: str) -> str:
    """A string literal for a Milvus filter expression (double-quoted, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


def lit_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def clip(text: str | None, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (Milvus VARCHAR limits are in bytes)."""
    if not text:
        return ""
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def chunk_id(path: str, content_hash: str, start: int, end: int) -> int:
    """A chunk's primary key: the same chunk of the same document version gets the same id on any writer, so a
    rerun after a killed run upserts the rows it left instead of adding copies."""
    d = hashlib.sha256(f"{path}\0{content_hash}\0{start}\0{end}".encode()).digest()
    return int.from_bytes(d[:8], "big") >> 1


def doc_key(path: str, content_hash: str) -> str:
    return hashlib.sha256(f"{path}\0{content_hash}".encode()).hexdigest()[:40]


def encode_doc(doc: DocRow) -> list[str]:
    """A document version as the parts of <prefix>_docs (compressed JSON, base64)."""
    data = json.dumps({"path": doc.path, "content_hash": doc.content_hash, "title": doc.title,
                       "source": doc.source, "date": doc.date, "url": doc.url, "author": doc.author, "text": doc.text,
                       "comments": [[s.start, s.end] for s in doc.comments], "facts": doc.facts}, ensure_ascii=False)
    blob = base64.b64encode(zlib.compress(data.encode("utf-8"), 6)).decode("ascii")
    return [blob[i : i + PART_CHARS] for i in range(0, len(blob), PART_CHARS)] or [""]


def decode_doc(parts: list[str]) -> DocRow:
    d = json.loads(zlib.decompress(base64.b64decode("".join(parts))).decode("utf-8"))
    return DocRow(d["path"], d["content_hash"], d["title"], d["source"], d["date"], d["url"], d["author"], d["text"],
                  [Span(int(a), int(b)) for a, b in d["comments"]], d["facts"])


def _rows(res: Any) -> list[dict]:
    """Rows of a query/get answer (pymilvus returns a list-like of dicts)."""
    return [dict(r) for r in res]


class MilvusStore:
    """An index in a Milvus server (`settings.store`, e.g. milvus://host:19530). Connects on first use and
    again after a failure; every failure to reach or use the server is raised as a StoreUnavailable or an
    IndexProblem that says what to do, never as a client exception."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = server_uri(settings.store.strip())
        prefix = settings.milvus_collection
        self.chunks_name, self.docs_name, self.heads_name = f"{prefix}_chunks", f"{prefix}_docs", f"{prefix}_heads"
        self.terms_name = f"{prefix}_terms"
        self._client = None
        self._client_lock = threading.Lock()
        self._meta: dict[str, Any] | None = None
        self._docs: OrderedDict[tuple[str, str], DocRow] = OrderedDict()
        self._docs_lock = threading.Lock()
        # what MilvusView's timeline and speakers were last read from: (heads read, table rows per path)
        self._table_rows: tuple[dict[str, str], dict[str, list[ChunkTables]]] = ({}, {})
        self._tables_lock = threading.Lock()

    # --- connection and errors ---------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """This writer's name for its corpus: an index run removes only documents it (or its origin) added."""
        if self.settings.milvus_origin:
            return self.settings.milvus_origin
        import socket

        return f"{socket.gethostname()}:{Path(self.settings.corpus).resolve()}"

    def client(self):  # noqa: ANN201 - pymilvus.MilvusClient
        with self._client_lock:
            if self._client is None:
                from pymilvus import MilvusClient

                # pymilvus (configured when imported) logs every failed request with its traceback, and notes
                # from milvus-lite's iterators; this module says what happened in one line instead.
                for name in ("pymilvus", "pymilvus.milvus_client"):
                    logging.getLogger(name).setLevel(logging.CRITICAL)
                for attempt in (1, 2):  # once more, shortly: a server that has just come back may refuse once
                    try:
                        with self.guard():
                            self._client = MilvusClient(uri=self.uri, token=self.settings.milvus_token or "",
                                                        db_name=self.settings.milvus_database or "",
                                                        timeout=self.settings.milvus_timeout, dedicated=True)
                        break
                    except StoreUnavailable:
                        if attempt == 2:
                            raise
                        time.sleep(0.5)
            return self._client

    def _forget_client(self) -> None:
        """Close the connection after a failure: the next request opens a new one (a connection of its own,
        `dedicated`, as pymilvus otherwise shares one per address and keeps it while the server is away)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn the client's exceptions into user-facing errors: unreachable, refused credentials, or another
        request failure (with the server's own words)."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except IndexProblem:
            raise
        except MilvusException as exc:
            msg = str(getattr(exc, "message", "") or exc)
            low = msg.lower()
            if any(w in low for w in ("auth", "credential", "permission denied", "privilege", "token")):
                raise StoreUnavailable(f"Milvus at {self.uri} refused this client's credentials ({msg}); check "
                                       "NEWSDESK_MILVUS_TOKEN (user:password or API key)") from None
            if getattr(exc, "code", None) == 2 or any(w in low for w in ("connect", "unavailable", "deadline",
                                                                          "timeout", "closed")):
                self._forget_client()  # the next request connects afresh (no reconnect backoff when it is back)
                raise StoreUnavailable(f"cannot reach Milvus at {self.uri} (is it running? NEWSDESK_STORE); "
                                       "answers resume as soon as it is back") from None
            if "collection not found" in low or "can't find collection" in low:
                raise IndexDamaged(f"a newsdesk collection is missing in Milvus at {self.uri} ({msg}); rebuild "
                                   "with: newsdesk index --rebuild (with the same NEWSDESK_STORE)") from None
            raise IndexProblem(f"Milvus at {self.uri} failed a request: {msg}") from None
        except (OSError, ConnectionError) as exc:
            self._forget_client()
            raise StoreUnavailable(f"cannot reach Milvus at {self.uri} ({exc}); is it running?") from None

    def run(self, call: Callable[[Any], T]) -> T:
        """`call(client)` with the client's failures turned into user-facing errors (`guard`); a collection the
        server released (it restarted) is loaded and the call made once more."""
        c = self.client()
        try:
            with self.guard():
                return call(c)
        except IndexProblem as exc:
            if "released" not in str(exc) and "not loaded" not in str(exc):
                raise
        log.info("Milvus released the newsdesk collections (restarted?); loading them")
        self.load()
        with self.guard():
            return call(self.client())

    def load(self) -> None:
        c = self.client()
        with self.guard():
            for name in (self.chunks_name, self.docs_name, self.heads_name, self.terms_name):
                c.load_collection(name)

    # --- schema ------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.run(lambda c: c.has_collection(self.chunks_name)))

    def meta(self) -> dict[str, Any]:
        """What the chunks collection was built with: model, dimension, format."""
        if self._meta is None:
            desc = self.run(lambda c: c.describe_collection(self.chunks_name))
            try:
                meta = json.loads((desc.get("properties") or {}).get(META_PROPERTY) or "{}")
            except ValueError:
                meta = {}
            fields = {f["name"]: f for f in desc.get("fields", [])}
            missing = [n for n in CHUNK_FIELDS if n not in fields]
            if missing or meta.get("format") != FORMAT:
                raise IndexDamaged(
                    f"the Milvus collection {self.chunks_name} at {self.uri} is not a newsdesk index of format "
                    f"{FORMAT} ({'missing ' + ', '.join(missing) if missing else 'format ' + str(meta.get('format'))});"
                    " rebuild it with: newsdesk index --rebuild (with the same NEWSDESK_STORE)")
            dim = int(fields["vector"].get("params", {}).get("dim", 0))
            if int(meta.get("dimension", 0)) != dim:
                raise IndexDamaged(f"the Milvus collection {self.chunks_name} holds {dim}-d vectors but says "
                                   f"{meta.get('dimension')}; rebuild it with: newsdesk index --rebuild")
            self._meta = meta
        return self._meta

    def check_model(self, dim: int | None = None) -> None:
        m = self.meta()
        if m.get("model") != self.settings.model or (dim is not None and int(m["dimension"]) != dim):
            raise ModelMismatch(
                f"the Milvus collection {self.chunks_name} at {self.uri} was built with model {m.get('model')!r} "
                f"({m.get('dimension')}-d), not {self.settings.model!r}; rebuild it with: newsdesk index --rebuild "
                "(with the same NEWSDESK_STORE; it drops and refills the collections)")

    def create(self, dim: int) -> None:
        """Create the three collections (those missing), indexed and loaded."""
        from pymilvus import DataType, Function, FunctionType

        c = self.client()
        with self.guard():
            if not c.has_collection(self.chunks_name):
                s = c.create_schema(auto_id=False)
                s.add_field("id", DataType.INT64, is_primary=True)
                s.add_field("path", DataType.VARCHAR, max_length=PATH_MAX)
                s.add_field("content_hash", DataType.VARCHAR, max_length=128)
                s.add_field("start", DataType.INT64)
                s.add_field("end", DataType.INT64)
                s.add_field("hash", DataType.VARCHAR, max_length=128)
                s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                            analyzer_params=TEXT_ANALYZER)
                s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
                s.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                            enable_match=True, analyzer_params={"tokenizer": "whitespace"})
                s.add_field("sent_spans", DataType.VARCHAR, max_length=VARCHAR_MAX)
                s.add_field("sent_vectors", DataType.VARCHAR, max_length=VARCHAR_MAX)
                s.add_field("day", DataType.INT64)
                s.add_field("quotes", DataType.VARCHAR, max_length=VARCHAR_MAX)
                s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                        output_field_names=["sparse"]))
                ip = c.prepare_index_params()
                kind = self.settings.milvus_index.upper()
                ip.add_index("vector", index_type=kind, metric_type="IP",
                             params={"M": 16, "efConstruction": 200} if kind == "HNSW" else {})
                ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                for field in ("path", "hash", "day"):  # the writer's, the sentence reads' and the as-of filters
                    ip.add_index(field, index_type="INVERTED")
                c.create_collection(self.chunks_name, schema=s, index_params=ip, consistency_level="Strong")
                c.alter_collection_properties(self.chunks_name, properties={META_PROPERTY: json.dumps(
                    {"format": FORMAT, "model": self.settings.model, "dimension": dim})})
            for name, fields in ((self.docs_name, [("key", 128), ("path", PATH_MAX), ("content_hash", 128)]),
                                 (self.heads_name, [("path", PATH_MAX), ("content_hash", 128), ("origin", PATH_MAX),
                                                    ("title", META_MAX), ("author", META_MAX),
                                                    ("source", META_MAX), ("date", 64),
                                                    ("url", META_MAX), ("indexed_at", 64)])):
                if c.has_collection(name):
                    continue
                s = c.create_schema(auto_id=False)
                for i, (field, size) in enumerate(fields):
                    s.add_field(field, DataType.VARCHAR, max_length=size, is_primary=i == 0)
                if name == self.docs_name:
                    s.add_field("part", DataType.INT64)
                    s.add_field("blob", DataType.VARCHAR, max_length=VARCHAR_MAX)
                else:
                    for field in ("size", "mtime_ns", "ctime_ns", "chunks"):
                        s.add_field(field, DataType.INT64)
                s.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field; unused
                ip = c.prepare_index_params()
                ip.add_index("_v", index_type="FLAT", metric_type="L2")
                ip.add_index("content_hash" if name == self.docs_name else "origin", index_type="INVERTED")
                c.create_collection(name, schema=s, index_params=ip, consistency_level="Strong")
        self._meta = None

    def drop(self) -> None:
        c = self.client()
        with self.guard():
            for name in (self.chunks_name, self.docs_name, self.heads_name, self.terms_name):
                if c.has_collection(name):
                    c.drop_collection(name)
        self._meta = None
        with self._tables_lock:
            self._table_rows = ({}, {})

    # --- reads -------------------------------------------------------------------------------------------------
    def query(self, collection: str, expr: str, fields: list[str], limit: int | None = QUERY_LIMIT) -> list[dict]:
        return _rows(self.run(lambda c: c.query(collection, filter=expr, output_fields=fields, limit=limit)))

    def query_in(self, collection: str, field: str, values: Iterable[str], fields: list[str],
                 extra: str = "") -> list[dict]:
        """Rows whose `field` is one of `values` (strings), in batches."""
        vals = list(dict.fromkeys(values))
        out: list[dict] = []
        for i in range(0, len(vals), IN_BATCH):
            expr = f"{field} in {lit_list(vals[i : i + IN_BATCH])}" + (f" and ({extra})" if extra else "")
            out += self.query(collection, expr, fields)
        return out

    def scan(self, collection: str, expr: str, fields: list[str], batch: int = 1000) -> Iterator[dict]:
        """Every row matching `expr`, in batches (for the heads of a whole corpus)."""
        it = self.run(lambda c: c.query_iterator(collection, batch_size=batch, filter=expr, output_fields=fields))
        try:
            while True:
                with self.guard():
                    batch = it.next()
                if not batch:
                    return
                yield from (dict(r) for r in batch)
        finally:
            it.close()

    def count(self, collection: str, expr: str = "") -> int:
        res = self.query(collection, expr, ["count(*)"], limit=None)
        return int(res[0]["count(*)"]) if res else 0

    def heads(self, paths: Iterable[str]) -> dict[str, dict]:
        return {r["path"]: r for r in self.query_in(self.heads_name, "path", paths, ["path", "content_hash"])}

    def heads_under(self, names: list[str], fields: list[str]) -> dict[str, dict]:
        """The head rows at these paths or inside these folders (corpus-relative names), by path."""
        out = {}
        for name in names:
            like = name.replace("\\", "\\\\").replace('"', '\\"')
            for r in self.scan(self.heads_name, f'path like "{like}%"', fields):
                p = r["path"]
                if p == name or p.startswith(name + "/"):
                    out[p] = r
        return out

    def documents(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DocRow]:
        """Document versions by (path, content hash), from the cache or the server (immutable rows)."""
        want = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], DocRow] = {}
        with self._docs_lock:
            for k in want:
                if k in self._docs:
                    self._docs.move_to_end(k)
                    out[k] = self._docs[k]
        missing = {(p, h) for p, h in want if (p, h) not in out}
        if missing:
            parts: dict[tuple[str, str], list[tuple[int, str]]] = {}
            for r in self.query_in(self.docs_name, "content_hash", {h for _, h in missing},
                                   ["path", "content_hash", "part", "blob"]):
                if (r["path"], r["content_hash"]) in missing:
                    parts.setdefault((r["path"], r["content_hash"]), []).append((int(r["part"]), r["blob"]))
            with self._docs_lock:
                for ps in parts.values():
                    d = decode_doc([b for _, b in sorted(ps)])
                    self._docs[(d.path, d.content_hash)] = out[(d.path, d.content_hash)] = d
                while len(self._docs) > DOC_CACHE:
                    self._docs.popitem(last=False)
        return out

    def table_rows(self) -> dict[str, list[ChunkTables]]:
        """Per live path: (chunk id, publication day, quotations) of its live version's chunks. Kept between
        reads: a read after a commit fetches only the paths whose head changed (one scan of the heads, then the
        chunks of those paths), or every chunk when more than TABLES_FULL paths changed."""
        heads = {r["path"]: r["content_hash"] for r in self.scan(self.heads_name, "", ["path", "content_hash"])}
        with self._tables_lock:
            known_heads, known = self._table_rows
        changed = [p for p, h in heads.items() if known_heads.get(p) != h]
        fields = ["id", "path", "content_hash", "day", "quotes"]
        if len(changed) > TABLES_FULL:
            kept: dict[str, list[ChunkTables]] = {}
            found = self.scan(self.chunks_name, "", fields, batch=SCAN_BATCH)
        else:
            kept = {p: got for p, got in known.items() if p in heads and known_heads[p] == heads[p]}
            found = (r for i in range(0, len(changed), 100)
                     for r in self.scan(self.chunks_name, f"path in {lit_list(changed[i : i + 100])}", fields,
                                        batch=SCAN_BATCH))
        fresh: dict[str, list[ChunkTables]] = {}
        for r in found:
            if heads.get(r["path"]) == r["content_hash"]:
                cid = int(r["id"])
                fresh.setdefault(r["path"], []).append((cid, int(r["day"]), *decode_quotes(cid, r["quotes"])))
        out = {**kept, **fresh}
        with self._tables_lock:
            self._table_rows = (heads, out)
        log.info("read the timeline and speakers of %d changed documents (%d live)", len(changed), len(heads))
        return out

    # --- the IndexStore interface ------------------------------------------------------------------------------
    def generation(self) -> int:
        """The stamp of the last commit (milvus_terms.last_commit): Milvus serves the live state, and a new
        stamp tells a reader to read its per-generation tables (timeline, speakers) again. 1 for collections
        no commit stamped yet, 0 when there are none. One primary-key read."""
        from .milvus_terms import last_commit

        stamp = last_commit(self)
        if stamp is not None:
            return stamp
        return 1 if self.exists() else 0

    def open_view(self) -> "MilvusView":
        if not self.exists():
            raise IndexDamaged(f"no newsdesk index in Milvus at {self.uri}; build it with: newsdesk index")
        self._meta = None
        self.check_model()
        self.load()
        return MilvusView(self, self.generation())

    def index(self, get_embedder: Callable, *, rebuild: bool = False, progress: bool | None = None,
              paths: list[str | Path] | None = None) -> IndexReport:
        from .milvus_writer import run_index

        return run_index(self, get_embedder, rebuild=rebuild, progress=progress, paths=paths)

    def recount_terms(self) -> None:
        """Count the live chunks' terms from scratch (`milvus_terms.recount`), as this data folder's writer:
        repairs the counts two origins writing the same terms at once can leave off (`newsdesk index
        --recount-terms`), without the full rebuild."""
        from ..indexer import exclusive_run
        from .milvus_terms import recount

        if not self.exists():
            raise IndexDamaged(f"no newsdesk index in Milvus at {self.uri}; build it with: newsdesk index")
        self.check_model()
        with exclusive_run(self.settings, self.settings.lock_timeout):
            recount(self)

    def status(self) -> IndexStatus:
        if not self.exists():
            return IndexStatus(documents=0, chunks=0, updated_at=None, model=self.settings.model, sources=[])
        heads = sorted(self.scan(self.heads_name, "", ["path", "title", "source", "date", "url", "chunks",
                                                        "indexed_at"]), key=lambda r: r["path"])
        sources = [SourceInfo(r["path"], r["title"] or None, r["source"] or None, r["date"] or None, r["url"] or None,
                              int(r["chunks"])) for r in heads]
        return IndexStatus(documents=len(sources), chunks=sum(s.chunks for s in sources),
                           updated_at=max((r["indexed_at"] for r in heads), default=None),
                           model=self.meta().get("model", self.settings.model), sources=sources)

    def indexed(self, names: list[str]) -> list[str]:
        if not self.exists():
            return []
        return sorted(self.heads_under(names, ["path"]))

    def document(self, path: str) -> DocRow | None:
        head = self.heads([path]).get(path)
        if head is None:
            return None
        return self.documents([(path, head["content_hash"])]).get((path, head["content_hash"]))


class MilvusView:
    """The live index in Milvus, as a question reads it (it is its own retriever)."""

    def __init__(self, store: MilvusStore, generation: int = 1) -> None:
        self.store = store
        self.generation = generation
        self.retriever = self
        self.fusion = make_fusion(store.settings.fusion)
        self._dim = int(store.meta()["dimension"])
        self._sentences: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._stats: dict[str, tuple[float, int]] = {}  # term (or milvus_terms.TOTAL) -> (when read, count)
        self._lock = threading.Lock()
        self._read: tuple[Timeline, SpeakerIndex] | None = None
        self._read_lock = threading.Lock()  # the first users of the tables wait for one scan
        # a question's requests (two searches, the statistics of its terms) go out together
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="newsdesk-milvus")

    # --- retrieval ---------------------------------------------------------------------------------------------
    def search(self, query_vec: np.ndarray, query_text: str, k: int = 30,
               allow: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Candidate]:
        """Dense and BM25 searches (two requests, so that each candidate keeps both scores and ranks for the
        answer builder), stale versions dropped, fused as the embedded store fuses. An as-of filter
        (`timeline.AsOf`) runs inside both searches (`day <= N`; undated chunks are day 0); any other
        `allow(ids)` (a boolean mask) drops chunks from the results."""
        s = self.store
        fields = ["path", "content_hash"]
        expr = f"day <= {allow.day.toordinal()}" if isinstance(allow, AsOf) else ""
        if expr:
            allow = None
        dense_params: dict[str, Any] = {"metric_type": "IP"}
        if s.settings.milvus_index.upper() == "HNSW":
            dense_params["params"] = {"ef": max(128, k)}
        q_terms = set(terms(query_text))
        dense_f = self._pool.submit(s.run, lambda c: c.search(
            s.chunks_name, data=[np.asarray(query_vec, dtype=np.float32).tolist()], anns_field="vector", limit=k,
            filter=expr, search_params=dense_params, output_fields=fields))
        lexical_f = self._pool.submit(s.run, lambda c: c.search(
            s.chunks_name, data=[query_text], anns_field="sparse", limit=k, search_params={"metric_type": "BM25"},
            filter=expr, output_fields=fields)) if q_terms else None
        # the answer builder asks for the idf of each question term next: have them ready (one read, cached)
        stats = self._pool.submit(self._counts, q_terms)
        dense = dense_f.result()[0]
        lexical = lexical_f.result()[0] if lexical_f is not None else []
        stats.result()
        hits = [(h["id"], h["distance"], h["entity"]) for h in list(dense) + list(lexical)]
        heads = s.heads({e["path"] for _, _, e in hits})
        live = {i for i, _, e in hits if heads.get(e["path"], {}).get("content_hash") == e["content_hash"]}

        def keep(res: Any, bm25: bool) -> tuple[np.ndarray, np.ndarray]:
            # Milvus reports a BM25 score as a negative distance (smaller is better): the score is its magnitude.
            pairs = [(h["id"], abs(h["distance"]) if bm25 else h["distance"]) for h in res if h["id"] in live]
            ids = np.array([i for i, _ in pairs], dtype=np.int64)
            scores = np.array([d for _, d in pairs], dtype=np.float32)
            if allow is not None and len(ids):
                mask = allow(ids)
                ids, scores = ids[mask], scores[mask]
            return ids, scores

        return fuse(self.fusion, keep(dense, False), keep(lexical, True), k)

    # --- rows --------------------------------------------------------------------------------------------------
    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        want = list(dict.fromkeys(int(i) for i in ids))
        if not want:
            return {}
        s = self.store
        rows = _rows(s.run(lambda c: c.get(s.chunks_name, ids=want, output_fields=[
            "path", "content_hash", "start", "end", "hash", "sent_spans", "sent_vectors"])))
        docs = s.documents((r["path"], r["content_hash"]) for r in rows)
        out: dict[int, ChunkRow] = {}
        for r in rows:
            doc = docs.get((r["path"], r["content_hash"]))
            if doc is None:
                continue
            self._remember_sentences(r)
            out[int(r["id"])] = ChunkRow(int(r["id"]), r["path"], int(r["start"]), int(r["end"]), r["hash"], doc)
        return out

    def _remember_sentences(self, row: dict) -> None:
        if not row.get("sent_spans"):
            return
        spans = np.frombuffer(base64.b64decode(row["sent_spans"]), dtype=np.int32).reshape(-1, 2)
        vecs = unpack_sentence_vectors(base64.b64decode(row["sent_vectors"]), len(spans), self._dim)
        with self._lock:
            self._sentences[row["hash"]] = (spans, vecs)
            while len(self._sentences) > 4096:
                self._sentences.popitem(last=False)

    def sentences(self, hashes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            out = {h: self._sentences[h] for h in hashes if h in self._sentences}
        missing = [h for h in dict.fromkeys(hashes) if h not in out]
        if missing:
            for r in self.store.query_in(self.store.chunks_name, "hash", missing, ["hash", "sent_spans",
                                                                                   "sent_vectors"]):
                self._remember_sentences(r)
            with self._lock:
                out.update({h: self._sentences[h] for h in missing if h in self._sentences})
        return out

    # --- per-generation tables ---------------------------------------------------------------------------------
    def _tables(self) -> tuple[Timeline, SpeakerIndex]:
        """The timeline and the speaker index of the live chunks, on first use: the heads are read, and the
        `day` and `quotes` fields of the chunks of each path's live version, only for the paths whose version
        changed since the store last read them (all on the first read; `MilvusStore.table_rows`). Threads asking
        at the same time (a question and `Engine.warm`) wait for one read."""
        read = self._read
        if read is not None:
            return read
        with self._read_lock:
            if self._read is None:
                rows = self.store.table_rows()
                days = [(cid, day, path) for path, got in rows.items() for cid, day, _, _ in got]
                quoted = [q for got in rows.values() for _, _, qs, _ in got for q in qs]
                roles = [r for got in rows.values() for _, _, _, rs in got for r in rs]
                self._read = (Timeline.from_rows(days), SpeakerIndex.from_quotations(quoted, roles))
            return self._read

    def timeline(self) -> Timeline:
        return self._tables()[0]

    def speakers(self) -> SpeakerIndex:
        return self._tables()[1]

    def chunk_vectors(self, ids: list[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.store
        found: list[int] = []
        vecs: list[np.ndarray] = []
        for i in range(0, len(ids), IN_BATCH):
            part = [int(x) for x in ids[i : i + IN_BATCH]]
            for r in _rows(s.run(lambda c: c.get(s.chunks_name, ids=part, output_fields=["vector"]))):
                v = np.asarray(r["vector"], dtype=np.float32)
                if v.size == dim:
                    found.append(int(r["id"]))
                    vecs.append(v)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.asarray(found, dtype=np.int64), np.vstack(vecs)

    def titles(self) -> list[tuple[str, str | None, str | None]]:
        s = self.store
        rows = sorted(s.scan(s.heads_name, "", ["path", "title", "author"]), key=lambda r: r["path"])
        return [(r["path"], r["title"] or None, r["author"] or None) for r in rows]

    def document(self, path: str) -> DocRow | None:
        return self.store.document(path)

    # --- BM25 statistics ---------------------------------------------------------------------------------------
    def _counts(self, words: Iterable[str]) -> dict[str, int]:
        """Document frequencies of `words` and the live chunk count (key `milvus_terms.TOTAL`): from the cache
        (STATS_TTL seconds), else one read of the writer's term counts."""
        from . import milvus_terms

        want = [w for w in dict.fromkeys(words) if _countable(w)] + [milvus_terms.TOTAL]
        now = time.monotonic()
        with self._lock:
            out = {w: hit[1] for w in want if (hit := self._stats.get(w)) is not None and now - hit[0] < STATS_TTL}
        missing = [w for w in want if w not in out]
        if missing:
            got = self._read_counts(missing)
            with self._lock:
                if len(self._stats) > 50_000:
                    self._stats.clear()
                self._stats.update((w, (now, v)) for w, v in got.items())
            out.update(got)
        return out

    def _read_counts(self, words: list[str]) -> dict[str, int]:
        from . import milvus_terms

        s = self.store
        try:
            got = milvus_terms.read(s, words)
        except IndexDamaged:  # no terms collection: an index built before the writer kept the counts
            got = None
        if got is not None:
            return got
        log.info("no term counts in %s yet (the next index run writes them); counting chunks instead", s.terms_name)
        return {w: s.count(s.chunks_name) if w == milvus_terms.TOTAL
                else s.count(s.chunks_name, f"TEXT_MATCH(terms, {lit(w)})") for w in words}

    def df(self, term: str) -> int:
        """How many live chunks hold the term (the writer's count; `milvus_terms`)."""
        return self._counts([term]).get(term, 0)

    def idf(self, term: str) -> float:
        from .milvus_terms import TOTAL

        counts = self._counts([term])
        return _idf(counts[TOTAL], counts.get(term, 0))


def encode_quotes(quoted: Iterable[QuotedIn], roles: Iterable[tuple[str, str]] = ()) -> str:
    """A chunk's attributed quotations as its `quotes` field: JSON [[speaker, role, start], ...], then, in a
    document's first chunk, the roles the document gives quoted people where it names them as [[name, role],
    ...] (`speaker_index.document_roles`); as many as fit the field (a chunk holds a few; the limit is never
    near)."""
    out: list[list] = []
    size = 2
    items = [[q.speaker, q.role, q.start] for q in quoted] + [[name, role] for name, role in roles]
    for item in items:
        n = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 1
        if size + n > VARCHAR_MAX:
            log.warning("a chunk's quotations do not all fit its Milvus field; %d kept", len(out))
            break
        out.append(item)
        size += n
    return json.dumps(out, ensure_ascii=False)


def decode_quotes(chunk_id: int, field: str) -> tuple[list[QuotedIn], list[tuple[str, str]]]:
    """A chunk's `quotes` field (`encode_quotes`): its quotations, and the (name, role) pairs a document's first
    chunk carries."""
    items = json.loads(field or "[]")
    return ([QuotedIn(item[0], chunk_id, int(item[2]), item[1]) for item in items if len(item) == 3],
            [(item[0], item[1]) for item in items if len(item) == 2])


def _countable(term: str) -> bool:
    """A term as `lexical.terms` makes them (word characters); anything else no chunk holds."""
    return bool(term) and all(ch.isalnum() or ch == "_" for ch in term)
