"""Trade-off conditioning: the reward's latency and edge-call prices, drawn per episode.

One PPO policy trained at one reward weighting gives one operating point; the analytic router
gives a whole quality-latency frontier by sweeping its ``(alpha, theta)``. To read PPO on the
same grid, the environment can draw the two prices of the reward per episode and show them in
the observation (slots ``tradeoff_latency_price_per_s`` and ``tradeoff_edge_call_price``): the
policy learns ``pi(a | x, prices)`` and is swept over prices at evaluation (universal value
functions, Schaul et al. 2015; "conditioned" multi-objective RL, Abels et al. 2019).

The prices are the negated reward weights: ``latency = -latency_price_per_s`` (reward per
second) and ``edge_call = -edge_call_price``. The analytic rule's Bayes reading makes the grid
match: the reward ``q - w T - c [edge]`` is maximised by routing to the edge iff
``E[q_edge - q_device] - w (T_edge - T_device) > c``, which is the rule
``p - alpha (T_edge - T_device) > theta`` with ``w = alpha`` and ``c = theta`` when ``p`` is the
expected quality gain. So the conditioned PPO is evaluated at ``(w, c) = (alpha, theta)`` of
the analytic grid (``experiments.ppo_frontier``).

Config key ``tradeoff_conditioning`` (both environments): ``None`` (off: the slots hold the
configured weights, constant) or a dict of ranges::

    {"latency_price_per_s": [0.01, 1.0], "edge_call_price": [-0.3, 0.5]}

The latency price is drawn log-uniformly when its range starts above 0 (the analytic alpha grid
is log-spaced), uniformly otherwise; the edge-call price uniformly (it may be negative: a
subsidy is what it takes to reach always-edge quality when the latency price is high).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from cost_models.errors import EdgeRouteError

#: Bounds of the two observation slots (a price outside is clipped; a range outside is refused).
LATENCY_PRICE_BOUNDS_PER_S: tuple[float, float] = (0.0, 2.0)
EDGE_CALL_PRICE_BOUNDS: tuple[float, float] = (-1.0, 1.0)
#: Range keys of ``tradeoff_conditioning`` -> the bounds each must stay in.
RANGE_BOUNDS: dict[str, tuple[float, float]] = {
    "latency_price_per_s": LATENCY_PRICE_BOUNDS_PER_S,
    "edge_call_price": EDGE_CALL_PRICE_BOUNDS,
}
#: Ranges used when ``tradeoff_conditioning`` is ``{}`` (or a key is left out): they cover the
#: analytic alpha grid of experiments/configs/benchmark.yaml (0.01 .. 1 per second) and edge
#: prices from a subsidy of 0.3 to a price of 0.5 quality points per call.
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "latency_price_per_s": (0.01, 1.0),
    "edge_call_price": (-0.3, 0.5),
}


def check_conditioning(key: str, value: Any) -> None:
    """Validator of ``tradeoff_conditioning``: ``None`` or a dict of ``[lo, hi]`` ranges."""
    if value is None:
        return
    allowed = ", ".join(f"{k}: [lo, hi] within {list(b)}" for k, b in RANGE_BOUNDS.items())
    if not isinstance(value, Mapping):
        raise EdgeRouteError(
            f"config[{key!r}] = {value!r} is invalid; allowed: None or {{{allowed}}}"
        )
    unknown = sorted(set(value) - set(RANGE_BOUNDS))
    if unknown:
        raise EdgeRouteError(
            f"config[{key!r}] has unknown key(s) {unknown}; allowed: {sorted(RANGE_BOUNDS)}"
        )
    for name, rng in value.items():
        lo_b, hi_b = RANGE_BOUNDS[name]
        ok = (
            isinstance(rng, (list, tuple))
            and len(rng) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng)
            and all(math.isfinite(float(v)) for v in rng)
            and lo_b <= float(rng[0]) <= float(rng[1]) <= hi_b
        )
        if not ok:
            raise EdgeRouteError(
                f"config[{key!r}][{name!r}] = {rng!r} is invalid; allowed: [lo, hi] with "
                f"{lo_b} <= lo <= hi <= {hi_b}"
            )


def ranges(conditioning: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """The ranges of a (validated) ``tradeoff_conditioning`` dict, defaults filled in."""
    return {k: tuple(map(float, conditioning.get(k, d))) for k, d in DEFAULT_RANGES.items()}


def draw_weights(
    weights: Mapping[str, float], conditioning: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, float]:
    """``weights`` with the latency and edge-call weights replaced by a draw of the prices."""
    r = ranges(conditioning)
    lo, hi = r["latency_price_per_s"]
    u = rng.random(2).tolist()
    if lo > 0:
        latency_price = math.exp(math.log(lo) + u[0] * (math.log(hi) - math.log(lo)))
    else:
        latency_price = lo + u[0] * (hi - lo)
    c_lo, c_hi = r["edge_call_price"]
    edge_price = c_lo + u[1] * (c_hi - c_lo)
    return {**weights, "latency": -latency_price, "edge_call": -edge_price}


def prices(weights: Mapping[str, float]) -> tuple[float, float]:
    """``(latency_price_per_s, edge_call_price)`` of reward weights, clipped to the slot
    bounds (what the observation shows)."""
    lat = -float(weights.get("latency", 0.0))
    edge = -float(weights.get("edge_call", 0.0))
    return (
        min(max(lat, LATENCY_PRICE_BOUNDS_PER_S[0]), LATENCY_PRICE_BOUNDS_PER_S[1]),
        min(max(edge, EDGE_CALL_PRICE_BOUNDS[0]), EDGE_CALL_PRICE_BOUNDS[1]),
    )
