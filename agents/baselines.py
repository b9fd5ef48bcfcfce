"""Baseline routers: always-device, always-edge, random, static semantic threshold, latency-greedy.

``SemanticThreshold`` is the paper's "static routing" and RouteLLM's router shape: it sends a
query to the large model iff the predicted probability that the large model is needed exceeds a
threshold, and it never looks at the channel, the edge load or the KV caches (latency-blind).
``LatencyGreedy`` is its opposite: it picks whichever side the router's estimate says is faster
and ignores quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import DEVICE, EDGE, Policy
from cost_models.errors import require


class AlwaysDevice(Policy):
    """Serve every query with the small on-device model."""

    name = "always_device"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return DEVICE


class AlwaysEdge(Policy):
    """Serve every query with the large model on the edge server (full quality, most calls)."""

    name = "always_edge"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return EDGE


class RandomRouter(Policy):
    """Send each query to the edge with probability ``p``, independent of the query.

    The draws come from a ``numpy`` Generator seeded from ``seed`` and the episode seed passed
    to :meth:`reset`, so runs repeat exactly and every episode of a benchmark has its own
    stream (the environment's channel/load streams are separate: common random numbers).
    """

    name = "random"
    knob = "p"

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        require(0.0 <= float(p) <= 1.0, f"random router p={p!r} must be in [0, 1]")
        self.p = float(p)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)

    def reset(self, seed: int | None = None) -> None:
        entropy = [self.seed] if seed is None else [self.seed, int(seed)]
        self._rng = np.random.default_rng(entropy)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return EDGE if self._rng.random() < self.p else DEVICE

    def params(self) -> dict[str, Any]:
        return {"p": self.p, "seed": self.seed}


class SemanticThreshold(Policy):
    """Static, latency-blind routing: edge iff ``info["semantic_p"] > threshold``.

    ``threshold`` is usually calibrated on the validation split to a target share of edge calls
    (:func:`agents.calibration.calibrate_threshold`), as RouteLLM calibrates its routers.
    """

    name = "semantic_threshold"
    knob = "threshold"

    def __init__(self, threshold: float = 0.5) -> None:
        require(np.isfinite(threshold), f"semantic threshold {threshold!r} must be finite")
        self.threshold = float(threshold)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return EDGE if float(info["semantic_p"]) > self.threshold else DEVICE

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


class LatencyGreedy(Policy):
    """Pick the side with the lower estimated total latency (``info["estimate"]``); ties: device.

    Quality-blind: the lower bound on latency that any router reading the same estimate can
    reach, at whatever quality that gives.
    """

    name = "latency_greedy"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        estimate = info["estimate"]
        t_device = float(estimate["device"]["total_s"])
        t_edge = float(estimate["edge"]["total_s"])
        return EDGE if t_edge < t_device else DEVICE
