"""Frontier sweeps on test: each tunable policy over its knob, as run specs and as points.

A sweep is a list of :class:`SweepPoint` (a registry policy with its knob set). The benchmark
and the ablation both add sweeps to a :class:`experiments.runs.RunBatch` with
:func:`add_sweep` and read them back as frontier points with :func:`sweep_frontier`; the
analytic sweep (theta at every alpha of the grid, optionally with cost terms switched off) is
:func:`analytic_sweep`, one helper for both jobs.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.frontier import FrontierPoint
from experiments.runs import RunBatch, SplitRuns, policy_runs


@dataclass(frozen=True)
class SweepPoint:
    """One operating point of a sweep: a registry policy with its knob set."""

    policy: str
    """registry name"""
    kwargs: Mapping[str, Any]
    """arguments of make_policy"""
    knob: float | None
    """the swept value, as reported on the frontier"""
    params: tuple[tuple[str, float], ...] = ()
    """other parameters of the point reported with it (the analytic alpha)"""


def semantic_sweep(thresholds: Sequence[float]) -> list[SweepPoint]:
    """SemanticThreshold over its validation-calibrated thresholds."""
    return [SweepPoint("semantic_threshold", {"threshold": t}, t) for t in thresholds]


def analytic_sweep(
    theta_grids: Mapping[float, Sequence[float]], term_flags: Mapping[str, bool] | None = None
) -> list[SweepPoint]:
    """Analytic: theta over its validation-calibrated grid at every alpha of the grid (the
    frontier of the whole family, as the semantic one is over its threshold), with the cost
    terms ``term_flags`` switches off (an ablation variant)."""
    flags = dict(term_flags or {})
    return [
        SweepPoint("analytic", {"alpha": a, "theta": th, **flags}, th, (("alpha", a),))
        for a, thetas in theta_grids.items()
        for th in thetas
    ]


def random_sweep(n_points: int) -> list[SweepPoint]:
    """Random over evenly spaced edge probabilities from 0 (always-device) to 1 (always-edge)."""
    return [
        SweepPoint("random", {"p": float(p), "seed": 0}, float(p))
        for p in np.linspace(0.0, 1.0, n_points)
    ]


def add_sweep(
    batch: RunBatch,
    key: Hashable,
    runs: SplitRuns,
    points: Sequence[SweepPoint],
    keep_log: bool = False,
) -> None:
    """Add every point's runs to ``batch`` under ``(key, index)`` (``keep_log``: with their
    per-item logs, for the paired bootstrap)."""
    for i, point in enumerate(points):
        batch.add((key, i), runs.specs(point.policy, point.kwargs, keep_log=keep_log))


def sweep_frontier(
    done: Mapping[Hashable, Sequence[Any]], key: Hashable, points: Sequence[SweepPoint]
) -> list[FrontierPoint]:
    """The frontier points of a sweep added with :func:`add_sweep`, from the batch results."""
    return [
        point_of(policy_runs(done[(key, i)]).metrics, p.knob, p.params)
        for i, p in enumerate(points)
    ]


def point_of(
    metrics: Mapping[str, float],
    knob: float | None = None,
    params: tuple[tuple[str, float], ...] = (),
) -> FrontierPoint:
    """A frontier point from aggregated metrics."""
    return FrontierPoint(
        quality=metrics["quality"],
        latency_mean_s=metrics["latency_mean_s"],
        edge_rate=metrics["edge_rate"],
        knob=None if knob is None else float(knob),
        params=params,
    )


def point_dict(p: FrontierPoint) -> dict[str, Any]:
    """A frontier point for ``results.json``."""
    return {
        "knob": p.knob,
        **dict(p.params),
        "quality": p.quality,
        "latency_mean_s": p.latency_mean_s,
        "edge_rate": p.edge_rate,
    }
