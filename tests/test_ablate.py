"""The ablation: every analytic cost term and every PPO observation group, one table."""

from __future__ import annotations

import json

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
    assert rows["ppo -switching/KV (kv obs)"]["removed_groups"] == ["kv", "estimate"]
    assert rows["ppo -estimate (router's T obs)"]["removed_groups"] == ["estimate"]
    md = (out / "ablation.md").read_text()
    assert "QUICK" in md and "modelled quality" in md and "ppo -embedding" in md
