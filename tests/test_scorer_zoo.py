"""The scorer zoo: every kind learns a real signal, MF uses the other models, selection and
cross-fitting are honest (grouped by dialogue, out of fold)."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.semantic.kinds import SCORER_KINDS
from cost_models.semantic.scorer import length_features, roc_auc
from cost_models.semantic.zoo import ScorerData, fit_zoo, fold_indices, select_kind


def make(n: int, seed: int, n_other: int = 2, dim: int = 8) -> ScorerData:
    """The small model fails where emb[0] is high; the large one mostly succeeds; other models
    share the same difficulty direction (so their outcomes inform the pair's)."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    hard = 6 * emb[:, 0]
    qs = (rng.random(n) < 1 / (1 + np.exp(hard))).astype(float)
    ql = np.maximum(qs, (rng.random(n) < 0.6).astype(float))
    others = [(rng.random(n) < 1 / (1 + np.exp(hard - j))).astype(float) for j in range(n_other)]
    outcomes = np.column_stack([qs, ql, *others])
    names = ("small", "large", *(f"m{j}" for j in range(n_other)))
    lengths = length_features(rng.integers(5, 400, n), np.zeros(n))
    return ScorerData(emb, lengths, qs, ql, outcomes, names, 0, 1)


def test_every_kind_learns_and_beats_length_only() -> None:
    result = fit_zoo(make(800, 0), make(300, 1), make(600, 2), seed=0)
    assert set(result.report) == {"logistic", "knn", "mf", "length_only"}
    ref = result.report["length_only"]
    for name in ("logistic", "knn", "mf"):
        r = result.report[name]
        assert r["auc"] > 0.65 and r["auc"] > ref["auc"] + 0.08, (name, r)
        assert r["apgr"] > ref["apgr"] + 0.05, (name, r)
        assert 0 < r["brier"] < ref["brier"] + 0.005
    assert result.selected in {"logistic", "knn", "mf"}
    best = result.report[result.selected]["validation_apgr"]
    assert best == max(result.report[n]["validation_apgr"] for n in ("logistic", "knn", "mf"))


def test_expected_gain_tracks_the_realised_gain() -> None:
    train, val, test = make(800, 3), make(300, 4), make(2000, 5)
    fitted = select_kind(SCORER_KINDS["logistic"], train, val)
    pred = fitted.predict(test)
    # Higher predicted gain -> higher realised gain (top vs bottom third).
    order = np.argsort(pred.expected_gain)
    third = len(order) // 3
    assert test.gain[order[-third:]].mean() > test.gain[order[:third]].mean() + 0.2


def test_mf_needs_more_than_two_models_and_uses_them() -> None:
    two = make(400, 6, n_other=0)
    assert not SCORER_KINDS["mf"].applicable(two)
    assert "mf" not in fit_zoo(two, make(200, 7, n_other=0), make(200, 8, n_other=0)).report
    # One shared factor model predicts every model's outcomes, not only the pair's.
    val, test = make(300, 11, n_other=3), make(800, 12, n_other=3)
    fitted = select_kind(SCORER_KINDS["mf"], make(800, 10, n_other=3), val)
    q = fitted.model.quality(test)
    assert q.shape == (800, 5)
    for col in (0, 2, 3, 4):  # the large model (col 1) is mostly right regardless
        assert roc_auc(test.outcomes[:, col], q[:, col]) > 0.75, col


def test_cross_fit_is_out_of_fold_and_grouped_by_dialogue() -> None:
    rng = np.random.default_rng(13)
    n_dialogues, turns = 150, 3
    groups = np.repeat(np.arange(n_dialogues), turns)
    # Identical embeddings and labels within a dialogue, pure noise across dialogues.
    emb = np.repeat(rng.standard_normal((n_dialogues, 8)), turns, axis=0)
    qs = np.repeat((rng.random(n_dialogues) < 0.5).astype(float), turns)
    ql = 1.0 - qs
    lengths = length_features(np.full(len(qs), 10), np.zeros(len(qs)))
    data = ScorerData(emb, lengths, qs, ql, groups=groups)
    fitted = select_kind(SCORER_KINDS["knn"], data, data)
    fitted.params = {"k": 5}  # the 2 other turns of a dialogue are its nearest neighbours
    fitted.platt = (1.0, 0.0)  # keep the raw ranking (this test is about the folds)
    grouped = fitted.cross_fit(data)
    assert abs(roc_auc(data.labels, grouped.p_needed) - 0.5) < 0.12
    # Without groups, the other turns of the same dialogue leak the label.
    from dataclasses import replace

    leaky = fitted.cross_fit(replace(data, groups=None))
    assert roc_auc(data.labels, leaky.p_needed) > 0.7
    for tr, te in fold_indices(data.labels, groups, 5, 0):
        assert not set(groups[tr]) & set(groups[te])


def test_bad_inputs() -> None:
    d = make(50, 14)
    with pytest.raises(EdgeRouteError, match="unknown scorer kinds"):
        fit_zoo(d, d, d, kinds=["forest"])
    with pytest.raises(EdgeRouteError, match=r"\[0, 1\]"):
        ScorerData(d.emb, d.lengths, d.quality_small * 2, d.quality_large)
    with pytest.raises(EdgeRouteError, match="one row per embedding row"):
        ScorerData(d.emb, d.lengths[:10], d.quality_small, d.quality_large)
