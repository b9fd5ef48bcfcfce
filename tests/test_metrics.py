"""Metrics, frontier, matched-quality interpolation, calibration and tables on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.calibration import (
    calibrate_threshold,
    grid_search,
    log_grid,
    matched_quality_objective,
    threshold_grid,
)
from cost_models.errors import EdgeRouteError
from experiments.frontier import (
    FrontierPoint,
    gap_closed_pct,
    interpolate_at_quality,
    pareto_frontier,
    reduction_pct,
)
from experiments.metrics import StepLog, aggregate_over_seeds, compute_metrics
from experiments.tables import format_value, markdown_table, text_table


def _info(latency: float, quality: float, model: str, dialogue: str, switched=False, rec=0):
    return {
        "latency_s": latency,
        "quality": quality,
        "model": model,
        "dialogue_id": dialogue,
        "switched": switched,
        "recomputed_tokens": rec,
    }


def test_compute_metrics_hand_made():
    log = StepLog()
    log.record(_info(1.0, 1.0, "edge", "d1"), reward=0.5)
    log.record(_info(2.0, 0.0, "device", "d1", switched=True, rec=100), reward=-1.0)
    log.record(_info(3.0, 1.0, "edge", "d2", switched=True, rec=50), reward=0.0)
    log.record(_info(10.0, 0.0, "device", "d2"), reward=-2.0)
    m = compute_metrics(log)
    assert m["latency_mean_s"] == pytest.approx(4.0)
    assert m["latency_p50_s"] == pytest.approx(2.5)
    # numpy linear percentile: index 0.95*3 = 2.85 between 3.0 and 10.0
    assert m["latency_p95_s"] == pytest.approx(3.0 + 0.85 * 7.0)
    assert m["quality"] == pytest.approx(0.5)
    assert m["edge_rate"] == pytest.approx(0.5)
    assert m["reward_mean"] == pytest.approx(-0.625)
    assert m["switches_per_dialogue"] == pytest.approx(1.0)
    assert m["recomputed_tokens_per_dialogue"] == pytest.approx(75.0)
    assert m["n_dialogues"] == 2


def test_empty_log_raises():
    with pytest.raises(EdgeRouteError):
        compute_metrics(StepLog())


def test_aggregate_over_seeds_mean_and_sample_std():
    agg = aggregate_over_seeds([{"quality": 0.5, "x": 1.0}, {"quality": 0.7, "x": 3.0}])
    assert agg["quality"] == pytest.approx(0.6)
    assert agg["quality_std"] == pytest.approx(math.sqrt(0.02))
    assert agg["x_std"] == pytest.approx(math.sqrt(2.0))
    assert agg["n_seeds"] == 2
    single = aggregate_over_seeds([{"quality": 0.5}])
    assert single["quality_std"] == 0.0


def test_pareto_frontier_drops_dominated_points():
    pts = [
        FrontierPoint(0.5, 1.0, 0.0),
        FrontierPoint(0.6, 2.0, 0.3),
        FrontierPoint(0.55, 2.5, 0.4),  # dominated by (0.6, 2.0)
        FrontierPoint(0.8, 3.0, 1.0),
        FrontierPoint(0.8, 3.5, 1.0),  # dominated by (0.8, 3.0)
    ]
    front = pareto_frontier(pts)
    assert [(p.quality, p.latency_mean_s) for p in front] == [(0.5, 1.0), (0.6, 2.0), (0.8, 3.0)]


def test_interpolate_at_quality_linear_between_frontier_points():
    pts = [FrontierPoint(0.5, 1.0, 0.0), FrontierPoint(0.6, 2.0, 0.4), FrontierPoint(0.8, 3.0, 1.0)]
    m = interpolate_at_quality(pts, 0.7)
    assert m.reachable
    assert m.latency_mean_s == pytest.approx(2.5)
    assert m.edge_rate == pytest.approx(0.7)
    exact = interpolate_at_quality(pts, 0.6)
    assert exact.latency_mean_s == pytest.approx(2.0)
    below = interpolate_at_quality(pts, 0.1)
    assert below.latency_mean_s == pytest.approx(1.0) and below.edge_rate == 0.0
    above = interpolate_at_quality(pts, 0.81)
    assert not above.reachable and above.latency_mean_s is None


def test_reductions_and_gap_closed():
    assert reduction_pct(10.0, 9.0) == pytest.approx(10.0)
    assert reduction_pct(10.0, 11.0) == pytest.approx(-10.0)
    assert reduction_pct(None, 1.0) is None
    assert reduction_pct(0.0, 1.0) is None
    # analytic 4 s, ppo 3 s, oracle 2 s: half the gap closed
    assert gap_closed_pct(4.0, 3.0, 2.0) == pytest.approx(50.0)
    assert gap_closed_pct(4.0, 5.0, 2.0) == pytest.approx(-50.0)
    assert gap_closed_pct(4.0, 3.0, 4.0) is None


def test_calibrate_threshold_hits_target_share():
    scores = np.arange(100) / 100.0  # 0.00 .. 0.99
    for share in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        t = calibrate_threshold(scores, share)
        assert np.mean(scores > t) == pytest.approx(share, abs=0.011)
    assert np.mean(scores > calibrate_threshold(scores, 1.0)) == 1.0
    assert np.mean(scores > calibrate_threshold(scores, 0.0)) == 0.0
    grid = threshold_grid(scores, 5)
    assert len(grid) == 5 and grid == sorted(grid, reverse=True)
    with pytest.raises(EdgeRouteError):
        calibrate_threshold(scores, 1.5)
    with pytest.raises(EdgeRouteError):
        calibrate_threshold([], 0.5)


def test_grid_search_matched_quality_objective():
    table = {
        1: {"quality": 0.70, "latency_mean_s": 1.0},
        2: {"quality": 0.80, "latency_mean_s": 3.0},
        3: {"quality": 0.81, "latency_mean_s": 2.0},
        4: {"quality": 0.75, "latency_mean_s": 0.5},
    }
    res = grid_search(
        lambda params: table[params["k"]],
        [{"k": k} for k in table],
        matched_quality_objective(0.8),
    )
    assert res.best == {"k": 3}
    assert len(res.grid) == 4
    # nothing reaches 0.9: highest quality wins
    res = grid_search(
        lambda params: table[params["k"]], [{"k": k} for k in table], matched_quality_objective(0.9)
    )
    assert res.best == {"k": 3}
    res = grid_search(
        lambda params: table[params["k"]], [{"k": k} for k in table], matched_quality_objective(0.7)
    )
    assert res.best == {"k": 4}


def test_log_grid():
    g = log_grid(0.01, 1.0, 3)
    assert g == pytest.approx([0.01, 0.1, 1.0])
    with pytest.raises(EdgeRouteError):
        log_grid(0.0, 1.0, 3)


def test_tables_render():
    assert format_value("quality", 0.5, 0.01) == "0.500 ± 0.010"
    assert format_value("latency_reduction_pct", 12.34) == "+12.3"
    assert format_value("quality", None) == "n/a"
    md = markdown_table(["a", "b"], [["x", "1"]])
    assert md.splitlines()[1] == "|:---|---:|"
    txt = text_table(["name", "v"], [["long-name", "1"]])
    assert txt.splitlines()[0].startswith("name")


def test_verdict_states_when_ppo_does_not_beat_analytic_and_whether_the_ci_excludes_0():
    from experiments.report import verdict

    def section(ppo_reachable: bool, ppo_pct: float | None, ppo_ci=None) -> dict:
        return {
            "policies": {"always_edge": {"latency_mean_s": 2.0}},
            "matched_quality": {
                "target_quality": 0.8,
                "semantic_threshold": {"latency_mean_s": 2.0},
                "analytic": {"latency_mean_s": 1.8},
                "ppo": {"reachable": ppo_reachable, "max_quality": 0.79},
            },
            "analytic_vs_static": {"latency_reduction_pct": 10.0,
                                   "latency_reduction_ci95": [4.0, 12.0]},
            "ppo_vs_analytic": {"latency_reduction_pct": ppo_pct,
                                "latency_reduction_ci95": ppo_ci},
        }  # fmt: skip

    text = verdict("mmlu", section(False, None))
    assert "10.0% lower mean latency than static routing [+4.0, +12.0]." in text.replace(";", ".")
    assert "PPO does not reach always-edge quality" in text and "0.7900 < 0.8000" in text
    assert (
        "does not beat the analytic router at matched quality (-3.0% latency [-5.0, -1.0])"
        in verdict("x", section(True, -3.0, [-5.0, -1.0]))
    )
    # A point estimate in PPO's favour whose CI includes 0 is said to be no finding.
    assert (
        "PPO has 4.0% lower latency than the analytic router at matched quality [-1.0, +6.0], "
        "a CI that includes 0" in verdict("x", section(True, 4.0, [-1.0, 6.0]))
    )
    assert verdict("x", section(True, 4.0, [1.0, 6.0])).endswith("quality [+1.0, +6.0].")
    assert "no 95% CI" in verdict("x", section(True, 4.0, None))
