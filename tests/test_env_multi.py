"""EdgeRoute/MultiTurn-v0: API conformance, dialogue structure, KV state across turns."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import envs  # noqa: F401
from cost_models import router_cost
from envs.data import SYNTHETIC_TURNS_MULTI

SYN = {"benchmark": "synthetic", "synthetic_size": 60}


def make(**overrides):
    return gym.make("EdgeRoute/MultiTurn-v0", config={**SYN, **overrides})


def test_episode_is_one_dialogue_or_several():
    for n in (1, 3):
        env = make(dialogues_per_episode=n)
        env.reset(seed=1)
        infos = []
        while True:
            *_, terminated, truncated, info = env.step(1)
            infos.append(info)
            if terminated or truncated:
                break
        assert terminated and not truncated
        assert len(infos) == n * SYNTHETIC_TURNS_MULTI
        turns = [i["turn_index"] for i in infos]
        assert turns == list(range(SYNTHETIC_TURNS_MULTI)) * n
        for d in range(n):
            block = infos[d * SYNTHETIC_TURNS_MULTI : (d + 1) * SYNTHETIC_TURNS_MULTI]
            assert len({i["dialogue_id"] for i in block}) == 1


def test_kv_state_carries_and_switches_are_counted():
    env = make(dialogues_per_episode=2, think_time_mean_s=1.0, think_time_cv=0.0)
    obs, info = env.reset(seed=2)
    u = env.unwrapped
    names = u.observation_names
    schedule = [1, 1, 0, 1, 0, 0, 1, 1]
    history = 0
    last = None
    for k, a in enumerate(schedule):
        turn = k % SYNTHETIC_TURNS_MULTI
        assert obs[names.index("turn_index/10")] == pytest.approx(turn / 10)
        if turn == 0:
            history, last = 0, None
        assert u.kv.total_tokens == history
        assert obs[names.index("log1p_history_tokens")] == pytest.approx(np.log1p(history))
        cached = dict(u.kv.cached_tokens)
        obs, r, terminated, _, info = env.step(a)
        side = ("device", "edge")[a]
        assert info["switched"] == (last is not None and last != a)
        assert info["recomputed_tokens"] == history - cached[side]
        if a == 1:
            assert info["uplink_tokens"] == history - cached["edge"] + u.data.prompt_tokens[
                u._rows[k]
            ]
        history += u.data.prompt_tokens[u._rows[k]] + u.data.output_tokens[a][u._rows[k]]
        last = a
    assert terminated


def test_edge_cache_is_lost_over_long_idle_gaps_and_kept_over_short_ones():
    def edge_recompute(think_s):
        env = make(
            dialogues_per_episode=30, think_time_mean_s=think_s, think_time_cv=0.0
        )
        env.reset(seed=0)
        rec = []
        while True:
            *_, terminated, _, info = env.step(1)
            if info["turn_index"] > 0:
                rec.append(info["recomputed_tokens"])
            if terminated:
                return np.array(rec)

    # exp(-1 / (300 (1 - u))) ~ 1: the edge keeps the cache, nothing is recomputed.
    short = edge_recompute(1.0)
    # exp(-7200 / (300 (1 - u))) ~ 0: the cache is gone, the history is recomputed.
    long = edge_recompute(7200.0)
    assert (short == 0).mean() > 0.95
    assert (long > 0).all()


def test_estimate_switching_term_matches_cost_models():
    env = make(dialogues_per_episode=3)
    obs, info = env.reset(seed=8)
    u = env.unwrapped
    sc = u.scenario
    cm = u.channel_model
    pred = u.data.predicted_output_tokens
    rng = np.random.default_rng(3)
    checked = 0
    while True:
        t, r = u._t, u._rows[u._k]
        ul, dl = (cm.rate_bps(x) for x in u.channel.snr_db(t))
        util = u.load.utilisation(t)
        H, c = u.kv.total_tokens, u.kv.cached_tokens
        for side, p in (("device", pred[0]), ("edge", pred[1])):
            ref = router_cost.estimate_terms(
                sc, u.data.prompt_tokens[r], p, ul, dl, util, H, c["device"], c["edge"]
            )[side]
            for key, value in ref.items():
                assert info["estimate"][side][key] == pytest.approx(value, rel=1e-9, abs=1e-12)
        checked += H > 0 and min(c.values()) < H
        obs, _, terminated, _, info = env.step(int(rng.integers(2)))
        if terminated:
            break
    assert checked > 0  # some turns had a side with uncached history


def test_runs_on_real_mt_bench_101_trace():
    from test_env_single import real_trace

    trace = real_trace("mt_bench_101")
    env = gym.make(
        "EdgeRoute/MultiTurn-v0",
        config={"trace": trace, "split": "test", "dialogues_per_episode": 5},
    )
    gym_check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    turns, recomputed = [], 0
    for _ in range(300):
        obs, r, terminated, truncated, info = env.step(int(rng.integers(2)))
        assert env.observation_space.contains(obs)
        assert math.isfinite(r) and info["latency_s"] > 0
        assert info["benchmark"] == "mt_bench_101"
        turns.append(info["turn_index"])
        recomputed += info["recomputed_tokens"]
        if terminated or truncated:
            obs, info = env.reset()
    assert max(turns) >= 2  # real multi-turn dialogues
    assert recomputed > 0  # random routing switches sides and pays for it


def test_trace_kind_must_match_the_environment():
    from cost_models.errors import EdgeRouteError
    from envs.traces.synthetic import make_synthetic_trace

    with pytest.raises(EdgeRouteError, match="MultiTurn"):
        gym.make("EdgeRoute/SingleTurn-v0", config={"trace": make_synthetic_trace(20, 3, 0)})
    with pytest.raises(EdgeRouteError, match="SingleTurn"):
        gym.make("EdgeRoute/MultiTurn-v0", config={"trace": make_synthetic_trace(20, 1, 0)})
