"""BM25 over chunks: English stop words, Snowball stemming, numbers kept ("April 7").

The analysis is bm25s's tokenizer (token pattern, stop words, PyStemmer's Snowball stemmer); the scores are
bm25s's Lucene BM25 (k1=1.5, b=0.75, idf = log(1 + (N - df + 0.5) / (df + 0.5))), computed bit for bit the way
bm25s computes them, so rankings are bm25s's. Unlike bm25s, which stores precomputed scores (any change of N or
of the average length forces a full rebuild), this index stores *term counts* and scores only the question's
terms at query time; so `update` drops and appends chunks without touching the others.

Layout of a `LexicalIndex` (postings by term, CSC-like), saved as plain .npy files plus a vocabulary text file:
    vocab.txt     the terms, one a line (line i is term i)
    indptr.npy    int64 [V+1]: term i's postings are entries indptr[i]:indptr[i+1]
    rows.npy      int32 [nnz]: the row (chunk position) of each posting, ascending within a term
    tf.npy        uint16 or uint32 [nnz]: how often the term occurs in that chunk
    dl.npy        int32 [N]: each chunk's length in terms (stop words removed, repeats counted)
    ids.npy       int64 [N]: each row's chunk id
Every term of the vocabulary occurs in at least one chunk (terms left without chunks are dropped by `update`),
so an index made by updates equals the one built from scratch over the same chunks, up to the order of terms.
`merge` appends one index's chunks to another's with array operations only (no text is analysed again).

Base + delta (`SegmentedLexical`): `LexicalIndex.update` copies every posting, so its cost follows the size of
the whole index. A `SegmentedLexical` is instead a large, immutable *base* `LexicalIndex` (written rarely,
opened memory-mapped), a small *delta* `LexicalIndex` of the chunks added since, and `removed`, the sorted ids
of base chunks deleted since (tombstones). An update only rewrites the delta and `removed` (`SegmentedLexical.save`
writes the delta's files above plus removed.npy; the base is saved on its own), so its cost follows the size of
the delta; `compact` folds everything into a new base. Scores are exactly those of `LexicalIndex.build` over
the live chunks (the base's chunks not removed, then the delta's), because every quantity BM25 uses is computed
over the live chunks only, with the same floating-point operations in the same order:
  - N is the number of live chunks;
  - the average length is the exact integer total of the live chunks' lengths divided by N, the same correctly
    rounded float64 as `dl.mean()` of the rebuilt index (whose float64 sum of integers is exact);
  - df(t) counts the base's postings of t on live rows plus the delta's postings of t;
  - a chunk's score is the float32 sum, term by term in the question's order, of the same float32 per-term
    scores, each computed from the chunk's own tf and length; removed rows are never scored nor returned.
Only the order of chunks with equal scores may differ from the rebuilt index's.
"""
from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .memo import BatchMemo

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

TOKEN_PATTERN = r"(?u)\b\w+\b"
K1, B = 1.5, 0.75
_stemmer = Stemmer.Stemmer("english")
_FILES = ("indptr.npy", "rows.npy", "tf.npy", "dl.npy", "ids.npy")
REMOVED_FILE = "removed.npy"  # SegmentedLexical: the ids of the base chunks removed since the base was written


_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")


def _undot(text: str) -> str:
    """Dotted abbreviations as one word ("U.N." -> "UN"), so they match the undotted spelling."""
    return _DOTTED.sub(lambda m: m.group().replace(".", ""), text) if "." in text else text


def _tokenize(texts: list[str], return_ids: bool):
    return bm25s.tokenize(
        [_undot(t) for t in texts], token_pattern=TOKEN_PATTERN, stopwords="en", stemmer=_stemmer.stemWords,
        return_ids=return_ids, show_progress=False,
    )


def tokenize(texts: list[str]) -> list[list[str]]:
    return _tokenize(texts, return_ids=False)


