"""End-to-end latency of serving a query or a dialogue turn on each side, and the analytic rule.

OUR reconstruction. The paper publishes only its decision rule (Eqs. 11-12)::

    S = p - alpha (T_edge - T_device),   route to the edge iff S > theta

with ``p`` the semantic score (P(the large model is needed)) and ``T`` the latency estimates in
seconds. How it computes ``T`` is not public; ours, from :mod:`cost_models.link`,
:mod:`cost_models.roofline`, :mod:`cost_models.edge_load` and :mod:`cost_models.kv_cache`, for
a :mod:`cost_models.deployment` scenario::

    T_device = prefill(new, cached) + decode(context, output)
    T_edge   = uplink(text after the edge's cached prefix) + queue(u)
               + prefill(new, cached) + decode(context, output) * slowdown(u)
               + downlink(answer text)

Every breakdown's ``total_s`` is the sum of its parts. For the rule each side's ``T`` is split
into three terms that sum to it (:func:`estimate_terms`, split by :func:`terms_from_parts`):

* ``communication_s``: uplink of this turn's prompt plus downlink of the answer (edge only);
* ``computation_s``: queueing, prefill of the prompt and decode, as if the history were cached;
* ``switching_s``: the extra prefill (and, on the edge, extra uplink) of the history the side
  did not serve, i.e. the KV-cache recompute cost of switching models (multi-turn only).

:class:`CostTerms` switches each term (and the semantic score) off for ablations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from cost_models.catalogue import require_fits_context
from cost_models.channel import (
    ChannelScenario,
    ChannelState,
    get_channel_scenario,
    mean_channel_state,
)
from cost_models.deployment import DeploymentScenario, get_scenario
from cost_models.edge_load import decode_slowdown, queue_delay_s
from cost_models.errors import EdgeRouteError, require
from cost_models.link import text_payload_bits, transmit_time_s
from cost_models.numeric import SCALARS, as_output
from cost_models.roofline import decode_time_s, prefill_time_s

# --------------------------------------------------------------------------------------------
# Latency breakdowns
# --------------------------------------------------------------------------------------------


def _num(x: object) -> np.ndarray | float:
    """A Python float for scalars (fast path), else a float64 array."""
    return float(x) if isinstance(x, SCALARS) else np.asarray(x, dtype=np.float64)


def _check_rate(x: object, name: str) -> np.ndarray | float:
    if isinstance(x, SCALARS):
        if not x >= 0:
            raise EdgeRouteError(f"{name} must be >= 0 bits/s (0 = outage), got {x!r}")
        return float(x)
    a = np.asarray(x, dtype=np.float64)
    if a.size and (np.any(np.isnan(a)) or np.min(a) < 0):
        raise EdgeRouteError(f"{name} must be >= 0 bits/s (0 = outage), got {x!r}")
    return a


def device_latency(
    scenario: DeploymentScenario | str,
    new_tokens: object,
    output_tokens: object,
    cached_tokens: object = 0,
) -> dict[str, np.ndarray | float]:
    """Device breakdown ``{prefill_s, decode_s, total_s}``; vectorised over token arrays.

    ``new_tokens``: tokens to prefill (this turn's prompt plus any uncached history);
    ``cached_tokens``: the valid cached prefix before them.
    """
    sc = get_scenario(scenario)
    new, cached = _num(new_tokens), _num(cached_tokens)
    prefill = prefill_time_s(sc.device_model, sc.device_hw, new, cached, sc.device_precision)
    decode = decode_time_s(
        sc.device_model, sc.device_hw, cached + new, _num(output_tokens), sc.device_precision
    )
    return {"prefill_s": as_output(prefill), "decode_s": as_output(decode),
            "total_s": as_output(prefill + decode)}


def edge_latency(
    scenario: DeploymentScenario | str,
    new_tokens: object,
    output_tokens: object,
    uplink_bps: object,
    downlink_bps: object,
    utilisation: object = 0.0,
    cached_tokens: object = 0,
    uplink_tokens: object | None = None,
    channel: ChannelScenario | str | None = None,
) -> dict[str, np.ndarray | float]:
    """Edge breakdown ``{uplink_s, queue_s, prefill_s, decode_s, downlink_s, total_s}``.

    ``uplink_tokens`` (default ``new_tokens``) is the text sent: everything after the edge's
    cached prefix. A rate of 0 is an outage and costs the channel's finite outage penalty.
    ``queue_s`` is the M/M/1 wait for admission at ``utilisation``; decode is slowed by it.
    """
    sc = get_scenario(scenario)
    ch = get_channel_scenario(channel if channel is not None else sc.channel)
    up_rate, down_rate = _check_rate(uplink_bps, "uplink_bps"), _check_rate(
        downlink_bps, "downlink_bps"
    )
    new, cached, out_tok = _num(new_tokens), _num(cached_tokens), _num(output_tokens)
    up_tok = new if uplink_tokens is None else _num(uplink_tokens)
    u = _num(utilisation)
    uplink = transmit_time_s(
        text_payload_bits(up_tok), up_rate, ch.access_latency_s, ch.outage_penalty_s
    )
    downlink = transmit_time_s(
        text_payload_bits(out_tok), down_rate, ch.access_latency_s, ch.outage_penalty_s
    )
    queue = queue_delay_s(u, sc.edge_queue_service_s)
    prefill = prefill_time_s(sc.edge_model, sc.edge_hw, new, cached, sc.edge_precision)
    decode = decode_time_s(
        sc.edge_model, sc.edge_hw, cached + new, out_tok, sc.edge_precision
    ) * decode_slowdown(u)
    total = uplink + queue + prefill + decode + downlink
    return {"uplink_s": as_output(uplink), "queue_s": as_output(queue),
            "prefill_s": as_output(prefill), "decode_s": as_output(decode),
            "downlink_s": as_output(downlink), "total_s": as_output(total)}


def side_latency(
    scenario: DeploymentScenario | str,
    side: str,
    plan: object,
    output_tokens: object,
    channel_state: ChannelState,
    utilisation: float = 0.0,
    channel: ChannelScenario | str | None = None,
) -> dict[str, np.ndarray | float]:
    """Breakdown of serving a :class:`cost_models.kv_cache.TurnPlan` on ``side``."""
    if side == "device":
        return device_latency(scenario, plan.prefill_tokens, output_tokens, plan.cached_tokens)
    require(side == "edge", f"side must be 'device' or 'edge', got {side!r}")
    return edge_latency(
        scenario, plan.prefill_tokens, output_tokens, channel_state.uplink_bps,
        channel_state.downlink_bps, utilisation, plan.cached_tokens, plan.uplink_tokens, channel,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Term estimates for the analytic rule
# --------------------------------------------------------------------------------------------

TERM_KEYS: tuple[str, str, str] = ("communication_s", "computation_s", "switching_s")

#: One side's estimate: ``{"communication_s", "computation_s", "switching_s", "total_s"}``.
TermEstimate = dict[str, Union[np.ndarray, float]]  # noqa: UP007 (runtime alias on py3.10)


def terms_from_parts(
    device_prefill_s: Any, device_base_prefill_s: Any, device_decode_s: Any,
    uplink_s: Any, base_uplink_s: Any, queue_s: Any,
    edge_prefill_s: Any, edge_base_prefill_s: Any, edge_decode_s: Any, downlink_s: Any,
) -> dict[str, TermEstimate]:  # fmt: skip
    """The router's per-side terms from the latency parts of one turn (the one home of how
    the three terms split each side's total; floats or numpy arrays alike).

    ``*_prefill_s``, ``uplink_s``: with the side's real cache state (everything after its
    cached prefix); ``*_base_*``: as if the side held the whole history (only this turn's
    prompt); the decodes use the predicted output length, the edge's already slowed by load.
    ``switching_s`` is what the uncached history adds: the extra prefill and, on the edge, the
    extra uplink. The terms of a side sum to its ``total_s`` up to float rounding.
    """
    return {
        "device": {
            "communication_s": 0.0 * device_decode_s,
            "computation_s": device_base_prefill_s + device_decode_s,
            "switching_s": device_prefill_s - device_base_prefill_s,
            "total_s": device_prefill_s + device_decode_s,
        },
        "edge": {
            "communication_s": base_uplink_s + downlink_s,
            "computation_s": queue_s + edge_base_prefill_s + edge_decode_s,
            "switching_s": (uplink_s - base_uplink_s) + (edge_prefill_s - edge_base_prefill_s),
            "total_s": uplink_s + queue_s + edge_prefill_s + edge_decode_s + downlink_s,
        },
    }


def estimate_terms(
    scenario: DeploymentScenario | str,
    prompt_tokens: object,
    output_tokens: object,
    uplink_bps: object,
    downlink_bps: object,
    utilisation: object = 0.0,
    history_tokens: object = 0,
    device_cached_tokens: object = 0,
    edge_cached_tokens: object = 0,
    channel: ChannelScenario | str | None = None,
) -> dict[str, TermEstimate]:
    """Per-side ``{communication_s, computation_s, switching_s, total_s}`` (a TermEstimate).

    ``history_tokens``: dialogue tokens before this turn; ``*_cached_tokens``: each side's
    valid cached prefix of them. ``output_tokens`` is the PREDICTED answer length. Each side's
    ``total_s`` equals :func:`device_latency` / :func:`edge_latency` of the same turn; the
    split into terms is :func:`terms_from_parts`.
    """
    sc = get_scenario(scenario)
    L, H = _num(prompt_tokens), _num(history_tokens)
    cached = {}
    for side, raw in (("device", device_cached_tokens), ("edge", edge_cached_tokens)):
        c = cached[side] = _num(raw)
        if (not 0.0 <= c <= H) if isinstance(c, float) and isinstance(H, float) else (
            np.any(np.less(c, 0)) or np.any(np.greater(c, H))
        ):
            raise EdgeRouteError(
                f"{side}_cached_tokens must be in [0, history_tokens], got {raw!r}"
            )
    c_d, c_e = cached["device"], cached["edge"]
    dev = device_latency(sc, H - c_d + L, output_tokens, c_d)
    dev_base = device_latency(sc, L, output_tokens, H)
    args = (output_tokens, uplink_bps, downlink_bps, utilisation)
    edge = edge_latency(sc, H - c_e + L, *args, cached_tokens=c_e, channel=channel)
    edge_base = edge_latency(sc, L, *args, cached_tokens=H, channel=channel)
    terms = terms_from_parts(
        dev["prefill_s"], dev_base["prefill_s"], dev_base["decode_s"],
        edge["uplink_s"], edge_base["uplink_s"], edge_base["queue_s"],
        edge["prefill_s"], edge_base["prefill_s"], edge_base["decode_s"], edge_base["downlink_s"],
    )  # fmt: skip
    return {side: {k: as_output(v) for k, v in t.items()} for side, t in terms.items()}


@dataclass(frozen=True)
class CostTerms:
    """Which terms the analytic rule uses; switching one off is an ablation."""

    semantic: bool = True
    communication: bool = True
    computation: bool = True
    switching: bool = True

    def enabled_keys(self) -> tuple[str, ...]:
        flags = (self.communication, self.computation, self.switching)
        return tuple(k for k, on in zip(TERM_KEYS, flags, strict=True) if on)


def side_time_s(terms_of_side: dict[str, object], terms: CostTerms = CostTerms()) -> object:
    """``T`` of one side keeping only the enabled terms."""
    total: object = 0.0
    for key in terms.enabled_keys():
        if key not in terms_of_side:
            raise EdgeRouteError(f"term estimate lacks {key!r}; needs {TERM_KEYS}")
        value = terms_of_side[key]
        total = total + (value if isinstance(value, (float, np.ndarray)) else np.asarray(value))
    return total


def analytic_score(
    p: object,
    device_terms: dict[str, object],
    edge_terms: dict[str, object],
    alpha: float,
    terms: CostTerms = CostTerms(),
) -> np.ndarray | float:
    """``S = p - alpha (T_edge - T_device)`` (paper Eqs. 11-12); route to the edge iff
    ``S > theta``. ``p`` becomes 0.5 when ``terms.semantic`` is off. Vectorised."""
    require(
        math.isfinite(alpha) and alpha >= 0, f"alpha must be finite and >= 0, got {alpha!r}"
    )
    delta = side_time_s(edge_terms, terms) - side_time_s(device_terms, terms)
    if isinstance(p, SCALARS):
        require(0.0 <= p <= 1.0, f"p must be a probability in [0, 1], got {p!r}")
        return as_output((float(p) if terms.semantic else 0.5) - alpha * delta)
    p_arr = np.asarray(p, dtype=np.float64)
    if p_arr.size and (np.any(p_arr < 0) or np.any(p_arr > 1)):
        raise EdgeRouteError(f"p must be a probability in [0, 1], got {p!r}")
    p_used = np.full_like(p_arr, 0.5) if not terms.semantic else p_arr
    return as_output(p_used - alpha * np.asarray(delta))


# --------------------------------------------------------------------------------------------
# One-shot breakdown (CLI and docs)
# --------------------------------------------------------------------------------------------


def latency_report(
    scenario: DeploymentScenario | str,
    prompt_tokens: int,
    output_tokens: int,
    history_tokens: int = 0,
    cached: str = "none",
    channel_state: ChannelState | None = None,
    utilisation: float = 0.0,
    channel: ChannelScenario | str | None = None,
) -> dict[str, object]:
    """Both sides' breakdowns for one turn, as plain floats (what ``edgeroute costs`` prints).

    ``cached``: which side holds the ``history_tokens`` in its KV cache: ``none`` (both must
    prefill it: the turn after the dialogue was served elsewhere), ``device``, ``edge``,
    ``both``. Without ``channel_state`` the median (no shadowing, no fading) link is used.
    """
    sc = get_scenario(scenario)
    ch = get_channel_scenario(channel if channel is not None else sc.channel)
    require(int(prompt_tokens) >= 1, f"prompt_tokens must be >= 1, got {prompt_tokens!r}")
    require(int(output_tokens) >= 1, f"output_tokens must be >= 1, got {output_tokens!r}")
    require(int(history_tokens) >= 0, f"history_tokens must be >= 0, got {history_tokens!r}")
    allowed = ("none", "device", "edge", "both")
    require(cached in allowed, f"cached must be one of {allowed}, got {cached!r}")
    state = channel_state if channel_state is not None else mean_channel_state(ch)
    H, L = int(history_tokens), int(prompt_tokens)
    for model in (sc.device_model, sc.edge_model):  # both sides prefill H + L and decode
        require_fits_context(model, H + L + int(output_tokens), "history + prompt + output")
    c_dev = H if cached in ("device", "both") else 0
    c_edge = H if cached in ("edge", "both") else 0
    dev = device_latency(sc, H - c_dev + L, output_tokens, c_dev)
    edge = edge_latency(sc, H - c_edge + L, output_tokens, state.uplink_bps, state.downlink_bps,
                        utilisation, c_edge, channel=ch)
    terms = estimate_terms(sc, L, output_tokens, state.uplink_bps, state.downlink_bps,
                           utilisation, H, c_dev, c_edge, channel=ch)
    return {
        "scenario": sc.name,
        "channel": ch.name,
        "distance_m": ch.distance_m,
        "edge_utilisation": float(utilisation),
        "prompt_tokens": L,
        "output_tokens": int(output_tokens),
        "history_tokens": H,
        "cached": cached,
        "uplink_snr_db": state.uplink_snr_db,
        "downlink_snr_db": state.downlink_snr_db,
        "uplink_bps": state.uplink_bps,
        "downlink_bps": state.downlink_bps,
        "device": {
            "model": sc.device_model, "hardware": sc.device_hw,
            "precision": sc.device_precision,
            **{k: float(v) for k, v in dev.items()},
            "kv_bytes_per_token": sc.kv_bytes_per_token("device"),
            "kv_capacity_tokens": sc.device_kv_capacity_tokens,
            "terms": {k: float(v) for k, v in terms["device"].items()},
        },
        "edge": {
            "model": sc.edge_model, "hardware": sc.edge_hw, "precision": sc.edge_precision,
            **{k: float(v) for k, v in edge.items()},
            "kv_bytes_per_token": sc.kv_bytes_per_token("edge"),
            "terms": {k: float(v) for k, v in terms["edge"].items()},
        },
        "faster": "device" if dev["total_s"] <= edge["total_s"] else "edge",
        "modelled": "latencies are our roofline + link-budget reconstruction, not measurements",
    }  # fmt: skip
