"""One settings object, read from the environment and `.env`."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DATA = Path(".newsdesk")
DEFAULT_BACKEND = "auto"
DEFAULT_GPU_BATCH_SIZE = 512


class Settings(BaseSettings):
    """Engine settings. Every field is documented in `.env.example`."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", env_file=".env", extra="ignore")

    corpus: Path = Field(default=Path("corpus"), description="Folder of source documents.")
    data: Path = Field(default=DEFAULT_DATA, description="Folder holding the index.")
    model: str = Field(
        default=DEFAULT_MODEL,
        description="sentence-transformers model name or path; the default loads the bundled all-MiniLM-L6-v2.",
    )
    device: str | None = Field(default=None, description="torch device for embedding (cpu, cuda); auto when unset.")
    batch_size: int = Field(default=32, ge=1, description="Chunks embedded per batch while indexing.")
    query_threads: int = Field(default=1, ge=1, description="CPU threads for a single query.")
    index_threads: int = Field(
        default=0, ge=0,
        description="CPU cores an index run uses: embedding threads, and worker processes that read, clean, chunk "
        "and extract facts when 100 or more files changed (fewer are read by one worker); 0 means all cores.",
    )
    max_file_mb: float = Field(default=20.0, gt=0, description="Files larger than this are skipped.")
    file_timeout: float = Field(
        default=120.0, ge=0,
        description="Seconds a worker process may spend reading one file (load, clean, chunk, facts); a file "
        "taking longer is skipped with that reason and its worker replaced. 0: no limit.",
    )
    file_memory_mb: int = Field(
        default=4096, ge=0,
        description="Address space (MB) of each worker process that reads files: a file whose parsing needs more "
        "is skipped with that reason (a parser bomb costs one file, not the run). 0: no cap.",
    )
    chunk_words: int = Field(default=140, ge=20, description="Target words per chunk.")
    max_chunk_words: int = Field(default=180, ge=20, description="Upper bound of words per chunk.")
    top_k: int = Field(default=5, ge=1, le=50, description="Results per answer.")
    candidates: int = Field(
        default=30, ge=1,
        description="Chunks retrieved per question: dense and BM25 search each return this many, and the best "
        "this many after fusion go to the answer builder.",
    )
    passages: int = Field(
        default=12, ge=1,
        description="Candidate passages whose sentences are scored for an answer (the best by fused rank, plus "
        "any that dense or BM25 ranks near the top).",
    )
    rerank_top: int = Field(
        default=30, ge=1, description="Best-scored sentences the optional cross-encoder (NEWSDESK_RERANKER) reorders."
    )
    reranker: str | None = Field(
        default=None, description="Optional sentence-transformers CrossEncoder name or path for reranking."
    )
    quote_weight: float = Field(
        default=2.0, ge=0,
        description="Weight of each returned quote's own similarity to the question (the quote embedded alone) "
        "when the results are put in order; 0 turns it off (saves one small embedding per question).",
    )
    fusion: str = Field(default="rrf", description="How dense and BM25 candidates are fused: rrf or convex.")
    lock_timeout: float = Field(default=10.0, ge=0, description="Seconds an index run waits for another writer.")
    watch: bool = Field(
        default=False,
        description="Long-running front ends (the Discord bot) watch the corpus folder and index it at start and "
        "whenever files change (`newsdesk watch` does the same alone).",
    )
    warm_at_start: bool = Field(
        default=True,
        description="Long-running front ends (the Discord bot, the terminal chat) load the model, the index and "
        "its timeline and speaker tables in the background at start, so that the first question is as fast as "
        "the next ones; off, the first question loads them.",
    )
    progress: bool = Field(default=True, description="Show a progress bar on stderr while indexing.")
    backend: str = Field(
        default=DEFAULT_BACKEND,
        description="Embedding backend: onnx-int8 (int8 ONNX export of the model, built once into the model "
        "cache; CPU), torch (full precision, the reference; half precision on a CUDA GPU), or auto: torch on a "
        "CUDA GPU, else onnx-int8.",
    )
    model_cache: Path | None = Field(
        default=None, description="Folder for derived models (the int8 ONNX build); default <data>/models."
    )
    gpu_batch_size: int = Field(default=DEFAULT_GPU_BATCH_SIZE, ge=1, description="Chunks per batch when embedding on a CUDA GPU.")
    exact_max_chunks: int = Field(
        default=200_000, ge=0,
        description="Up to this many chunks the vector index is exact (flat); above it, approximate (IVF).",
    )
    ivf_nprobe: int = Field(
        default=0, ge=0,
        description="IVF lists searched per query; 0 picks a value measured for recall@10 >= 0.98.",
    )
    log_level: str | None = Field(
        default=None,
        description="DEBUG, INFO, WARNING or ERROR. Unset: INFO for the bot and `newsdesk watch`, WARNING for "
        "one-off commands (-v makes them INFO).",
    )
    log_file: Path | None = Field(
        default=None,
        description="Also write the log to this file (rotated at 10 MB, 5 old files kept); unset: stderr only.",
    )
    faiss_gpu: bool = Field(default=True, description="Search FAISS on the GPU when faiss has GPU support and CUDA is up.")
    fetch_allow_private: bool = Field(
        default=False,
        description="Let /add URL and feeds fetch from loopback, private and link-local addresses (intranets, "
        "tests); off, only public addresses are fetched.",
    )
    fetch_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDR ranges fetched even though they are not public, e.g. 10.20.0.0/16 "
        "for one intranet (narrower than NEWSDESK_FETCH_ALLOW_PRIVATE).",
    )
    fetch_timeout: float = Field(default=20.0, gt=0, description="Seconds one web fetch may take in all.")
    fetch_max_redirects: int = Field(default=5, ge=0, description="Redirects a web fetch follows.")
    feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated RSS/Atom feed (or site page) URLs always followed, besides those added "
        "with `newsdesk follow` or /follow.",
    )
    feed_minutes: float = Field(default=15.0, gt=0, description="Minutes between two polls of the followed feeds.")

    store: str = Field(
        default="embedded",
        description="Where the search indexes live: embedded (FAISS + SQLite in the data folder) or a Milvus "
        "server, milvus://host:19530 (or http(s)://host:port); with Milvus, asking needs no local index "
        "(docs/scaling.md).",
    )
    milvus_token: str | None = Field(
        default=None, description="Milvus credentials, user:password or an API key; unset without authentication."
    )
    milvus_database: str | None = Field(default=None, description="Milvus database; the server's default when unset.")
    milvus_collection: str = Field(
        default="newsdesk",
        description="Prefix of the Milvus collections (<prefix>_chunks, <prefix>_docs, <prefix>_heads).",
    )
    milvus_timeout: float = Field(default=10.0, gt=0, description="Seconds a Milvus request may take.")
    milvus_index: str = Field(
        default="FLAT",
        description="Milvus index type of the dense vectors: FLAT (exact, as the embedded store up to "
        "exact_max_chunks) or HNSW (approximate, for many millions of chunks).",
    )
    milvus_origin: str | None = Field(
        default=None,
        description="Name of this writer's corpus in Milvus; an index run removes only documents of its own "
        "origin. Default: <hostname>:<absolute corpus path>.",
    )

    @field_validator("fetch_allow_networks", "feeds", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("fetch_allow_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad range
        return value