MEMO_CHARS = 1000  # `terms` remembers the analysis of texts up to this long (questions, sentences, quote pieces)
MEMO_TEXTS = 16_384  # ... this many of them (about 100 questions' scored sentences; some 16 MB)
_memo: BatchMemo[str, tuple[str, ...]] = BatchMemo(lambda texts: [tuple(t) for t in tokenize(texts)], MEMO_TEXTS,
                                                    keep=lambda text: len(text) <= MEMO_CHARS)


def terms_of(texts: list[str]) -> list[list[str]]:
    """`terms` of each text, the texts not remembered analysed in one tokenizer call (a call has a fixed cost
    that dominates for a sentence). A question's text is analysed by several steps of its answer, and the same
    sentences come back for related questions: short texts are analysed once and remembered (a bounded LRU)."""
    return [list(f) for f in _memo.get(texts)]


def terms(text: str) -> list[str]:
    """The stemmed, stop-word-free terms of one text (the same analysis BM25 uses; see `terms_of`)."""
    return terms_of([text])[0]


def _extend_vocab(new_terms: Iterable[str], vocab_dict: dict[str, int], vocab: list[str]) -> np.ndarray:
    """The global number of each of `new_terms`, adding unseen ones to `vocab_dict`/`vocab` in place."""
    out = []
    for term in new_terms:
        g = vocab_dict.get(term)
        if g is None:
            g = vocab_dict[term] = len(vocab)
            vocab.append(term)
        out.append(g)
    return np.array(out, dtype=np.int64)


def _postings(texts: list[str], vocab_dict: dict[str, int], vocab: list[str], n_before: int):
    """Analyse `texts` (their rows start at `n_before`), adding unseen terms to `vocab_dict`/`vocab` in place.
    Returns (term, row, tf) of every (term, chunk) pair sorted by term then row, and the chunks' lengths."""
    if not texts:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, np.zeros(0, dtype=np.int32)
    tok = _tokenize(texts, return_ids=True)
    local = [None] * len(tok.vocab)
    for term, i in tok.vocab.items():
        local[i] = term
    to_global = _extend_vocab(local, vocab_dict, vocab)
    lengths = np.fromiter((len(d) for d in tok.ids), dtype=np.int64, count=len(tok.ids))
    flat = np.fromiter(itertools.chain.from_iterable(tok.ids), dtype=np.int64, count=int(lengths.sum()))
    row = np.repeat(np.arange(len(texts), dtype=np.int64) + n_before, lengths)
    term = to_global[flat]
    # Count (term, row) pairs: one sort of the pairs' keys, then the lengths of runs of equal keys.
    n_rows = n_before + len(texts)
    uniq, tf = np.unique(term * n_rows + row, return_counts=True)
    return uniq // n_rows, uniq % n_rows, tf, lengths.astype(np.int32)


def _tf_dtype(tf: np.ndarray) -> type:
    return np.uint16 if tf.size == 0 or int(tf.max()) < 65536 else np.uint32


def _id_array(ids) -> np.ndarray:
    """Chunk ids given as an array, a list, a set or any iterable, as int64."""
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False).ravel()
    return np.fromiter(ids, dtype=np.int64)


# --- BM25 arithmetic, shared by LexicalIndex and SegmentedLexical so that both compute the same bits ----------------
def _idf(n: int, df: int) -> float:
    """The idf `LexicalIndex.idf` reports (float64)."""
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def _norm(dl: np.ndarray, avgdl: float) -> np.ndarray:
    """Per chunk, k1 * (1 - b + b * dl / avgdl), in float64 and in bm25s's order of operations."""
    return K1 * ((1 - B) + (B * dl.astype(np.float64)) / avgdl)


def _add_term(out: np.ndarray, n: int, df: int, parts: list[tuple[np.ndarray, np.ndarray]],
              norm: np.ndarray) -> None:
    """Add one term's BM25 scores to `out` (float32) at the rows of its postings `parts` ((rows, tf) pairs,
    together df postings on distinct rows) in an index of n chunks."""
    # bm25s: idf rounded to float32; tf / (norm + tf) and idf * tfc in float64, stored as float32
    idf = np.float64(np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5))))
    for rows, tf in parts:
        tf = tf.astype(np.float64)
        out[rows] += (idf * (tf / (norm[rows] + tf))).astype(np.float32)


