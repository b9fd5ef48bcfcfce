"""RouteLLM's APGR / CPT(x%) for the benchmark's tunable policies, and edge calls at matched
quality read two ways.

The formulas live in :mod:`cost_models.semantic.routellm_metrics` (exactly as RouteLLM's
``routellm/evals/evaluate.py``); this module turns a policy's frontier sweep into RouteLLM's
call-performance curve:

- x = the policy's edge-call share in percent (RouteLLM: strong-model calls), y = its test
  quality; the curve is the upper envelope of the sweep in (edge share, quality) with the two
  static extremes added (always-device at 0 %, always-edge at 100 %: a threshold beyond every
  score, and any policy mixed query by query with them). On a single-knob threshold sweep
  (SemanticThreshold) that is the sweep itself, which is RouteLLM's curve; for the Analytic
  rule's (alpha, theta) family it is the best point of the family at each share.
- weak / strong quality = always-device / always-edge test quality.

"Edge calls at matched quality" has two readings, and results name each:

- ``min_edge_rate``: the smallest edge share whose best achievable quality reaches the target
  (the quality-edge-call frontier read at the target; RouteLLM's CPT sense);
- ``edge_rate_at_lowest_latency``: the edge share of the chosen operating point, the
  lowest-latency mixture on the quality-latency frontier that reaches the target
  (:func:`experiments.frontier.interpolate_at_quality`). A latency-aware router may spend more
  edge calls than the minimum when the edge is the faster side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cost_models.errors import require
from cost_models.semantic.routellm_metrics import (
    CallPerformanceCurve,
    apgr,
    cpt,
    min_share_reaching,
)
from experiments.frontier import FrontierPoint, interpolate_at_quality


def edge_call_curve(
    points: Sequence[FrontierPoint], q_device: float, q_edge: float
) -> CallPerformanceCurve:
    """The upper envelope of ``points`` in (edge share %, quality), extremes included."""
    require(len(points) > 0, "a call-performance curve needs at least one policy point")
    xs = np.array([100.0 * p.edge_rate for p in points] + [0.0, 100.0])
    ys = np.array([p.quality for p in points] + [q_device, q_edge])
    keep_x, keep_y = [], []
    best = -np.inf
    # Sweep shares upwards; keep a point only if it beats every cheaper point (Pareto).
    for i in np.lexsort((-ys, xs)):
        if ys[i] > best + 1e-12:
            keep_x.append(float(np.clip(xs[i], 0.0, 100.0)))
            keep_y.append(float(ys[i]))
            best = ys[i]
    if len(keep_x) == 1:  # nothing beats always-device: a flat curve up to always-edge
        keep_x.append(100.0)
        keep_y.append(keep_y[0])
    return CallPerformanceCurve(np.asarray(keep_x), np.asarray(keep_y))


def policy_metrics(
    points: Sequence[FrontierPoint], q_device: float, q_edge: float
) -> dict[str, float | None]:
    """``{apgr, cpt50, cpt80}`` of a policy's sweep (CPT in percent of queries sent to the
    edge, as RouteLLM reports them); None where the two extremes have equal quality."""
    if not np.isfinite(q_device) or not np.isfinite(q_edge) or q_edge == q_device:
        return {"apgr": None, "cpt50": None, "cpt80": None}
    curve = edge_call_curve(points, q_device, q_edge)
    return {
        "apgr": float(apgr(curve, q_device, q_edge)),
        "cpt50": float(cpt(curve, 0.5, q_device, q_edge)),
        "cpt80": float(cpt(curve, 0.8, q_device, q_edge)),
    }


def edge_calls_at_quality(
    points: Sequence[FrontierPoint], target_quality: float, q_device: float, q_edge: float
) -> dict[str, float | None]:
    """Both readings of "edge calls at ``target_quality``" (fractions of queries)."""
    curve = edge_call_curve(points, q_device, q_edge)
    share = min_share_reaching(curve, target_quality)
    at_latency = interpolate_at_quality(points, target_quality)
    return {
        "min_edge_rate": None if share is None else share / 100.0,
        "edge_rate_at_lowest_latency": at_latency.edge_rate,
    }
