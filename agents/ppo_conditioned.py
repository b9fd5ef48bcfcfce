"""A trade-off-conditioned PPO model read at one point of the trade-off.

A model trained with ``tradeoff_conditioning`` (``envs.tradeoff``) saw, in every episode, the
reward's latency price and edge-call price in two observation slots, and learned to act for
the prices it was shown. This policy shows it the prices of one operating point instead of the
environment's: it overwrites the two slots before the model reads the observation. Sweeping
``(latency_price_per_s, edge_call_price)`` over a grid then traces PPO's quality-latency
frontier from one trained model, on the grid the analytic router is swept on (``w = alpha``,
``c = theta``; :mod:`experiments.ppo_frontier`), on the same test environment and seeds as every
other policy (common random numbers: the environment itself is unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.ppo import PPOPolicy
from cost_models.errors import require
from envs.tradeoff import prices

#: The observation slots the prices are written into (``envs.observation.SCALAR_SLOTS``).
PRICE_SLOTS: tuple[str, str] = ("tradeoff_latency_price_per_s", "tradeoff_edge_call_price")


class PPOConditioned(PPOPolicy):
    """A conditioned PPO run directory acting as if the reward charged the given prices.

    Args:
        model_dir: a run directory trained with ``tradeoff_conditioning`` set.
        latency_price_per_s: the price of one second of latency (``-reward_weights.latency``).
        edge_call_price: the price of one edge call (``-reward_weights.edge_call``); the
            frontier sweeps it (with the latency price fixed per curve), like theta.
    """

    name = "ppo_conditioned"
    knob = "edge_call_price"

    def __init__(
        self,
        model_dir: str | Path,
        latency_price_per_s: float = 0.1,
        edge_call_price: float = 0.05,
        deterministic: bool = True,
    ) -> None:
        super().__init__(model_dir, deterministic=deterministic)
        require(
            np.isfinite(latency_price_per_s) and np.isfinite(edge_call_price),
            f"ppo_conditioned prices must be finite, got {latency_price_per_s!r}, "
            f"{edge_call_price!r}",
        )
        self.latency_price_per_s = float(latency_price_per_s)
        self.edge_call_price = float(edge_call_price)
        # Clipped to the slot bounds, as the environment clips the prices it shows.
        self._prices = np.asarray(
            prices({"latency": -self.latency_price_per_s, "edge_call": -self.edge_call_price}),
            dtype=np.float32,
        )
        self._slots: np.ndarray | None = None

    def bind(self, observation_names: Sequence[str]) -> None:
        names = list(observation_names)
        require(
            all(s in names for s in PRICE_SLOTS),
            f"ppo_conditioned needs the observation slots {list(PRICE_SLOTS)}",
        )
        super().bind(names)
        self._slots = np.asarray([names.index(s) for s in PRICE_SLOTS], dtype=np.int64)

    def _prepare(self, obs: np.ndarray) -> np.ndarray:
        x = np.array(obs, dtype=np.float32)  # a copy: the environment's array stays as it is
        if self._slots is not None:
            x[..., self._slots] = self._prices
        return super()._prepare(x)

    def params(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "latency_price_per_s": self.latency_price_per_s,
            "edge_call_price": self.edge_call_price,
            "deterministic": self.deterministic,
        }

    def label(self) -> str:
        return (
            f"ppo_conditioned(w={self.latency_price_per_s:.3g}/s, c={self.edge_call_price:.3g})"
        )
