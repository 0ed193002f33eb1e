"""BM25 over chunks with bm25s: English stop words, Snowball stemming, numbers kept ("April 7")."""
from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

TOKEN_PATTERN = r"(?u)\b\w+\b"
_stemmer = Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(
        texts, token_pattern=TOKEN_PATTERN, stopwords="en", stemmer=_stemmer.stemWords,
        return_ids=False, show_progress=False,
    )


def terms(text: str) -> list[str]:
    """The stemmed, stop-word-free terms of one text (the same analysis BM25 uses)."""
    return tokenize([text])[0]


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25 | None, ids: np.ndarray) -> None:
        self.bm25 = bm25
        self.ids = ids

    @classmethod
    def build(cls, texts: list[str], ids: np.ndarray) -> "LexicalIndex":
        if not texts:
            return cls(None, np.zeros(0, dtype=np.int64))
        bm25 = bm25s.BM25()
        bm25.index(tokenize(texts), show_progress=False)
        return cls(bm25, np.asarray(ids, dtype=np.int64))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "ids.npy", self.ids)
        if self.bm25 is not None:
            self.bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        ids = np.load(directory / "ids.npy")
        if len(ids) == 0:
            return cls(None, ids)
        bm25 = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        return cls(bm25, ids)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; a term no chunk contains gets the highest value
        (it is the most specific word of a question, and its absence is telling)."""
        n = len(self.ids)
        tid = self.bm25.vocab_dict.get(term) if self.bm25 is not None else None
        if tid is None:
            return float(np.log(1 + (n + 0.5) / 0.5))
        df = int(self.bm25.scores["indptr"][tid + 1] - self.bm25.scores["indptr"][tid])
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids and BM25 scores of the best `k` chunks (score > 0 only)."""
        if self.bm25 is None or not len(self.ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        toks = [t for t in terms(query) if t in self.bm25.vocab_dict]
        if not toks:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.bm25.get_scores(toks)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        top = top[scores[top] > 0]
        return self.ids[top], scores[top].astype(np.float32)
