"""The results diff used to check that a refactor keeps the numbers."""

from __future__ import annotations

import json

from experiments.compare import diff, main


def test_diff_reports_every_changed_number_and_ignores_timings_and_paths():
    old = {
        "meta": {"wall_s": 3.0, "command": "edgeroute benchmark --out a"},
        "mmlu": {
            "policies": {"analytic": {"quality": 0.8, "latency_mean_s": 2.0}},
            "seeds": [0, 1],
        },
        "ppo": {"runs": {"ppo_seed0": {"model_dir": "a/ppo", "timesteps": 10240}}},
    }
    same = json.loads(json.dumps(old))
    same["meta"].update(wall_s=9.0, command="edgeroute benchmark --out b")
    same["ppo"]["runs"]["ppo_seed0"]["model_dir"] = "b/ppo"
    assert list(diff(old, same)) == []
    changed = json.loads(json.dumps(same))
    changed["mmlu"]["policies"]["analytic"]["quality"] = 0.8000001
    changed["mmlu"]["seeds"] = [0, 2]
    changed["mmlu"]["extra"] = 1
    assert list(diff(old, changed)) == [
        "mmlu.extra: only in new",
        "mmlu.policies.analytic.quality: 0.8 != 0.8000001",
        "mmlu.seeds[1]: 1 != 2",
    ]
    assert list(diff(old, changed, rtol=1e-6)) == [
        "mmlu.extra: only in new",
        "mmlu.seeds[1]: 1 != 2",
    ]
    assert list(diff([1, 2], [1])) == [": length 2 != 1"]
    assert list(diff({"a": None}, {"a": 0.0})) == ["a: None != 0.0"]


def test_cli_exit_status(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"x": 1.0}))
    b.write_text(json.dumps({"x": 1.0, "wall_s": 2}))
    assert main([str(a), str(b)]) == 0
    b.write_text(json.dumps({"x": 2.0}))
    assert main([str(a), str(b)]) == 1
    assert "x: 1.0 != 2.0" in capsys.readouterr().out
