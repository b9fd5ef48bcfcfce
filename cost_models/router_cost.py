"""End-to-end latency of serving a query or a dialogue turn on each side, and the analytic rule.

OUR reconstruction. The paper publishes only its decision rule (Eqs. 11-12)::

    S = p - alpha (T_edge - T_device),   route to the edge iff S > theta

with ``p`` the semantic score (P(the large model is needed)) and ``T`` the latency estimates in
seconds. How it computes ``T`` is not public; ours, from :mod:`cost_models.channel`,
:mod:`cost_models.compute` and :mod:`cost_models.kv_cache`::

    T_device = prefill(new, cached) + decode(context, output)
    T_edge   = uplink(text after the edge's cached prefix) + queue(u)
               + prefill(new, cached) + decode(context, output) * slowdown(u)
               + downlink(answer text)

Every breakdown's ``total_s`` is the sum of its parts. For the rule each side's ``T`` is split
into three terms that sum to it (:func:`estimate_terms`):

* ``communication_s``: uplink of this turn's prompt plus downlink of the answer (edge only);
* ``computation_s``: queueing, prefill of the prompt and decode, as if the history were cached;
* ``switching_s``: the extra prefill (and, on the edge, extra uplink) of the history the side
  did not serve, i.e. the KV-cache recompute cost of switching models (multi-turn only).

:class:`CostTerms` switches each term (and the semantic score) off for ablations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Union

import numpy as np

from cost_models.channel import (
    ChannelScenario,
    ChannelState,
    get_channel_scenario,
    mean_channel_state,
    text_payload_bits,
    transmit_time_s,
)
from cost_models.compute import (
    check_fits,
    decode_slowdown,
    decode_time_s,
    get_hardware,
    get_model,
    get_precision,
    prefill_time_s,
    queue_delay_s,
)
from cost_models.errors import EdgeRouteError, lookup, require
from cost_models.kv_cache import capacity_tokens, kv_bytes_per_token

# --------------------------------------------------------------------------------------------
# Deployment scenarios
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentScenario:
    """A device model on device hardware, an edge model on edge hardware, and a channel.

    ``edge_queue_service_s`` is the mean admission time per request queued ahead at the edge
    (one scheduler iteration of a continuous-batching server; modelled, 50 ms).
    """

    name: str
    device_model: str
    device_hw: str
    device_precision: str
    edge_model: str
    edge_hw: str
    edge_precision: str
    channel: str = "urban"
    edge_queue_service_s: float = 0.05
    description: str = ""

    def __post_init__(self) -> None:
        dm, dh = get_model(self.device_model), get_hardware(self.device_hw)
        em, eh = get_model(self.edge_model), get_hardware(self.edge_hw)
        get_precision(self.device_precision)
        get_precision(self.edge_precision)
        get_channel_scenario(self.channel)
        check_fits(dm, dh, self.device_precision)
        check_fits(em, eh, self.edge_precision)
        require(
            self.edge_queue_service_s >= 0,
            f"edge_queue_service_s must be >= 0, got {self.edge_queue_service_s!r}",
        )

    @property
    def channel_scenario(self) -> ChannelScenario:
        return get_channel_scenario(self.channel)

    @property
    def device_kv_capacity_tokens(self) -> int:
        """Tokens of the device model's KV cache that fit in the device hardware's budget."""
        return capacity_tokens(
            get_hardware(self.device_hw).kv_budget_bytes, self.device_model, self.device_precision
        )

    def kv_bytes_per_token(self, side: str) -> int:
        require(side in ("device", "edge"), f"side must be 'device' or 'edge', got {side!r}")
        if side == "device":
            return kv_bytes_per_token(self.device_model, self.device_precision)
        return kv_bytes_per_token(self.edge_model, self.edge_precision)

    def with_overrides(self, **changes: object) -> DeploymentScenario:
        """A copy with some fields replaced (validated again); ``None`` values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        fields = asdict(self)
        unknown = set(changes) - set(fields)
        require(not unknown, f"unknown scenario fields {sorted(unknown)}; allowed: "
                f"{', '.join(fields)}")
        fields.update(changes)
        return DeploymentScenario(**fields)


