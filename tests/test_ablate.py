"""The ablation: every analytic cost term and every PPO observation group, one table."""

from __future__ import annotations

import json

import pytest
from test_benchmark import SYNTHETIC, write_configs

from experiments.ablate import ANALYTIC_VARIANTS, PPO_VARIANTS
from experiments.cli import main as cli_main


def test_ablate_quick_on_synthetic_multi_turn(tmp_path, capsys):
    bench, ppo = write_configs(tmp_path, SYNTHETIC[1:], ppo_timesteps=512)
    out = tmp_path / "abl"
    code = cli_main(
        [
            "ablate",
            "--quick",
            "--out",
            str(out),
            "--config",
            str(bench),
            "--ppo-config",
            str(ppo),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "QUICK" in printed
    results = json.loads((out / "ablation.json").read_text())
    assert results["meta"]["quick"] is True
    sec = results["synthetic_multi"]
    rows = sec["rows"]
    assert set(rows) == set(ANALYTIC_VARIANTS) | set(PPO_VARIANTS)
    full = rows["analytic (all terms)"]
    assert full["delta_latency_mean_s"] == 0.0 and full["delta_quality"] == 0.0
    for label, row in rows.items():
        for key in ("latency_mean_s", "quality", "edge_rate", "delta_latency_mean_s"):
            assert isinstance(row[key], float), (label, key)
        assert row["delta_latency_mean_s"] == (
            row["latency_mean_s"]
            - rows[
                "analytic (all terms)" if label.startswith("analytic") else "ppo (full observation)"
            ]["latency_mean_s"]
        )
    assert rows["ppo -switching/KV (kv obs)"]["removed_groups"] == ["kv"]
    md = (out / "ablation.md").read_text()
    assert "QUICK" in md and "modelled quality" in md and "ppo -embedding" in md


def test_ablation_deltas_come_from_two_independently_built_runs(tmp_path, capsys):
    """Rebuild the full analytic router and one ablated variant from scratch (fresh env, fresh
    policy, their tuned alpha/theta) and evaluate each alone: the ablation's delta must be the
    difference of those two runs, not a number from one shared run."""
    import numpy as np
    from test_benchmark import MULTI

    from agents.registry import make_policy
    from experiments.envfactory import make_env
    from experiments.evaluate import pass_items, run_policy
    from experiments.metrics import compute_metrics

    bench, ppo = write_configs(tmp_path, SYNTHETIC[1:], ppo_timesteps=512)
    out = tmp_path / "abl"
    args = ["ablate", "--quick", "--out", str(out), "--config", str(bench)]
    assert cli_main([*args, "--ppo-config", str(ppo), "--no-progress"]) == 0
    capsys.readouterr()
    rows = json.loads((out / "ablation.json").read_text())["synthetic_multi"]["rows"]
    config = {**SYNTHETIC[1]["env_config"], "dialogues_per_episode": 8, "split": "test"}

    def rebuilt(label: str) -> float:
        flags = ANALYTIC_VARIANTS[label]
        row = rows[label]
        env = make_env(MULTI, config)
        policy = make_policy("analytic", alpha=row["alpha"], theta=row["theta"], **flags)
        base = env.unwrapped
        per_seed = [
            compute_metrics(run_policy(env, policy, s, items=pass_items(base.n_items, 8, s)))[
                "latency_mean_s"
            ]
            for s in (0, 1)
        ]
        env.close()
        return float(np.mean(per_seed))

    full, ablated = rebuilt("analytic (all terms)"), rebuilt("analytic -communication")
    assert rows["analytic (all terms)"]["latency_mean_s"] == pytest.approx(full, rel=1e-12)
    assert rows["analytic -communication"]["delta_latency_mean_s"] == pytest.approx(
        ablated - full, rel=1e-9, abs=1e-12
    )
