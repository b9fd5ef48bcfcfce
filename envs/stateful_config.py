"""Configuration of the stateful world: a shared edge, partial observability, link traces,
device heat, energy and attachments (issue 10). Every feature is off by default (the legacy
world) and switchable on its own, so an ablation can turn each off.

:func:`stateful_default_config` holds the keys (one comment per key: meaning, unit, source);
:data:`STATEFUL_VALIDATORS` checks them; :class:`StatefulOptions` is the parsed, typed view the
environments build their world from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cost_models import batching, payload, thermal
from cost_models.edge_traffic import ROUTING_PRESETS
from envs.config import (
    Validator,
    boolean,
    is_number,
    non_negative_number,
    one_of,
    positive_int,
)

EDGE_MODES: tuple[str, ...] = ("markov", "shared")
OBSERVATION_MODES: tuple[str, ...] = ("exact", "reported")
CHANNEL_ESTIMATES: tuple[str, ...] = ("exact", "last")


def stateful_default_config() -> dict[str, Any]:
    """The stateful-world keys with their defaults (all features off)."""
    return {
        # Edge server: "markov" = the exogenous utilisation chain of cost_models.edge_load
        # (M/M/1 queue and a linear decode slow-down, no decision affects it); "shared" = one
        # continuous-batching server (cost_models.edge_server: vLLM/Sarathi-style decode-first
        # chunked prefill, TensorRT-LLM no-evict admission) shared with `edge_users` other
        # users, so the agent's own offloads load the server everybody sees. Modelled.
        "edge_mode": "markov",
        # Other users on the shared edge, and each one's request rate (1/s). Default: 900
        # users at one request per 30 s = 30 requests/s on average; one H100 serving
        # Llama-3.1-70B FP8 sustains ~50/s of MMLU-sized requests (KV-bound at ~300
        # sequences, measured on the simulator), so the busy bursts (x1.4, x2.0) congest it
        # and the quiet ones (x0.2, x0.8) do not: neither side wins everywhere (modelled
        # demand).
        "edge_users": 900,
        "edge_user_rate_hz": 1.0 / 30.0,
        # How the other users route: a cost_models.edge_traffic.ROUTING_PRESETS name
        # ("always": every request to the edge, "half", "load_aware").
        "edge_background_routing": "always",
        # Bursty demand: the other users' rate is Markov-modulated (busy and quiet periods of
        # tens of seconds; the levels and transitions of cost_models.edge_load's chain,
        # rescaled to mean 1). False: a constant Poisson rate.
        "edge_demand_bursts": True,
        # Engine limits of the shared server (vLLM's H100 defaults, batching.ServerSpec).
        "edge_max_num_seqs": batching.VLLM_MAX_NUM_SEQS,
        "edge_max_num_batched_tokens": batching.VLLM_MAX_NUM_BATCHED_TOKENS,
        # What the device knows of the edge load: "exact" = the hidden current state, at once
        # (the legacy observation); "reported" = the last load report it received
        # (cost_models.observability): one with each answer (the state when it left the
        # server) and a periodic beacon, whichever was sampled last, with its age.
        "load_observation": "exact",
        # Beacon: one load sample every `load_report_period_s` (0 = no beacon, answers only;
        # 15 s is a common Prometheus scrape interval), arriving `load_report_delay_s` later,
        # with Gaussian noise of std `load_report_noise_std` on the reported fractions.
        "load_report_period_s": 15.0,
        "load_report_delay_s": 1.0,
        "load_report_noise_std": 0.0,
        # Whether each answer carries the server's state (False: beacons only).
        "load_report_with_answers": True,
        # The link: "snr" = the link-budget model with shadowing and fading
        # (cost_models.channel); "trace:<name>" = a replayed 5Gophers or Mahimahi trace
        # (envs.traces.links.LINK_PRESETS; RTT from 5Gophers; seconds at 0 are outages).
        "link": "snr",
        # Replay: loop the trace at its end (as Mahimahi's mm-link does) or stop (the link is
        # then down: transfers pay the outage penalty).
        "link_loop": True,
        # The device's rate estimate for the coming transfer: "exact" = the rate the transfer
        # will see (legacy); "last" = its last measurement (the throughput of its last
        # transfer, or the median trace rate / median link before any), with its age.
        "channel_estimate": "exact",
        # Device heat: None (off) or a cost_models.thermal profile ("npu", "gpu_mlx",
        # "gpu_litert", fitted to published iPhone measurements): sustained on-device
        # generation throttles the device, idle time cools it.
        "thermal": None,
        # Attachment sent with a query's prompt (cost_models.payload.ATTACHMENTS: "none",
        # "photo" ~3 MB, "photo_resized" ~197 kB, "document" ~549 tokens), on a fraction
        # `attachment_share` of the queries (drawn per query at reset).
        "attachment": "none",
        "attachment_share": 1.0,
    }


def _period(key: str, value: Any) -> None:
    non_negative_number(key, value)


def _fraction(key: str, value: Any) -> None:
    if not (is_number(value) and 0.0 <= value <= 1.0):
        raise_fail(key, value, "a number in [0, 1]")


def raise_fail(key: str, value: Any, allowed: str) -> None:
    from cost_models.errors import EdgeRouteError

    raise EdgeRouteError(f"config[{key!r}] = {value!r} is invalid; allowed: {allowed}")


def _non_negative_int(key: str, value: Any) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise_fail(key, value, "an integer >= 0")


def _link(key: str, value: Any) -> None:
    if value == "snr":
        return
    from envs.traces.links import LINK_PRESETS

    if not (isinstance(value, str) and value.startswith("trace:") and value[6:] in LINK_PRESETS):
        raise_fail(key, value, f"'snr' or 'trace:<name>' with a name in {sorted(LINK_PRESETS)}")


def _thermal(key: str, value: Any) -> None:
    if value is not None and value not in thermal.THERMAL_PROFILE_NAMES:
        raise_fail(key, value, f"None or one of {list(thermal.THERMAL_PROFILE_NAMES)}")


STATEFUL_VALIDATORS: dict[str, Validator] = {
    "edge_mode": one_of(EDGE_MODES),
    "edge_users": _non_negative_int,
    "edge_user_rate_hz": non_negative_number,
    "edge_background_routing": one_of(tuple(ROUTING_PRESETS)),
    "edge_demand_bursts": boolean,
    "edge_max_num_seqs": positive_int,
    "edge_max_num_batched_tokens": positive_int,
    "load_observation": one_of(OBSERVATION_MODES),
    "load_report_period_s": _period,
    "load_report_delay_s": non_negative_number,
    "load_report_noise_std": non_negative_number,
    "load_report_with_answers": boolean,
    "link": _link,
    "link_loop": boolean,
    "channel_estimate": one_of(CHANNEL_ESTIMATES),
    "thermal": _thermal,
    "attachment": one_of(tuple(payload.ATTACHMENTS)),
    "attachment_share": _fraction,
}


@dataclass(frozen=True)
class StatefulOptions:
    """The typed view of the stateful keys (see :func:`stateful_default_config`)."""

    edge_mode: str
    edge_users: int
    edge_user_rate_hz: float
    edge_background_routing: str
    edge_demand_bursts: bool
    edge_max_num_seqs: int
    edge_max_num_batched_tokens: int
    load_observation: str
    load_report_period_s: float
    load_report_delay_s: float
    load_report_noise_std: float
    load_report_with_answers: bool
    link: str
    link_loop: bool
    channel_estimate: str
    thermal: str | None
    attachment: str
    attachment_share: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StatefulOptions:
        return cls(**{k: config[k] for k in stateful_default_config()})

    @property
    def shared_edge(self) -> bool:
        return self.edge_mode == "shared"

    @property
    def link_trace(self) -> str | None:
        """The link preset name, or None for the SNR model."""
        return None if self.link == "snr" else self.link[6:]

    @property
    def beacon_period_s(self) -> float:
        return math.inf if self.load_report_period_s == 0 else float(self.load_report_period_s)

    @property
    def active(self) -> bool:
        """Whether any feature departs from the legacy world (then the environments take
        their sequential, stateful step path)."""
        return (
            self.shared_edge or self.load_observation != "exact" or self.link != "snr"
            or self.channel_estimate != "exact" or self.thermal is not None
            or self.attachment != "none"
        )  # fmt: skip

    @property
    def observation_slots(self) -> bool:
        """Whether the observation carries the stateful slots (reports, ages, heat...)."""
        return self.active


def stateful_active(overrides: Mapping[str, Any]) -> bool:
    """Whether an env config (overrides of the defaults) turns a stateful-world feature on:
    then the world depends on the actions (a shared edge, reports that come with answers) and
    there is no fixed realised world to plan a hindsight bound on."""
    return StatefulOptions.from_config({**stateful_default_config(), **overrides}).active
