"""What serving one query realised, what it is worth, and the ``info`` every step reports.

The one step path (``envs.base.EdgeRouteEnv.step``) is built from the pieces here:

* :class:`Outcome`: the realised result of serving the pending query on one side. An
  environment computes the outcome of *both* actions for the pending query (the hindsight)
  with one function, and ``step(a)`` returns outcome ``a``: "hindsight equals step" holds by
  construction. The fields are floats for one query, or numpy arrays over many (the batched
  vector env, a single-turn episode evaluated at reset).
* :func:`reward_terms` (HighwayEnv's ``_rewards()``): the named terms of an outcome, and
  :func:`weighted_reward`: the configured weighted sum of them, the reward. The one home of
  both, for every environment including the batched one.
* :func:`served_info` and :func:`add_pending_info`: the one builder of ``info``
  (``docs/architecture.md`` lists the keys).

Adding a reward term is a change here only: a name in :data:`REWARD_TERMS`, its default weight
in :data:`DEFAULT_REWARD_WEIGHTS` and its value in :func:`reward_terms` (from an :class:`Outcome`
field; a new field is filled by the environments' outcome functions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

#: Action -> the side that serves: 0 device, 1 edge.
SIDES: tuple[str, str] = ("device", "edge")
#: Names of the latency parts of each side, in the order of ``Outcome.latency``; the realised
#: breakdown ``info["latency"]`` is these plus ``total_s``.
LATENCY_PARTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("prefill_s", "decode_s"),
    ("uplink_s", "queue_s", "prefill_s", "decode_s", "downlink_s"),
)

#: The reward terms, in the order of the weighted sum (the weights dict has these keys).
REWARD_TERMS: tuple[str, ...] = ("quality", "latency", "edge_call", "switch", "energy")
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


class RowMeta(NamedTuple):
    """What ``info`` reports about a served trace row besides its outcome."""

    benchmark: str
    dialogue_id: str
    turn_index: int


def reward_terms(out: Outcome) -> dict[str, Any]:
    """The named reward terms of ``out`` (elementwise for array outcomes): ``quality``,
    ``latency`` (realised seconds), ``edge_call`` (1 on the edge), ``switch`` (1 if the
    side changed) and ``energy`` (device joules)."""
    return {
        "quality": out.quality,
        "latency": out.latency_s,
        "edge_call": out.action * 1.0,
        "switch": out.switched * 1.0,
        "energy": out.energy_j,
    }


def reward_weights(weights: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """The config's ``reward_weights`` as ``(term, weight)`` pairs in :data:`REWARD_TERMS`
    order (a missing term weighs 0), the form :func:`weighted_reward` takes."""
    return tuple((term, float(weights.get(term, 0.0))) for term in REWARD_TERMS)


def weighted_reward(weights: Sequence[tuple[str, float]], terms: Mapping[str, Any]) -> Any:
    """``sum_k weight_k * term_k``, summed left to right in :data:`REWARD_TERMS` order (floats
    or numpy arrays alike)."""
    pairs = iter(weights)
    term, weight = next(pairs)
    total = weight * terms[term]
    for term, weight in pairs:
        total = total + weight * terms[term]
    return total


def served_info(out: Outcome, terms: dict[str, Any], meta: RowMeta) -> dict[str, Any]:
    """The ``info`` keys of the query just served (fresh objects every call)."""
    latency = dict(zip(LATENCY_PARTS[out.action], out.latency, strict=True))
    latency["total_s"] = out.latency_s
    return {
        "rewards": terms,
        "latency": latency,
        "latency_s": out.latency_s,
        "quality": out.quality,
        "model": SIDES[out.action],
        "switched": out.switched,
        "recomputed_tokens": out.recomputed_tokens,
        "uplink_tokens": out.uplink_tokens,
        "uplink_bytes": out.uplink_bytes,
        "benchmark": meta.benchmark,
        "dialogue_id": meta.dialogue_id,
        "turn_index": meta.turn_index,
        "time_s": out.time_s,
        "energy_j": out.energy_j,
    }


def add_pending_info(
    info: dict[str, Any],
    semantic_p: float,
    estimate: dict[str, dict[str, float]],
    outcomes: tuple[Outcome, Outcome],
    rewards: tuple[float, float],
) -> dict[str, Any]:
    """Add the pending query's keys to ``info``: ``semantic_p``, the router's ``estimate`` and
    the ``hindsight`` (the realised outcome of each action, as ``step`` will return it)."""
    device, edge = outcomes
    info["semantic_p"] = semantic_p
    info["estimate"] = estimate
    info["hindsight"] = {
        "quality": [device.quality, edge.quality],
        "latency_s": [device.latency_s, edge.latency_s],
        "reward": [rewards[0], rewards[1]],
    }
    return info
