"""How well the router's latency estimate predicts the realised latency difference.

The analytic rule trades ``p`` against ``alpha (T_edge - T_device)``, where each ``T`` is the
router's estimate (``info["estimate"]``: current channel and load estimates, predicted output
length, cache state). The environment also reports, for the same pending query, the realised
latency of both actions (``info["hindsight"]["latency_s"]``). This module replays test
episodes with a seeded random router (so that both sides and their cache states occur) and
scores the estimated difference ``x = T_edge - T_device`` against the realised one ``y``:

- ``r2`` = 1 - mean((y - x)^2) / var(y): the estimate used as is, no refit (what the rule does);
- ``corr2`` = corr(x, y)^2: the share of the variance a linear recalibration would explain;
- ``mae_s`` = mean |y - x|.

Comparing a config with per-query output lengths against one with the constant train mean
(:func:`compare_output_length`) measures what the length predictor buys the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cost_models.errors import require


def collect_differences(
    env_id: str,
    config: Mapping[str, Any],
    seeds: Sequence[int] = (0, 1, 2),
    episodes: int = 2,
    edge_share: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """``(estimated, realised)`` T_edge - T_device over every step of the episodes."""
    from experiments.envfactory import make_env

    env = make_env(env_id, dict(config))
    est, real = [], []
    try:
        for seed in seeds:
            rng = np.random.default_rng(10_000 + int(seed))
            for ep in range(int(episodes)):
                _, info = env.reset(seed=int(seed) * 1000 + ep)
                done = False
                while not done and "estimate" in info:
                    e = info["estimate"]
                    est.append(e["edge"]["total_s"] - e["device"]["total_s"])
                    lat = info["hindsight"]["latency_s"]
                    real.append(lat[1] - lat[0])
                    action = int(rng.random() < edge_share)
                    _, _, terminated, truncated, info = env.step(action)
                    done = terminated or truncated
    finally:
        env.close()
    return np.asarray(est, float), np.asarray(real, float)


def fit_scores(estimated: np.ndarray, realised: np.ndarray) -> dict[str, float]:
    """``{r2, corr2, mae_s, n}`` of the estimate against the realised difference."""
    x, y = np.asarray(estimated, float), np.asarray(realised, float)
    require(len(x) == len(y) and len(x) >= 3, "need at least 3 (estimate, realised) pairs")
    var = float(np.var(y))
    r2 = 1.0 - float(np.mean((y - x) ** 2)) / var if var > 0 else float("nan")
    corr = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and var > 0 else float("nan")
    return {"r2": r2, "corr2": corr**2, "mae_s": float(np.mean(np.abs(y - x))), "n": len(x)}


def compare_output_length(
    env_id: str,
    config: Mapping[str, Any],
    option: str,
    values: Sequence[Any],
    seeds: Sequence[int] = (0, 1, 2),
    episodes: int = 2,
) -> dict[str, dict[str, float]]:
    """:func:`fit_scores` for each value of the env config key ``option``."""
    return {
        str(v): fit_scores(*collect_differences(env_id, {**config, option: v}, seeds, episodes))
        for v in values
    }
