"""Quality-latency frontiers and matched-quality comparison.

A tunable policy swept over its knob gives points (quality, mean latency, edge rate). Its
frontier is the Pareto set: no other point has at least its quality at lower latency. Between
two frontier points any mixture is achievable (serve each query with policy A with probability
w, else B: quality, latency and edge rate all mix linearly in expectation), so we interpolate
linearly on the frontier -- the same convention RouteLLM uses for its cost-at-quality numbers.

``interpolate_at_quality`` answers "what latency and edge rate does this policy need to reach
quality q?"; a target above the frontier's best quality is unreachable and returns ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cost_models.errors import require


@dataclass(frozen=True)
class FrontierPoint:
    """One operating point of a policy: quality, mean latency (s), edge rate, knob value(s)."""

    quality: float
    """mean quality over the served queries"""
    latency_mean_s: float
    """mean response latency (s)"""
    edge_rate: float
    """share of queries served on the edge"""
    knob: float | None = None
    """the swept value (None: a fixed operating point such as a tuned policy)"""
    params: tuple[tuple[str, float], ...] = ()
    """other parameters of the point (e.g. the analytic alpha of a theta sweep)"""


def pareto_frontier(points: Sequence[FrontierPoint]) -> list[FrontierPoint]:
    """Points not dominated in (higher quality, lower latency), sorted by quality ascending.

    A point is dropped if another point has quality >= and latency <= with one strict. Equal
    points are kept once. Along the result, quality and latency both increase strictly.
    """
    require(len(points) > 0, "a frontier needs at least one point")
    for p in points:
        require(
            np.isfinite(p.quality) and np.isfinite(p.latency_mean_s),
            f"frontier point {p} has a non-finite quality or latency",
        )
    # Sort by quality descending, then latency ascending; sweep keeping strictly lower latency.
    ordered = sorted(points, key=lambda p: (-p.quality, p.latency_mean_s, p.edge_rate))
    kept: list[FrontierPoint] = []
    best_latency = np.inf
    for p in ordered:
        if p.latency_mean_s < best_latency:
            kept.append(p)
            best_latency = p.latency_mean_s
    return kept[::-1]


@dataclass(frozen=True)
class MatchedPoint:
    """A frontier interpolated at a target quality."""

    target_quality: float
    latency_mean_s: float | None
    edge_rate: float | None
    reachable: bool


def interpolate_at_quality(points: Sequence[FrontierPoint], target_quality: float) -> MatchedPoint:
    """Latency and edge rate on the Pareto frontier of ``points`` at ``target_quality``.

    Below the lowest frontier quality the cheapest frontier point already suffices (its
    latency is returned). Above the highest, the target is unreachable: ``None`` values.
    """
    require(np.isfinite(target_quality), f"target quality {target_quality!r} must be finite")
    front = pareto_frontier(points)
    qualities = np.array([p.quality for p in front])
    if target_quality > qualities[-1] + 1e-12:
        return MatchedPoint(float(target_quality), None, None, reachable=False)
    if target_quality <= qualities[0]:
        p = front[0]
        return MatchedPoint(float(target_quality), p.latency_mean_s, p.edge_rate, True)
    if target_quality >= qualities[-1]:  # at the top, within the 1e-12 rounding allowance
        p = front[-1]
        return MatchedPoint(float(target_quality), p.latency_mean_s, p.edge_rate, True)
    i = int(np.searchsorted(qualities, target_quality, side="left"))
    hi = front[i]
    lo = front[i - 1]
    w = (target_quality - lo.quality) / (hi.quality - lo.quality)
    latency = lo.latency_mean_s + w * (hi.latency_mean_s - lo.latency_mean_s)
    edge_rate = lo.edge_rate + w * (hi.edge_rate - lo.edge_rate)
    return MatchedPoint(float(target_quality), float(latency), float(edge_rate), True)


def reduction_pct(baseline: float | None, candidate: float | None) -> float | None:
    """``100 (baseline - candidate) / baseline``: positive when the candidate is lower.

    ``None`` if either value is missing or the baseline is 0 (a reduction of zero is undefined).
    """
    if baseline is None or candidate is None or baseline == 0:
        return None
    return float(100.0 * (baseline - candidate) / baseline)


def gap_closed_pct(
    reference: float | None, candidate: float | None, bound: float | None
) -> float | None:
    """Share (percent) of the gap from ``reference`` to ``bound`` that ``candidate`` closes.

    ``100 (reference - candidate) / (reference - bound)``: 100 means the candidate reaches the
    bound, 0 means no better than the reference, negative means worse. ``None`` if any value is
    missing or the gap is zero.
    """
    if reference is None or candidate is None or bound is None or reference == bound:
        return None
    return float(100.0 * (reference - candidate) / (reference - bound))
