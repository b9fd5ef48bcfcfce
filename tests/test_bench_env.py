"""``edgeroute bench env``: the report shows each environment's ratio to CartPole-v1."""

from __future__ import annotations

import pytest

from experiments.bench_env import TARGETS, format_report, run_env_benchmark


def _fake_result() -> dict:
    r: dict = {"cartpole_steps_per_s": 200_000.0, "cartpole_unwrapped_steps_per_s": 250_000.0}
    for i, (key, *_) in enumerate(TARGETS):
        r[f"{key}_steps_per_s"] = 1000.0 * (i + 1)
        r[f"{key}_unwrapped_steps_per_s"] = 2000.0 * (i + 1)
        r[f"{key}_ratio_to_cartpole"] = r[f"{key}_steps_per_s"] / 200_000.0
        r[f"{key}_unwrapped_ratio_to_cartpole"] = r[f"{key}_unwrapped_steps_per_s"] / 250_000.0
        r[f"{key}_trace"] = "synthetic"
    r.update(
        batched_steps_per_s=1e6, batched_ratio_to_cartpole=5.0, batched_trace="mmlu",
        batched_num_envs=1024, repeats_best_of=3, steps_per_run=1000,
        load_average_1min_at_start=1.0, load_average_1min_at_end=1.5, cpu_count=2,
        python="3", numpy="2", gymnasium="1", definition="test",
    )  # fmt: skip
    return r


def test_report_lists_every_environment_with_its_ratio_to_cartpole():
    text = format_report(_fake_result())
    assert "x CartPole" in text.splitlines()[0]
    row = next(line for line in text.splitlines() if line.startswith("single_turn "))
    assert row.split()[1:3] == ["1,000", "0.01"]
    assert "multi_turn_10_dialogues (unwrapped)" in text and "batched single-turn" in text
    assert "CartPole-v1" in text


@pytest.mark.slow
def test_env_benchmark_times_cartpole_in_the_same_run():
    r = run_env_benchmark(quick=True)
    for key, *_ in TARGETS:
        assert r[f"{key}_steps_per_s"] > 0
        assert r[f"{key}_ratio_to_cartpole"] == pytest.approx(
            r[f"{key}_steps_per_s"] / r["cartpole_steps_per_s"]
        )
    assert r["batched_ratio_to_cartpole"] > 0
