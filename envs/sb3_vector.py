"""stable-baselines3 over a batched Gymnasium ``VectorEnv`` (one PPO policy for N users).

SB3 trains on its own ``VecEnv`` interface; :class:`SB3VectorEnv` adapts a Gymnasium
``VectorEnv`` with same-step autoreset (``envs.shared_vector.SharedEdgeVectorEnv``,
``envs.vector.SingleTurnVectorEnv``) to it: ``dones`` from ``terminated | truncated``, the
finished users' last observation in ``infos[i]["terminal_observation"]`` (SB3's key), the rest
of the batched ``info`` split per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv


class SB3VectorEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` (same-step autoreset) as an SB3 ``VecEnv``."""

    def __init__(self, env: Any) -> None:
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        dones = np.asarray(terminated) | np.asarray(truncated)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, value in info.items():
            if key in ("final_obs", "_final_obs", "final_info", "_final_info"):
                continue
            if isinstance(value, np.ndarray) and value.shape[:1] == (self.num_envs,):
                for i in range(self.num_envs):
                    infos[i][key] = value[i]
        if "final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                infos[i]["terminal_observation"] = info["final_obs"][i]
        for i in np.flatnonzero(np.asarray(truncated) & ~np.asarray(terminated)):
            infos[i]["TimeLimit.truncated"] = True
        return obs, np.asarray(reward, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._seed = seed
        return [seed] * self.num_envs

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.env, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any):
        return [getattr(self.env, method_name)(*args, **kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices
