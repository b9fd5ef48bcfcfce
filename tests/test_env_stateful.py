"""The stateful world in the environments: shared edge, reported load, trace link, heat,
energy, attachments; Gymnasium contracts and common random numbers with every feature on."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers the ids)
from cost_models.errors import EdgeRouteError
from envs.multi_turn import MultiTurnEnv
from envs.single_turn import SingleTurnEnv

SYN = {"benchmark": "synthetic", "episode_queries": 40, "synthetic_size": 200}
SHARED = {"edge_mode": "shared", "edge_users": 600}
ALL_ON = {**SHARED, "load_observation": "reported", "link": "trace:verizon-lte-short",
          "channel_estimate": "last", "thermal": "npu", "attachment": "photo_resized",
          "attachment_share": 0.5}  # fmt: skip


def run(env: gym.Env, policy, seed: int = 0) -> list[dict]:
    obs, info = env.reset(seed=seed)
    infos, done, k = [], False, 0
    while not done:
        obs, reward, done, _, info = env.step(policy(k, obs, info))
        infos.append({**info, "reward": reward, "obs": obs.copy()})
        k += 1
    return infos


@pytest.mark.parametrize("cls", [SingleTurnEnv, MultiTurnEnv])
def test_check_env_with_every_feature_on(cls) -> None:
    cfg = {**ALL_ON, "benchmark": "synthetic", "synthetic_size": 60}
    gym_check_env(cls(config=cfg), skip_render_check=True)
    sb3_check_env(cls(config=cfg), warn=False)
    names = cls(config=cfg).observation_names
    assert names[-8:] == ["reported_kv_usage", "reported_batch_fill", "log1p_reported_waiting",
                          "log1p_load_report_age_s", "log1p_rate_estimate_age_s", "device_heat",
                          "device_speed", "battery_fraction"]  # fmt: skip
    # legacy config: no world slots
    assert "device_heat" not in cls(config={"benchmark": "synthetic"}).observation_names


def test_hindsight_equals_step_and_crn_with_a_shared_edge() -> None:
    env = gym.make("EdgeRoute/SingleTurn-v0", config={**SYN, **ALL_ON})
    obs, info = env.reset(seed=3)
    for k in range(30):
        a = k % 2
        want = info["hindsight"]["latency_s"][a], info["hindsight"]["reward"][a]
        obs, reward, done, _, info2 = env.step(a)
        assert info2["latency_s"] == want[0] and reward == want[1]
        info = info2
    # the other users' stream is the same whatever the agent does
    srv = env.unwrapped.world.server
    bg_times = srv.background.arrivals_between(0.0, 500.0)
    env.reset(seed=3)
    for _ in range(30):
        env.step(0)
    np.testing.assert_array_equal(env.unwrapped.world.server.background.arrivals_between(
        0.0, 500.0), bg_times)  # fmt: skip


def test_the_agents_offloads_load_the_server_everybody_sees() -> None:
    # 30 other users (1 request/s) and an agent asking every 2 s: its offloads are a third of
    # the load, and the server's state (sampled each second) shows them
    cfg = {**SYN, **SHARED, "edge_users": 30, "episode_queries": 200, "think_time_mean_s": 2.0,
           "load_report_period_s": 1.0}  # fmt: skip
    env = gym.make("EdgeRoute/SingleTurn-v0", config=cfg)
    kv, hind = {}, {}
    for a in (0, 1):
        infos = run(env, lambda k, o, i, a=a: a, seed=1)
        srv = env.unwrapped.world.server
        kv[a] = np.mean([s.kv_used_tokens for s in srv.samples[70:]])
        hind[a] = np.mean([i["hindsight"]["latency_s"][1] for i in infos[:-1]])
    assert kv[1] > 1.3 * kv[0]
    # what an offload would take is longer when the agent's own requests fill the batch
    assert hind[1] > hind[0]


def test_reported_load_is_old_and_the_estimate_reads_only_it() -> None:
    cfg = {**SYN, **SHARED, "load_observation": "reported", "load_report_period_s": 0.5,
           "load_report_delay_s": 5.0, "load_report_with_answers": False}  # fmt: skip
    env = gym.make("EdgeRoute/SingleTurn-v0", config=cfg)
    u = env.unwrapped
    obs, info = env.reset(seed=2)
    i = u.observation_names.index("reported_kv_usage")
    age = u.observation_names.index("log1p_load_report_age_s")
    w = u.world
    for k in range(15):
        t = u._table[u._k][0] + w.t0
        sample = w.server.samples[int(math.floor((t - 5.0) / 0.5))]
        assert obs[i] == pytest.approx(sample.kv_usage, abs=1e-6)
        assert math.expm1(obs[age]) == pytest.approx(t - sample.time_s, abs=1e-4)
        assert 5.0 <= t - sample.time_s < 5.5
        obs, _, _, _, info = env.step(k % 2)


def test_without_any_report_the_router_assumes_the_long_run_mean() -> None:
    cfg = {**SYN, **SHARED, "load_observation": "reported", "load_report_period_s": 0.0}
    env = gym.make("EdgeRoute/SingleTurn-v0", config=cfg)
    obs, info = env.reset(seed=0)
    assert info["estimate"]["edge"] == info["estimate_load_blind"]["edge"]
    obs, _, _, _, info = env.step(0)  # a device answer brings no report
    assert info["estimate"]["edge"] == info["estimate_load_blind"]["edge"]
    # exact mode: the estimate reads the current state, not the mean
    env2 = gym.make("EdgeRoute/SingleTurn-v0", config={**SYN, **SHARED})
    infos = run(env2, lambda k, o, i: 0)
    assert any(i["estimate"]["edge"] != i["estimate_load_blind"]["edge"] for i in infos[:-1])


def test_sustained_device_use_throttles_and_idle_cools() -> None:
    busy = {**SYN, "thermal": "npu", "think_time_mean_s": 1.0, "think_time_cv": 0.0,
            "episode_queries": 300}  # fmt: skip
    env = gym.make("EdgeRoute/SingleTurn-v0", config=busy)
    hot = run(env, lambda k, o, i: 0)
    cold = run(gym.make("EdgeRoute/SingleTurn-v0", config={**busy, "thermal": None}),
               lambda k, o, i: 0)  # the same queries, no heat  # fmt: skip
    speed = env.unwrapped.observation_names.index("device_speed")
    assert hot[0]["obs"][speed] > 0.99 and hot[-2]["obs"][speed] < 0.7
    stretch = np.array([h["latency_s"] / c["latency_s"] for h, c in zip(hot, cold, strict=True)])
    # back-to-back generation for ~30 min: from full speed to the NPU's steady 59%
    assert stretch[0] == pytest.approx(1.0, abs=0.01)
    assert stretch[-1] == pytest.approx(1 / 0.59, rel=0.03)
    assert np.all(np.diff(stretch) > -1e-9)  # it only heats while always busy
    idle = {**busy, "think_time_mean_s": 600.0}
    speeds = [i["obs"][speed] for i in run(gym.make("EdgeRoute/SingleTurn-v0", config=idle),
                                           lambda k, o, i: 0)]  # fmt: skip
    assert min(speeds[:-1]) > 0.98  # ten idle minutes between queries: always cool


def test_energy_term_and_attachments() -> None:
    cfg = {**SYN, "attachment": "photo", "reward_weights": {"energy": -0.01}}
    env = gym.make("EdgeRoute/SingleTurn-v0", config=cfg)
    w = env.unwrapped.config["reward_weights"]
    for info in run(env, lambda k, o, i: k % 2)[:10]:
        assert info["rewards"]["energy"] == info["energy_j"] > 0
        assert info["reward"] == pytest.approx(sum(w[k] * v for k, v in info["rewards"].items()))
        if info["model"] == "edge":
            assert info["uplink_bytes"] > 3.0e6  # the 3 MB photo rides with the prompt
            assert info["latency"]["uplink_s"] > 0.2


def test_trace_link_outage_stalls_the_uplink() -> None:
    cfg = {**SYN, "link": "trace:5gophers-driving-2-tmobile", "attachment": "photo_resized",
           "episode_queries": 60, "think_time_mean_s": 2.0}  # fmt: skip
    env = gym.make("EdgeRoute/SingleTurn-v0", config=cfg)
    ups = [i["latency"]["uplink_s"] for i in run(env, lambda k, o, i: 1)]
    # the T-Mobile drive has 83 of 120 s at 0 Mbit/s: some uploads wait seconds for coverage
    assert max(ups) > 2.0 and min(ups) < 0.2


@pytest.mark.parametrize("key, value, word", [
    ("edge_mode", "cloud", "edge_mode"), ("link", "trace:nope", "trace:<name>"),
    ("thermal", "cpu", "thermal"), ("attachment_share", 1.5, "attachment_share"),
    ("load_observation", "psychic", "load_observation"), ("edge_users", -1, "edge_users"),
])  # fmt: skip
def test_bad_stateful_config_is_rejected(key, value, word) -> None:
    with pytest.raises(EdgeRouteError, match=word):
        SingleTurnEnv(config={"benchmark": "synthetic", key: value})


def test_multi_turn_learns_of_an_eviction_only_by_sending() -> None:
    cfg = {"benchmark": "synthetic", "synthetic_size": 60, **SHARED, "edge_users": 10,
           "load_observation": "reported", "think_time_mean_s": 900.0,
           "dialogues_per_episode": 5}  # fmt: skip
    env = gym.make("EdgeRoute/MultiTurn-v0", config=cfg)
    u = env.unwrapped
    slot = u.observation_names.index("log1p_edge_cached_tokens")
    obs, info = env.reset(seed=4)
    seen_stale = False
    for _ in range(40):
        obs, _, done, _, info = env.step(1)
        if done:
            break
        believed = math.expm1(obs[slot])
        if u.kv.cached_tokens["edge"] == 0 and believed > 0:
            seen_stale = True  # 15 idle minutes: the edge dropped the cache, the device believes
    assert seen_stale
