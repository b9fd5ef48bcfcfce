"""A sweep trial in process (the function Ray Tune calls on a worker) and the aggregation of
trial files into sweep.json / sweep.md. No Ray here; test_ray.py runs the same through Tune."""

from __future__ import annotations

import dataclasses

import pytest

from agents.registry import make_policy
from experiments.envfactory import make_env
from experiments.evaluate import evaluate
from experiments.metrics import StepLog
from experiments.runs import policy_runs
from experiments.sweep import SweepPlan, aggregate, describe_workloads, sweep_markdown
from experiments.sweep_config import SweepConfig
from experiments.sweep_trial import (
    TRIAL_FILE,
    read_logs,
    read_trial,
    run_trial,
    trial_results,
    write_logs,
)

SINGLE = "EdgeRoute/SingleTurn-v0"
MULTI = "EdgeRoute/MultiTurn-v0"
WORKLOADS = [
    {
        "key": "syn",
        "env_id": SINGLE,
        "env_config": {"benchmark": "synthetic", "synthetic_size": 150},
    },
    {"key": "syn_multi", "env_id": MULTI, "env_config": {"benchmark": "synthetic"}},
]
CONFIG = {
    "workloads": WORKLOADS,
    "env_config": {SINGLE: {"episode_queries": 30}, MULTI: {"dialogues_per_episode": 4}},
    "env_grid": {"channel": ["urban", "cell_edge"]},
    "policies": [
        "always_edge",
        {"policy": "analytic", "kwargs": {"alpha": 0.2, "theta": 0.1}},
        {"policy": "semantic_threshold", "tune": True},
    ],
    "evaluation_seeds": [0, 3],
    "episodes_per_seed": 2,
    "sweep_points": 3,
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """Every trial of CONFIG run in process, as Tune would run them on workers."""
    config = SweepConfig.from_mapping(CONFIG)
    plan = SweepPlan.of(config, tmp_path_factory.mktemp("sweep"))
    for t in plan.trials:
        record = run_trial(t, config, plan.trial_dir(t.key), attempt="first")
        assert record["reused"] is False
    return plan


def test_a_trial_reports_the_benchmark_metrics_of_each_evaluation_seed(plan):
    """Per-run metrics equal experiments.evaluate.evaluate on the same seeds (an independent
    path: no specs, no executor)."""
    config = plan.config
    for t in plan.trials:
        if t.policy.tune:
            continue
        record = read_trial(plan.trial_dir(t.key))
        env = make_env(t.workload.env_id, {**t.workload.env_config, "split": "test"})
        policy = make_policy(t.policy.policy, **t.policy.kwargs)
        expected = evaluate(env, policy, config.evaluation_seeds, config.episodes_per_seed)
        assert [r["seed"] for r in record["runs"]] == [0, 3]
        assert [r["metrics"] for r in record["runs"]] == expected.per_seed
        assert record["metrics"] == expected.metrics
        assert record["attempt"] == "first"


def test_a_tuned_entry_is_tuned_on_validation(plan):
    t = next(t for t in plan.trials if t.policy.tune and t.workload.key == "syn")
    record = read_trial(plan.trial_dir(t.key))
    tuning = record["tuning"]
    assert set(tuning["best"]) == {"threshold"}
    assert record["policy_kwargs"] == tuning["best"]
    assert tuning["grid_points"] >= 2 and tuning["seeds"] == [0]
    assert 0.0 <= tuning["validation_target_quality"] <= 1.0


def test_a_complete_trial_is_read_back_and_a_changed_one_runs_again(plan):
    t = plan.trials[0]
    path = plan.trial_dir(t.key) / TRIAL_FILE
    before = path.read_bytes()
    again = run_trial(t, plan.config, plan.trial_dir(t.key), attempt="second")
    assert again["reused"] is True and again["attempt"] == "first"
    assert path.read_bytes() == before
    changed = dataclasses.replace(plan.config, episodes_per_seed=1)
    other = dataclasses.replace(t, workload=dataclasses.replace(t.workload, key="other"))
    rerun = run_trial(other, changed, plan.trial_dir(t.key), attempt="third")
    assert rerun["reused"] is False and rerun["attempt"] == "third"
    # Put the original back for the other tests of this module.
    run_trial(t, plan.config, plan.trial_dir(t.key), attempt="first")


def test_logs_round_trip(tmp_path):
    logs = [StepLog(), StepLog()]
    for i in range(5):
        info = {
            "latency_s": 0.5 + i,
            "quality": i % 2,
            "model": "edge" if i % 2 else "device",
            "switched": i == 3,
            "recomputed_tokens": 7 * i,
            "dialogue_id": f"d{i // 2}",
        }
        logs[i % 2].record(info, reward=-0.1 * i)
    assert read_logs(write_logs(tmp_path / "logs.npz", logs)) == logs


def test_aggregation_pools_each_cell_with_policy_runs(plan):
    envs = describe_workloads(plan)
    results = aggregate(plan, envs, {}, {"attempt": "first", "command": "x", "wall_s": 1.0})
    assert results["meta"]["trials"] == {
        "total": 12,
        "complete": 12,
        "ran": 12,
        "reused": 0,
        "errored": 0,
        "unfinished": 0,
    }
    assert len(results["cells"]) == 12
    for cell in results["cells"]:
        [key] = cell["trials"]
        record = read_trial(plan.trial_dir(key))
        pooled = policy_runs(trial_results(record, plan.config, plan.trial_dir(key)))
        assert cell["metrics"] == pooled.metrics == record["metrics"]
        assert cell["metrics"]["n_seeds"] == 2.0
    assert set(results["workloads"]) == {
        "syn__channel=urban",
        "syn__channel=cell_edge",
        "syn_multi__channel=urban",
        "syn_multi__channel=cell_edge",
    }
    md = sweep_markdown(results)
    assert "## syn_multi, env channel=cell_edge (modelled quality)" in md
    assert "switches/dlg" in md and "reconstruction" in md
    # The cell channel changes latency, not the policy: always-edge pays for the cell edge.
    by = {(c["workload"], c["env_variant"], c["label"]): c["metrics"] for c in results["cells"]}
    urban = by[("syn", "channel=urban", "always_edge")]["latency_mean_s"]
    edge = by[("syn", "channel=cell_edge", "always_edge")]["latency_mean_s"]
    assert edge > urban


def test_unfinished_and_failed_trials_are_listed(plan):
    envs = describe_workloads(plan)
    missing = plan.trials[0].key
    path = plan.trial_dir(missing) / TRIAL_FILE
    saved = path.read_bytes()
    path.unlink()
    try:
        meta = {"attempt": "x", "command": "c", "wall_s": 0.0}
        results = aggregate(plan, envs, {missing: "boom"}, meta)
    finally:
        path.write_bytes(saved)
    assert results["trials"][missing] == {"status": "errored", "error": "boom"}
    assert results["meta"]["trials"]["errored"] == 1
    assert f"`{missing}`: errored (boom)" in sweep_markdown(results)
