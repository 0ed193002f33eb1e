"""Exact top-k inner-product search over a flat FAISS index in two passes, for speed.

An exact search of one query reads every stored vector: at 100k 384-d float32 vectors that is 154 MB a question,
and FAISS's one-query flat scan is slow per vector besides. `HalfScan` keeps a bfloat16 copy of the vectors (half
the bytes; FAISS `IndexScalarQuantizer` QT_bf16, whose scan does the least work per vector) and searches in two
passes:

1. scan the bf16 copy for the best `2k`;
2. score those candidates again from the float32 vectors (FAISS `compute_distance_subset`, the same kernel and so
   the same bits as the flat index's own search) and keep the best `k`.

The result is provably the flat search's, not an approximation. Rounding vector x to bf16 moves its score for
query q by at most |q| |x - bf16(x)| (Cauchy-Schwarz); the copy measures the largest |x - bf16(x)| when it is made,
so `error_bound` adds only that and the float32 summation error of both passes. When the 2k-th candidate's bf16
score is more than twice that bound below the k-th's, no vector outside the candidates can reach the true top k;
when it is not (many near-equal scores), `search` returns None and the caller runs the flat search. Ties are kept
and ordered as FAISS's heap does (lower positions kept, equal scores listed from the highest position down), so
even equal scores come back in the flat search's order.

The copy is made in a background thread from a base's second search on (a one-off `newsdesk ask` never makes it;
searches meanwhile are the flat index's, and none waits for the copy; on Linux the thread runs at the lowest
priority, so the questions asked meanwhile come first) and shared by every later generation that keeps the same base; it holds
n x d x 2 bytes in memory (77 MB at 100k 384-d vectors).
"""
from __future__ import annotations

import logging
import os
import threading
import weakref

import faiss
import numpy as np

log = logging.getLogger(__name__)

MIN_VECTORS = 20_000  # below this a flat scan is cheap (a few ms); the copy is not worth its memory
BLOCK = 2048  # rows converted at a time (the temporaries stay at a few MB)
SAFETY = 1.25  # margin on the error bound (its own float32 arithmetic)

_copies: "weakref.WeakKeyDictionary[faiss.Index, HalfScan | None]" = weakref.WeakKeyDictionary()
_building: "weakref.WeakSet[faiss.Index]" = weakref.WeakSet()
_searched: "weakref.WeakKeyDictionary[faiss.Index, int]" = weakref.WeakKeyDictionary()  # first search seen
_lock = threading.Lock()


def _flat_of(index: faiss.Index) -> tuple[faiss.IndexFlat, np.ndarray] | None:
    """The inner flat inner-product index of an `IndexIDMap2(IndexFlatIP)` and its ids (position -> id), or None
    for any other kind of index (IVF, GPU, L2)."""
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    flat = faiss.downcast_index(index.index)
    if not isinstance(flat, faiss.IndexFlat) or flat.metric_type != faiss.METRIC_INNER_PRODUCT:
        return None
    return flat, faiss.vector_to_array(index.id_map).astype(np.int64)


def forget(index: faiss.Index) -> None:
    """Drop the copy of an index about to change (`vectors.add`, `vectors.remove`)."""
    with _lock:
        _copies.pop(index, None)
        _building.discard(index)  # a copy being made of the old vectors is not kept


def for_index(index: faiss.Index, *, wait: bool = False) -> "HalfScan | None":
    """The shared bf16 copy of a flat index of at least MIN_VECTORS vectors, or None: for other indexes, and
    until the copy is made (the second call starts that in a background thread, so that a process asking one
    question never makes it; `wait` makes it here and now)."""
    with _lock:
        if index in _copies:
            return _copies[index]
        if index in _building:
            if not wait:
                return None
        elif index.ntotal < MIN_VECTORS or not isinstance(index, faiss.IndexIDMap2):
            _copies[index] = None  # (`_make` checks the rest: an inner flat inner-product index)
            return None
        elif not wait and index not in _searched:
            _searched[index] = 1
            return None
        _building.add(index)
    if wait:
        _make(index)
        with _lock:
            return _copies.get(index)
    threading.Thread(target=_make, args=(index,), name="half-scan", daemon=True).start()
    return None


