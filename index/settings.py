"""One settings object, read from the environment and `.env`."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Engine settings. Every field is documented in `.env.example`."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", env_file=".env", extra="ignore")

    corpus: Path = Field(default=Path("corpus"), description="Folder of source documents.")
    data: Path = Field(default=Path(".newsdesk"), description="Folder holding the index.")
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
        "and extract facts when 100 or more files changed; 0 means all cores, 1 keeps everything in one process.",
    )
    max_file_mb: float = Field(default=20.0, gt=0, description="Files larger than this are skipped.")
    chunk_words: int = Field(default=140, ge=20, description="Target words per chunk.")
    max_chunk_words: int = Field(default=180, ge=20, description="Upper bound of words per chunk.")
    top_k: int = Field(default=5, ge=1, le=50, description="Results per answer.")
    reranker: str | None = Field(
        default=None, description="Optional sentence-transformers CrossEncoder name or path for reranking."
    )
    quote_weight: float = Field(
        default=2.0, ge=0,
        description="Weight of each returned quote's own similarity to the question (the quote embedded alone) "
        "when the results are put in order; 0 turns it off (it costs ~10 ms a question on one CPU thread).",
    )
    fusion: str = Field(default="rrf", description="How dense and BM25 candidates are fused: rrf or convex.")
    lock_timeout: float = Field(default=10.0, ge=0, description="Seconds an index run waits for another writer.")
    progress: bool = Field(default=True, description="Show a progress bar on stderr while indexing.")
    backend: str = Field(
        default="auto",
        description="Embedding backend: onnx-int8 (int8 ONNX export of the model, built once into the model "
        "cache; CPU), torch (full precision, the reference; half precision on a CUDA GPU), or auto: torch on a "
        "CUDA GPU, else onnx-int8.",
    )
    model_cache: Path | None = Field(
        default=None, description="Folder for derived models (the int8 ONNX build); default <data>/models."
    )
    gpu_batch_size: int = Field(default=512, ge=1, description="Chunks per batch when embedding on a CUDA GPU.")
    exact_max_chunks: int = Field(
        default=200_000, ge=0,
        description="Up to this many chunks the vector index is exact (flat); above it, approximate (IVF).",
    )
    ivf_nprobe: int = Field(
        default=0, ge=0,
        description="IVF lists searched per query; 0 picks a value measured for recall@10 >= 0.98.",
    )
    faiss_gpu: bool = Field(default=True, description="Search FAISS on the GPU when faiss has GPU support and CUDA is up.")
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
