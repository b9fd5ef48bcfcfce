"""The kNN scorer kind: the k most similar training queries vote.

Li (2025), "Rethinking Predictive Modeling for LLM Routing: When Simple kNN Beats Complex
Learned Routers" (arXiv:2505.12601), shows that a well-tuned k-nearest-neighbours router in
embedding space matches or beats learned routers, because model performance is local in
embedding space. Ours: cosine similarity of the L2-normalised embeddings, the k nearest
training rows; P(needed) = their share of "large needed" labels, shrunk towards the training
base rate by one pseudo-count (so that k = 5 never says exactly 0 or 1); expected gain = their
mean q_large - q_small. ``k`` is chosen on validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.semantic.zoo import Prediction, ScorerData

#: Neighbourhood sizes tried on validation (those below the training size).
K_GRID: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500)
#: Rows scored per block (bounds the similarity matrix to block x train floats).
BLOCK_ROWS = 1024


@dataclass
class KNNModel:
    ref: np.ndarray  # [n_train, d] float32, L2-normalised
    labels: np.ndarray
    gains: np.ndarray
    k: int

    def predict(self, data: ScorerData) -> Prediction:
        q = _normalise(data.emb)
        k = min(self.k, len(self.ref))
        prior = float(self.labels.mean()) if len(self.labels) else 0.5
        p = np.empty(len(q))
        g = np.empty(len(q))
        for start in range(0, len(q), BLOCK_ROWS):
            sim = q[start : start + BLOCK_ROWS] @ self.ref.T
            nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            p[start : start + len(sim)] = (self.labels[nn].sum(1) + prior) / (k + 1)
            g[start : start + len(sim)] = self.gains[nn].mean(1)
        return Prediction(p, g)


def _normalise(emb: np.ndarray) -> np.ndarray:
    e = np.asarray(emb, dtype=np.float32)
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.where(norm > 0, norm, 1.0)


class KNNKind:
    name = "knn"
    selectable = True

    def applicable(self, data: ScorerData) -> bool:
        return len(data) > min(K_GRID)

    def grid(self, train: ScorerData) -> list[dict[str, Any]]:
        return [{"k": k} for k in K_GRID if k < len(train)]

    def fit(
        self, train: ScorerData, params: dict[str, Any], seed: int, cache: dict | None = None
    ) -> KNNModel:
        return KNNModel(
            _normalise(train.emb),
            train.labels.astype(np.float64),
            train.gain.astype(np.float64),
            int(params["k"]),
        )
