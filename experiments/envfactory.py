"""Building environments for training and evaluation from an env id and a config dict.

``import envs`` registers the EdgeRoute ids; the config overrides ``default_config()`` of the
environment (``gym.make(id, config=...)``). Observation groups removed for an ablation are
dropped with :class:`agents.observation_groups.DropObservationGroups` on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym

from agents.observation_groups import DropObservationGroups
from cost_models.errors import require

#: Environment id per benchmark key: single-turn for MMLU/GSM8K, multi-turn for MT-Bench(-101).
BENCHMARK_ENVS: dict[str, str] = {
    "mmlu": "EdgeRoute/SingleTurn-v0",
    "gsm8k": "EdgeRoute/SingleTurn-v0",
    "mt_bench": "EdgeRoute/MultiTurn-v0",
    "mt_bench_101": "EdgeRoute/MultiTurn-v0",
    "synthetic": "EdgeRoute/SingleTurn-v0",
}


def env_id_for(benchmark: str) -> str:
    """The environment id that replays ``benchmark``."""
    require(
        benchmark in BENCHMARK_ENVS,
        f"unknown benchmark {benchmark!r}; allowed: {sorted(BENCHMARK_ENVS)}",
    )
    return BENCHMARK_ENVS[benchmark]


def make_env(
    env_id: str,
    config: Mapping[str, Any] | None = None,
    drop_groups: Iterable[str] = (),
) -> gym.Env:
    """``gym.make(env_id, config=config)``, with ``drop_groups`` removed from observations."""
    import envs  # noqa: F401  (registers the EdgeRoute ids)

    require(
        env_id in gym.registry,
        f"unknown environment id {env_id!r}; registered EdgeRoute ids: "
        f"{sorted(k for k in gym.registry if k.startswith('EdgeRoute/'))}",
    )
    env = gym.make(env_id, config=dict(config or {}))
    drop = tuple(drop_groups)
    if drop:
        env = DropObservationGroups(env, drop)
    return env
