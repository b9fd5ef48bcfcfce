"""The per-query output-length predictor: learns real structure, says when it cannot."""

from __future__ import annotations

import numpy as np

from cost_models.semantic.length import LengthModel, fit_length_predictor, length_design, mae_log
from cost_models.semantic.scorer import length_features


def make(n: int, seed: int):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    prompt = rng.integers(5, 300, n)
    # Long prompts and one embedding direction ask for long answers; log-normal noise.
    log_tokens = 3.0 + 0.4 * np.log1p(prompt) + 2.0 * emb[:, 0] + 0.3 * rng.standard_normal(n)
    tokens = np.round(np.expm1(log_tokens)).astype(int)
    X = length_design(emb, length_features(prompt, np.zeros(n)))
    split = rng.choice(["train", "validation", "test"], n, p=[0.6, 0.2, 0.2])
    return X, tokens, split


def test_learns_lengths_and_beats_the_constant() -> None:
    X, tokens, split = make(3000, 0)
    fit = fit_length_predictor(X, tokens, split, None, real=True)
    r = fit.report
    assert r["trained"] and r["mae_log_tokens"] < 0.6 * r["baseline_mae_log_tokens"]
    # The noise sd is 0.3, so the MAE floor is 0.3 sqrt(2 / pi) = 0.24.
    assert 0.2 < r["mae_log_tokens"] < 0.32
    # Smearing: the mean of predicted tokens tracks the mean of real tokens on test.
    te = split == "test"
    assert abs(fit.predicted_tokens[te].mean() / tokens[te].mean() - 1) < 0.15
    assert (fit.predicted_tokens >= 1).all()


def test_train_predictions_are_out_of_fold() -> None:
    rng = np.random.default_rng(1)
    n = 600
    X = rng.standard_normal((n, 200))  # many features, pure-noise lengths: in-sample overfits
    tokens = rng.integers(10, 400, n)
    split = np.array(["train"] * 400 + ["validation"] * 100 + ["test"] * 100)
    fit = fit_length_predictor(X, tokens, split, None, real=True)
    tr = split == "train"
    model = LengthModel.fit(X[tr], tokens[tr], fit.report["alpha"])
    in_sample = mae_log(tokens[tr], model.predict_log(X[tr]))
    oof = mae_log(tokens[tr], np.log((fit.predicted_tokens[tr] + 1) / model.smear))
    assert oof > in_sample


def test_modelled_lengths_keep_the_constant() -> None:
    X, tokens, split = make(500, 2)
    fit = fit_length_predictor(X, tokens, split, None, real=False)
    assert not fit.report["trained"] and "modelled" in fit.report["predictor"]
    assert fit.report["mae_log_tokens"] == fit.report["baseline_mae_log_tokens"]
    assert np.allclose(fit.predicted_tokens, tokens[split == "train"].mean())
