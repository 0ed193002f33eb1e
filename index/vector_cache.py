"""Vectors of texts embedded alone, remembered by text: the returned quotes' own embeddings.

Every answer that is not about someone's words puts its quotes in order by their own similarity to the question,
which embeds each quote alone (one model pass per quote, the largest share of such a question's model time). The
same passage answers many questions (a follow-up, the same question asked again, another person asking it), so
the vectors are kept in a bounded LRU map (`memo.BatchMemo`) and only the texts not seen lately go through the model.
A cached vector is the one the model gave that text before; the int8 backend embeds each text in a pass of its
own, so it is also the vector a new pass would give.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .memo import BatchMemo

DEFAULT_SIZE = 4096  # texts (a 384-d float32 vector is 1.5 KiB: 6 MiB at most)


class TextVectors:
    """`get(texts)`: one normalized vector per text, from the cache or from `encode` (called once, with the
    missing texts only, in their order). Thread-safe."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], size: int = DEFAULT_SIZE) -> None:
        self._encode = encode
        self._memo: BatchMemo[str, np.ndarray] = BatchMemo(lambda texts: list(encode(texts)), size)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self._encode([])
        return np.stack(self._memo.get(texts)).astype(np.float32, copy=False)
