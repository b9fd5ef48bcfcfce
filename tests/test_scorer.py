"""The semantic scorer on arrays: selection, metrics, cross-fitting, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.semantic.scorer import (
    SemanticScorer,
    brier,
    calibration_table,
    evaluate,
    length_features,
    plot_reliability,
    roc_auc,
)


def make(n: int, seed: int, signal: float = 2.0):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    lengths = length_features(rng.integers(5, 400, n), np.zeros(n))
    logit = signal * 4 * emb[:, 0] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return emb, lengths, y


def test_learns_the_signal_and_beats_length_only(tmp_path) -> None:
    (etr, ltr, ytr), (eva, lva, yva), (ete, lte, yte) = (
        make(n, s) for n, s in ((600, 0), (200, 1), (400, 2))
    )
    scorer, loss = SemanticScorer.select_and_fit(etr, ltr, ytr, eva, lva, yva)
    report = evaluate(scorer, ete, lte, yte, len(ytr), len(yva), loss)
    assert report.auc > 0.75 and report.length_only_auc < 0.62
    assert report.brier < brier(yte, np.full(len(yte), ytr.mean()))
    assert sum(r["count"] for r in report.calibration) == len(yte)
    png = plot_reliability(report, "synthetic", tmp_path / "rel.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_save_load_round_trip(tmp_path) -> None:
    emb, lengths, y = make(300, 4)
    scorer, _ = SemanticScorer.select_and_fit(emb, lengths, y, emb, lengths, y)
    scorer.save(tmp_path / "s")
    loaded = SemanticScorer.load(tmp_path / "s")
    assert np.allclose(loaded.predict(emb, lengths), scorer.predict(emb, lengths))
    assert np.allclose(loaded.predict_length_only(lengths), scorer.predict_length_only(lengths))
    with pytest.raises(EdgeRouteError, match="no saved scorer"):
        SemanticScorer.load(tmp_path / "missing")


def test_single_class_predicts_base_rate() -> None:
    emb, lengths, _ = make(50, 5)
    y = np.zeros(50, int)
    scorer, _ = SemanticScorer.select_and_fit(emb, lengths, y, emb, lengths, y)
    p = scorer.predict(emb, lengths)
    assert np.allclose(p, p[0]) and p[0] < 0.01
    assert np.isnan(roc_auc(y, p))


def test_metrics_values() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert brier(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    rows = calibration_table(y, np.array([0.05, 0.15, 0.95, 0.91]))
    assert [r["count"] for r in rows] == [1, 1, 2] and rows[-1]["frac_positive"] == 1.0


def test_bad_labels() -> None:
    emb, lengths, y = make(40, 6)
    with pytest.raises(EdgeRouteError, match="0/1"):
        SemanticScorer.select_and_fit(emb, lengths, y * 2, emb, lengths, y)


def test_platt_without_positive_association_gives_the_base_rate() -> None:
    from cost_models.semantic.scorer import fit_platt

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    raw = np.where(y == 1, 0.3, 0.7) + 0.05 * rng.random(400)  # inverted ranking
    a, b = fit_platt(raw, y)
    assert a == 0.0 and 1 / (1 + np.exp(-b)) == pytest.approx(y.mean())
    a, _ = fit_platt(1 - raw, y)
    assert a > 0