def _make(index: faiss.Index) -> None:
    if threading.current_thread() is not threading.main_thread() and hasattr(os, "setpriority"):
        try:  # Linux: a thread's own niceness; the questions asked meanwhile come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass
    try:
        found = _flat_of(index)
        scan = HalfScan.build(*found) if found is not None else None
    except Exception:  # pragma: no cover - the flat search still answers
        log.exception("no bf16 copy of the vector index; exact search reads the float32 vectors")
        scan = None
    with _lock:
        if index in _building:
            _copies.setdefault(index, scan)
            _building.discard(index)


def _to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, rounded to nearest even (finite values)."""
    u = x.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)


class HalfScan:
    def __init__(self, flat: faiss.IndexFlat, ids: np.ndarray, half: faiss.IndexScalarQuantizer,
                 max_norm: float, max_residual: float) -> None:
        self.flat = flat
        self.ids = ids  # position -> chunk id
        self.half = half
        self.max_norm = max_norm  # largest |x|
        self.max_residual = max_residual  # largest |x - bf16(x)|
        self._sorted = bool(np.all(ids[1:] > ids[:-1]))

    @classmethod
    def build(cls, flat: faiss.IndexFlat, ids: np.ndarray) -> "HalfScan | None":
        n, d = int(flat.ntotal), int(flat.d)
        x = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)  # the float32 vectors (memory-mapped or not)
        if not np.isfinite(x).all():
            log.info("vector index holds non-finite values; exact search reads the float32 vectors")
            return None
        half = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_bf16, faiss.METRIC_INNER_PRODUCT)
        half.codes.resize(n * d * 2)
        codes = faiss.rev_swig_ptr(half.codes.data(), n * d * 2).view(np.uint16).reshape(n, d)
        max_norm = max_res = 0.0
        for s in range(0, n, BLOCK):
            block = x[s : s + BLOCK]
            c = codes[s : s + BLOCK]
            c[:] = _to_bf16(block)
            res = block - (c.astype(np.uint32) << np.uint32(16)).view(np.float32)
            max_res = max(max_res, float(np.sqrt(np.einsum("ij,ij->i", res, res).max(initial=0.0))))
            max_norm = max(max_norm, float(np.sqrt(np.einsum("ij,ij->i", block, block).max(initial=0.0))))
        half.ntotal = n
        log.debug("bf16 copy of %d vectors for the two-pass exact search (largest rounding %.2g)", n, max_res)
        return cls(flat, ids, half, max_norm, max_res)

    def error_bound(self, q: np.ndarray) -> float:
        """The most a bf16 score can differ from the flat search's score of the same vector for query q."""
        d = q.shape[-1]
        qn = float(np.linalg.norm(q.astype(np.float64)))
        gamma = 2 * d * 2.0 ** -24 / (1 - d * 2.0 ** -24)  # float32 summation, both passes
        return SAFETY * qn * (self.max_residual + gamma * self.max_norm)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """The rows of these chunk ids (ids not stored are left out)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self._sorted:
            pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
            return pos[self.ids[pos] == ids]
        return np.flatnonzero(np.isin(self.ids, ids))

    def search(self, q: np.ndarray, k: int,
               params: "faiss.SearchParameters | None" = None) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, ids) of the exact best `k` as the flat search gives them (1 x k arrays, best first), or None
        when the bf16 scores cannot prove it (run the flat search then). `params` may carry a selector over
        *positions* (rows), never shared between threads."""
        q = np.ascontiguousarray(q, dtype=np.float32).reshape(1, -1)
        m = min(2 * k, int(self.half.ntotal))
        approx, pos = self.half.search(q, m, params=params)
        approx, pos = approx[0], pos[0]
        live = pos >= 0
        approx, pos = approx[live], pos[live]
        if len(pos) < k:
            return None  # fewer candidates than asked for: let the flat search say what there is
        if len(pos) == m and m < self.half.ntotal and not approx[m - 1] < approx[k - 1] - 2 * self.error_bound(q):
            return None
        lab = pos.astype(np.int64)
        exact = np.empty(len(lab), dtype=np.float32)
        self.flat.compute_distance_subset(1, faiss.swig_ptr(q), len(lab), faiss.swig_ptr(exact), faiss.swig_ptr(lab))
        # FAISS's heap: the best k by (score, then lower position); listed by score, then higher position first
        keep = np.lexsort((lab, -exact))[:k]
        order = keep[np.lexsort((-lab[keep], -exact[keep]))]
        return exact[order][None, :], self.ids[lab[order]][None, :]