SCENARIO_PRESETS: dict[str, DeploymentScenario] = {
    s.name: s
    for s in (
        DeploymentScenario(
            "phone_3b__edge_70b",
            "llama-3.2-3b", "phone_npu", "int4",
            "llama-3.1-70b", "h100_sxm", "fp8",
            description="Llama-3.2-3B int4 on a flagship phone NPU; Llama-3.1-70B FP8 on one "
            "H100 SXM (70.6 GB of FP8 weights fit in 80 GB; Meta publishes an official FP8 "
            "405B and NVIDIA/neuralmagic FP8 70B checkpoints for single-node serving)",
        ),
        DeploymentScenario(
            "laptop_8b__edge_70b",
            "llama-3.1-8b", "laptop_m3_pro", "int4",
            "llama-3.1-70b", "h100_sxm", "fp8",
            description="Llama-3.1-8B int4 (Q4_0) on an Apple M3 Pro laptop; Llama-3.1-70B FP8 "
            "on one H100 SXM",
        ),
        DeploymentScenario(
            "jetson_7b__edge_14b",
            "qwen2.5-7b", "jetson_agx_orin", "int4",
            "qwen2.5-14b", "a100_80gb", "fp16",
            description="Qwen2.5-7B int4 on a Jetson AGX Orin 64GB; Qwen2.5-14B fp16 on an "
            "A100 80GB",
        ),
        DeploymentScenario(
            "phone_1p5b__edge_7b",
            "qwen2.5-1.5b", "phone_npu", "int4",
            "qwen2.5-7b", "a100_80gb", "fp16",
            description="Qwen2.5-1.5B int4 on a flagship phone NPU; Qwen2.5-7B fp16 on an "
            "A100 80GB",
        ),
    )
}  # fmt: skip


def get_scenario(name: str | DeploymentScenario) -> DeploymentScenario:
    """The preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(SCENARIO_PRESETS, name, "scenario")


# --------------------------------------------------------------------------------------------
# Latency breakdowns
# --------------------------------------------------------------------------------------------


_SCALARS = (int, float, np.integer, np.floating)


def _out(x: object) -> np.ndarray | float:
    if isinstance(x, float):
        return x
    a = np.asarray(x, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


def _num(x: object) -> np.ndarray | float:
    """A Python float for scalars (fast path), else a float64 array."""
    return float(x) if isinstance(x, _SCALARS) else np.asarray(x, dtype=np.float64)


def _check_rate(x: object, name: str) -> np.ndarray | float:
    if isinstance(x, _SCALARS):
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
    return {"prefill_s": _out(prefill), "decode_s": _out(decode),
            "total_s": _out(prefill + decode)}


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
    return {"uplink_s": _out(uplink), "queue_s": _out(queue), "prefill_s": _out(prefill),
            "decode_s": _out(decode), "downlink_s": _out(downlink), "total_s": _out(total)}


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
    valid cached prefix of them. ``output_tokens`` is the PREDICTED answer length. The terms
    of each side sum to its ``total_s``, which equals :func:`device_latency` /
    :func:`edge_latency` of the same turn.
    """
    sc = get_scenario(scenario)
    L, H = _num(prompt_tokens), _num(history_tokens)
    out: dict[str, dict[str, np.ndarray | float]] = {}
    for side, cached_raw in (("device", device_cached_tokens), ("edge", edge_cached_tokens)):
        c = _num(cached_raw)
        if (not 0.0 <= c <= H) if isinstance(c, float) and isinstance(H, float) else (
            np.any(np.less(c, 0)) or np.any(np.greater(c, H))
        ):
            raise EdgeRouteError(
                f"{side}_cached_tokens must be in [0, history_tokens], got {cached_raw!r}"
            )
        if side == "device":
            full = device_latency(sc, H - c + L, output_tokens, c)
            base = device_latency(sc, L, output_tokens, H)
            comm = 0.0 * full["total_s"]
            comp = base["total_s"]
        else:
            args = (output_tokens, uplink_bps, downlink_bps, utilisation)
            full = edge_latency(sc, H - c + L, *args, cached_tokens=c, channel=channel)
            base = edge_latency(sc, L, *args, cached_tokens=H, channel=channel)
            comm = base["uplink_s"] + base["downlink_s"]
            comp = base["queue_s"] + base["prefill_s"] + base["decode_s"]
        out[side] = {
            "communication_s": _out(comm),
            "computation_s": _out(comp),
            "switching_s": _out(full["total_s"] - base["total_s"]),
            "total_s": _out(full["total_s"]),
        }
    return out


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
    if isinstance(p, _SCALARS):
        require(0.0 <= p <= 1.0, f"p must be a probability in [0, 1], got {p!r}")
        return _out((float(p) if terms.semantic else 0.5) - alpha * delta)
    p_arr = np.asarray(p, dtype=np.float64)
    if p_arr.size and (np.any(p_arr < 0) or np.any(p_arr > 1)):
        raise EdgeRouteError(f"p must be a probability in [0, 1], got {p!r}")
    p_used = np.full_like(p_arr, 0.5) if not terms.semantic else p_arr
    return _out(p_used - alpha * np.asarray(delta))


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
