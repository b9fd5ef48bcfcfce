"""Imported traces are benchmark names like any other: ``edgeroute data import FILE --name X``
then ``benchmark --benchmarks X`` and ``evaluate --benchmark X`` work, and every output says X."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from experiments.envfactory import env_id_for


def fake_prepared(cache: Path, name: str, multi_turn: bool | None) -> None:
    """The two files env_id_for reads of a prepared trace (index.json, the pair's meta.json)."""
    root = cache / "traces" / name
    (root / "user").mkdir(parents=True)
    (root / "index.json").write_text(json.dumps({"default_pair": "user", "pairs": ["user"],
                                                 "rows": 3}))  # fmt: skip
    meta = {"benchmark": name} if multi_turn is None else {"multi_turn": multi_turn}
    (root / "user" / "meta.json").write_text(json.dumps(meta))


def test_imported_names_map_to_the_env_their_rows_need(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEROUTE_CACHE_DIR", str(tmp_path))
    fake_prepared(tmp_path, "chats", True)
    fake_prepared(tmp_path, "queries", False)
    assert env_id_for("chats") == "EdgeRoute/MultiTurn-v0"
    assert env_id_for("queries") == "EdgeRoute/SingleTurn-v0"
    assert env_id_for("mmlu") == "EdgeRoute/SingleTurn-v0"
    with pytest.raises(EdgeRouteError) as exc:
        env_id_for("nosuch")
    assert "'nosuch'" in str(exc.value) and "imported trace: ['chats', 'queries']" in str(exc.value)


def test_unknown_name_suggests_data_import(tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("EDGEROUTE_CACHE_DIR", str(tmp_path))
    code, _, err = run_cli(["benchmark", "--quick", "--out", str(tmp_path / "o"),
                            "--benchmarks", "nosuch"])  # fmt: skip
    assert code == 2 and "'nosuch'" in err and "edgeroute data import FILE --name NAME" in err


def user_file(path: Path, n: int = 400) -> Path:
    """A seeded single-turn trace: short questions are easy for the small model."""
    rng = np.random.default_rng(0)
    words = ["river", "stone", "cloud", "market", "violin", "garden", "rocket", "proof",
             "integral", "history", "poem", "theorem"]  # fmt: skip
    rows = []
    for i in range(n):
        hard = bool(rng.random() < 0.4)
        rows.append({
            "id": f"q{i}",
            "text": " ".join(rng.choice(words, size=int(rng.integers(3, 30)))) + "?" * hard,
            "quality_small": int(rng.random() < (0.3 if hard else 0.8)),
            "quality_large": int(rng.random() < 0.9),
            "output_tokens_small": int(rng.integers(20, 300)),
            "output_tokens_large": int(rng.integers(20, 300)),
        })  # fmt: skip
    path.write_text(json.dumps(rows))
    return path


@pytest.mark.slow
def test_import_then_benchmark_and_evaluate_say_the_name_everywhere(tmp_path, monkeypatch,
                                                                    run_cli):  # fmt: skip
    cache, out = tmp_path / "cache", tmp_path / "out"
    monkeypatch.setenv("EDGEROUTE_CACHE_DIR", str(cache))
    src = user_file(tmp_path / "mine.json")
    code, stdout, err = run_cli(["data", "import", str(src), "--name", "mytrace", "--quiet"])
    assert code == 0, err
    code, stdout, err = run_cli(["benchmark", "--benchmarks", "mytrace", "--quick", "--out",
                                 str(out), "--no-progress"])  # fmt: skip
    assert code == 0, err
    assert "== mytrace (measured quality, test split) [QUICK run" in stdout
    results = json.loads((out / "results.json").read_text())
    assert [k for k in results if k != "meta"] == ["mytrace"]
    assert results["meta"]["profile"]["benchmarks"] == ["mytrace"]
    assert results["mytrace"]["policies"]["ppo"]["quality"] > 0
    md = (out / "results.md").read_text()
    assert "mytrace" in md
    for text in (stdout, md, json.dumps(results)):
        assert "mmlu" not in text  # no other benchmark's label leaks in
    assert sorted(p.name for p in out.glob("*.png")) == [
        "frontier_mytrace.png", "latency_mytrace.png", "learning_mytrace.png"
    ]  # fmt: skip
    assert (out / "ppo" / "mytrace" / "ppo_seed0" / "model.zip").exists()
    code, stdout, err = run_cli(["evaluate", "--benchmark", "mytrace", "--policy", "ppo",
                                 "--model", str(out / "ppo" / "mytrace" / "ppo_seed0"),
                                 "--seeds", "0"])  # fmt: skip
    assert code == 0, err
    assert "on mytrace (EdgeRoute/SingleTurn-v0, test)" in stdout
