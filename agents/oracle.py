"""The hindsight Oracle: the bound every router is measured against.

It reads ``info["hindsight"]["reward"]`` -- the realised reward of serving the pending query on
the device and on the edge, computed by the environment from the same channel, load and cache
state -- and takes the better one. No deployable router can see this; the Oracle exists to say
how much of the achievable gain a router captures (``oracle_gap_closed_pct``).

It is greedy per step: in the multi-turn environment a choice changes the KV caches of later
turns, so a per-step argmax is the one-step hindsight bound, not a dynamic-programming optimum
over the dialogue. Ties go to the device (no edge call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import DEVICE, EDGE, Policy


class Oracle(Policy):
    """Serve each query on the side with the higher realised reward (hindsight)."""

    name = "oracle"
    uses_hindsight = True

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        r_device, r_edge = (float(r) for r in info["hindsight"]["reward"])
        return EDGE if r_edge > r_device else DEVICE
