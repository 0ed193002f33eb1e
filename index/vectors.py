"""FAISS storage over inner product (normalized vectors, so cosine); ids are chunk ids.

Two index types, chosen by size (`choose_index`, `maintain`):

- up to `exact_max_chunks` (default 200k): exact, `IndexIDMap2(IndexFlatIP)`; deletes by `remove_ids` (a
  compaction of the array). From 20k vectors a base is searched in two passes over a bfloat16 copy of its
  vectors (index/half_scan.py: provably the same results, from half the bytes).
- above it: approximate, `IndexIVFFlat` (inner product; the inverted lists hold the ids, so `add_with_ids` and
  `remove_ids` work directly: the supported delete path for incremental updates; HNSW has none). `nlist` about
  4 sqrt(n) (power of two), `nprobe` a quarter of the lists: measured for recall@10 >= 0.98 against exact for
  question vectors on real MiniLM chunk vectors (docs/scaling.md); both are stored in the index file. About 4x
  faster than exact at 175k-1M vectors.

Retraining: an IVF's centroids are trained once, when it is made (a rebuild, or the first commit that takes the
index past the threshold). Incremental updates add to and remove from the existing lists. `maintain` retrains
(a new IVF from the index's own vectors, no model run) when the collection grew or shrank 4x since training
(the right nlist changed by 2x) or when the lists got unbalanced (imbalance factor > 3, e.g. a new topic
piling into a few lists); it goes back to exact when the collection shrinks below half the threshold.

Loading: `load(path)` memory-maps the file (`IO_FLAG_MMAP`), so start-up is instant and the vectors are page
cache shared between processes; an IVF search touches only the probed lists, so RSS stays small. A mapped
index is read-only: writers load with `mmap=False` (modifying a mapped IVF would abort the process, so
`add`/`remove` refuse one).
"""
from __future__ import annotations

import logging
import math
import os
import weakref
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from . import half_scan

log = logging.getLogger(__name__)

DEFAULT_EXACT_MAX = 200_000
_gpu_resources: "weakref.WeakKeyDictionary[faiss.Index, object]" = weakref.WeakKeyDictionary()
IMBALANCE_RETRAIN = 3.0
TRAIN_PER_LIST = 64  # training points per list (faiss wants >= 39)

_mapped: "weakref.WeakKeyDictionary[faiss.Index, str]" = weakref.WeakKeyDictionary()  # loaded memory-mapped


def _setting(settings: Any, name: str, default):
    v = getattr(settings, name, None) if settings is not None else None
    return default if v is None else v


def nlist_for(n: int) -> int:
    """Lists for an IVF of n vectors: about 4 sqrt(n), a power of two, at least 64."""
    return max(64, 1 << int(round(math.log2(4 * math.sqrt(max(n, 1))))))


