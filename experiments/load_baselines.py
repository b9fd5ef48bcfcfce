"""The two load baselines of issue 10 in the benchmark: tuned, swept and compared like Analytic.

``analytic_load_blind`` (the analytic rule on ``info["estimate_load_blind"]``: the edge load at
its long-run mean) and ``load_aware_semantic_blind`` (the analytic rule with ``p`` fixed at
0.5: latency only) say where the analytic router's gain comes from: what is left of it
without knowing the load, and how much of it needs the semantic score. Each is tuned on
validation exactly as Analytic is (its ``theta`` calibrated to evenly spaced edge shares of
ITS score on the recorded validation inputs, at every ``alpha`` of the grid; the cheapest
point reaching always-edge's validation quality is its tuned point), swept over the same
grid on test for its frontier, and compared with SemanticThreshold (static) at matched
quality like Analytic (:func:`experiments.matched.reductions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agents.calibration import calibrate_threshold
from agents.registry import make_policy
from experiments.frontier import FrontierPoint
from experiments.matched import at_quality, reductions
from experiments.runs import Executor, SplitRuns
from experiments.sweeps import SweepPoint
from experiments.tuning import (
    Candidates,
    ValidationRecord,
    edge_shares,
    tune,
)

#: The baselines, in table order (registry names).
LOAD_BASELINES: tuple[str, ...] = ("analytic_load_blind", "load_aware_semantic_blind")


def baseline_theta_grids(
    rec: ValidationRecord, policy: str, alpha_grid: Sequence[float], n_points: int
) -> dict[float, list[float]]:
    """alpha -> theta values calibrated to :func:`experiments.tuning.edge_shares` of
    ``policy``'s score S on the recorded validation inputs."""
    grids: dict[float, list[float]] = {}
    for alpha in alpha_grid:
        probe = make_policy(policy, alpha=float(alpha), theta=0.0)
        s_values = np.asarray([probe.score(r) for r in rec.records], dtype=float)
        grids[float(alpha)] = sorted(
            {calibrate_threshold(s_values, s) for s in edge_shares(n_points)}
        )
    return grids


def tune_load_baselines(
    executor: Executor, val: SplitRuns, rec: ValidationRecord, n_points: int,
    alpha_grid: Sequence[float],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per baseline: its theta grids, its tuned ``{alpha, theta}`` and their validation
    metrics (one executor call for both)."""
    grids = {p: baseline_theta_grids(rec, p, alpha_grid, n_points) for p in LOAD_BASELINES}
    families = {
        p: Candidates(p, [{"alpha": a, "theta": t} for a, ts in g.items() for t in ts])
        for p, g in grids.items()
    }
    best = tune(executor, val, rec.target_quality, families)
    return {
        p: {
            "theta_grids": grids[p],
            "best": {k: float(v) for k, v in best[p].best.items()},
            "validation": best[p].best_metrics,
        }
        for p in LOAD_BASELINES
    }


def baseline_sweeps(tuned: Mapping[str, Mapping[str, Any]]) -> dict[str, list[SweepPoint]]:
    """Each baseline over its validation-calibrated grid (theta at every alpha)."""
    return {
        p: [
            SweepPoint(p, {"alpha": a, "theta": th}, th, (("alpha", a),))
            for a, thetas in t["theta_grids"].items()
            for th in thetas
        ]
        for p, t in tuned.items()
    }


def baseline_comparison(
    sweeps: Mapping[str, Sequence[FrontierPoint]],
    policies: Mapping[str, Mapping[str, float]],
    pgr_levels: Sequence[float],
) -> dict[str, Any]:
    """Each baseline and Analytic vs SemanticThreshold at always-edge's test quality and at
    ``pgr_levels`` of the always-device -> always-edge quality gap (percent reductions,
    positive = lower than static): the same readings as ``matched_comparison``'s."""
    target = policies["always_edge"]["quality"]
    q_device = policies["always_device"]["quality"]
    levels = {"1": target} | {
        f"{lv:g}": q_device + lv * (target - q_device) for lv in pgr_levels
    }
    out: dict[str, Any] = {}
    for key, quality in levels.items():
        static = at_quality(sweeps["semantic_threshold"], quality)
        entry: dict[str, Any] = {"target_quality": quality}
        for name in ("analytic", *LOAD_BASELINES):
            entry[f"{name}_vs_static"] = reductions(static, at_quality(sweeps[name], quality))
        out[key] = entry
    return out
