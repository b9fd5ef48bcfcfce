"""The myopic oracle: the per-turn hindsight best, a reference (not a bound on multi-turn).

It reads ``info["hindsight"]`` -- the realised outcome of serving the pending query on the
device and on the edge, computed by the environment with the same function ``step`` uses --
and takes the better one. No deployable router can see this. On single-turn traces every query
is independent, so this per-query argmax *is* the hindsight optimum. On dialogues it is greedy:
a choice changes the KV caches (and the history) of later turns, so the per-step argmax can
lose to a plan over the dialogue; ``hindsight_optimal`` (``agents/hindsight.py``) is the bound
there. Ties go to the device (no edge call).

``latency_weight`` (default: the environment's reward) lets the oracle maximise ``quality +
latency_weight x latency_s + edge_call_weight x edge`` instead, to trace a frontier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import DEVICE, EDGE, Policy
from cost_models.errors import require


class MyopicOracle(Policy):
    """Serve each query on the side with the higher realised reward of that query alone."""

    name = "myopic_oracle"
    knob = "latency_weight"
    uses_hindsight = True

    def __init__(self, latency_weight: float | None = None, edge_call_weight: float = 0.0):
        require(
            latency_weight is None or (np.isfinite(latency_weight) and latency_weight <= 0),
            f"{self.name} latency_weight={latency_weight!r} must be <= 0 (a cost) or None",
        )
        self.latency_weight = None if latency_weight is None else float(latency_weight)
        self.edge_call_weight = float(edge_call_weight)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        h = info["hindsight"]
        if self.latency_weight is None:
            r_device, r_edge = (float(r) for r in h["reward"])
        else:
            (q_d, q_e), (l_d, l_e) = h["quality"], h["latency_s"]
            r_device = float(q_d) + self.latency_weight * float(l_d)
            r_edge = float(q_e) + self.latency_weight * float(l_e) + self.edge_call_weight
        return EDGE if r_edge > r_device else DEVICE

    def params(self) -> dict[str, Any]:
        if self.latency_weight is None:
            return {}
        return {"latency_weight": self.latency_weight, "edge_call_weight": self.edge_call_weight}


class Oracle(MyopicOracle):
    """Deprecated name of :class:`MyopicOracle` (``make_policy("oracle")`` still works)."""

    name = "oracle"
