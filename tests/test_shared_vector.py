"""N users on one shared edge with one policy: the batched env, congestion, and SB3 on it."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from envs.sb3_vector import SB3VectorEnv
from envs.shared_vector import SharedEdgeVectorEnv

#: A small server (8 sequences) that 32 users asking every 2 s can congest.
CFG = {"benchmark": "synthetic", "synthetic_size": 300, "edge_users": 0,
       "edge_max_num_seqs": 8, "edge_max_num_batched_tokens": 2048,
       "load_observation": "reported", "load_report_period_s": 1.0, "load_report_delay_s": 0.5,
       "episode_queries": 20, "think_time_mean_s": 2.0}  # fmt: skip


def rollout(env: SharedEdgeVectorEnv, policy, steps: int = 20, seed: int = 0) -> dict:
    obs, _ = env.reset(seed=seed)
    out = {"latency": [], "edge": [], "running": []}
    for _ in range(steps):
        obs, reward, term, trunc, info = env.step(policy(obs))
        assert obs.shape == (env.num_envs, len(env.observation_names)) and reward.shape == (
            env.num_envs,)  # fmt: skip
        out["latency"].append(info["latency_s"].mean())
        out["edge"].append(info["edge_call"].mean())
        out["running"].append(info["server_running"][0])
    return {k: float(np.mean(v[5:])) for k, v in out.items()}


def test_one_shared_policy_faces_the_congestion_it_causes() -> None:
    n = 32
    env = SharedEdgeVectorEnv(n, CFG)
    waiting = env.observation_names.index("log1p_reported_waiting")
    edge = rollout(env, lambda o: np.ones(n, dtype=np.int64))
    device = rollout(env, lambda o: np.zeros(n, dtype=np.int64))
    # congestion-aware: offload only while the reported queue is short
    aware = rollout(env, lambda o: (o[:, waiting] < np.log1p(2)).astype(np.int64))
    assert device["running"] == 0.0 and edge["running"] >= 7.5  # the 8 seats are full
    assert edge["latency"] > 10 * device["latency"]  # the queue explodes when all offload
    assert 0.1 < aware["edge"] < 0.9 and aware["latency"] < 0.2 * edge["latency"]


def test_actions_are_checked_and_never_aliased() -> None:
    env = SharedEdgeVectorEnv(4, CFG)
    env.reset(seed=1)
    a = np.ones(4, dtype=np.int64)
    for _ in range(CFG["episode_queries"]):
        env.step(a)
    assert np.all(a == 1)  # the episode ended (last actions reset to -1 inside) on a copy
    with pytest.raises(EdgeRouteError, match="actions"):
        env.step(np.array([0, 1, 2, 0]))


def test_sb3_ppo_runs_on_the_shared_edge() -> None:
    from stable_baselines3 import PPO

    venv = SB3VectorEnv(SharedEdgeVectorEnv(8, {**CFG, "observation": {"embedding": "none"}}))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0, gamma=0.0)
    model.learn(256)
    assert model.num_timesteps >= 256
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (8,) and set(action.tolist()) <= {0, 1}
