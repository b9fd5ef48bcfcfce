"""Building environments for training and evaluation from an env id and a config dict, and
reading what a built environment says about itself (for reports).

``import envs`` registers the EdgeRoute ids; the config overrides ``default_config()`` of the
environment (``gym.make(id, config=...)``). Observation groups removed for an ablation are
dropped with :class:`agents.observation_groups.DropObservationGroups` on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from agents.observation_groups import DropObservationGroups
from cost_models.errors import require

#: Environment id per benchmark key: single-turn for MMLU/GSM8K, multi-turn for the dialogues
#: (MT-Bench, MT-Bench-101, MT-Eval, long sessions).
BENCHMARK_ENVS: dict[str, str] = {
    "mmlu": "EdgeRoute/SingleTurn-v0",
    "gsm8k": "EdgeRoute/SingleTurn-v0",
    "mt_bench": "EdgeRoute/MultiTurn-v0",
    "mt_bench_101": "EdgeRoute/MultiTurn-v0",
    "mt_eval": "EdgeRoute/MultiTurn-v0",
    "long_sessions": "EdgeRoute/MultiTurn-v0",
    "synthetic": "EdgeRoute/SingleTurn-v0",
}


def env_id_for(benchmark: str) -> str:
    """The environment id that replays ``benchmark``."""
    require(
        benchmark in BENCHMARK_ENVS,
        f"unknown benchmark {benchmark!r}; allowed: {sorted(BENCHMARK_ENVS)}",
    )
    return BENCHMARK_ENVS[benchmark]


def registered_env_ids() -> list[str]:
    """The EdgeRoute environment ids (``import envs`` registers them)."""
    import envs  # noqa: F401  (registers the EdgeRoute ids)

    return sorted(k for k in gym.registry if k.startswith("EdgeRoute/"))


def make_env(
    env_id: str,
    config: Mapping[str, Any] | None = None,
    drop_groups: Iterable[str] = (),
) -> gym.Env:
    """``gym.make(env_id, config=config)``, with ``drop_groups`` removed from observations."""
    require(
        env_id in registered_env_ids(),
        f"unknown environment id {env_id!r}; registered EdgeRoute ids: {registered_env_ids()}",
    )
    env = gym.make(env_id, config=dict(config or {}))
    drop = tuple(drop_groups)
    if drop:
        env = DropObservationGroups(env, drop)
    return env


#: Scenario fields copied from the env config into reports, and those of the latency
#: architecture (``env.unwrapped.scenario``, a ``DeploymentScenario``).
SCENARIO_CONFIG_KEYS: tuple[str, ...] = (
    "deployment",
    "device_model",
    "device_hardware",
    "edge_model",
    "edge_hardware",
    "channel",
    "pair",
    "reward_weights",
)
ARCHITECTURE_FIELDS: tuple[str, ...] = (
    "name",
    "device_model",
    "device_hw",
    "device_precision",
    "edge_model",
    "edge_hw",
    "edge_precision",
    "channel",
)


@dataclass(frozen=True)
class EnvDescription:
    """What a report says about a workload's environment."""

    quality_source: str
    """``measured`` or ``modelled`` (from the trace metadata)"""
    scenario: dict[str, Any]
    """deployment scenario, label pair and latency architecture"""
    reward_weights: dict[str, float]
    """the environment's reward weights (the PPO reward-weight sweep scales them)"""
    multi_turn: bool = False
    """dialogues (the hindsight bound plans over each one)"""


def describe_env(env_id: str, config: Mapping[str, Any], key: str) -> EnvDescription:
    """Build the environment once and read its :class:`EnvDescription` (``key``: the
    benchmark key, for traces whose metadata does not say where its quality comes from)."""
    env = make_env(env_id, config)
    try:
        u = env.unwrapped
        return EnvDescription(
            quality_source_of(env, key),
            scenario_of(env),
            dict(u.config["reward_weights"]),
            bool(getattr(u, "multi_turn", False)),
        )
    finally:
        env.close()


def quality_source_of(env: Any, key: str) -> str:
    """``measured`` or ``modelled`` from the environment's trace metadata."""
    trace = getattr(env.unwrapped, "trace", None)
    meta = getattr(trace, "meta", None) or {}
    if "quality_source" in meta:
        return str(meta["quality_source"])
    return "modelled" if key in ("mt_bench_101", "synthetic") else "measured"


def scenario_of(env: Any) -> dict[str, Any]:
    """Deployment scenario, label pair and latency architecture, for the report."""
    u = env.unwrapped
    cfg = dict(getattr(u, "config", {}) or {})
    meta = dict(getattr(getattr(u, "trace", None), "meta", None) or {})
    out = {k: cfg[k] for k in SCENARIO_CONFIG_KEYS if cfg.get(k) is not None}
    out["label_pair"] = {
        "small": meta.get("small"),
        "large": meta.get("large"),
        "pair": meta.get("pair"),
    }
    scenario = getattr(u, "scenario", None)
    if scenario is not None:
        out["latency_architecture"] = {
            f: str(getattr(scenario, f)) for f in ARCHITECTURE_FIELDS if hasattr(scenario, f)
        }
    return out
