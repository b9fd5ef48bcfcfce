"""The hindsight search equals brute force on small synthetic dialogues and is never beaten."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.hindsight_search import (
    best_sequence,
    dynamic_programming,
    exhaustive,
    replay,
)
from cost_models.errors import EdgeRouteError


def kv_dialogue(seed: int, n: int, capacity: int = 10_000):
    """A synthetic dialogue with the environment's KV rules: each side caches the dialogue
    when it serves, the other side must recompute what it did not serve, the device evicts
    over capacity, a switch costs a penalty. State: (last side, device prefix, edge prefix,
    dialogue length)."""
    rng = np.random.default_rng(seed)
    user = rng.integers(20, 400, n)
    out = rng.integers(20, 300, n)
    q = rng.random((n, 2))
    up_s = rng.uniform(0.05, 2.0, n)
    per_token_s = (0.004, 0.0005)  # device prefill is slower

    def oracle(t, a, state):
        last, cd, ce, total = state
        cached = (cd, ce)[a]
        lat = per_token_s[a] * (total - cached + user[t]) + 0.02 * out[t] * (1 + a)
        lat += up_s[t] * a
        r = q[t, a] - 0.2 * lat - (0.05 if last not in (-1, a) else 0.0)
        total = total + user[t] + out[t]
        if a == 0:
            cd = total if total <= capacity else 0
        else:
            ce = total
        return float(r), (a, cd, ce, total)

    return oracle, (-1, 0, 0, 0)


def brute_force(n, oracle, state0):
    scores = {seq: replay(seq, oracle, state0) for seq in itertools.product((0, 1), repeat=n)}
    best = max(scores.values())
    return best, scores


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_exhaustive_and_dp_equal_brute_force(n):
    for seed in range(5):
        oracle, s0 = kv_dialogue(seed, n, capacity=1200)
        best, scores = brute_force(n, oracle, s0)
        for plan in (exhaustive(n, oracle, s0), dynamic_programming(n, oracle, s0)):
            assert plan.reward == pytest.approx(best, abs=1e-12)
            assert replay(plan.actions, oracle, s0) == pytest.approx(plan.reward, abs=1e-12)
            assert len(plan.actions) == n


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9), cap=st.integers(0, 4000))
def test_plan_is_never_beaten_by_any_sequence(seed, n, cap):
    oracle, s0 = kv_dialogue(seed, n, capacity=cap)
    plan = best_sequence(n, oracle, s0)
    best, scores = brute_force(n, oracle, s0)
    assert plan.reward == pytest.approx(best, abs=1e-12)
    assert all(plan.reward >= v - 1e-12 for v in scores.values())


def test_long_dialogue_uses_dp_and_merges_states():
    n = 24
    oracle, s0 = kv_dialogue(3, n)
    plan = best_sequence(n, oracle, s0)
    assert plan.method == "dynamic_programming"
    assert plan.oracle_calls < 2**14  # merging: far fewer than 2^25 tree edges
    # DP matches exhaustive on the first 12 turns of the same dialogue
    ex = exhaustive(12, oracle, s0)
    dp = dynamic_programming(12, oracle, s0)
    assert ex.reward == pytest.approx(dp.reward) and ex.actions == dp.actions


def test_ties_go_to_the_device_and_bad_input_fails():
    def flat(t, a, state):
        return 0.0, state

    assert exhaustive(3, flat, 0).actions == (0, 0, 0)
    assert dynamic_programming(3, flat, 0).actions == (0, 0, 0)
    with pytest.raises(EdgeRouteError, match="n_turns"):
        exhaustive(-1, flat, 0)
