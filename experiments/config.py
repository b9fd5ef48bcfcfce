"""Loading and validating the YAML configs: PPO hyperparameters per env id (the benchmark
budgets are typed in :mod:`experiments.run_profile`).

PPO files follow RL-Baselines3-Zoo (``hyperparams/ppo.yml``): a top-level key per environment id.
We keep the PPO constructor arguments under ``ppo:`` (checked against
``stable_baselines3.PPO.__init__``) and training settings beside them, so a typo fails loudly
instead of falling back to a default. ``policy_kwargs`` is a YAML mapping, not a Python string
to ``eval`` as in the Zoo.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cost_models.errors import EdgeRouteError, require

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: The shipped PPO hyperparameters (``edgeroute train`` default).
DEFAULT_PPO_CONFIG = CONFIG_DIR / "ppo.yaml"
#: The shipped benchmark budgets (``quick`` and ``full`` profiles; :mod:`experiments.run_profile`).
DEFAULT_BENCHMARK_CONFIG = CONFIG_DIR / "benchmark.yaml"

#: Training settings allowed next to ``ppo:`` and their defaults.
TRAIN_SETTING_DEFAULTS: dict[str, Any] = {
    "n_timesteps": 50_000,
    "n_envs": 4,
    "normalize_obs": False,
    "normalize_reward": False,
    "eval_freq": 10_000,
    "n_eval_episodes": 2,
    "checkpoint_freq": 20_000,
    "env_config": {},
}


@dataclass(frozen=True)
class PPOTrainConfig:
    """One env id's entry of a PPO YAML file: training settings and PPO kwargs."""

    env_id: str
    n_timesteps: int
    n_envs: int
    normalize_obs: bool
    normalize_reward: bool
    eval_freq: int
    n_eval_episodes: int
    checkpoint_freq: int
    env_config: dict[str, Any] = field(default_factory=dict)
    ppo: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing or malformed file raises ``EdgeRouteError``."""
    p = Path(path)
    require(p.is_file(), f"config file {str(p)!r} does not exist")
    try:
        return yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise EdgeRouteError(f"config file {str(p)!r} is not valid YAML: {exc}") from exc


def _ppo_arg_names() -> set[str]:
    from stable_baselines3 import PPO

    return set(inspect.signature(PPO.__init__).parameters) - {"self", "env"}


def parse_ppo_entry(env_id: str, entry: Mapping[str, Any], source: str) -> PPOTrainConfig:
    """Validate one env id's mapping and build a :class:`PPOTrainConfig`."""
    require(isinstance(entry, Mapping), f"{source}: entry for {env_id!r} must be a mapping")
    allowed = set(TRAIN_SETTING_DEFAULTS) | {"ppo"}
    unknown = sorted(set(entry) - allowed)
    require(
        not unknown,
        f"{source}: unknown key(s) {unknown} for {env_id!r}; allowed: {sorted(allowed)}",
    )
    settings = {**TRAIN_SETTING_DEFAULTS, **{k: v for k, v in entry.items() if k != "ppo"}}
    for key in ("n_timesteps", "n_envs", "eval_freq", "n_eval_episodes", "checkpoint_freq"):
        value = settings[key]
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"{source}: {env_id}.{key} = {value!r} must be an integer >= 1",
        )
    for key in ("normalize_obs", "normalize_reward"):
        require(isinstance(settings[key], bool), f"{source}: {env_id}.{key} must be true or false")
    require(
        isinstance(settings["env_config"], Mapping),
        f"{source}: {env_id}.env_config must be a mapping of environment config overrides",
    )
    ppo = dict(entry.get("ppo") or {})
    bad = sorted(set(ppo) - _ppo_arg_names())
    require(
        not bad,
        f"{source}: {env_id}.ppo has unknown PPO argument(s) {bad}; see stable_baselines3.PPO",
    )
    policy = ppo.setdefault("policy", "MlpPolicy")
    require(policy == "MlpPolicy", f"{source}: {env_id}.ppo.policy={policy!r}; allowed: MlpPolicy")
    if "policy_kwargs" in ppo:
        require(
            isinstance(ppo["policy_kwargs"], Mapping),
            f"{source}: {env_id}.ppo.policy_kwargs must be a mapping (not a string to eval)",
        )
    return PPOTrainConfig(env_id=env_id, ppo=ppo, **settings)


def load_ppo_config(path: str | Path | None, env_id: str) -> PPOTrainConfig:
    """The entry for ``env_id`` in the PPO YAML at ``path`` (default: the shipped one)."""
    p = Path(path) if path is not None else DEFAULT_PPO_CONFIG
    data = read_yaml(p)
    require(isinstance(data, Mapping), f"config file {str(p)!r} must map env ids to entries")
    require(
        env_id in data,
        f"config file {str(p)!r} has no entry for env {env_id!r}; it has: {sorted(data)}",
    )
    return parse_ppo_entry(env_id, data[env_id], str(p))
