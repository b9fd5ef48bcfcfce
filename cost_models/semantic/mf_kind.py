"""The matrix-factorisation scorer kind: one model of every model's outcomes.

RouteLLM's MF router (Ong et al., ICLR 2025; ``routellm/routers/matrix_factorization/
model.py`` at lm-sys/RouteLLM 0b64fda) scores a model m on a query q as
``w2^T (v_m * (W1 e_q))``: a learned model factor ``v_m`` times a learned projection of the
query embedding. It learns from pairwise preferences between many models. Where a source
measured more than two models on the same queries (EvalTree's three and RouteLLM's two on
MMLU; the four GPT-3 runs and RouteLLM's two on GSM8K; three vicuna runs and RouteLLM's two on
MT-Bench), we fit the same bilinear form to every model's outcome at once:

    P(q_m = 1 | x) = sigmoid(v_m . (W x) + b_m),   x = standardised [embedding | lengths]

(binary cross-entropy with soft labels for judge scores / 10, entries not measured are
masked, L2 weight decay, full-batch Adam). The other models' outcomes regularise the shared
projection W: they are extra, correlated labels on the same queries. The pair's expected gain
is E[q_large] - E[q_small]; P(needed) = E[q_large] (1 - E[q_small]) (conditional independence
given the query; Platt scaling on validation then corrects its calibration). Rank and weight
decay are chosen on validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.semantic.zoo import Prediction, ScorerData

#: (rank, weight decay) settings tried on validation.
GRID: tuple[tuple[int, float], ...] = ((8, 1e-3), (8, 1e-2), (32, 1e-3), (32, 1e-2))
#: Full-batch Adam steps and learning rate (enough to converge on <= 10k rows x 6 models).
STEPS = 300
LEARNING_RATE = 0.02
#: MF needs at least this many models with outcomes.
MIN_MODELS = 3


def _x(data: ScorerData, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    x = np.hstack([np.asarray(data.emb, float), np.asarray(data.lengths, float)])
    return (x - mean) / std


@dataclass
class MFModel:
    W: np.ndarray  # [d, r]
    V: np.ndarray  # [M, r]
    b: np.ndarray  # [M]
    mean: np.ndarray
    std: np.ndarray
    small_col: int
    large_col: int

    def quality(self, data: ScorerData) -> np.ndarray:
        """``[n, M]`` predicted P(q_m = 1) for every model."""
        z = _x(data, self.mean, self.std) @ self.W
        return 1.0 / (1.0 + np.exp(-(z @ self.V.T + self.b)))

    def predict(self, data: ScorerData) -> Prediction:
        q = self.quality(data)
        qs, ql = q[:, self.small_col], q[:, self.large_col]
        return Prediction(ql * (1.0 - qs), ql - qs)


class MFKind:
    name = "mf"
    selectable = True

    def applicable(self, data: ScorerData) -> bool:
        return data.outcomes is not None and data.outcomes.shape[1] >= MIN_MODELS

    def grid(self, train: ScorerData) -> list[dict[str, Any]]:
        return [{"rank": r, "weight_decay": wd} for r, wd in GRID]

    def fit(
        self, train: ScorerData, params: dict[str, Any], seed: int, cache: dict | None = None
    ) -> MFModel:
        import torch

        assert train.outcomes is not None and train.small_col is not None
        assert train.large_col is not None
        x_raw = np.hstack([np.asarray(train.emb, float), np.asarray(train.lengths, float)])
        mean = x_raw.mean(0)
        std = np.where(x_raw.std(0) > 0, x_raw.std(0), 1.0)
        x = torch.tensor((x_raw - mean) / std, dtype=torch.float32)
        y_np = np.asarray(train.outcomes, float)
        mask = torch.tensor(np.isfinite(y_np), dtype=torch.float32)
        y = torch.tensor(np.nan_to_num(y_np, nan=0.0), dtype=torch.float32)
        rank, n_models = int(params["rank"]), y.shape[1]
        gen = torch.Generator().manual_seed(int(seed))
        W = (torch.randn(x.shape[1], rank, generator=gen) / np.sqrt(x.shape[1])).requires_grad_()
        V = (torch.randn(n_models, rank, generator=gen) / np.sqrt(rank)).requires_grad_()
        base = np.clip(np.nanmean(y_np, axis=0), 1e-3, 1 - 1e-3)
        b = torch.tensor(np.log(base / (1 - base)), dtype=torch.float32).requires_grad_()
        opt = torch.optim.Adam([W, V, b], lr=LEARNING_RATE)
        wd = float(params["weight_decay"])
        n_obs = mask.sum().clamp(min=1.0)
        for _ in range(STEPS):
            opt.zero_grad()
            logits = (x @ W) @ V.T + b
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y, weight=mask, reduction="sum"
            )
            loss = bce / n_obs + wd * (W.square().sum() + V.square().sum())
            loss.backward()
            opt.step()
        return MFModel(
            W.detach().numpy().astype(np.float64),
            V.detach().numpy().astype(np.float64),
            b.detach().numpy().astype(np.float64),
            mean,
            std,
            int(train.small_col),
            int(train.large_col),
        )