class LexicalIndex:
    def __init__(self, vocab: list[str], indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray, dl: np.ndarray,
                 ids: np.ndarray) -> None:
        self.vocab = vocab
        self.indptr = indptr
        self.rows = rows
        self.tf = tf
        self.dl = dl
        self.ids = ids
        self._vocab_dict: dict[str, int] | None = None
        self._norm: np.ndarray | None = None
        self._id_lookup: tuple[np.ndarray, np.ndarray | None] | None = None

    # --- derived, lazily --------------------------------------------------------------------------
    @property
    def vocab_dict(self) -> dict[str, int]:
        if self._vocab_dict is None:
            self._vocab_dict = {t: i for i, t in enumerate(self.vocab)}
        return self._vocab_dict

    @property
    def avgdl(self) -> float:
        """The chunks' average length (1.0 for no chunks)."""
        return float(self.dl.mean()) if len(self.dl) else 1.0  # int -> float64: exact, order-independent

    @property
    def norm(self) -> np.ndarray:
        """Per chunk, k1 * (1 - b + b * dl / avgdl), in float64 and in bm25s's order of operations."""
        if self._norm is None:
            self._norm = _norm(self.dl, self.avgdl)
        return self._norm

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The row of each chunk id, -1 for ids not in the index (binary search; ids sorted once, lazily, unless
        they already ascend, as they do in indexes made by the indexer)."""
        ids = np.asarray(ids, dtype=np.int64)
        n = len(self.ids)
        if n == 0 or len(ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        if self._id_lookup is None:
            own = np.asarray(self.ids)
            if bool(np.all(own[1:] > own[:-1])):
                self._id_lookup = (own, None)
            else:
                order = np.argsort(own, kind="stable")
                self._id_lookup = (own[order], order)
        sorted_ids, order = self._id_lookup
        pos = np.minimum(np.searchsorted(sorted_ids, ids), n - 1)
        found = sorted_ids[pos] == ids
        rows = pos if order is None else order[pos]
        return np.where(found, rows, -1).astype(np.int64)

    # --- building -----------------------------------------------------------------------------------
    @classmethod
    def _from_pairs(cls, vocab: list[str], vocab_dict: dict[str, int], term: np.ndarray, row: np.ndarray,
                    tf: np.ndarray, dl: np.ndarray, ids: np.ndarray) -> "LexicalIndex":
        counts = np.bincount(term, minlength=len(vocab)) if len(vocab) else np.zeros(0, dtype=np.int64)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        out = cls(vocab, indptr, row.astype(np.int32), tf.astype(_tf_dtype(tf)), dl.astype(np.int32),
                  np.asarray(ids, dtype=np.int64))
        out._vocab_dict = vocab_dict
        return out

    @classmethod
    def build(cls, texts: list[str], ids: np.ndarray) -> "LexicalIndex":
        """The index of `texts` (chunk ids `ids`); no texts and no ids give the empty index."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids)} ids")
        vocab: list[str] = []
        vocab_dict: dict[str, int] = {}
        term, row, tf, dl = _postings(list(texts), vocab_dict, vocab, 0)
        # Terms in order of first appearance; postings sorted by term, then row (as `_postings` returns them).
        return cls._from_pairs(vocab, vocab_dict, term, row, tf, dl, ids)

    def update(self, remove_ids, add_texts: list[str], add_ids) -> "LexicalIndex":
        """A new index without the chunks `remove_ids` and with `add_texts` (ids `add_ids`) appended. The
        other chunks' postings are copied, not re-analysed; this index is left untouched (readers may hold
        it; it may be memory-mapped). Chunk ids not in the index are ignored."""
        add_ids = np.asarray(add_ids, dtype=np.int64)
        if len(add_ids) != len(add_texts):
            raise ValueError(f"{len(add_texts)} texts but {len(add_ids)} ids")
        remove = _id_array(remove_ids)
        keep_doc = ~np.isin(self.ids, remove) if remove.size else np.ones(len(self.ids), dtype=bool)
        n_kept = int(keep_doc.sum())

        # 1. drop the removed chunks' postings and renumber the remaining rows
        if n_kept < len(self.ids):
            new_row = np.cumsum(keep_doc, dtype=np.int64) - 1
            keep_entry = keep_doc[self.rows]
            kept_before = np.zeros(len(keep_entry) + 1, dtype=np.int64)
            np.cumsum(keep_entry, out=kept_before[1:])
            kept_counts = kept_before[self.indptr[1:]] - kept_before[self.indptr[:-1]]
            rows = new_row[self.rows[keep_entry]].astype(np.int32)
            tf = self.tf[keep_entry]
        else:
            kept_counts = np.diff(self.indptr)
            rows, tf = self.rows, self.tf

        # 2. analyse the added chunks against the (extended) vocabulary
        vocab = list(self.vocab)
        vocab_dict = dict(self.vocab_dict)
        a_term, a_row, a_tf, a_dl = _postings(list(add_texts), vocab_dict, vocab, n_kept)
        return _assemble(vocab, vocab_dict, kept_counts, rows, tf, a_term, a_row, a_tf,
                         np.concatenate([self.dl[keep_doc], a_dl]), np.concatenate([self.ids[keep_doc], add_ids]))

    # --- files --------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(_FILES, (self.indptr, self.rows, self.tf, self.dl, self.ids)):
            np.save(directory / name, arr, allow_pickle=False)
        (directory / "vocab.txt").write_bytes("\n".join(self.vocab).encode("utf-8"))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> "LexicalIndex":
        """The index saved in `directory`; with `mmap` its arrays are memory-mapped read-only (pages are read
        when a query touches them; `update` and `merge` still work and return indexes in memory)."""
        directory = Path(directory)
        mode = "r" if mmap else None
        indptr, rows, tf, dl, ids = (np.load(directory / name, mmap_mode=mode, allow_pickle=False) for name in _FILES)
        text = (directory / "vocab.txt").read_bytes().decode("utf-8")
        vocab = text.split("\n") if len(indptr) > 1 else []
        if len(vocab) != len(indptr) - 1 or len(dl) != len(ids) or len(rows) != len(tf) or len(tf) != indptr[-1]:
            raise ValueError(f"inconsistent BM25 files in {directory}")
        return cls(vocab, indptr, rows, tf, dl, ids)

    # --- queries ------------------------------------------------------------------------------------
    def df(self, term: str) -> int:
        """How many chunks contain the stemmed term."""
        tid = self.vocab_dict.get(term)
        return 0 if tid is None else int(self.indptr[tid + 1] - self.indptr[tid])

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; a term no chunk contains gets the highest value
        (it is the most specific word of a question, and its absence is telling)."""
        return _idf(len(self.ids), self.df(term))

    def scores(self, toks: list[str]) -> np.ndarray:
        """BM25 score of every row for these terms (repeats count again, as in bm25s), float32."""
        n = len(self.ids)
        out = np.zeros(n, dtype=np.float32)
        vd = self.vocab_dict
        norm = self.norm
        for t in toks:
            tid = vd.get(t)
            if tid is None:
                continue
            a, b = int(self.indptr[tid]), int(self.indptr[tid + 1])
            if a < b:
                _add_term(out, n, b - a, [(self.rows[a:b], self.tf[a:b])], norm)
        return out

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids and BM25 scores of the best `k` chunks (score > 0 only)."""
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not len(self.ids) or k <= 0:
            return empty
        toks = [t for t in terms(query) if t in self.vocab_dict]
        if not toks:
            return empty
        scores = self.scores(toks)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        top = top[scores[top] > 0]
        return self.ids[top], scores[top].astype(np.float32)


