"""A per-query output-length predictor per model.

Decode time is linear in the answer's length, so a router that assumes one constant length per
side (the train-split mean) cannot tell a one-word answer from an essay. Where a trace has
real answer lengths (GSM8K solutions, MT-Bench answers with Medusa's real ``new_tokens``,
MT-Bench-101 golden answers, MT-Eval answers), we regress ``log(1 + output tokens)`` of each
model on the query embedding and the length features (log(1 + prompt tokens), log(1 + history
tokens)): ridge regression on standardised features, the L2 strength chosen on validation by
mean absolute error in log tokens, fitted on train.

A log-scale fit predicts the median; decode time needs the mean, so the token prediction is
``exp(mu_hat) * s - 1`` with Duan's (1983) smearing factor ``s = mean(exp(residual))`` over the
training rows (the mean of a log-normal-like residual, estimated without assuming its shape).

The error is reported as MAE in log tokens on test, next to the constant baseline the
environment used before: the train-split mean length, ``|log1p(y) - log1p(mean_train)|``.
Where lengths are modelled rather than measured (MMLU), nothing real can be learned; the
predictor is the constant and the report says so. Train-split predictions are out of fold
(grouped by dialogue), like the scorer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.errors import require

#: Ridge strengths tried on validation.
ALPHA_GRID: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 10000.0)
#: Folds of the out-of-fold train predictions.
FOLDS = 5


@dataclass
class LengthModel:
    """Ridge on standardised features -> log(1 + tokens), with a smearing factor."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    std: np.ndarray
    smear: float
    alpha: float

    @classmethod
    def fit(cls, X: np.ndarray, tokens: np.ndarray, alpha: float) -> LengthModel:
        X = np.asarray(X, float)
        y = np.log1p(np.asarray(tokens, float))
        mean = X.mean(0)
        std = np.where(X.std(0) > 0, X.std(0), 1.0)
        Z = (X - mean) / std
        y0 = y.mean()
        coef = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (y - y0))
        resid = y - (Z @ coef + y0)
        return cls(coef, float(y0), mean, std, float(np.mean(np.exp(resid))), float(alpha))

    def predict_log(self, X: np.ndarray) -> np.ndarray:
        """Predicted log(1 + tokens) (a median estimate)."""
        return ((np.asarray(X, float) - self.mean) / self.std) @ self.coef + self.intercept

    def predict_tokens(self, X: np.ndarray) -> np.ndarray:
        """Predicted mean tokens (smearing-corrected), >= 1."""
        return np.maximum(np.exp(self.predict_log(X)) * self.smear - 1.0, 1.0)


def length_design(emb: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The predictor's features: ``[embedding | log1p prompt | log1p history]``."""
    return np.hstack([np.asarray(emb, float), np.asarray(lengths, float)])


def mae_log(tokens: np.ndarray, predicted_log: np.ndarray) -> float:
    """Mean absolute error in log(1 + tokens)."""
    return float(np.mean(np.abs(np.log1p(np.asarray(tokens, float)) - predicted_log)))


@dataclass
class LengthFit:
    """One model's length predictor: predictions for every row and the test report."""

    predicted_tokens: np.ndarray
    report: dict[str, Any]


def fit_length_predictor(
    X: np.ndarray,
    tokens: np.ndarray,
    split: np.ndarray,
    groups: np.ndarray | None,
    real: bool,
    seed: int = 0,
) -> LengthFit:
    """Select on validation, fit on train, report on test; out of fold on train.

    ``real`` says whether ``tokens`` are measured answer lengths; when not, the prediction is
    the constant train mean (the old behaviour) and the report says ``trained: False``.
    """
    tokens = np.asarray(tokens, float)
    split = np.asarray(split)
    tr, va, te = (split == s for s in ("train", "validation", "test"))
    require(bool(tr.any() and te.any()), "the length predictor needs train and test rows")
    const = float(tokens[tr].mean())
    baseline_log = np.log1p(const)
    report: dict[str, Any] = {
        "baseline_mae_log_tokens": round(mae_log(tokens[te], np.full(te.sum(), baseline_log)), 6),
        "baseline": "constant train-split mean tokens",
        "n_test": int(te.sum()),
    }
    if not real or not va.any():
        report.update(
            mae_log_tokens=report["baseline_mae_log_tokens"],
            trained=False,
            predictor="constant train-split mean"
            + ("" if real else " (output lengths are modelled, not measured)"),
        )
        return LengthFit(np.full(len(tokens), const), report)
    best = None
    for alpha in ALPHA_GRID:
        model = LengthModel.fit(X[tr], tokens[tr], alpha)
        err = mae_log(tokens[va], model.predict_log(X[va]))
        if best is None or err < best[0]:
            best = (err, model)
    assert best is not None
    model = best[1]
    pred = model.predict_tokens(X)
    pred[tr] = _out_of_fold(X[tr], tokens[tr], None if groups is None else groups[tr], model, seed)
    report.update(
        mae_log_tokens=round(mae_log(tokens[te], model.predict_log(X[te])), 6),
        validation_mae_log_tokens=round(best[0], 6),
        trained=True,
        predictor="ridge on [embedding | log1p prompt, history tokens] -> log1p tokens",
        alpha=model.alpha,
        smearing=round(model.smear, 6),
    )
    return LengthFit(pred, report)


def _out_of_fold(
    X: np.ndarray, tokens: np.ndarray, groups: np.ndarray | None, model: LengthModel, seed: int
) -> np.ndarray:
    from sklearn.model_selection import GroupKFold, KFold

    out = np.full(len(tokens), float(tokens.mean()))
    n_units = len(np.unique(groups)) if groups is not None else len(tokens)
    k = min(FOLDS, n_units)
    if k < 2:
        return out
    if groups is None:
        splits = KFold(n_splits=k, shuffle=True, random_state=seed).split(X)
    else:
        splits = GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(X, groups=groups)
    for a, b in splits:
        out[b] = LengthModel.fit(X[a], tokens[a], model.alpha).predict_tokens(X[b])
    return out
