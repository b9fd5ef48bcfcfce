"""A trained stable-baselines3 PPO model behind the common policy interface.

Training lives in :mod:`experiments.train`; it writes a run directory with ``model.zip``,
optionally ``vecnormalize.pkl`` (observation-normalisation statistics) and ``run.yaml`` (the
hyperparameters, env config and the observation groups removed for ablation). This class loads
such a directory and acts deterministically (the mode of the action distribution), applying the
same observation selection and normalisation the model was trained with.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.base import Policy
from agents.observation_groups import keep_indices
from cost_models.errors import EdgeRouteError, require

#: File names inside a run directory (written by ``experiments.train``).
MODEL_FILE = "model.zip"
VECNORMALIZE_FILE = "vecnormalize.pkl"
RUN_FILE = "run.yaml"


class PPOPolicy(Policy):
    """Deterministic actions of a trained SB3 PPO model.

    Args:
        model_dir: a run directory written by ``edgeroute train`` (or ``model.zip`` in one).
        deterministic: take the most likely action (default) instead of sampling.
        label_name: label in tables (e.g. ``ppo`` or ``ppo(-channel)``).
    """

    name = "ppo"

    def __init__(
        self, model_dir: str | Path, deterministic: bool = True, label_name: str | None = None
    ) -> None:
        from stable_baselines3 import PPO

        path = Path(model_dir)
        if path.suffix == ".zip":
            path = path.parent
        model_path = path / MODEL_FILE
        require(
            model_path.exists(),
            f"no trained PPO model at {model_path}; train one with `edgeroute train --out {path}`",
        )
        self.model_dir = path
        self.deterministic = bool(deterministic)
        self.label_name = label_name
        self.model = PPO.load(model_path, device="cpu")
        run: dict[str, Any] = {}
        if (path / RUN_FILE).exists():
            run = yaml.safe_load((path / RUN_FILE).read_text()) or {}
        self.drop_groups: tuple[str, ...] = tuple(run.get("drop_observation_groups") or ())
        self._obs_rms = None
        norm_path = path / VECNORMALIZE_FILE
        if norm_path.exists():
            with norm_path.open("rb") as fh:
                vecnorm = pickle.load(fh)  # SB3 VecNormalize without its venv
            vecnorm.training = False
            self._vecnorm = vecnorm
        else:
            self._vecnorm = None
        self._keep: np.ndarray | None = None

    def bind(self, observation_names: Sequence[str]) -> None:
        keep = keep_indices(observation_names, self.drop_groups)
        expected = self.model.observation_space.shape
        if expected is None or (keep.size,) != tuple(expected):
            raise EdgeRouteError(
                f"PPO model in {self.model_dir} expects observations of shape {expected}, but "
                f"this environment gives {keep.size} slots after dropping {list(self.drop_groups)}"
                " (different embedding/PCA setting or observation layout?)"
            )
        self._keep = keep

    def _prepare(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if self._keep is not None:
            x = x[..., self._keep]
        if self._vecnorm is not None:
            x = self._vecnorm.normalize_obs(x).astype(np.float32)
        return x

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        action, _ = self.model.predict(self._prepare(obs), deterministic=self.deterministic)
        return int(np.asarray(action).item())

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        """Actions for a batch of observations ``[n, obs_dim]`` (used by tests)."""
        action, _ = self.model.predict(self._prepare(obs), deterministic=self.deterministic)
        return np.asarray(action, dtype=np.int64)

    def params(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "deterministic": self.deterministic}

    def label(self) -> str:
        return self.label_name or "ppo"