def _assemble(vocab: list[str], vocab_dict: dict[str, int] | None, kept_counts: np.ndarray, rows: np.ndarray,
              tf: np.ndarray, a_term: np.ndarray, a_row: np.ndarray, a_tf: np.ndarray, dl: np.ndarray,
              ids: np.ndarray) -> LexicalIndex:
    """The index whose term i has first the kept postings (`rows`, `tf`: kept_counts[i] of them for term i,
    terms in order) and then its added ones (a_term, a_row, a_tf: sorted by term then row, rows greater than
    the kept ones'); `kept_counts` may be shorter than `vocab` (terms new to the added postings). Terms left
    without postings are dropped."""
    V = len(vocab)
    kept_counts = np.concatenate([kept_counts, np.zeros(V - len(kept_counts), dtype=np.int64)])
    add_counts = np.bincount(a_term, minlength=V) if V else np.zeros(0, dtype=np.int64)
    counts = kept_counts + add_counts

    # merge: a term's added postings go after its kept ones
    indptr = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    out_rows = np.empty(nnz, dtype=np.int32)
    out_tf = np.empty(nnz, dtype=np.result_type(tf.dtype, _tf_dtype(a_tf)))
    add_before = indptr[:-1] - np.concatenate([[0], np.cumsum(kept_counts)[:-1]]) if V else indptr[:-1]
    pos_kept = np.arange(len(rows), dtype=np.int64) + np.repeat(add_before, kept_counts)
    out_rows[pos_kept] = rows
    out_tf[pos_kept] = tf
    if len(a_term):
        first = np.searchsorted(a_term, a_term, side="left")  # a_term is sorted
        pos_add = indptr[a_term] + kept_counts[a_term] + (np.arange(len(a_term)) - first)
        out_rows[pos_add] = a_row
        out_tf[pos_add] = a_tf

    # forget terms no chunk contains any more
    if (counts == 0).any():
        live = counts > 0
        vocab = [t for t, ok in zip(vocab, live) if ok]
        vocab_dict = None
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts[live], out=indptr[1:])
    if out_tf.dtype != _tf_dtype(out_tf):
        out_tf = out_tf.astype(_tf_dtype(out_tf))

    out = LexicalIndex(vocab, indptr, out_rows, out_tf, dl.astype(np.int32), ids.astype(np.int64))
    out._vocab_dict = vocab_dict
    return out


