"""Matched-quality comparisons: frontiers read at a target quality, and the reductions between them.

Each tunable policy's frontier is interpolated at always-edge's *test* quality (and at
fractions of the always-device -> always-edge quality gap, RouteLLM's "performance gap
recovered"); Analytic is compared with SemanticThreshold and PPO with Analytic there, and the
share of Analytic's latency gap to the Oracle that PPO closes is reported.

Edge calls at a matched quality are read two ways (:mod:`experiments.routellm_metrics`):
``edge_rate`` is the edge share of the chosen operating point (the lowest-latency mixture that
reaches the quality; ``edge_call_reduction_pct`` compares these), ``min_edge_rate`` the
smallest edge share whose best quality reaches it (RouteLLM's CPT sense;
``min_edge_call_reduction_pct``). ``routellm_metrics`` holds each tunable policy's APGR and
CPT(50 %, 80 %) (percent of edge calls), computed RouteLLM's way on its sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments.frontier import (
    FrontierPoint,
    interpolate_at_quality,
    reduction_pct,
)
from experiments.routellm_metrics import edge_calls_at_quality, policy_metrics

#: Policies swept to draw frontiers (keys of the sweeps).
TUNABLE: tuple[str, ...] = ("semantic_threshold", "analytic", "random", "ppo")


def at_quality(
    points: Sequence[FrontierPoint],
    quality: float,
    extremes: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Latency and edge rate on the frontier of ``points`` at ``quality`` (None: unreachable);
    with ``extremes`` = (always-device, always-edge quality) also ``min_edge_rate``."""
    m = interpolate_at_quality(points, quality)
    out = {"latency_mean_s": m.latency_mean_s, "edge_rate": m.edge_rate}
    if extremes is not None:
        out["min_edge_rate"] = edge_calls_at_quality(points, quality, *extremes)["min_edge_rate"]
    return out


def reductions(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    """Latency and edge-call reductions (percent, positive = candidate lower) of two points."""
    out = {
        "latency_reduction_pct": reduction_pct(
            baseline["latency_mean_s"], candidate["latency_mean_s"]
        ),
        "edge_call_reduction_pct": reduction_pct(baseline["edge_rate"], candidate["edge_rate"]),
    }
    if "min_edge_rate" in baseline and "min_edge_rate" in candidate:
        out["min_edge_call_reduction_pct"] = reduction_pct(
            baseline["min_edge_rate"], candidate["min_edge_rate"]
        )
    return out


def matched_comparison(
    sweeps: Mapping[str, Sequence[FrontierPoint]],
    policies: Mapping[str, Mapping[str, float]],
    pgr_levels: Sequence[float],
) -> dict[str, Any]:
    """The matched-quality part of a benchmark section (see the module docstring).

    ``sweeps``: the frontier points of each :data:`TUNABLE` policy; ``policies``: the test
    metrics of every policy (always-device, always-edge, oracle, ppo among them).
    """
    target = policies["always_edge"]["quality"]
    q_device = policies["always_device"]["quality"]
    extremes = (q_device, target)
    matched: dict[str, Any] = {"target_quality": target}
    for name in TUNABLE:
        m = interpolate_at_quality(sweeps[name], target)
        matched[name] = {
            "latency_mean_s": m.latency_mean_s,
            "edge_rate": m.edge_rate,
            "min_edge_rate": edge_calls_at_quality(sweeps[name], target, *extremes)[
                "min_edge_rate"
            ],
            "reachable": m.reachable,
            "max_quality": max(p.quality for p in sweeps[name]),
        }
    # The 100% point is knife-edge when frontiers are flat near the top: also at fractions of
    # the always-device -> always-edge quality gap.
    by_pgr: dict[str, Any] = {}
    for level in pgr_levels:
        tq = q_device + level * (target - q_device)
        entry: dict[str, Any] = {"target_quality": tq}
        for name in TUNABLE:
            entry[name] = at_quality(sweeps[name], tq, extremes)
        entry["analytic_vs_static"] = reductions(entry["semantic_threshold"], entry["analytic"])
        entry["ppo_vs_analytic"] = reductions(entry["analytic"], entry["ppo"])
        by_pgr[f"{level:g}"] = entry
    oracle_latency = policies["myopic_oracle"]["latency_mean_s"]
    ppo = policies["ppo"]
    # Where PPO cannot reach the target: compare at PPO's own quality as well.
    at_ppo = at_quality(sweeps["analytic"], ppo["quality"])
    return {
        "matched_quality": matched,
        "analytic_vs_static": reductions(matched["semantic_threshold"], matched["analytic"]),
        "ppo_vs_analytic": reductions(matched["analytic"], matched["ppo"]),
        "ppo_vs_analytic_at_ppo_quality": {
            "quality": ppo["quality"],
            "analytic_latency_mean_s": at_ppo["latency_mean_s"],
            "ppo_latency_mean_s": ppo["latency_mean_s"],
            **reductions(at_ppo, ppo),
        },
        "matched_quality_gap_recovered": by_pgr,
        "oracle_latency_mean_s": oracle_latency,
        "routellm_metrics": {
            name: policy_metrics(sweeps[name], q_device, target) for name in TUNABLE
        },
    }
