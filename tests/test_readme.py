"""The README's headline block is rendered from results, never typed in."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.matched_ci import matched_with_ci
from experiments.readme_results import ci_block
from experiments.stats import draw_resamples
from experiments.units import UnitTable


def _table(latency: float, quality: np.ndarray, edge: float) -> UnitTable:
    n = len(quality)
    sums = np.stack([np.full(n, latency), quality, np.full(n, edge), np.zeros(n)], axis=-1)[
        None, None
    ]
    return UnitTable(tuple(f"u{i}" for i in range(n)), sums, np.ones(n))


def results_fixture() -> dict:
    q = np.linspace(0.0, 1.0, 40) > 0.3
    dev, edg = _table(1.0, q * 0.5, 0.0), _table(2.0, q * 1.0, 1.0)
    fast = [dev, _table(1.2, q * 1.0, 0.4), edg]
    sec = matched_with_ci(
        {"semantic_threshold": [dev, edg], "analytic": fast, "ppo": fast, "hindsight": fast},
        dev, edg, [0.9], draw_resamples(40, 200, seed=0),
    )  # fmt: skip
    meta = {"quick": True, "command": "edgeroute benchmark --quick", "wall_s": 12.0, "host": "h"}
    return {"meta": meta, "toy": {**sec, "quality_source": "measured"}}


def test_the_results_block_opens_with_the_ci_headline_and_the_paper_claim():
    results = results_fixture()
    expected = results["toy"]["analytic_vs_static"]["latency_reduction_pct"]
    assert expected == pytest.approx(40.0)  # 2.0 s -> 1.2 s at always-edge quality
    block = "\n".join(ci_block(results))
    assert f"{expected:+.1f}%" in block and "static=always_edge" in block


def test_results_of_an_older_protocol_have_no_ci_block():
    results = results_fixture()
    del results["toy"]["analytic_vs_static"]
    assert ci_block(results) == []


def test_a_world_without_a_hindsight_bound_has_no_gap_closed():
    """Issue 10's stateful worlds: the actions change the world, so there is no hindsight
    frontier; the comparisons stand and the gap entries are None (rendered as n/a)."""
    q = np.linspace(0.0, 1.0, 40) > 0.3
    dev, edg = _table(1.0, q * 0.5, 0.0), _table(2.0, q * 1.0, 1.0)
    fast = [dev, _table(1.2, q * 1.0, 0.4), edg]
    sec = matched_with_ci(
        {"semantic_threshold": [dev, edg], "analytic": fast, "ppo": fast},
        dev, edg, [0.9], draw_resamples(40, 200, seed=0),
    )  # fmt: skip
    assert sec["analytic_vs_static"]["latency_reduction_pct"] == pytest.approx(40.0)
    assert sec["gap_closed_pct"] is None
    assert all(g["gap_closed_pct"] is None for g in sec["gap_closed"].values())
    block = "\n".join(ci_block({"meta": {}, "toy": {**sec, "quality_source": "measured"}}))
    assert "+40.0%" in block
