"""The int8 embedding backend: the configured transformer exported to ONNX and dynamically quantized to int8,
run by onnxruntime.

`export_int8(model, out_dir)` builds it once (torch.onnx.export with the dynamo exporter, then onnxruntime's
`quantize_dynamic`: int8 weights, activations quantized per batch at run time) and writes, in `out_dir`:

    model.onnx        int8 graph: input_ids, attention_mask, token_type_ids -> token_embeddings (batch, seq, dim)
    tokenizer files   the model's fast tokenizer (AutoTokenizer.save_pretrained)
    newsdesk.json     what it was made from: model name, source folder's weights hash, dim, max length, versions

The graph ends at the last hidden state on purpose: pooling (chunk = mean of all tokens; sentence = mean of the
tokens inside its character span, "late chunking") is done by the caller in numpy, the same way for every
backend. Building needs torch, onnx and onnxscript; running needs onnxruntime alone (no torch import).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from .models import resolve_model

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
MANIFEST = "newsdesk.json"
FORMAT = 1


def cache_dir(model: str, root: Path) -> Path:
    """Where the int8 build of `model` lives under `root` (the data folder's `models/`), keyed by model name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.strip("/")).strip("_.") or "model"
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return Path(root) / f"{slug[-60:]}-{digest}-onnx-int8"


def _source_id(path: Path) -> str:
    """A cheap identity of the source weights (name, size, mtime of the weight files)."""
    h = hashlib.sha256()
    for p in sorted(path.glob("*")):
        if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt"):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}".encode())
    return h.hexdigest()[:16]


def is_built(out_dir: Path, model: str | None = None) -> bool:
    """A complete build is in `out_dir` (and, with `model`, made from the weights that name resolves to now)."""
    try:
        m = json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if m.get("format") != FORMAT or not (Path(out_dir) / MODEL_FILE).is_file():
        return False
    if model is not None and m.get("source_id"):
        src = Path(resolve_model(model))
        if src.exists() and _source_id(src) != m["source_id"]:
            log.warning("the int8 build in %s was made from other weights of %s; rebuilding it", out_dir, model)
            return False
    return True


def export_int8(model_name_or_path: str, out_dir: Path, *, per_channel: bool = True) -> Path:
    """Export `model_name_or_path` (a sentence-transformers model name or folder; the default name resolves to
    the bundled all-MiniLM-L6-v2) to an int8 ONNX model in `out_dir`; returns `out_dir`. Atomic: the folder
    appears complete or not at all. Slow, hence built once and kept (`ensure_int8`)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    src = resolve_model(model_name_or_path)
    src_path = Path(src)
    if src_path.exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    max_len, pooling = _st_config(src_path)
    if pooling not in (None, "mean"):
        raise ValueError(f"{model_name_or_path}: pooling {pooling!r}; the int8 backend supports mean pooling only")

    with _atomic_dir(out_dir) as tmp:
        tok = AutoTokenizer.from_pretrained(src)
        if not getattr(tok, "is_fast", False):
            raise ValueError(f"{model_name_or_path}: the int8 backend needs a fast tokenizer (offsets)")
        model = AutoModel.from_pretrained(src).eval()
        dim = int(model.config.hidden_size)
        tok.save_pretrained(tmp)

        class Tokens(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        enc = tok(["An example sentence to trace the graph.", "Another one, a bit longer than the first."],
                  padding=True, return_tensors="pt")
        args = (enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids", torch.zeros_like(enc["input_ids"])))
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=max_len)
        fp32 = tmp / "model-fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(
                Tokens(model), args, input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["token_embeddings"], dynamo=True, optimize=True, verbose=False,
                dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq},
                                "token_type_ids": {0: batch, 1: seq}},
            )
        prog.save(str(fp32))
        root, level = logging.getLogger(), logging.getLogger().level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs advice on the root logger
        try:
            # Per-channel weight scales: much closer to fp32 than per-tensor (docs/scaling.md, "Backends").
            quantize_dynamic(str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=per_channel)
        finally:
            root.setLevel(level)
        for p in tmp.glob("model-fp32.onnx*"):
            p.unlink()
        import onnxruntime

        (tmp / MANIFEST).write_text(json.dumps({
            "format": FORMAT, "model": model_name_or_path, "source": str(src), "source_id": _source_id(src_path)
            if src_path.exists() else None, "dim": dim, "max_length": max_len, "pooling": "mean",
            "weights": "int8 (dynamic quantization)", "per_channel": per_channel, "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        }, indent=1))
    log.info("int8 ONNX model of %s written to %s", model_name_or_path, out_dir)
    return out_dir


def _st_config(path: Path) -> tuple[int, str | None]:
    """max_seq_length and pooling mode from a sentence-transformers folder (256 and None when absent)."""
    max_len, pooling = 256, None
    try:
        max_len = int(json.loads((path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256))
    except (OSError, ValueError):
        pass
    try:
        cfg = json.loads((path / "1_Pooling" / "config.json").read_text())
        pooling = "mean" if cfg.get("pooling_mode_mean_tokens") or cfg.get("pooling_mode") == "mean" else (
            cfg.get("pooling_mode") or next((k for k, v in cfg.items() if k.startswith("pooling_mode") and v), None))
    except (OSError, ValueError):
        pass
    return max_len, pooling


def user_cache() -> Path:
    """A per-user copy of every int8 build (XDG cache), so a new data folder copies it instead of exporting."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newsdesk" / "models"


