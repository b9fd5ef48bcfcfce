"""The single-turn hindsight frontier: the best action per query in hindsight, over the trade-off.

Single-turn is a contextual bandit: every query's two outcomes (device, edge) are fixed at reset
and do not depend on earlier decisions (open-loop arrivals, no cache; the switch weight is 0).
Under common random numbers the realised outcome of each action is therefore what
always-device and always-edge were served on that query, and the hindsight-best schedule for a
trade-off weight ``lambda`` serves each query on the side of larger ``q - lambda * latency``.
Sweeping ``lambda`` over ``[0, inf)`` traces the lower convex hull of every achievable
(quality, mean latency) pair: start from the faster side of every query, then switch queries to
the other side in decreasing order of quality gained per second spent (each query's breakpoint
``lambda_i = dq_i / dl_i``); a point between two breakpoints is a mixture (one query served by
a coin flip), the same convention as :mod:`experiments.frontier`. No policy, learned or not,
has a point below it (the property test in ``tests/test_stats.py``).

The path is exact (every breakpoint), and the bootstrap recomputes it inside each resample:
the order of breakpoints does not depend on the unit weights, only the cumulative sums do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cost_models.errors import require
from experiments.stats import Resamples
from experiments.units import UnitTable, column, same_units


@dataclass(frozen=True)
class HindsightFrontier:
    """Per (evaluation seed, query) upgrade steps of the exact hindsight frontier."""

    unit_of: np.ndarray
    """(pairs,) the unit (query) of each (seed, query) pair"""
    base: np.ndarray
    """(pairs, 3) quality, latency, edge of the faster side (plus free upgrades)"""
    delta: np.ndarray
    """(upgrades, 3) quality, latency, edge change of each useful upgrade, best ratio first"""
    delta_unit: np.ndarray
    """(upgrades,) the unit of each upgrade"""
    n_eval: int


def hindsight_frontier(device: UnitTable, edge: UnitTable) -> HindsightFrontier:
    """The frontier's upgrade steps from always-device's and always-edge's per-query outcomes
    (single-turn only: one step per unit, one training seed)."""
    same_units([device, edge])
    require(
        bool(np.all(device.steps == 1)),
        "the exact hindsight frontier is single-turn only (one query per unit); multi-turn "
        "uses hindsight_optimal's frontier",
    )
    cols = [column(c) for c in ("quality", "latency_mean_s", "edge_rate")]
    d = device.sums[0][..., cols].reshape(-1, 3)  # (seeds * units, 3)
    e = edge.sums[0][..., cols].reshape(-1, 3)
    n_eval, n_units = device.sums.shape[1], device.sums.shape[2]
    unit_of = np.tile(np.arange(n_units), n_eval)
    edge_faster = (e[:, 1] < d[:, 1]) | ((e[:, 1] == d[:, 1]) & (e[:, 0] > d[:, 0]))
    fast = np.where(edge_faster[:, None], e, d)
    slow = np.where(edge_faster[:, None], d, e)
    delta = slow - fast
    free = (delta[:, 0] > 0) & (delta[:, 1] <= 0)
    base = fast + np.where(free[:, None], delta, 0.0)
    useful = (delta[:, 0] > 0) & (delta[:, 1] > 0)
    idx = np.flatnonzero(useful)
    ratio = delta[idx, 0] / delta[idx, 1]
    order = idx[np.argsort(-ratio, kind="stable")]
    return HindsightFrontier(unit_of, base, delta[order], unit_of[order], int(n_eval))


def path(front: HindsightFrontier, weights: np.ndarray) -> np.ndarray:
    """(upgrades + 1, 3) mean quality, latency, edge rate along the frontier for one resample's
    unit ``weights`` (quality rises along it)."""
    w_pair = weights[front.unit_of]
    total = front.n_eval * weights.sum()
    start = (w_pair[:, None] * front.base).sum(axis=0)
    steps = front.delta * weights[front.delta_unit][:, None]
    cum = np.vstack([np.zeros((1, 3)), np.cumsum(steps, axis=0)])
    return (start[None, :] + cum) / total


def at_quality(front: HindsightFrontier, res: Resamples, targets: np.ndarray) -> np.ndarray:
    """(R + 1, T, 2) latency and edge rate on the frontier at ``targets`` (R + 1, T) per
    resample; NaN above the frontier's best quality, the fastest point below its lowest."""
    out = np.full((*targets.shape, 2), np.nan)
    for r, w in enumerate(res.weights):
        p = path(front, w)
        for t, target in enumerate(targets[r]):
            if target <= p[-1, 0] + 1e-12:
                out[r, t] = _first_reaching(p, float(target))
    return out


def _first_reaching(p: np.ndarray, target: float) -> np.ndarray:
    """Latency and edge rate of the cheapest point of path ``p`` with quality ``target``: the
    first vertex reaching it, or the mixture of it and the vertex before. (``np.interp`` is
    wrong here: an upgrade whose quality gain vanishes in floating point repeats a quality,
    and interp would take the dearer of the repeated vertices; found by the property test.)"""
    q = p[:, 0]
    target = min(target, float(q[-1]))
    i = int(np.searchsorted(q, target, side="left"))
    if i == 0 or q[i] == target:
        return p[i, 1:]
    w = (target - q[i - 1]) / (q[i] - q[i - 1])
    return p[i - 1, 1:] + w * (p[i, 1:] - p[i - 1, 1:])


def frontier_points(front: HindsightFrontier, n_points: int = 21) -> list[dict[str, float]]:
    """The sample's frontier at ``n_points`` qualities evenly spaced along it (results.json)."""
    p = path(front, np.ones(int(front.unit_of.max()) + 1))
    qs = np.linspace(p[0, 0], p[-1, 0], n_points)
    rows = [_first_reaching(p, float(q)) for q in qs]
    return [
        {"quality": float(q), "latency_mean_s": float(lat), "edge_rate": float(edge)}
        for q, (lat, edge) in zip(qs, rows, strict=True)
    ]
