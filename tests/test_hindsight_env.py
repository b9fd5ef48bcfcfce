"""``hindsight_optimal`` on the real environment: it equals brute force over every action
sequence of a dialogue (replayed through ``step``), no policy beats it on any dialogue, and the
device's KV window past its app budget costs the documented recompute."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from agents.registry import make_policy
from cost_models import roofline
from cost_models.device_memory import device_turn
from cost_models.errors import EdgeRouteError
from envs.traces import make_synthetic_trace
from experiments.evaluate import reset_seed, run_policy
from experiments.nonmyopic import dialogue_rewards

ENV = "EdgeRoute/MultiTurn-v0"


def _env(trace, **cfg):
    return gym.make(ENV, config={"trace": trace, "split": "test", **cfg}).unwrapped


def _replay(env, seed: int, actions) -> float:
    env.reset(seed=seed)
    total = 0.0
    for a in actions:
        _, r, terminated, _, _ = env.step(int(a))
        total += r
    assert terminated
    return total


def _dialogue_length(env, seed: int) -> int:
    env.reset(seed=seed)
    return env._n_steps


@pytest.mark.parametrize("weights", [None, {"latency": -0.5, "switch": -0.05}])
def test_hindsight_equals_brute_force_over_step_replays(weights):
    trace = make_synthetic_trace(30, 6, seed=3)
    cfg = {} if weights is None else {"reward_weights": weights}
    env = _env(trace, **cfg)
    policy = make_policy("hindsight_optimal")
    policy.attach(env)
    for seed in range(4):
        rs = reset_seed(seed, 0)  # what run_policy resets episode 0 of run `seed` with
        n = _dialogue_length(env, rs)
        best = max(_replay(env, rs, seq) for seq in itertools.product((0, 1), repeat=n))
        log = run_policy(env, policy, seed=seed, episodes=1)
        assert sum(log.reward) == pytest.approx(best, abs=1e-9)
        assert policy.last_plan.reward == pytest.approx(best, abs=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trace_seed=st.integers(0, 500),
    turns=st.integers(2, 5),
    seed=st.integers(0, 50),
    latency_weight=st.sampled_from([-0.02, -0.1, -0.4]),
    switch_weight=st.sampled_from([0.0, -0.1]),
)
def test_no_policy_beats_hindsight_on_any_dialogue(
    trace_seed, turns, seed, latency_weight, switch_weight
):
    trace = make_synthetic_trace(10, turns, seed=trace_seed)
    weights = {"quality": 1.0, "latency": latency_weight, "edge_call": -0.05,
               "switch": switch_weight}  # fmt: skip
    env = _env(trace, reward_weights=weights, dialogues_per_episode=2)
    hind = make_policy("hindsight_optimal")
    hind.attach(env)
    h_ids, h_rewards = dialogue_rewards(run_policy(env, hind, seed=seed))
    env.reset(seed=seed * 1000)
    n = env._n_steps
    rng = np.random.default_rng(trace_seed)
    rivals = [make_policy(p) for p in ("myopic_oracle", "always_device", "always_edge")]
    for policy in rivals:
        ids, rewards = dialogue_rewards(run_policy(env, policy, seed=seed))
        assert ids == h_ids
        # the first dialogue starts from the same state for every policy
        assert rewards[0] <= h_rewards[0] + 1e-9
    for _ in range(8):  # random action sequences: never better on the first dialogue
        seq = rng.integers(0, 2, n)
        env.reset(seed=seed * 1000)
        first = h_ids[0]
        total, k = 0.0, 0
        while True:
            _, r, done, _, info = env.step(int(seq[k]))
            if info["dialogue_id"] != first:
                break
            total += r
            k += 1
            if done:
                break
        assert total <= h_rewards[0] + 1e-9


def test_hindsight_is_never_below_the_myopic_oracle_per_dialogue():
    trace = make_synthetic_trace(40, 5, seed=11)
    env = _env(trace)
    hind = make_policy("hindsight_optimal")
    hind.attach(env)
    for seed in range(3):
        _, h = dialogue_rewards(run_policy(env, hind, seed=seed, episodes=5))
        _, m = dialogue_rewards(run_policy(env, make_policy("myopic_oracle"), seed, 5))
        assert np.all(h >= m - 1e-9)


def test_hindsight_leaves_the_environment_as_it_was():
    env = _env(make_synthetic_trace(20, 4, seed=5))
    obs, info = env.reset(seed=7)
    before = (env._snapshot(), obs.copy(), info["hindsight"]["reward"])
    problem = env.hindsight_problem()
    problem.oracle(0, 1, problem.state0)
    problem.restore()
    assert env._snapshot() == before[0]
    assert np.array_equal(env._obs, before[1])
    assert env._pending_rewards == tuple(before[2])
    with pytest.raises(EdgeRouteError, match="common_random_numbers"):
        crn_off = _env(make_synthetic_trace(20, 4, seed=5), common_random_numbers=False)
        crn_off.reset(seed=0)
        crn_off.hindsight_problem()


def test_device_cache_overflows_on_a_long_session_and_recomputes_its_window():
    trace = make_synthetic_trace(10, 8, seed=2)
    f = trace.frame
    f.loc[f["turn_index"] == 0, "prompt_tokens"] = 6_000  # a long document in turn 0
    f.loc[f["turn_index"] > 0, "prompt_tokens"] = 150
    f["output_tokens_small"] = 100
    f["output_tokens_large"] = 100
    per_dialogue = (f["prompt_tokens"] + f["output_tokens_large"]).groupby(f["dialogue_id"])
    f["history_tokens"] = per_dialogue.cumsum() - (f["prompt_tokens"] + f["output_tokens_large"])
    env = _env(trace, deployment="phone_3b__edge_70b", device_kv_budget_bytes=7_000 * 114_688)
    cap = env.device_capacity_tokens
    assert cap == 7_000
    sc = env.scenario
    env.reset(seed=0)
    history = 0
    overflowed = 0
    for k in range(env._n_steps):
        _, _, done, _, info = env.step(0)
        prompt = 6_000 if k == 0 else 150
        turn = device_turn(history, history, prompt, 100, cap)
        assert (
            info["recomputed_tokens"]
            == turn.prefill_tokens - prompt
            == (turn.kept_history if turn.overflow else 0)
        )
        expected = roofline.prefill_time_s(
            sc.device_model, sc.device_hw, turn.prefill_tokens, turn.cached_tokens,
            sc.device_precision,
        )  # fmt: skip
        assert info["latency"]["prefill_s"] == pytest.approx(expected, rel=1e-12)
        if turn.overflow:
            overflowed += 1
            assert info["recomputed_tokens"] == cap - 150 - 100  # the whole window, each turn
        history += prompt + 100
        if done:
            break
    assert overflowed >= 3  # 6,250 + 250 per turn passes 7,000 at the fourth turn
