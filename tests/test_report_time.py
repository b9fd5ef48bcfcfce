"""The time table is read from the results file: each workload's wall time and PPO runs."""

from __future__ import annotations

from experiments.report_time import time_rows, time_table


def _results() -> dict:
    def section(wall: float, runs: dict, units: int, seeds: list) -> dict:
        return {"wall_s": wall, "ppo_training": {"runs": runs}, "bootstrap": {"units": units},
                "seeds": seeds}  # fmt: skip

    return {
        "meta": {"wall_s": 400.0},
        "a": section(100.0, {"p0": {"timesteps": 1024, "wall_s": 10.0},
                             "p1": {"timesteps": 2048, "wall_s": 30.5}}, 50, [0, 1, 2]),
        "b": section(300.0, {}, 7, [0]),
    }  # fmt: skip


def test_rows_hold_each_workloads_wall_time_share_and_ppo_budget():
    rows = time_rows(_results())
    assert rows[0] == ["a", "100", "25%", "2", "1,024 / 2,048", "40", "50", "3"]
    assert rows[1] == ["b", "300", "75%", "0", "n/a", "0", "7", "1"]
    assert rows[2][:3] == ["total", "400", "100%"]
    assert "| a | 100 | 25% |" in time_table(_results())
