"""Tuning the threshold policies on the validation split (never on test).

- SemanticThreshold: thresholds calibrated to evenly spaced edge-call shares on the validation
  scores (RouteLLM's calibration), each evaluated on validation; the chosen one is the cheapest
  (lowest mean latency) whose validation quality reaches always-edge's validation quality.
- Analytic: for each ``alpha`` of a grid, ``theta`` values calibrated to edge shares on the
  validation distribution of ``S`` (computed from recorded ``semantic_p`` / ``estimate``), each
  evaluated on validation; same selection rule over all ``(alpha, theta)``.

The same rule, "cheapest at the quality of always-edge", is the matched-quality criterion the
benchmark reports on test, so validation picks the operating point the headline is about.

Two executor phases (:mod:`experiments.runs`): always-edge's runs, recording the router inputs
(they calibrate every grid), then every grid point of every family at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.analytic import Analytic
from agents.calibration import (
    TuningResult,
    calibrate_threshold,
    grid_search,
    matched_quality_objective,
)
from cost_models.errors import require
from experiments.runs import Executor, RunBatch, SplitRuns, policy_runs

#: Extra edge-call shares close to always-edge. Matched quality is read at always-edge's
#: quality, where a frontier drawn only at 0, 0.1, ..., 1 jumps from 90% edge calls straight to
#: 100%; these points resolve the top end (0.95, 0.975, 0.99, 0.995).
TOP_SHARES: tuple[float, ...] = (0.95, 0.975, 0.99, 0.995)


def edge_shares(n_points: int) -> np.ndarray:
    """``n_points`` evenly spaced edge shares in [0, 1] plus :data:`TOP_SHARES`, sorted."""
    return np.unique(np.r_[np.linspace(0.0, 1.0, n_points), TOP_SHARES])


@dataclass(frozen=True)
class ValidationRecord:
    """Always-edge on validation: its quality (the tuning target) and the router inputs seen."""

    target_quality: float
    records: list[dict[str, Any]]


def require_validation(runs: SplitRuns) -> None:
    """Raise unless ``runs`` are on the validation split: tuning on test (or train) would
    make every reported test number optimistic (issue 14; ``tests/test_stats.py``)."""
    split = runs.env.config.get("split")
    require(
        split == "validation",
        f"tuning runs on split {split!r}: thresholds, alpha and theta are tuned on "
        "'validation' only (test is for reporting, train for PPO)",
    )


def record_validation(executor: Executor, val: SplitRuns) -> ValidationRecord:
    """Run always-edge on validation: target quality and the recorded router inputs."""
    require_validation(val)
    results = executor.map(val.specs("always_edge", {}, record_inputs=True))
    records = [rec for r in results for rec in r.router_inputs]
    return ValidationRecord(float(policy_runs(results).metrics["quality"]), records)


def semantic_thresholds(rec: ValidationRecord, n_points: int) -> list[float]:
    """SemanticThreshold thresholds calibrated to :func:`edge_shares` of the validation scores."""
    scores = np.asarray([r["semantic_p"] for r in rec.records], dtype=float)
    return sorted({calibrate_threshold(scores, s) for s in edge_shares(n_points)})


def theta_grid(
    rec: ValidationRecord, alpha: float, n_points: int, term_flags: Mapping[str, bool]
) -> list[float]:
    """Theta values calibrated to evenly spaced edge shares of the validation scores S."""
    probe = Analytic(alpha=float(alpha), theta=0.0, **term_flags)
    s_values = np.asarray([probe.score(r) for r in rec.records], dtype=float)
    return sorted({calibrate_threshold(s_values, s) for s in edge_shares(n_points)})


def theta_grids(
    rec: ValidationRecord,
    alpha_grid: Sequence[float],
    n_points: int,
    term_flags: Mapping[str, bool] | None = None,
) -> dict[float, list[float]]:
    """alpha -> its calibrated theta grid (the analytic family swept on validation and test)."""
    flags = dict(term_flags or {})
    return {float(a): theta_grid(rec, float(a), n_points, flags) for a in alpha_grid}


@dataclass(frozen=True)
class Candidates:
    """One policy family's grid to tune: tuned parameters per point, plus fixed arguments."""

    policy: str
    """registry name"""
    grid: list[dict[str, Any]]
    """the tuned parameters of each point (what TuningResult.best reports)"""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """arguments shared by every point (an ablation variant's cost-term flags)"""


def semantic_candidates(thresholds: Sequence[float]) -> Candidates:
    return Candidates("semantic_threshold", [{"threshold": t} for t in thresholds])


def analytic_candidates(
    grids: Mapping[float, Sequence[float]], term_flags: Mapping[str, bool] | None = None
) -> Candidates:
    grid = [{"alpha": a, "theta": t} for a, thetas in grids.items() for t in thetas]
    return Candidates("analytic", grid, dict(term_flags or {}))


def tune(
    executor: Executor,
    val: SplitRuns,
    target_quality: float,
    families: Mapping[str, Candidates],
) -> dict[str, TuningResult]:
    """Every family's grid on validation in one executor call; per family, the cheapest point
    that reaches ``target_quality`` (:func:`agents.calibration.matched_quality_objective`)."""
    require_validation(val)
    batch = RunBatch()
    for name, cand in families.items():
        for i, params in enumerate(cand.grid):
            batch.add((name, i), val.specs(cand.policy, {**params, **cand.fixed}))
    done = batch.run(executor)
    objective = matched_quality_objective(target_quality)
    out: dict[str, TuningResult] = {}
    for name, cand in families.items():
        # grid_search asks for the points in grid order: hand it the metrics already computed.
        metrics = iter([policy_runs(done[(name, i)]).metrics for i in range(len(cand.grid))])
        out[name] = grid_search(lambda _params, it=metrics: next(it), cand.grid, objective)
    return out


@dataclass(frozen=True)
class ValidationTuning:
    """Everything the benchmark tunes on validation for one workload."""

    target_quality: float
    semantic: TuningResult
    semantic_thresholds: list[float]
    analytic: TuningResult
    theta_grids: dict[float, list[float]]
    record: ValidationRecord
    """always-edge's validation run and the router inputs it recorded (for other families)"""

    def semantic_kwargs(self) -> dict[str, float]:
        """Arguments of the tuned SemanticThreshold."""
        return {"threshold": float(self.semantic.best["threshold"])}

    def analytic_kwargs(self) -> dict[str, float]:
        """Arguments of the tuned Analytic router."""
        best = self.analytic.best
        return {"alpha": float(best["alpha"]), "theta": float(best["theta"])}


def tune_on_validation(
    executor: Executor, val: SplitRuns, n_points: int, alpha_grid: Sequence[float]
) -> ValidationTuning:
    """Tune SemanticThreshold and Analytic (all cost terms) on ``val``."""
    rec = record_validation(executor, val)
    thresholds = semantic_thresholds(rec, n_points)
    grids = theta_grids(rec, alpha_grid, n_points)
    best = tune(
        executor,
        val,
        rec.target_quality,
        {"semantic": semantic_candidates(thresholds), "analytic": analytic_candidates(grids)},
    )
    return ValidationTuning(
        target_quality=rec.target_quality,
        semantic=best["semantic"],
        semantic_thresholds=thresholds,
        analytic=best["analytic"],
        theta_grids=grids,
        record=rec,
    )
