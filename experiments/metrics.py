"""Metrics of a routing run: latency percentiles, quality, edge-call rate, multi-turn costs.

A run is a sequence of served queries (steps). :class:`StepLog` collects, per step, what the
environment reports in ``info`` after serving (``latency_s``, ``quality``, ``model``,
``switched``, ``recomputed_tokens``, ``dialogue_id``) and the reward; :func:`compute_metrics`
turns it into one flat dict; :func:`aggregate_over_seeds` gives mean and spread (sample standard
deviation, key suffix ``_std``) over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cost_models.errors import require

#: Metric keys in table order, with the number of decimals used when printing them.
METRIC_KEYS: tuple[str, ...] = (
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "quality",
    "edge_rate",
    "reward_mean",
    "switches_per_dialogue",
    "recomputed_tokens_per_dialogue",
)


@dataclass
class StepLog:
    """Per-step outcomes of one run (one policy, one seed); append with :meth:`record`."""

    latency_s: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    edge: list[bool] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    switched: list[bool] = field(default_factory=list)
    recomputed_tokens: list[float] = field(default_factory=list)
    dialogue_id: list[str] = field(default_factory=list)
    turn_index: list[int] = field(default_factory=list)

    def record(self, info: Mapping[str, Any], reward: float) -> None:
        """Append the outcome of the query just served, from ``step()``'s ``info``."""
        self.latency_s.append(float(info["latency_s"]))
        self.quality.append(float(info["quality"]))
        self.edge.append(info["model"] == "edge")
        self.reward.append(float(reward))
        self.switched.append(bool(info.get("switched", False)))
        self.recomputed_tokens.append(float(info.get("recomputed_tokens", 0.0)))
        self.dialogue_id.append(str(info.get("dialogue_id", len(self.dialogue_id))))
        self.turn_index.append(int(info.get("turn_index", 0)))

    def __len__(self) -> int:
        return len(self.latency_s)


def compute_metrics(log: StepLog) -> dict[str, float]:
    """Flat metrics of one run.

    Latency statistics are over served queries; ``switches_per_dialogue`` and
    ``recomputed_tokens_per_dialogue`` divide the totals by the number of distinct dialogues
    (for single-turn traces every query is its own dialogue).
    """
    require(len(log) > 0, "cannot compute metrics of an empty run (no steps were served)")
    latency = np.asarray(log.latency_s, dtype=float)
    n_dialogues = len(set(log.dialogue_id))
    return {
        "latency_mean_s": float(latency.mean()),
        "latency_p50_s": float(np.percentile(latency, 50)),
        "latency_p95_s": float(np.percentile(latency, 95)),
        "quality": float(np.mean(log.quality)),
        "edge_rate": float(np.mean(log.edge)),
        "reward_mean": float(np.mean(log.reward)),
        "switches_per_dialogue": float(np.sum(log.switched)) / n_dialogues,
        "recomputed_tokens_per_dialogue": float(np.sum(log.recomputed_tokens)) / n_dialogues,
        "n_queries": float(len(log)),
        "n_dialogues": float(n_dialogues),
    }


def aggregate_over_seeds(per_seed: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over seeds, plus ``<key>_std`` (sample std; 0 for a single seed)."""
    require(len(per_seed) > 0, "cannot aggregate metrics over zero seeds")
    keys = list(per_seed[0])
    for m in per_seed[1:]:
        require(list(m) == keys, f"seed runs disagree on metric keys: {list(m)} vs {keys}")
    out: dict[str, float] = {}
    for key in keys:
        values = np.asarray([m[key] for m in per_seed], dtype=float)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    out["n_seeds"] = float(len(per_seed))
    return out


def pooled_latencies(logs: Sequence[StepLog]) -> np.ndarray:
    """All per-query latencies of several runs, for latency-distribution plots."""
    return np.concatenate([np.asarray(log.latency_s, dtype=float) for log in logs])
