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


def _trace_with_predicted_lengths():
    from envs.traces.schema import PREDICTED_TOKEN_COLUMNS
    from envs.traces.synthetic import make_synthetic_trace

    trace = make_synthetic_trace(n_dialogues=120, turns_per_dialogue=1, seed=3)
    frame = trace.frame
    # The "predictor": exactly the realised lengths (an oracle predictor, for the test).
    frame[PREDICTED_TOKEN_COLUMNS[0]] = frame["output_tokens_small"].astype(float)
    frame[PREDICTED_TOKEN_COLUMNS[1]] = frame["output_tokens_large"].astype(float)
    return trace


def test_env_uses_the_per_query_length_prediction() -> None:
    import gymnasium as gym

    import envs  # noqa: F401

    trace = _trace_with_predicted_lengths()
    seen = {}
    for mode in ("predicted", "train_mean"):
        env = gym.make(
            "EdgeRoute/SingleTurn-v0",
            config={"trace": trace, "split": "train", "output_length": mode},
        )
        u = env.unwrapped
        assert u.data.output_length == mode
        slot = u.data.layout.index["log1p_predicted_output_tokens_device"]
        seen[mode] = np.unique(u.data.static_obs[:, slot]).size
        env.close()
    assert seen["train_mean"] == 1 and seen["predicted"] > 10
    # With the oracle lengths the estimate tracks the realised difference better.
    cfg = {"trace": trace, "split": "train", "episode_queries": 60}
    fits = {
        m: fit_scores(
            *collect_differences("EdgeRoute/SingleTurn-v0", {**cfg, "output_length": m}, (0, 1), 2)
        )
        for m in ("predicted", "train_mean")
    }
    assert fits["predicted"]["r2"] > fits["train_mean"]["r2"]


def test_output_length_mode_is_validated() -> None:
    import gymnasium as gym

    import envs  # noqa: F401

    with pytest.raises(EdgeRouteError, match="output_length"):
        gym.make("EdgeRoute/SingleTurn-v0", config={"output_length": "median"})
