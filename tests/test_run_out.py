"""``benchmark`` / ``ablate`` into an existing ``--out`` (refused up front unless --resume or
--overwrite) and ``--models DIR`` checked against the run that reuses it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from cost_models.errors import EdgeRouteError
from experiments.run_out import (
    check_reused_model,
    prepare_run_out,
    train_flags,
    used_outputs,
)


def earlier_run(out: Path, benchmarks=("mmlu",)) -> Path:
    (out / "ppo" / "mmlu" / "ppo_seed0" / "checkpoints").mkdir(parents=True)
    (out / "ppo" / "mmlu" / "ppo_seed0" / "checkpoints" / "ppo_1024_steps.zip").write_bytes(b"z")
    (out / "ppo" / "mmlu" / "ppo_seed0" / "run.yaml").write_text("env_id: x\n")
    (out / "results.json").write_text(json.dumps({"meta": {"profile": {"benchmarks": list(
        benchmarks), "seeds": [0]}}}))  # fmt: skip
    (out / "frontier_mmlu.png").write_bytes(b"png")
    (out / "notes.txt").write_text("mine")
    return out


@pytest.mark.parametrize("command", ["benchmark", "ablate"])
def test_run_into_a_used_out_fails_at_once_naming_what_is_there(tmp_path, run_cli, command):
    out = earlier_run(tmp_path / "run")
    t0 = time.perf_counter()
    code, _, err = run_cli([command, "--quick", "--out", str(out), "--benchmarks", "mmlu"])
    assert code == 2 and time.perf_counter() - t0 < 20  # before any tuning or training
    assert "already holds a run (results.json, ppo, frontier_mmlu.png)" in err
    assert "--resume" in err and "--overwrite" in err
    assert (out / "results.json").exists() and (out / "ppo").is_dir()  # nothing touched


def test_resume_and_overwrite_exclude_each_other(tmp_path, run_cli):
    code, _, err = run_cli(["benchmark", "--out", str(tmp_path), "--resume", "--overwrite"])
    assert code == 2 and "not allowed with argument" in err


def test_overwrite_deletes_only_the_run_outputs(tmp_path):
    out = earlier_run(tmp_path / "run")
    prepare_run_out(out, "overwrite", "benchmark")
    assert used_outputs(out) == [] and (out / "notes.txt").read_text() == "mine"


def test_resume_keeps_everything_and_continues_checkpointed_runs(tmp_path):
    out = earlier_run(tmp_path / "run")
    prepare_run_out(out, "resume", "benchmark", {"benchmarks": ["mmlu"], "seeds": [0]})
    assert used_outputs(out) == ["results.json", "ppo", "frontier_mmlu.png"]
    run = out / "ppo" / "mmlu" / "ppo_seed0"
    assert train_flags(run, "resume") == {"resume": True, "overwrite": False}
    (run / "checkpoints" / "ppo_1024_steps.zip").unlink()  # died before its first checkpoint
    assert train_flags(run, "resume") == {"resume": False, "overwrite": True}
    assert train_flags(tmp_path / "fresh", "resume") == {"resume": False, "overwrite": False}
    assert train_flags(run, "new") == {"resume": False, "overwrite": False}


def test_resume_with_other_benchmarks_or_seeds_is_refused(tmp_path):
    out = earlier_run(tmp_path / "run", benchmarks=("mmlu", "gsm8k"))
    with pytest.raises(EdgeRouteError) as exc:
        prepare_run_out(out, "resume", "benchmark", {"benchmarks": ["mmlu"], "seeds": [0, 1]})
    msg = str(exc.value)
    assert "benchmarks: results.json has ['mmlu', 'gsm8k'], this command gives ['mmlu']" in msg
    assert "seeds: results.json has [0], this command gives [0, 1]" in msg


def test_a_fresh_or_missing_out_is_fine_in_every_mode(tmp_path):
    for mode in ("new", "resume", "overwrite"):
        assert prepare_run_out(tmp_path / mode / "deep", mode, "benchmark").is_dir()
    with pytest.raises(EdgeRouteError, match="is a file"):
        (tmp_path / "f").write_text("x")
        prepare_run_out(tmp_path / "f", "new", "benchmark")


def reused(tmp_path: Path, **run) -> Path:
    d = tmp_path / "models" / "mmlu" / "ppo_seed0"
    d.mkdir(parents=True)
    base = {
        "env_id": "EdgeRoute/SingleTurn-v0",
        "env_config_train": {"benchmark": "mmlu", "observation": {"embedding": "pca",
                                                                  "pca_dim": 16}},
        "drop_observation_groups": [],
    }  # fmt: skip
    (d / "run.yaml").write_text(yaml.safe_dump({**base, **run}))
    return d


def test_reused_model_of_the_same_run_passes(tmp_path):
    d = reused(tmp_path)
    check_reused_model(d, "EdgeRoute/SingleTurn-v0", {"benchmark": "mmlu"}, (), tmp_path)
    check_reused_model(
        d, "EdgeRoute/SingleTurn-v0", {"observation": {"pca_dim": 16}}, [], tmp_path
    )


@pytest.mark.parametrize(
    ("env_id", "cfg", "drop", "named"),
    [
        ("EdgeRoute/MultiTurn-v0", {"benchmark": "mmlu"}, (), "env id: run.yaml has "
         "'EdgeRoute/SingleTurn-v0', this run needs 'EdgeRoute/MultiTurn-v0'"),
        ("EdgeRoute/SingleTurn-v0", {"benchmark": "gsm8k"}, (), "benchmark: run.yaml has "
         "'mmlu', this run needs 'gsm8k'"),
        ("EdgeRoute/SingleTurn-v0", {"observation": {"embedding": "none"}}, (), "observation"),
        ("EdgeRoute/SingleTurn-v0", {}, ("channel",), "run.yaml has [], this run needs "
         "['channel']"),
    ],
)  # fmt: skip
def test_reused_model_of_another_run_is_refused(tmp_path, env_id, cfg, drop, named):
    d = reused(tmp_path)
    with pytest.raises(EdgeRouteError) as exc:
        check_reused_model(d, env_id, cfg, drop, tmp_path / "models")
    assert named in str(exc.value) and str(d) in str(exc.value)


def test_reused_model_without_run_yaml_is_refused(tmp_path):
    d = reused(tmp_path)
    (d / "run.yaml").unlink()
    with pytest.raises(EdgeRouteError, match="run.yaml is missing"):
        check_reused_model(d, "EdgeRoute/SingleTurn-v0", {}, (), tmp_path)