def nprobe_for(nlist: int) -> int:
    """Lists searched per query: a quarter. Measured with real MiniLM vectors (docs/scaling.md): questions sit far
    from every chunk, so their nearest chunks spread over many lists; on 175k real chunk vectors 1/32 of the lists
    gives recall@10 0.83 for questions (0.99 for chunk-like queries), 1/5 gives 0.98, 1/4 gives 0.99."""
    return max(1, nlist // 4)


def new_index(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def new_ivf(dim: int, n: int, nprobe: int = 0) -> faiss.Index:
    nlist = min(nlist_for(n), max(1, n // 39))  # k-means wants >= 39 points a list
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.nprobe = nprobe or nprobe_for(nlist)
    return ivf


def choose_index(n: int, dim: int, settings: Any = None) -> faiss.Index:
    """An empty index for n vectors: exact up to `settings.exact_max_chunks`, else an untrained IVF that the
    first `add` trains on the vectors it is given."""
    if n <= _setting(settings, "exact_max_chunks", DEFAULT_EXACT_MAX):
        return new_index(dim)
    return new_ivf(dim, n, _setting(settings, "ivf_nprobe", 0))


def kind(index: "faiss.Index | VectorSet") -> str:
    ivf = _ivf(index.base if isinstance(index, VectorSet) else index)
    return f"ivf{ivf.nlist},nprobe{ivf.nprobe}" if ivf is not None else "flat"


def _ivf(index: faiss.Index):
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def load(path: Path, *, mmap: bool = True, gpu: bool = False) -> faiss.Index:
    """Read an index; memory-mapped (read-only) by default, `mmap=False` for an index to modify. `gpu` (the
    engine passes NEWSDESK_FAISS_GPU) moves an index to search to the GPU where there is one."""
    if mmap:
        # IVF: IO_FLAG_MMAP maps the inverted lists. Flat: IO_FLAG_MMAP copies the vectors into memory at load,
        # IO_FLAG_MMAP_IFC maps them in place (pages read as searches touch them).
        with open(path, "rb") as f:
            ivf = f.read(4) in (b"IwFl", b"IvFl")
        flag = faiss.IO_FLAG_MMAP if ivf else faiss.IO_FLAG_MMAP_IFC
        index = faiss.read_index(str(path), flag | faiss.IO_FLAG_READ_ONLY)
        _mapped[index] = str(path)
    else:
        index = faiss.read_index(str(path))
    return _maybe_gpu(index, gpu)


def _maybe_gpu(index: faiss.Index, gpu: bool) -> faiss.Index:
    """Move the index to the GPU when `gpu` asks for it, this faiss build has GPU support and CUDA is up;
    otherwise return it unchanged (always on faiss-cpu)."""
    if not gpu or not hasattr(faiss, "StandardGpuResources"):
        return index
    try:
        if faiss.get_num_gpus() < 1:
            return index
        res = faiss.StandardGpuResources()
        gpu = faiss.index_cpu_to_gpu(res, 0, index)
        _gpu_resources[gpu] = res  # keep the resources alive as long as the index
        return gpu
    except Exception as exc:  # pragma: no cover - GPU builds only
        log.warning("FAISS GPU search unavailable (%s); searching on the CPU", exc)
        return index


def _writable(index: faiss.Index) -> None:
    if index in _mapped:
        raise ValueError(f"the index from {_mapped[index]} is memory-mapped (read-only); "
                         "load it with mmap=False to modify it")
    if index in _gpu_resources:
        raise ValueError("a GPU copy of the index is for searching; modify the CPU index")


def save(index: faiss.Index, path: Path) -> None:
    """Write to a temporary name, fsync, then rename into place (atomic on POSIX; a reader that mapped the old
    file keeps a valid mapping)."""
    tmp = path.with_name(f".tmp-{path.name}")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove(index: faiss.Index, ids: list[int]) -> None:
    if ids:
        _writable(index)
        half_scan.forget(index)
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def add(index: faiss.Index, vectors: np.ndarray, ids: list[int]) -> None:
    if not ids:
        return
    _writable(index)
    half_scan.forget(index)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if not index.is_trained:
        _train(index, x)
    index.add_with_ids(x, np.asarray(ids, dtype=np.int64))


def _train(index: faiss.Index, x: np.ndarray) -> None:
    ivf = _ivf(index)
    nlist = ivf.nlist if ivf is not None else 1
    need = nlist * TRAIN_PER_LIST
    sample = x if len(x) <= need else x[np.random.default_rng(0).choice(len(x), need, replace=False)]
    if len(sample) < nlist * 39:
        log.warning("training %d IVF lists on only %d vectors", nlist, len(sample))
    index.train(sample)


def search(index: "faiss.Index | VectorSet", query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(index, VectorSet):
        return index.search(query, k)
    if index.ntotal == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


# --- type by size, retraining ----------------------------------------------------------------------------------------
def all_vectors(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, vector) of a flat IDMap or an IVF-Flat index, without a direct map."""
    ivf = _ivf(index)
    if ivf is None:
        flat = faiss.downcast_index(index.index)
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        return ids, flat.reconstruct_n(0, flat.ntotal)
    inv = ivf.invlists
    ids_out, vec_out = [], []
    for lst in range(ivf.nlist):
        n = inv.list_size(lst)
        if not n:
            continue
        ids_out.append(faiss.rev_swig_ptr(inv.get_ids(lst), n).copy())
        codes = faiss.rev_swig_ptr(inv.get_codes(lst), n * inv.code_size)
        vec_out.append(np.frombuffer(codes.copy(), dtype=np.float32).reshape(n, ivf.d))
    if not ids_out:
        return np.zeros(0, dtype=np.int64), np.zeros((0, ivf.d), dtype=np.float32)
    return np.concatenate(ids_out).astype(np.int64), np.concatenate(vec_out)


def needs_rebuild(index: faiss.Index, settings: Any = None) -> str | None:
    """Why the index should change type or be retrained now, or None."""
    n = index.ntotal
    limit = _setting(settings, "exact_max_chunks", DEFAULT_EXACT_MAX)
    ivf = _ivf(index)
    if ivf is None:
        return f"{n} vectors > exact_max_chunks {limit}: switching to IVF" if n > limit else None
    if n < limit // 2:
        return f"{n} vectors < half of exact_max_chunks {limit}: switching to exact"
    want = min(nlist_for(n), max(1, n // 39))
    if want >= 2 * ivf.nlist or want * 2 <= ivf.nlist:
        return f"{n} vectors want {want} lists, trained with {ivf.nlist}: retraining"
    imb = ivf.invlists.imbalance_factor()
    if imb > IMBALANCE_RETRAIN:
        return f"list imbalance {imb:.1f} > {IMBALANCE_RETRAIN}: retraining"
    return None


def maintain(index: faiss.Index, settings: Any = None) -> faiss.Index:
    """Return the index to keep after an incremental update: the same one, or a rebuilt one of the right type
    (exact/IVF) with fresh centroids, from the index's own vectors."""
    why = needs_rebuild(index, settings)
    if why is None:
        return index
    log.info("vector index: %s", why)
    ids, x = all_vectors(index)
    new = choose_index(len(ids), x.shape[1] if len(x) else index.d, settings)
    add(new, x, ids.tolist())
    return new


# --- base + delta ----------------------------------------------------------------------------------------------------
DELTA_FILE = "vectors.faiss"
REMOVED_FILE = "vectors-removed.npy"


class VectorSet:
    """One generation's vectors: a large `base` index written when the generation was compacted (memory-mapped
    by readers, never modified), a small exact `delta` of the vectors added since, and the ids `removed` from the
    base since. An update rewrites only the delta and the removed ids, so its cost follows the change, not the
    collection; `compact` folds both into a new base when they grow (the indexer decides when).

    A search asks the base for its best k among the ids not removed (a FAISS `IDSelectorNot` over them: exact
    for the flat index, the same probed lists for the IVF), the delta for its best k, and keeps the best k of
    both: the same answer as one index holding the live vectors."""

    def __init__(self, base: faiss.Index, delta: faiss.Index | None = None, removed: np.ndarray | None = None) -> None:
        self.base = base
        self.delta = delta if delta is not None else new_index(base.d)
        self.removed = np.unique(np.asarray(removed if removed is not None else [], dtype=np.int64))
        self._sel = None
        self._half_sel: tuple | None = None  # the removed ids as rows of the base's bf16 copy, made on first use
        if self.removed.size:
            # Read-only once made, so shared by every search. The SearchParameters holding it are not: FAISS's
            # IndexIDMap swaps a translated selector into them for the duration of a search (ScopedSelChange),
            # so parameters shared between threads crash the process (issue 13). Each search makes its own.
            self._batch = faiss.IDSelectorBatch(self.removed)
            self._sel = faiss.IDSelectorNot(self._batch)
            ivf = _ivf(base)
            self._nprobe = ivf.nprobe if ivf is not None else None

    def _search_params(self) -> "faiss.SearchParameters":
        """Fresh parameters for one search (never shared between threads) over the shared selector."""
        if self._nprobe is not None:
            return faiss.SearchParametersIVF(sel=self._sel, nprobe=self._nprobe)
        return faiss.SearchParameters(sel=self._sel)

    def _half_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The base's exact best k by the two-pass bf16 search (index/half_scan.py), or None where it does not
        apply (an IVF or small base) or cannot prove its result."""
        scan = half_scan.for_index(self.base)
        if scan is None:
            return None
        params = None
        if self.removed.size:
            if self._half_sel is None or self._half_sel[0] is not scan:
                batch = faiss.IDSelectorBatch(scan.positions(self.removed))
                self._half_sel = (scan, batch, faiss.IDSelectorNot(batch))  # read-only once made, like `_sel`
            params = faiss.SearchParameters(sel=self._half_sel[2])
        return scan.search(q, k, params)

    @property
    def ntotal(self) -> int:
        return int(self.base.ntotal - self.removed.size + self.delta.ntotal)

    @property
    def d(self) -> int:
        return int(self.base.d)

    @property
    def changed(self) -> int:
        """Vectors in the delta plus ids removed from the base: the work a compaction folds in."""
        return int(self.delta.ntotal + self.removed.size)

    def delta_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.delta.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = query.reshape(1, -1).astype(np.float32)
        parts_i, parts_s = [], []
        live_base = self.base.ntotal - self.removed.size
        if live_base > 0:
            kb = min(k, live_base)
            found = self._half_search(q, kb)
            if found is not None:
                s, i = found
            elif self._sel is None:
                s, i = self.base.search(q, kb)
            else:
                try:
                    s, i = self.base.search(q, kb, params=self._search_params())
                except (RuntimeError, TypeError):  # an index without selector support (e.g. on a GPU)
                    s, i = self.base.search(q, min(self.base.ntotal, kb + self.removed.size))
                    s, i = s[:, ~np.isin(i[0], self.removed)], i[:, ~np.isin(i[0], self.removed)]
            parts_i.append(i[0])
            parts_s.append(s[0])
        if self.delta.ntotal:
            s, i = self.delta.search(q, min(k, self.delta.ntotal))
            parts_i.append(i[0])
            parts_s.append(s[0])
        if not parts_i:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids, scores = np.concatenate(parts_i), np.concatenate(parts_s)
        keep = ids >= 0
        ids, scores = ids[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[:k]
        return ids[order].astype(np.int64), scores[order].astype(np.float32)

    def update(self, remove_ids: list[int], vectors: np.ndarray, add_ids: list[int]) -> "VectorSet":
        """A new set without `remove_ids` (chunk ids of this set) and with the vectors `add_ids` added; this one is
        left as it was (readers may hold it). Ids in the delta leave it; the others are removed from the base."""
        delta = faiss.clone_index(self.delta)
        rm = np.asarray(remove_ids, dtype=np.int64)
        in_delta = np.isin(rm, self.delta_ids()) if rm.size and self.delta.ntotal else np.zeros(rm.size, dtype=bool)
        remove(delta, rm[in_delta].tolist())
        add(delta, vectors, list(add_ids))
        return VectorSet(self.base, delta, np.concatenate([self.removed, rm[~in_delta]]))

    def compact(self, writable_base: faiss.Index, settings: Any = None) -> faiss.Index:
        """One index of the live vectors: `writable_base` (this set's base loaded with mmap=False; modified in
        place) without the removed ids and with the delta's vectors, then of the right type (`maintain`)."""
        remove(writable_base, self.removed.tolist())
        if self.delta.ntotal:
            ids, x = all_vectors(self.delta)
            add(writable_base, x, ids.tolist())
        return maintain(writable_base, settings)

    def save_delta(self, directory: Path) -> None:
        """Write the delta and the removed ids into `directory` (fsynced; the base is saved on its own)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.delta, str(directory / DELTA_FILE))
        np.save(directory / REMOVED_FILE, self.removed, allow_pickle=False)
        for name in (DELTA_FILE, REMOVED_FILE):
            with open(directory / name, "rb") as f:
                os.fsync(f.fileno())

    @classmethod
    def load_delta(cls, directory: Path, base: faiss.Index) -> "VectorSet":
        directory = Path(directory)
        delta = faiss.read_index(str(directory / DELTA_FILE))
        removed = np.load(directory / REMOVED_FILE, allow_pickle=False)
        if removed.size > base.ntotal:
            raise ValueError(f"{directory}: {removed.size} ids removed from a base of {base.ntotal}")
        return cls(base, delta, removed)
