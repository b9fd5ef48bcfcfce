"""Scores of the router's latency estimate against the realised difference."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from experiments.estimate_fit import collect_differences, fit_scores


def test_fit_scores_by_hand() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert fit_scores(y, y) == {"r2": 1.0, "corr2": pytest.approx(1.0), "mae_s": 0.0, "n": 4}
    # A constant offset keeps the correlation but costs R^2: var(y) = 1.25, MSE = 1.
    s = fit_scores(y + 1.0, y)
    assert s["r2"] == pytest.approx(1 - 1 / 1.25) and s["corr2"] == pytest.approx(1.0)
    assert s["mae_s"] == pytest.approx(1.0)
    with pytest.raises(EdgeRouteError, match="at least 3"):
        fit_scores(y[:2], y[:2])


def test_collects_one_pair_per_step_on_the_synthetic_trace() -> None:
    cfg = {"benchmark": "synthetic", "synthetic_size": 100, "episode_queries": 30}
    est, real = collect_differences("EdgeRoute/SingleTurn-v0", cfg, seeds=(0,), episodes=2)
    assert len(est) == len(real) == 60
    assert np.isfinite(est).all() and np.isfinite(real).all()
    # The estimate carries real information about the realised difference.
    assert fit_scores(est, real)["corr2"] > 0.05
