"""Embeddings: the bundled all-MiniLM-L6-v2 by default (any sentence-transformers model by setting), run by the
backend `NEWSDESK_BACKEND` names:

- `onnx-int8`: the transformer exported to ONNX with int8 weights (index/onnx_backend.py), run by onnxruntime
  on the CPU: several times the speed of full precision at nearly the same vectors and eval metrics (measured
  in docs/scaling.md). Built once into
  `<data>/models/` (or `NEWSDESK_MODEL_CACHE`; copied from a per-user cache when another data folder built it);
  torch is not imported at query time.
- `torch`: sentence-transformers in full precision on the CPU, the reference; on a CUDA GPU (when
  `torch.cuda.is_available()` and no other device is set) the same model in half precision with large batches
  (`NEWSDESK_GPU_BATCH_SIZE`), fed by tokenizing worker processes.
- `auto` (the default): torch on a CUDA GPU, else onnx-int8 (torch for a model the int8 export cannot take).

Every backend produces token embeddings; the pooling is shared: a chunk's vector is the model's pooling (mean
of all tokens for MiniLM), normalized, and each sentence's vector is the mean of the chunk's tokens inside the
sentence's character span ("late chunking"), normalized, from the same forward pass.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .models import resolve_model
from .settings import DEFAULT_BACKEND, DEFAULT_DATA, DEFAULT_GPU_BATCH_SIZE, Settings

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx-int8")

_threads = [1]  # CPU threads the next forward pass should use (set_threads)


def set_threads(n: int) -> None:
    """CPU threads for the embedding backends and FAISS (1 for single queries; all cores while indexing).
    torch is only touched when something imported it already (the int8 backend runs without it)."""
    import faiss

    n = n if n > 0 else (os.cpu_count() or 1)
    _threads[0] = n
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def cuda_available() -> bool:
    """True when torch sees a CUDA GPU. Without an NVIDIA driver on the machine torch is not even imported."""
    if not os.path.exists("/proc/driver/nvidia/version") and "torch" not in sys.modules:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover
        return False


# --- pooling (shared by the backends) ----------------------------------------------------------------------------
def span_masks(offsets: np.ndarray, sentences: Sequence[Sequence[Sequence[Sequence[int]]]] | Sequence,
               width: int | None = None) -> np.ndarray:
    """(batch, max sentences, tokens) float32 masks: token t belongs to sentence j when its character offsets lie
    inside the sentence's (start, end) span. Special and padding tokens (empty offsets) belong to none."""
    b, L = offsets.shape[:2]
    s_max = width if width is not None else max((len(s) for s in sentences), default=0)
    out = np.zeros((b, max(s_max, 1), L), dtype=np.float32)
    a, e = offsets[..., 0], offsets[..., 1]
    real = e > a
    for i, spans in enumerate(sentences):
        if not len(spans):
            continue
        sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        out[i, : len(sp)] = real[i][None, :] & (a[i][None, :] >= sp[:, :1]) & (e[i][None, :] <= sp[:, 1:])
    return out


def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


