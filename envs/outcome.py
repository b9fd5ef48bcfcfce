"""What serving one query realised, what it is worth, and the ``info`` every step reports.

The one step path (``envs.base.EdgeRouteEnv.step``) is built from the pieces here:

* :class:`Outcome`: the realised result of serving the pending query on one side. An
  environment computes the outcome of *both* actions for the pending query (the hindsight)
  with one function, and ``step(a)`` returns outcome ``a``: "hindsight equals step" holds by
  construction. The fields are floats for one query, or numpy arrays over many (the batched
  vector env, a single-turn episode evaluated at reset).
* :func:`reward_terms` (HighwayEnv's ``_rewards()``): the named terms of an outcome, and
  :func:`reward_function`: the reward, the configured weighted sum of them. Both are compiled
  from :data:`REWARD_TERM_SOURCE`, the one home of the terms, for every environment
  including the batched one.
* :func:`served_info` and :func:`add_pending_info`: the one builder of ``info``
  (``docs/architecture.md`` lists the keys).

Adding a reward term is a change here only: its expression in :data:`REWARD_TERM_SOURCE` and
its default weight in :data:`DEFAULT_REWARD_WEIGHTS` (from an :class:`Outcome` field; a new
field is filled by the environments' ``_pending_query``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

from cost_models.errors import EdgeRouteError

#: Action -> the side that serves: 0 device, 1 edge.
SIDES: tuple[str, str] = ("device", "edge")
#: Names of the latency parts of each side, in the order of ``Outcome.latency``; the realised
#: breakdown ``info["latency"]`` is these plus ``total_s``.
LATENCY_PARTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("prefill_s", "decode_s"),
    ("uplink_s", "queue_s", "prefill_s", "decode_s", "downlink_s"),
)

#: Each reward term as an expression of the outcome ``out`` (floats, or numpy arrays
#: elementwise): the one home of the terms; :func:`reward_terms` and :func:`reward_function`
#: are compiled from it. ``quality`` is the serving model's quality in [0, 1], ``latency`` the
#: realised seconds, ``edge_call`` 1 on the edge, ``switch`` 1 if the side changed.
REWARD_TERM_SOURCE: dict[str, str] = {
    "quality": "out.quality",
    "latency": "out.latency_s",
    "edge_call": "out.action * 1.0",
    "switch": "out.switched * 1.0",
    "energy": "out.energy_j",
}
#: The reward terms, in the order of the weighted sum (the weights dict has these keys).
REWARD_TERMS: tuple[str, ...] = tuple(REWARD_TERM_SOURCE)
#: Default weight per term (signs are in the weights): quality in [0, 1], latency in seconds,
#: edge_call and switch in {0, 1}, energy in joules of the device (compute on the device, the
#: radio for the edge path: cost_models.energy; modelled), off by default.
DEFAULT_REWARD_WEIGHTS: dict[str, float] = {
    "quality": 1.0,
    "latency": -0.1,
    "edge_call": -0.05,
    "switch": 0.0,
    "energy": 0.0,
}


class Outcome(NamedTuple):
    """The realised result of serving one query (or turn) on one side."""

    #: 0 = device, 1 = edge.
    action: int
    #: The serving model's quality on this query, in [0, 1].
    quality: float
    #: Realised end-to-end latency (s): the sum of ``latency``.
    latency_s: float
    #: The latency parts (s), named by ``LATENCY_PARTS[action]``.
    latency: tuple[float, ...]
    #: Whether the side differs from the previous query's (turn's, within a dialogue).
    switched: bool
    #: Dialogue-history tokens the side had to prefill because it did not hold them.
    recomputed_tokens: int
    #: Text tokens sent up the link (0 on the device).
    uplink_tokens: int
    #: Bytes on the wire for them (0.0 on the device).
    uplink_bytes: float
    #: Simulated clock (s) when the answer arrived.
    time_s: float
    #: Row of the environment's trace split that was served.
    row: int
    #: Device energy (J): on-device compute, or the radio for the edge path
    #: (``cost_models.energy``; modelled).
    energy_j: float = 0.0


def records(cls: type[tuple], rows: Any) -> list:
    """``[cls._make(row) for row in rows]`` without the per-row Python call (``tuple.__new__``
    directly; each row must hold exactly the fields of ``cls``, in order)."""
    return list(map(partial(tuple.__new__, cls), rows))


#: ``Outcome._make(fields)`` for the per-step path: a C-level call instead of a Python one
#: (``fields`` must be the eleven fields in order).
outcome_from_fields: Callable[[tuple], Outcome] = partial(tuple.__new__, Outcome)


class RowMeta(NamedTuple):
    """What ``info`` reports about a served trace row besides its outcome."""

    benchmark: str
    dialogue_id: str
    turn_index: int


def _compiled(source: str, doc: str) -> Callable[[Outcome], Any]:
    """``lambda out: <source>``, compiled once (no builtins in scope), with ``doc``."""
    function = eval(f"lambda out: {source}", {"__builtins__": {}})  # noqa: S307
    function.__doc__ = doc
    return function


#: ``reward_terms(out) -> {term: value}``: the named reward terms of an outcome (HighwayEnv's
#: ``_rewards()``), elementwise for array outcomes; compiled from :data:`REWARD_TERM_SOURCE`.
reward_terms: Callable[[Outcome], dict[str, Any]] = _compiled(
    "{" + ", ".join(f"{term!r}: {expr}" for term, expr in REWARD_TERM_SOURCE.items()) + "}",
    "The named reward terms of ``out``: ``{term: value}`` (envs.outcome.REWARD_TERM_SOURCE).",
)


def reward_function(weights: Mapping[str, float]) -> Callable[[Outcome], Any]:
    """``reward_of(out)``: the reward of an outcome, ``sum_k weight_k * term_k(out)`` over
    :data:`REWARD_TERMS` (a term missing from ``weights`` weighs 0), added left to right:
    exactly the weighted sum of ``reward_terms(out)``.

    Built once per configuration as one compiled expression, ``lambda out: w_0 *
    (out.quality) + w_1 * (out.latency_s) + ...`` (the way ``collections.namedtuple`` and
    ``dataclasses`` build methods from source): the reward of both actions of every pending
    query is on the hot path, and building the terms dict and looping over it there costs more
    than the arithmetic. The weights are embedded by ``repr``, which round-trips a float
    exactly, so the result is the IEEE value of ``((w_0 t_0 + w_1 t_1) + w_2 t_2) + ...`` for
    floats and numpy arrays alike.
    """
    pairs = [(term, float(weights.get(term, 0.0))) for term in REWARD_TERMS]
    for term, weight in pairs:
        if not math.isfinite(weight):
            raise EdgeRouteError(f"reward weight {term!r} = {weight!r}: need a finite number")
    source = " + ".join(f"{weight!r} * ({REWARD_TERM_SOURCE[term]})" for term, weight in pairs)
    return _compiled(source, f"The reward of ``out``: {source}.")


def served_info(out: Outcome, terms: dict[str, Any], meta: RowMeta) -> dict[str, Any]:
    """The ``info`` keys of the query just served (fresh objects every call). ``latency`` is
    the parts of ``out.latency`` by their ``LATENCY_PARTS`` names plus ``total_s`` (written
    out per side: this runs every step)."""
    # (Unpacked by field order: attribute access costs more than this on the per-step path.)
    (action, quality, latency_s, parts, switched, recomputed, up_tokens, up_bytes, time_s, _,
     energy_j) = out
    benchmark, dialogue_id, turn_index = meta
    if action:
        up, queue, prefill, decode, down = parts
        latency = {
            "uplink_s": up, "queue_s": queue, "prefill_s": prefill, "decode_s": decode,
            "downlink_s": down, "total_s": latency_s,
        }  # fmt: skip
    else:
        prefill, decode = parts
        latency = {"prefill_s": prefill, "decode_s": decode, "total_s": latency_s}
    return {
        "rewards": terms,
        "latency": latency,
        "latency_s": latency_s,
        "quality": quality,
        "model": SIDES[action],
        "switched": switched,
        "recomputed_tokens": recomputed,
        "uplink_tokens": up_tokens,
        "uplink_bytes": up_bytes,
        "benchmark": benchmark,
        "dialogue_id": dialogue_id,
        "turn_index": turn_index,
        "time_s": time_s,
        "energy_j": energy_j,
    }


def add_pending_info(
    info: dict[str, Any],
    semantic_p: float,
    estimate: dict[str, dict[str, float]],
    outcomes: tuple[Outcome, Outcome],
    rewards: tuple[float, float],
    estimate_load_blind: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """Add the pending query's keys to ``info``: ``semantic_p``, the router's ``estimate``, the
    same estimate with the edge load replaced by its long-run mean (``estimate_load_blind``,
    the input of the load-blind baseline) and the ``hindsight`` (the realised outcome of each
    action, as ``step`` will return it)."""
    device, edge = outcomes
    info["semantic_p"] = semantic_p
    info["estimate"] = estimate
    info["estimate_load_blind"] = estimate_load_blind
    info["hindsight"] = {
        "quality": [device.quality, edge.quality],
        "latency_s": [device.latency_s, edge.latency_s],
        "reward": [rewards[0], rewards[1]],
    }
    return info
