"""The README's headline block is rendered from results, never typed in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from experiments.matched_ci import matched_with_ci
from experiments.readme import BEGIN, END, main, update_readme
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


def test_update_readme_renders_the_numbers_of_the_results(tmp_path):
    results = results_fixture()
    expected = results["toy"]["analytic_vs_static"]["latency_reduction_pct"]
    assert expected == pytest.approx(40.0)  # 2.0 s -> 1.2 s at always-edge quality
    rpath = tmp_path / "results.json"
    rpath.write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nold typed-in numbers\n{END}\n\nrest\n")
    assert main([str(rpath), str(readme)]) == 0
    text = readme.read_text()
    assert "old typed-in numbers" not in text and text.endswith("\n\nrest\n")
    block = text.split(BEGIN)[1].split(END)[0]
    assert f"{expected:+.1f}%" in block and "QUICK" in block and "static=always_edge" in block


def test_update_readme_needs_exactly_one_block(tmp_path):
    rpath = tmp_path / "results.json"
    rpath.write_text(json.dumps(results_fixture()))
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(EdgeRouteError, match="block"):
        update_readme(readme, rpath)
    assert main([str(rpath), str(readme)]) == 2
