"""`edgeroute evaluate`: bad seeds, steps and paths exit 2 before any work; a PPO model runs
only on the env and benchmark of its run.yaml unless --allow-transfer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agents.baselines import AlwaysEdge
from cost_models.errors import EdgeRouteError
from experiments.envfactory import make_env
from experiments.evaluate import evaluate
from experiments.train import TrainSettings, train_ppo

ENV = "EdgeRoute/SingleTurn-v0"
SYNTH = {"benchmark": "synthetic", "synthetic_size": 60, "episode_queries": 50}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ppo")
    entry = {
        "n_envs": 2,
        "checkpoint_freq": 128,
        "env_config": SYNTH,
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}},
    }
    (tmp / "ppo.yaml").write_text(yaml.safe_dump({ENV: entry}))
    settings = TrainSettings(
        env_id=ENV,
        out_dir=tmp / "run",
        config_path=tmp / "ppo.yaml",
        timesteps=128,
        progress_bar=False,
        eval=False,
    )
    return train_ppo(settings).out_dir


BASE = ["evaluate", "--benchmark", "synthetic", "--policy", "always_edge"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seeds", "-1"], "argument --seeds: '-1' must be an integer >= 0"),
        (["--seeds", "1e20"], "'1e20' is not an integer"),
        (["--max-steps", "-3"], "argument --max-steps: '-3' must be an integer >= 1"),
        (["--episodes", "0"], "argument --episodes: '0' must be an integer >= 1"),
        (["--edge-share", "2"], "argument --edge-share: '2' must be a number in [0, 1]"),
        (["--edge-share", "nan"], "'nan' must be a number in [0, 1]"),
        (["--model", "somewhere"], "--model is for --policy ppo, not 'always_edge'"),
        (["--param", "alpha"], "--param 'alpha' must look like key=value"),
        (["--policy", "analytic", "--param", "alpha=fast"], "rejects --param alpha='fast'"),
    ],
)
def test_bad_evaluate_arguments_exit_2(args, named, run_cli):
    code, _, err = run_cli([*BASE, *args])
    assert code == 2 and named in err


def test_bad_seeds_fail_before_any_episode():
    env = make_env(ENV, {**SYNTH, "split": "test"})
    for seeds, named in (([0, -1], "seed -1"), ([0, 1.5], "seed 1.5"), ([], "at least one")):
        with pytest.raises(EdgeRouteError, match=named):
            evaluate(env, AlwaysEdge(), seeds)
    with pytest.raises(EdgeRouteError, match="max_steps=-3"):
        evaluate(env, AlwaysEdge(), [0], max_steps=-3)


@pytest.mark.parametrize("case", ["a directory", "under a file"])
def test_bad_json_paths_exit_2_before_running(tmp_path, case, run_cli):
    (tmp_path / "f").write_text("x")
    target = {"a directory": tmp_path, "under a file": tmp_path / "f" / "m.json"}[case]
    code, out, err = run_cli([*BASE, "--seeds", "0", "--json", str(target)])
    assert code == 2 and str(target) in err and "always-edge" not in out


def test_json_is_written(tmp_path, run_cli):
    target = tmp_path / "sub" / "m.json"
    code, _, err = run_cli([*BASE, "--seeds", "0", "--max-steps", "20", "--json", str(target)])
    assert code == 0, err
    assert json.loads(target.read_text())["metrics"]["edge_rate"] == 1.0
    assert [p.name for p in target.parent.iterdir()] == ["m.json"]


def test_ppo_model_on_another_env_or_benchmark_is_refused(model_dir, run_cli):
    ppo = ["evaluate", "--policy", "ppo", "--model", str(model_dir), "--seeds", "0"]
    code, _, err = run_cli([*ppo, "--benchmark", "synthetic", "--env", "EdgeRoute/MultiTurn-v0"])
    assert code == 2
    assert (
        "trained on env 'EdgeRoute/SingleTurn-v0' (evaluating on 'EdgeRoute/MultiTurn-v0')" in err
    )
    assert "--allow-transfer" in err
    code, _, err = run_cli([*ppo, "--benchmark", "gsm8k"])
    assert code == 2 and "benchmark 'synthetic' (evaluating on 'gsm8k')" in err
    code, out, err = run_cli([*ppo, "--benchmark", "synthetic", "--max-steps", "20"])
    assert code == 0, err
    assert "ppo on synthetic" in out
    # On purpose elsewhere: the run.yaml check is skipped (PPOPolicy.bind still checks that the
    # observation shape fits).
    code, out, err = run_cli(
        [*ppo, "--benchmark", "synthetic", "--env", "EdgeRoute/MultiTurn-v0", "--allow-transfer"]
        + ["--max-steps", "20"]
    )
    assert code == 0, err
    assert "EdgeRoute/MultiTurn-v0" in out