def merge(a: LexicalIndex, b: LexicalIndex) -> LexicalIndex:
    """The index of a's chunks followed by b's: vocabularies united (a's terms first), postings merged with
    array operations (nothing is analysed again). Equal to `LexicalIndex.build` over a's texts then b's, up to
    the order of terms. Neither index is changed (either may be memory-mapped). The chunk ids must be disjoint."""
    if len(b.ids) and (a.rows_of(b.ids) >= 0).any():
        raise ValueError("cannot merge BM25 indexes that share chunk ids")
    vocab = list(a.vocab)
    vocab_dict = dict(a.vocab_dict)
    to_global = _extend_vocab(b.vocab, vocab_dict, vocab)
    b_term = np.repeat(to_global, np.diff(b.indptr))
    order = np.argsort(b_term, kind="stable")  # by global term; rows stay ascending within a term
    return _assemble(vocab, vocab_dict, np.diff(a.indptr), a.rows, a.tf, b_term[order],
                     np.asarray(b.rows)[order].astype(np.int64) + len(a.ids), np.asarray(b.tf)[order],
                     np.concatenate([a.dl, b.dl]), np.concatenate([a.ids, b.ids]))


class SegmentedLexical:
    """A base index, the chunk ids removed from it, and a delta index of the chunks added since; queried as
    one `LexicalIndex` of the live chunks (see the module docstring). Immutable: `update` returns a new one."""

    def __init__(self, base: LexicalIndex, delta: LexicalIndex, removed: np.ndarray) -> None:
        """Raises ValueError where the parts do not fit: a removed id not in the base, a delta id repeated or
        also a live base chunk's."""
        self.base = base
        self.delta = delta
        self.removed = np.unique(np.asarray(removed, dtype=np.int64))
        rows = base.rows_of(self.removed)
        if (rows < 0).any():
            missing = self.removed[rows < 0]
            raise ValueError(f"{len(missing)} removed chunk ids are not in the base (first: {int(missing[0])})")
        self._removed_rows = rows
        self._n_base = len(base.ids)
        self._mask: np.ndarray | None = None  # removed base rows, True; built on first use
        if len(delta.ids):
            if len(np.unique(delta.ids)) != len(delta.ids):
                raise ValueError("the delta holds a chunk id twice")
            in_base = base.rows_of(delta.ids)
            clash = in_base >= 0
            clash[clash] = ~self.removed_mask[in_base[clash]]
            if clash.any():
                raise ValueError(f"{int(clash.sum())} delta chunk ids are live chunks of the base too "
                                 f"(first: {int(delta.ids[clash][0])})")
        self._n = self._n_base - len(rows) + len(delta.ids)
        total = (int(np.asarray(base.dl).sum(dtype=np.int64)) - int(np.asarray(base.dl)[rows].sum(dtype=np.int64))
                 + int(np.asarray(delta.dl).sum(dtype=np.int64)))
        # Python's int / int is correctly rounded, like float64(exact sum) / N in the rebuilt index's dl.mean()
        self.avgdl: float = total / self._n if self._n else 1.0
        self._norm: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    @classmethod
    def empty_delta(cls, base: LexicalIndex) -> "SegmentedLexical":
        """`base` alone: nothing added, nothing removed."""
        return cls(base, LexicalIndex.build([], np.zeros(0, dtype=np.int64)), np.zeros(0, dtype=np.int64))

    # --- sizes ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """The number of live chunks."""
        return self._n

    @property
    def delta_chunks(self) -> int:
        return len(self.delta.ids)

    @property
    def removed_chunks(self) -> int:
        return len(self.removed)

    @property
    def removed_mask(self) -> np.ndarray:
        """bool [base rows]: True for the rows of removed chunks."""
        if self._mask is None:
            mask = np.zeros(self._n_base, dtype=bool)
            mask[self._removed_rows] = True
            self._mask = mask
        return self._mask

    @property
    def ids(self) -> np.ndarray:
        """The live chunks' ids in row order (the base's not removed, then the delta's)."""
        if self._ids is None:
            self._ids = np.concatenate([np.asarray(self.base.ids)[~self.removed_mask], self.delta.ids])
        return self._ids

    # --- changes ----------------------------------------------------------------------------------------
    def update(self, remove_ids, add_texts: list[str], add_ids) -> "SegmentedLexical":
        """A new segmented index without the chunks `remove_ids` (base chunks join `removed`, delta chunks
        leave the delta) and with `add_texts` (ids `add_ids`, which must not be live chunks' ids) appended to the
        delta. The base's arrays are only searched; this object is left untouched (readers may hold it). Chunk
        ids in neither part are ignored."""
        add_ids = np.asarray(add_ids, dtype=np.int64)
        if len(add_ids) != len(add_texts):
            raise ValueError(f"{len(add_texts)} texts but {len(add_ids)} ids")
        remove = np.unique(_id_array(remove_ids))
        removed = np.union1d(self.removed, remove[self.base.rows_of(remove) >= 0])
        from_delta = remove[np.isin(remove, self.delta.ids)]
        delta = self.delta
        if len(from_delta) or len(add_ids):
            delta = self.delta.update(from_delta, add_texts, add_ids)
        log.debug("BM25 delta update: %d removed from the base (%d in all), %d from the delta, %d added",
                  len(removed) - len(self.removed), len(removed), len(from_delta), len(add_ids))
        return SegmentedLexical(self.base, delta, removed)

    def compact(self) -> LexicalIndex:
        """One index of the live chunks (a new base): the base without the removed chunks, then the delta."""
        kept = self.base.update(self.removed, [], []) if len(self.removed) else self.base
        return merge(kept, self.delta)

    # --- files --------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the delta (`LexicalIndex.save`'s files) and removed.npy into `directory`; not the base."""
        directory = Path(directory)
        self.delta.save(directory)
        np.save(directory / REMOVED_FILE, self.removed, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, base: LexicalIndex, mmap: bool = False) -> "SegmentedLexical":
        """The delta and removed ids saved in `directory` over `base`; ValueError where they do not fit it."""
        directory = Path(directory)
        delta = LexicalIndex.load(directory, mmap=mmap)
        removed = np.load(directory / REMOVED_FILE, allow_pickle=False)
        if removed.ndim != 1 or not np.issubdtype(removed.dtype, np.integer):
            raise ValueError(f"inconsistent BM25 files in {directory}: {REMOVED_FILE} is not a list of ids")
        try:
            return cls(base, delta, removed)
        except ValueError as exc:
            raise ValueError(f"inconsistent BM25 files in {directory}: {exc}") from None

    # --- queries ------------------------------------------------------------------------------------
    def _live_postings(self, term: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """The term's postings on live chunks as (rows, tf) pairs; delta rows come after the base's."""
        parts = []
        tid = self.base.vocab_dict.get(term)
        if tid is not None:
            a, b = int(self.base.indptr[tid]), int(self.base.indptr[tid + 1])
            rows, tf = np.asarray(self.base.rows[a:b]), np.asarray(self.base.tf[a:b])
            if len(self._removed_rows):
                keep = ~self.removed_mask[rows]
                rows, tf = rows[keep], tf[keep]
            if len(rows):
                parts.append((rows, tf))
        tid = self.delta.vocab_dict.get(term)
        if tid is not None:
            a, b = int(self.delta.indptr[tid]), int(self.delta.indptr[tid + 1])
            parts.append((self.delta.rows[a:b].astype(np.int64) + self._n_base, self.delta.tf[a:b]))
        return parts

    def df(self, term: str) -> int:
        """How many live chunks contain the stemmed term."""
        return sum(len(rows) for rows, _ in self._live_postings(term))

    def idf(self, term: str) -> float:
        """As `LexicalIndex.idf` over the live chunks."""
        return _idf(self._n, self.df(term))

    @property
    def norm(self) -> np.ndarray:
        """float64 [base rows + delta rows]: as `LexicalIndex.norm`, with the live chunks' average length."""
        if self._norm is None:
            self._norm = _norm(np.concatenate([self.base.dl, self.delta.dl]), self.avgdl)
        return self._norm

    def _all_scores(self, toks: list[str]) -> np.ndarray:
        """float32 [base rows + delta rows]: BM25 scores over the live chunks; 0 on removed rows."""
        out = np.zeros(self._n_base + len(self.delta.ids), dtype=np.float32)
        for t in toks:
            parts = self._live_postings(t)
            df = sum(len(rows) for rows, _ in parts)
            if df:
                _add_term(out, self._n, df, parts, self.norm)
        return out

    def scores(self, toks: list[str]) -> np.ndarray:
        """As `LexicalIndex.scores`: the score of every live chunk, in the order of `ids`."""
        s = self._all_scores(toks)
        return np.concatenate([s[:self._n_base][~self.removed_mask], s[self._n_base:]])

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """As `LexicalIndex.search`: the ids and scores of the best `k` live chunks (score > 0 only)."""
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not self._n or k <= 0:
            return empty
        scores = self._all_scores(terms(query))
        top = np.flatnonzero(scores > 0)
        if len(top) > k:
            top = top[np.argpartition(-scores[top], k - 1)[:k]]
        top = top[np.argsort(-scores[top])]
        in_base = top < self._n_base
        ids = np.empty(len(top), dtype=np.int64)
        ids[in_base] = np.asarray(self.base.ids)[top[in_base]]  # a gather: memory-mapped ids are not copied
        ids[~in_base] = self.delta.ids[top[~in_base] - self._n_base]
        return ids, scores[top]
