"""The load-delay study: its rows, its protocol pieces and the command's bad input."""

from __future__ import annotations

import math

from experiments.cli import main
from experiments.load_delay import StudyBudget, format_table, mode_configs, run_load_delay_study


def test_modes_cover_exact_delays_and_blind() -> None:
    modes = mode_configs((0.0, 5.0))
    assert [m[0] for m in modes] == ["exact", "delay 0 s", "delay 5 s", "load-blind"]
    assert modes[2][1] == {"load_observation": "reported", "load_report_period_s": 1.0,
                           "load_report_delay_s": 5.0, "load_report_with_answers": False}
    assert modes[-1][2] == "analytic_load_blind"


def test_study_runs_on_a_small_workload() -> None:
    cfg = {"benchmark": "synthetic", "synthetic_size": 200, "episode_queries": 30}
    out = run_load_delay_study("EdgeRoute/SingleTurn-v0", cfg,
                               StudyBudget((0,), (1,), 1, (0.3,), 3), delays_s=(0.0, 30.0))
    assert [r["mode"] for r in out["rows"]] == ["exact", "delay 0 s", "delay 30 s",
                                                "load-blind"]  # fmt: skip
    for row in out["rows"]:
        assert row["alpha"] == 0.3
        for gain in row["latency_reduction_pct_vs_static"].values():
            assert gain is None or math.isfinite(gain)
    t = out["test"]
    assert t["edge_quality"] > t["device_quality"]
    dep = out["load_dependence"]
    assert sum(d["queries"] for d in dep["edge_share_by_load"]) == dep["queries"] == 30
    assert all(0.0 <= d["edge_share"] <= 1.0 for d in dep["edge_share_by_load"])
    assert dep["r2_estimate"] <= 1.0 and dep["r2_load_blind_estimate"] <= 1.0
    table = format_table(out)
    assert "load-blind" in table and "gain @0.9" in table and "modelled" in table


def test_bad_arguments_exit_2(capsys) -> None:
    assert main(["load-delay", "--workload", "nope"]) == 2
    assert "unknown" in capsys.readouterr().err
    assert main(["load-delay", "--delays", "1,x"]) == 2
    assert "--delays" in capsys.readouterr().err