@contextlib.contextmanager
def _atomic_dir(dst: Path) -> Iterator[Path]:
    """A temporary folder beside `dst` that replaces `dst` whole when the block succeeds, and is removed when
    it fails: a build appears complete or not at all."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dst.name}-", dir=dst.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_build(src: Path, dst: Path) -> None:
    with _atomic_dir(dst) as tmp:
        for p in src.iterdir():
            if p.is_file():
                shutil.copy2(p, tmp / p.name)


def ensure_int8(model: str, root: Path) -> Path:
    """The cached int8 build of `model` under `root` (the data folder's models/). When missing, it is copied from
    the per-user cache, or else exported (logged: it takes a while) and then also kept in the per-user cache."""
    out = cache_dir(model, root)
    if is_built(out, model):
        return out
    shared = cache_dir(model, user_cache())
    if shared != out and is_built(shared, model):
        try:
            _copy_build(shared, out)
            return out
        except OSError as exc:
            log.warning("could not copy the int8 model from %s (%s); exporting it", shared, exc)
    log.warning("building the int8 ONNX model of %s in %s (once; about 15 s)", model, out)
    export_int8(model, out)
    if shared != out:
        try:
            _copy_build(out, shared)
        except OSError as exc:  # a read-only home is fine
            log.info("int8 model not kept in %s (%s)", shared, exc)
    return out


class FastTokenizer:
    """The saved fast tokenizer run by the `tokenizers` library alone: what `Embedder` asks of a Hugging Face
    tokenizer (padded batches as numpy arrays, character offsets), without importing transformers, which pulls in
    torch, a large share of a one-off `newsdesk ask`'s start-up time and memory (README, "Benchmarks"; docs/
    scaling.md). Same ids, masks and offsets (tests/test_scale.py)."""

    model_input_names = ("input_ids", "attention_mask")

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((folder / "tokenizer_config.json").read_text())
        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad = config.get("pad_token", "[PAD]")
        pad_id = self.backend_tokenizer.token_to_id(pad)
        self.backend_tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad,
                                              pad_type_id=int(config.get("pad_token_type_id", 0)))
        self._max_length: int | None = None

    def __call__(self, texts: list[str], *, padding: bool = True, truncation: bool = True, max_length: int,
                 return_offsets_mapping: bool = False, return_tensors: str = "np") -> dict[str, np.ndarray]:
        if not (padding is True and truncation is True and return_tensors == "np"):
            raise ValueError("FastTokenizer only pads to the longest, truncates and returns numpy arrays")
        tok = self.backend_tokenizer
        if self._max_length != max_length:
            tok.enable_truncation(max_length)
            self._max_length = max_length
        encs = tok.encode_batch(list(texts))
        out = {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
               "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64)}
        if return_offsets_mapping:
            out["offset_mapping"] = np.array([e.offsets for e in encs], dtype=np.int64).reshape(len(encs), -1, 2)
        return out


class OnnxInt8Model:
    """Token embeddings from the int8 ONNX model. One onnxruntime session per thread count (1 for queries,
    all cores while indexing), made on first use; calls are serialized by the caller."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime  # noqa: F401 - fail early when missing

        self.folder = Path(folder).resolve()
        self.manifest = json.loads((self.folder / MANIFEST).read_text())
        self.dim = int(self.manifest["dim"])
        self.max_length = int(self.manifest.get("max_length", 256))
        self.tokenizer = FastTokenizer(self.folder)
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()
        self._inputs: set[str] | None = None
        self.session(1)  # load now: fail early, and no later change of working directory matters

    def session(self, threads: int):
        import onnxruntime as ort

        with self._lock:
            s = self._sessions.get(threads)
            if s is None:
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 1
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                so.log_severity_level = 3
                if threads == 1:
                    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                s = ort.InferenceSession(str(self.folder / MODEL_FILE), so, providers=["CPUExecutionProvider"])
                self._sessions[threads] = s
                self._inputs = {i.name for i in s.get_inputs()}
            return s

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None,
                threads: int) -> np.ndarray:
        s = self.session(threads)
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        if "token_type_ids" in (self._inputs or ()):
            feed["token_type_ids"] = (np.zeros_like(feed["input_ids"]) if token_type_ids is None
                                      else token_type_ids.astype(np.int64))
        return s.run(["token_embeddings"], feed)[0]
