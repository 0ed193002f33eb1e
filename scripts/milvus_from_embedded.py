"""Index a corpus into Milvus (NEWSDESK_STORE) reusing the chunk and sentence vectors that an embedded index of
the same corpus and model already holds, so that a store comparison (`newsdesk eval` on both) compares the
stores with the same vectors and does not wait for the model a second time. The Milvus writer is the real
one (`newsdesk index`'s); only its embedder looks the vectors up by chunk text hash first, and embeds with the
model the chunks the embedded index lacks.

    NEWSDESK_STORE=milvus://127.0.0.1:19530 python scripts/milvus_from_embedded.py \\
        --corpus CORPUS --data MILVUS_DATA --from EMBEDDED_DATA
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from newsdesk.index.chunking import chunk_hash
from newsdesk.index.embedding import Embedder
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from newsdesk.index.store import Store

log = logging.getLogger("milvus_from_embedded")


class StoredVectors:
    """An embedder for index runs whose vectors come from an embedded index's SQLite (by chunk text hash),
    falling back to the model for the chunks it does not hold."""

    def __init__(self, source: Path, settings: Settings) -> None:
        self.source = Store(source)
        self.settings = settings
        self._model: Embedder | None = None
        self.dim = int(self.source.meta()["dimension"])
        self.reused = self.embedded = 0

    def model(self) -> Embedder:
        if self._model is None:
            self._model = Embedder.from_settings(self.settings)
        return self._model

    def encode_chunks(self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]], *,
                      batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
        hashes = [chunk_hash(t) for t in texts]
        stored = self.source.get_sentences(hashes, self.dim)
        vecs = self.source.get_embeddings(hashes, self.dim)
        missing = [i for i, h in enumerate(hashes) if h not in stored or len(stored[h][0]) != len(sentences[i])]
        sent_vecs = [stored[h][1] if h in stored else np.zeros((0, self.dim), np.float32) for h in hashes]
        if missing:
            got, got_sents = self.model().encode_chunks([texts[i] for i in missing], [sentences[i] for i in missing],
                                                        batch_size=batch_size)
            for j, i in enumerate(missing):
                vecs[i], sent_vecs[i] = got[j], got_sents[j]
        self.reused += len(texts) - len(missing)
        self.embedded += len(missing)
        return vecs, sent_vecs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--data", required=True, help="the Milvus run's data folder (its lock and journal)")
    ap.add_argument("--from", dest="source", required=True, help="the embedded index's data folder")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = Settings(corpus=args.corpus, data=args.data)
    emb = StoredVectors(Path(args.source), settings)
    rep = Engine(settings, embedder=emb).index(progress=False)  # type: ignore[arg-type]
    print(f"{rep.documents} documents, {rep.chunks} chunks in {rep.seconds:.1f} s; vectors reused {emb.reused}, "
          f"embedded {emb.embedded}")


if __name__ == "__main__":
    main()
