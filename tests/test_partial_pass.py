"""A workload may pass over a fixed subset of its split (costly steps, e.g. the shared edge):
every run seed and policy still covers the same items, so the paired bootstrap stays defined."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from experiments.evaluate import pass_items
from experiments.run_profile import EvalBudget, RunProfile, load_run_profile


def test_a_subset_pass_covers_the_same_items_in_every_seed_and_each_once():
    passes = [pass_items(100, 7, seed, subset=30) for seed in (0, 1, 2)]
    covered = [sorted(i for ep in p for i in ep) for p in passes]
    assert len(covered[0]) == 30 and len(set(covered[0])) == 30
    assert covered[0] == covered[1] == covered[2]
    assert [i for ep in passes[0] for i in ep] != [i for ep in passes[1] for i in ep]
    assert [len(ep) for ep in passes[0]] == [7, 7, 7, 7, 2]


def test_no_subset_is_the_whole_split_in_the_same_order_as_before():
    order = np.random.default_rng([4, 0x9A55]).permutation(50).tolist()
    assert [i for ep in pass_items(50, 10, 4) for i in ep] == order
    assert pass_items(50, 10, 4, subset=50) == pass_items(50, 10, 4)


def _profile(**entry):
    base = load_run_profile(None, "quick").to_dict()
    spec = {"key": "x", "env_id": "EdgeRoute/SingleTurn-v0", "env_config": {"benchmark": "mmlu"}}
    return RunProfile.from_mapping({**base, "benchmarks": [{**spec, **entry}]}, "test")


def test_a_workload_budget_overrides_the_profile_and_is_validated():
    prof = _profile(pass_items=60, ppo_timesteps=2000)
    spec = prof.specs()[0]
    assert spec.budget(prof.budget) == EvalBudget(
        prof.budget.episodes, None, full_pass=True, pass_items=60
    )
    assert spec.timesteps(prof.ppo_timesteps) == 2000
    assert spec.timesteps(1000) == 1000  # never above the profile's
    assert prof.to_dict()["benchmarks"][0]["pass_items"] == 60
    plain = _profile().specs()[0]
    assert plain.budget(prof.budget) == prof.budget and "pass_items" not in plain.to_dict()
    for bad in ({"pass_items": 0}, {"ppo_timesteps": -5}, {"pass_items": "many"}):
        with pytest.raises(EdgeRouteError, match=next(iter(bad))):
            _profile(**bad)


def test_the_shipped_shared_edge_workloads_pass_over_subsets():
    for name in ("quick", "full"):
        prof = load_run_profile(None, name)
        budgets = {s.key: s.budget(prof.budget) for s in prof.specs()}
        assert budgets["mmlu_shared_edge"].pass_items is not None
        assert budgets["mt_bench_101_shared_edge"].pass_items is not None
        assert budgets["mmlu"].pass_items is None and budgets["mmlu"].full_pass
