"""``edgeroute crossover`` end to end on the prepared long_sessions trace (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.traces.store import read_index

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(read_index("long_sessions") is None, reason="long_sessions not prepared"),
]

TINY = """
quick:
  benchmarks: [long_sessions]
  seeds: [0]
  tune_seeds: [0]
  episodes_per_seed: 1
  sweep_points: 3
  alpha_grid: [0.1]
  ppo_timesteps: 1024
  env_config:
    EdgeRoute/MultiTurn-v0: {dialogues_per_episode: 10}
full:
  benchmarks: [long_sessions]
  seeds: [0]
  episodes_per_seed: 1
  sweep_points: 3
  alpha_grid: [0.1]
  ppo_timesteps: 1024
"""


def test_crossover_table_over_document_lengths(tmp_path: Path, run_cli) -> None:
    config = tmp_path / "budget.yaml"
    config.write_text(TINY)
    out = tmp_path / "xo"
    code, stdout, err = run_cli(["crossover", "--quick", "--config", str(config), "--out",
                                 str(out), "--documents", "0,8000"])  # fmt: skip
    assert code == 0, err
    assert "crossover at always-edge quality" in stdout and "modelled quality" in stdout
    result = json.loads((out / "crossover.json").read_text())
    rows = result["rows"]
    assert [r["document_tokens_mean"] for r in rows] == [0.0, 8000.0]
    assert rows[1]["history_tokens"]["mean"] > rows[0]["history_tokens"]["mean"] + 5000
    for r in rows:
        for form in ("multi", "single"):
            assert r[form]["quality"] > 0 and r[form]["latency_mean_s"] > 0
    code, _, err = run_cli(["crossover", "--out", str(out), "--documents", "5"])
    assert code == 2 and "--documents" in err
