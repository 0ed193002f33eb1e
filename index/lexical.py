"""BM25 over chunks: English stop words, Snowball stemming, numbers kept ("April 7").

The analysis is bm25s's tokenizer (token pattern, stop words, PyStemmer's Snowball stemmer); the scores are
bm25s's Lucene BM25 (k1=1.5, b=0.75, idf = log(1 + (N - df + 0.5) / (df + 0.5))), computed bit for bit the way
bm25s computes them, so rankings are bm25s's. Unlike bm25s, which stores precomputed scores (any change of N or
of the average length forces a full rebuild), this index stores *term counts* and scores only the question's
terms at query time; so `update` drops and appends chunks without touching the others.

Layout (postings by term, CSC-like), saved as plain .npy files plus a vocabulary text file:
    vocab.txt     the terms, one a line (line i is term i)
    indptr.npy    int64 [V+1]: term i's postings are entries indptr[i]:indptr[i+1]
    rows.npy      int32 [nnz]: the row (chunk position) of each posting, ascending within a term
    tf.npy        uint16 or uint32 [nnz]: how often the term occurs in that chunk
    dl.npy        int32 [N]: each chunk's length in terms (stop words removed, repeats counted)
    ids.npy       int64 [N]: each row's chunk id
Every term of the vocabulary occurs in at least one chunk (terms left without chunks are dropped by `update`),
so an index made by updates equals the one built from scratch over the same chunks, up to the order of terms.
"""
from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

TOKEN_PATTERN = r"(?u)\b\w+\b"
K1, B = 1.5, 0.75
_stemmer = Stemmer.Stemmer("english")
_FILES = ("indptr.npy", "rows.npy", "tf.npy", "dl.npy", "ids.npy")


def _tokenize(texts: list[str], return_ids: bool):
    return bm25s.tokenize(
        texts, token_pattern=TOKEN_PATTERN, stopwords="en", stemmer=_stemmer.stemWords,
        return_ids=return_ids, show_progress=False,
    )


def tokenize(texts: list[str]) -> list[list[str]]:
    return _tokenize(texts, return_ids=False)


def terms(text: str) -> list[str]:
    """The stemmed, stop-word-free terms of one text (the same analysis BM25 uses)."""
    return tokenize([text])[0]


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
    to_global = np.empty(len(local), dtype=np.int64)
    for i, term in enumerate(local):
        g = vocab_dict.get(term)
        if g is None:
            g = vocab_dict[term] = len(vocab)
            vocab.append(term)
        to_global[i] = g
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

    # --- derived, lazily --------------------------------------------------------------------------
    @property
    def vocab_dict(self) -> dict[str, int]:
        if self._vocab_dict is None:
            self._vocab_dict = {t: i for i, t in enumerate(self.vocab)}
        return self._vocab_dict

    @property
    def norm(self) -> np.ndarray:
        """Per chunk, k1 * (1 - b + b * dl / avgdl), in float64 and in bm25s's order of operations."""
        if self._norm is None:
            avgdl = self.dl.mean() if len(self.dl) else 1.0  # int -> float64: exact, order-independent
            self._norm = K1 * ((1 - B) + (B * self.dl.astype(np.float64)) / avgdl)
        return self._norm

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
        it). Chunk ids not in the index are ignored."""
        add_ids = np.asarray(add_ids, dtype=np.int64)
        if len(add_ids) != len(add_texts):
            raise ValueError(f"{len(add_texts)} texts but {len(add_ids)} ids")
        remove = np.asarray(list(remove_ids), dtype=np.int64)
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
        V = len(vocab)
        kept_counts = np.concatenate([kept_counts, np.zeros(V - len(kept_counts), dtype=np.int64)])
        add_counts = np.bincount(a_term, minlength=V) if V else np.zeros(0, dtype=np.int64)
        counts = kept_counts + add_counts

        # 3. merge: a term's added postings go after its kept ones (their rows are greater)
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

        # 4. forget terms no chunk contains any more
        if (counts == 0).any():
            live = counts > 0
            vocab = [t for t, ok in zip(vocab, live) if ok]
            vocab_dict = None
            indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
            np.cumsum(counts[live], out=indptr[1:])
        if out_tf.dtype != _tf_dtype(out_tf):
            out_tf = out_tf.astype(_tf_dtype(out_tf))

        out = LexicalIndex(vocab, indptr, out_rows, out_tf,
                           np.concatenate([self.dl[keep_doc], a_dl]).astype(np.int32),
                           np.concatenate([self.ids[keep_doc], add_ids]))
        out._vocab_dict = vocab_dict
        return out

    # --- files --------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(_FILES, (self.indptr, self.rows, self.tf, self.dl, self.ids)):
            np.save(directory / name, arr, allow_pickle=False)
        (directory / "vocab.txt").write_bytes("\n".join(self.vocab).encode("utf-8"))

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        directory = Path(directory)
        indptr, rows, tf, dl, ids = (np.load(directory / name, allow_pickle=False) for name in _FILES)
        text = (directory / "vocab.txt").read_bytes().decode("utf-8")
        vocab = text.split("\n") if len(indptr) > 1 else []
        if len(vocab) != len(indptr) - 1 or len(dl) != len(ids) or len(rows) != len(tf) or len(tf) != indptr[-1]:
            raise ValueError(f"inconsistent BM25 files in {directory}")
        return cls(vocab, indptr, rows, tf, dl, ids)

    # --- queries ------------------------------------------------------------------------------------
    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; a term no chunk contains gets the highest value
        (it is the most specific word of a question, and its absence is telling)."""
        n = len(self.ids)
        tid = self.vocab_dict.get(term)
        df = 0 if tid is None else int(self.indptr[tid + 1] - self.indptr[tid])
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

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
            if a == b:
                continue
            # bm25s: idf rounded to float32; tf / (norm + tf) and idf * tfc in float64, stored as float32
            idf = np.float32(math.log(1 + (n - (b - a) + 0.5) / ((b - a) + 0.5)))
            rows = self.rows[a:b]
            tf = self.tf[a:b].astype(np.float64)
            s = (np.float64(idf) * (tf / (norm[rows] + tf))).astype(np.float32)
            out[rows] += s
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
