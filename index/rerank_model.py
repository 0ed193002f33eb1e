"""The reranker and abstention models stored in `reranker_weights.json`, evaluated in numpy (no pickles).

- `weights`: the linear model over `LINEAR_FEATURES` (absolute sentence features), with `abstain_threshold`
  for files that carry no abstention model.
- `ranker` (optional): a small MLP over named features, trained listwise (the answering sentence above the
  question's others) by `scripts/fit_reranker.py`; `additive` features (speaker, date) are added outside the
  network with fixed weights, so what the development sets barely teach keeps its prior.
- `abstain` (optional): a logistic model over question-level features (`ABSTAIN_FEATURES`) with its own
  fitted threshold; it is separate from the ranker, whose scores are relative within a question.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .features import DEFAULT_WEIGHTS, FEATURES


class RerankModel:
    def __init__(self, data: dict) -> None:
        self.data = data
        self.weights: dict[str, float] = dict(data.get("weights", {}))
        r = data.get("ranker")
        self.ranker = None
        if r:
            self.ranker = r
            self._cols = [FEATURES.index(f) for f in r["features"]]
            self._mean = np.asarray(r["mean"], dtype=np.float64)
            self._scale = np.asarray(r["scale"], dtype=np.float64)
            self._layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in r["layers"]]
            self._add = [(FEATURES.index(f), float(w)) for f, w in r.get("additive", {}).items()]
            self._lin_mix = float(r.get("linear_mix", 0.0))
        a = data.get("abstain")
        self.abstain = a or None

    def rank_scores(self, X: np.ndarray, linear: np.ndarray) -> np.ndarray:
        """The ranker's score of each row of a FEATURES matrix (higher ranks first)."""
        h = (X[:, self._cols] - self._mean) / self._scale
        for n, (W, b) in enumerate(self._layers):
            h = h @ W + b
            if n < len(self._layers) - 1:
                h = np.maximum(h, 0.0)
        out = h[:, 0]
        for col, w in self._add:
            out = out + w * X[:, col]
        return out + self._lin_mix * linear

    def abstain_score(self, feats: dict[str, float], weights: dict[str, float]) -> float:
        if not self.abstain:
            return feats.get("best_linear", float("-inf"))
        a = self.abstain
        x = (np.array([feats[f] for f in a["features"]]) - np.asarray(a["mean"])) / np.asarray(a["scale"])
        return float(a["intercept"] + x @ np.asarray(a["coef"]))

    def abstain_threshold(self, weights: dict[str, float]) -> float:
        if not self.abstain:
            return weights.get("abstain_threshold", 0.0)
        return float(self.abstain["threshold"])


def load_model(path: Path) -> RerankModel:
    data = json.loads(path.read_text()) if path.exists() else {}
    weights = dict(DEFAULT_WEIGHTS)
    weights.update(data.get("weights", {}))
    data["weights"] = weights
    return RerankModel(data)