def mean_pool(tokens: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    m = attention_mask.astype(np.float32)[..., None]
    return (tokens * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


# --- tokenizing in worker processes (the GPU path: the GPU outruns one Python tokenizing thread 20x) -----------
_worker_tok: Any = None


def _worker_init(tokenizer_json: str, max_length: int) -> None:
    global _worker_tok
    from .token_feed import SentenceTokens

    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _worker_tok = SentenceTokens(tokenizer_json, max_length)


def _worker_prepare(texts: list[str], sentences: list | None):
    """Token ids, attention mask and (with sentences) per-token sentence index, padded to the batch's longest
    (index/token_feed.py)."""
    return _worker_tok.prepare(texts, sentences)


# --- backends ----------------------------------------------------------------------------------------------------
class _TorchBackend:
    """sentence-transformers model; full precision on the CPU, half precision on CUDA."""

    name = "torch"

    def __init__(self, path: str, device: str | None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        if torch.get_num_threads() != _threads[0]:
            torch.set_num_threads(_threads[0])
        if device is None and cuda_available():
            device = "cuda"
        self.model = SentenceTransformer(path, device=device)
        self.device = str(self.model.device)
        self.gpu = self.device.startswith("cuda")
        if self.gpu:
            self.model.half()
        self.tokenizer = self.model.tokenizer
        self.max_length = int(self.model.max_seq_length)
        self.dim = int(self.model.get_embedding_dimension())
        self.torch = torch

    def forward(self, enc: dict[str, np.ndarray], masks: np.ndarray | None):
        """Chunk vectors and, with masks, sentence vectors (normalized means of the tokens in each span)."""
        torch = self.torch
        feats = {k: torch.from_numpy(np.asarray(v, dtype=np.int64)).to(self.device, non_blocking=True)
                 for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.inference_mode():
            out = self.model.forward(feats)
            chunk = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=-1)
            sents = None
            if masks is not None:
                tok = out["token_embeddings"]
                if masks.ndim == 2:  # per-token sentence index: one-hot on the device
                    idx = torch.from_numpy(masks).to(self.device, non_blocking=True).long()
                    n_sent = int(masks.max()) + 1 if masks.size else 1
                    rng = torch.arange(max(n_sent, 1), device=self.device).view(1, -1, 1)
                    m = (idx.unsqueeze(1) == rng).to(tok.dtype)
                else:
                    m = torch.from_numpy(masks).to(self.device, non_blocking=True).to(tok.dtype)
                sums = torch.bmm(m, tok[:, : m.shape[2]]).float()
                sents = torch.nn.functional.normalize(sums, dim=-1)  # an empty span stays zero
                sents = (sents.half() if self.gpu else sents).cpu().numpy()
            return chunk.cpu().numpy(), sents


class _OnnxBackend:
    name = "onnx-int8"
    gpu = False
    device = "cpu"

    def __init__(self, folder: Path) -> None:
        from .onnx_backend import OnnxInt8Model

        self.model = OnnxInt8Model(folder)
        self.tokenizer = self.model.tokenizer
        self.max_length = self.model.max_length
        self.dim = self.model.dim

    def forward(self, enc: dict[str, np.ndarray], masks: np.ndarray | None):
        tok = self.model.forward(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"), 1)  # parallelism comes from concurrent calls
        chunk = _normalize(mean_pool(tok, enc["attention_mask"]))
        sents = _normalize(np.matmul(masks, tok[:, : masks.shape[2]])) if masks is not None else None
        return chunk, sents


class Embedder:
    """Loads the model once; encodes normalized float32 vectors. Thread-safe.

    `backend` is `torch`, `onnx-int8` or `auto` (torch on a CUDA GPU, else onnx-int8); `cache` is the folder of
    derived models (the int8 build; default `.newsdesk/models`). Nothing here reads the environment: the one
    settings object does that, and `Embedder.from_settings(s)` takes every argument from it."""

    def __init__(self, model: str, device: str | None = None, *, backend: str = DEFAULT_BACKEND,
                 cache: Path | None = None, gpu_batch_size: int = DEFAULT_GPU_BATCH_SIZE) -> None:
        cache = cache if cache is not None else DEFAULT_DATA / "models"
        backend = backend.lower()
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        auto = backend == "auto"
        if auto:
            gpu = device is not None and device.startswith("cuda") or device is None and cuda_available()
            backend = "torch" if gpu else "onnx-int8"
        self.name = model
        path = resolve_model(model)
        if Path(path).exists():
            # A local folder needs no hub; never reach for one at run time.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if backend == "onnx-int8" and device not in (None, "cpu"):
            log.warning("the onnx-int8 backend runs on the CPU; device %s ignored", device)
        log.info("loading embedding model %s (%s)", path, backend)
        self._impl: Any = None
        if backend == "onnx-int8":
            from .onnx_backend import ensure_int8

            try:
                self._impl = _OnnxBackend(ensure_int8(model, Path(cache).resolve()))
            except ValueError as exc:  # a model the int8 export cannot take (pooling, slow tokenizer)
                if not auto:
                    raise
                log.warning("%s; using the torch backend", exc)
        if self._impl is None:
            self._impl = _TorchBackend(path, device)
        self.backend = self._impl.name
        self.device = self._impl.device
        self.dim = int(self._impl.dim)
        self.tokenizer = self._impl.tokenizer
        self.max_length = int(self._impl.max_length)
        self.gpu_batch_size = int(gpu_batch_size)
        self._lock = threading.Lock()
        self._pool: Any = None
        self._pool_size = 0
        self.pool_workers = 0  # > 0: tokenize in that many worker processes on the CPU too (tests)
        if self.backend == "torch":
            self.model = self._impl.model  # the SentenceTransformer, for callers that used it

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.model, settings.device, backend=settings.backend,
                   cache=settings.model_cache or Path(settings.data) / "models",
                   gpu_batch_size=settings.gpu_batch_size)

    def _batch(self, batch_size: int) -> int:
        return max(batch_size, self.gpu_batch_size) if self._impl.gpu else batch_size

    def block_size(self, batch_size: int, cpu_block: int) -> int:
        """Chunks a caller should hand to one `encode_chunks` call: `cpu_block` normally; where batches are
        tokenized by worker processes (a GPU), 32 batches (16,384 chunks at the default 512), since a call no
        larger than one batch bypasses the workers and each call drains and refills their pipeline."""
        if self._impl.gpu or self.pool_workers > 0:
            return max(cpu_block, 32 * self._batch(batch_size))
        return cpu_block

    def _tokenize(self, texts: list[str], offsets: bool) -> dict[str, np.ndarray]:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                             return_offsets_mapping=offsets, return_tensors="np")
        return dict(enc)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)

        def prepare(idx: np.ndarray):
            return idx, self._tokenize([texts[j] for j in idx], offsets=False)

        def run(job) -> None:
            idx, enc = job
            out[idx] = self._impl.forward(enc, None)[0]

        with self._lock:
            if self._use_pool(len(texts), batch_size):
                for idx, enc, _ in self._pool_batches(texts, None, batch_size):
                    out[idx] = self._impl.forward(enc, None)[0]
            else:
                self._run_batches(texts, batch_size, prepare, run)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_chunks(
        self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors plus one vector per sentence from the same forward pass ("late chunking"): a
        sentence's vector is the mean of its tokens' contextual embeddings inside the chunk, normalized.
        `sentences` holds (start, end) character spans relative to each text. A sentence past the model's
        token limit gets a zero vector (it is then ranked by its words alone)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32), []
        texts = list(texts)
        chunk_vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        sent_vecs: list[np.ndarray] = [np.zeros((len(s), self.dim), dtype=np.float32) for s in sentences]

        def prepare(idx: np.ndarray):
            enc = self._tokenize([texts[j] for j in idx], offsets=True)
            offsets = enc.pop("offset_mapping")
            return idx, enc, span_masks(offsets, [sentences[j] for j in idx])

        def run(job) -> None:
            idx, enc, masks = job
            chunk, sents = self._impl.forward(enc, masks)
            chunk_vecs[idx] = chunk
            for r, j in enumerate(idx):
                k = min(len(sentences[j]), sents.shape[1])
                sent_vecs[j][:k] = sents[r, :k]

        with self._lock:
            if self._use_pool(len(texts), batch_size):
                for job in self._pool_batches(texts, list(sentences), batch_size):
                    run(job)
            else:
                self._run_batches(texts, batch_size, prepare, run)
        return chunk_vecs, sent_vecs

    # --- the GPU feed: batches tokenized by worker processes -------------------------------------------------
    def _use_pool(self, n: int, batch_size: int) -> bool:
        from .processes import can_spawn

        return (self._impl.gpu or self.pool_workers > 0) and n > self._batch(batch_size) and can_spawn()

    def _pool_batches(self, texts: list[str], sentences: list | None, batch_size: int):
        """(idx, encoding, sentence index) per length-sorted batch, prepared by worker processes a few batches
        ahead of the GPU."""
        from collections import deque

        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            from .processes import spawn

            n = self.pool_workers or max(1, min(32, (os.cpu_count() or 2) - 1))
            self._pool = ProcessPoolExecutor(n, mp_context=spawn(), initializer=_worker_init,
                                             initargs=(self.tokenizer.backend_tokenizer.to_str(), self.max_length))
            self._pool_size = n
        bs = self._batch(batch_size)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        types = "token_type_ids" in getattr(self.tokenizer, "model_input_names", ())
        pending: deque = deque()
        it = iter(batches)
        for b in it:
            pending.append((b, self._pool.submit(_worker_prepare, [texts[j] for j in b],
                                                 None if sentences is None else [sentences[j] for j in b])))
            if len(pending) >= 2 * self._pool_size:
                break
        while pending:
            b, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, self._pool.submit(_worker_prepare, [texts[j] for j in nxt],
                                                       None if sentences is None else [sentences[j] for j in nxt])))
            ids, mask, sidx = fut.result()
            enc = {"input_ids": ids, "attention_mask": mask}
            if types:
                enc["token_type_ids"] = np.zeros_like(ids)
            yield b, enc, sidx

    def close(self) -> None:
        """Stop the tokenizing worker processes (GPU path), if any."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _run_batches(self, texts: list[str], batch_size: int, prepare, run) -> None:
        """Length-sorted batches (little padding); on the GPU, large ones. The int8 backend runs one text per
        forward pass, on several CPU threads concurrently by `threads` workers on a one-thread session (faster
        than one many-thread session on batches; docs/scaling.md, "Backends"). Tokenizing stays in the calling
        thread (the fast tokenizer is not safe to share between threads)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        int8 = self._impl.name == "onnx-int8"
        workers = _threads[0] if int8 else 1
        # int8: one text per pass. Dynamic quantization scales activations per batch tensor, so a text's vector
        # would depend on its batch neighbours (and their padding); alone it is the same in every call.
        bs = 1 if int8 else self._batch(batch_size)
        if workers > 1 and len(texts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers, thread_name_prefix="embed") as ex:
                futures = [ex.submit(run, prepare(order[i : i + bs])) for i in range(0, len(order), bs)]
                for f in futures:
                    f.result()
            return
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        if self._impl.gpu and len(batches) > 1:
            # Tokenize the next batch on the CPU while the GPU runs this one.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(1, thread_name_prefix="tokenize") as ex:
                nxt = ex.submit(prepare, batches[0])
                for b in batches[1:]:
                    job, nxt = nxt.result(), ex.submit(prepare, b)
                    run(job)
                run(nxt.result())
            return
        for b in batches:
            run(prepare(b))
