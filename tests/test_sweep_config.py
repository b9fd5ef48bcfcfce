"""The sweep config, its grid, and everything `edgeroute sweep` checks before Ray starts
(no Ray session here: the tests that start Ray are in test_ray.py)."""

from __future__ import annotations

import builtins
import json
import sys
from pathlib import Path

import pytest
import yaml

from cost_models.errors import EdgeRouteError
from experiments.cli import main as cli_main
from experiments.config import CONFIG_DIR
from experiments.sweep_config import PolicyEntry, SweepConfig, load_sweep_config

SINGLE = "EdgeRoute/SingleTurn-v0"
SYNTHETIC = {"key": "synthetic", "env_id": SINGLE, "env_config": {"benchmark": "synthetic"}}
MINIMAL = {
    "workloads": [SYNTHETIC],
    "policies": ["always_edge"],
    "evaluation_seeds": [0],
    "episodes_per_seed": 1,
}


def write(tmp_path: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_example_is_valid_and_expands_to_its_documented_grid():
    config = load_sweep_config(CONFIG_DIR / "sweep_example.yaml")
    trials = config.trials()
    # 2 workloads x 2 channels x (6 policies + ppo x 2 learning rates x 2 training seeds)
    assert len(trials) == 2 * 2 * (6 + 2 * 2)
    ppo = [t for t in trials if t.policy.policy == "ppo"]
    assert len(ppo) == 16
    assert trials[: len(ppo)] == ppo  # the long trials first
    assert len({t.key for t in trials}) == len(trials)
    # Training seeds pool into one cell: 2 x 2 x 2 PPO cells, 2 x 2 x 6 others.
    assert len({t.cell for t in trials}) == 8 + 24
    first = ppo[0]
    assert first.key == "mmlu__channel=urban__ppo__learning_rate=0.0003__seed0"
    assert first.ppo_overrides == {"learning_rate": 3.0e-4}
    assert first.workload.env_config == {
        "benchmark": "mmlu",
        "episode_queries": 200,
        "channel": "urban",
    }
    tuned = [t for t in trials if t.policy.tune]
    assert {t.policy.label for t in tuned} == {"semantic_threshold_tuned", "analytic_tuned"}


def test_grid_is_the_product_of_every_axis():
    config = SweepConfig.from_mapping(
        {
            **MINIMAL,
            "policies": ["always_device", {"policy": "random", "kwargs": {"p": 0.2}}, "ppo"],
            "env_grid": {"channel": ["urban", "cell_edge", "near"], "n_users": [1, 4]},
            "training_seeds": [3, 4],
            "ppo_grid": {"gamma": [0.5, 0.9]},
        }
    )
    trials = config.trials()
    assert len(config.env_variants()) == 6
    assert len(trials) == 6 * (2 + 2 * 2)
    assert {t.env_variant for t in trials} >= {"channel=urban,n_users=1", "channel=near,n_users=4"}
    assert {t.train_seed for t in trials if t.policy.policy == "ppo"} == {3, 4}
    assert config.to_dict()["env_grid"] == {
        "channel": ["urban", "cell_edge", "near"],
        "n_users": [1, 4],
    }
    # Defaults live in the dataclass.
    assert SweepConfig.from_mapping(MINIMAL).tune_seeds == (0,)
    assert SweepConfig.from_mapping(MINIMAL).env_variants()[0].name == "default"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workload": ["mmlu"]}, "unknown key(s) ['workload']; allowed: ['workloads', 'policies'"),
        ({"workloads": ["no_such"]}, "unknown benchmark 'no_such'; allowed:"),
        ({"policies": ["always_elsewhere"]}, "unknown policy 'always_elsewhere'; allowed:"),
        ({"workloads": []}, "workloads: empty grid"),
        ({"policies": []}, "policies: empty grid"),
        ({"env_grid": {"channel": []}}, "env_grid.channel = [] must be a non-empty list"),
        ({"evaluation_seeds": []}, "evaluation_seeds = [] must be a non-empty list"),
        ({"evaluation_seeds": [-1]}, "integers >= 0"),
        ({"episodes_per_seed": 0}, "episodes_per_seed = 0 must be an integer in [1, 1000]"),
        ({"env_config": {"EdgeRoute/Nope-v0": {}}}, "unknown env id 'EdgeRoute/Nope-v0'"),
        ({"env_grid": {"split": ["train"]}}, "'split' is set by the sweep"),
        ({"policies": ["ppo"], "ppo_grid": {"learning_rat": [1e-3]}}, "unknown PPO argument"),
        (
            {"policies": ["ppo"], "ppo_grid": {"learning_rate": [3e-4, 0]}},
            "ppo_grid variant 'learning_rate=0' on ppo.yaml [EdgeRoute/SingleTurn-v0]: "
            "ppo.learning_rate = 0 is not allowed",
        ),
        ({"policies": ["ppo"], "ppo_grid": {"n_steps": [1.5]}}, "n_steps = 1.5 is not allowed"),
        (
            {"policies": ["ppo"], "ppo_grid": {"batch_size": [100000]}},
            "batch_size = 100000 exceeds the rollout size",
        ),
        (
            {"policies": ["ppo"], "ppo_grid": {"policy_kwargs": [{"activation_fn": "sigmoidish"}]}},
            "activation_fn = 'sigmoidish' is not allowed",
        ),
        ({"policies": ["ppo"], "ppo_grid": {"seed": [1]}}, "unknown PPO argument 'seed'"),
        ({"ppo_grid": {"gamma": [0.5]}}, "no policy entry is 'ppo'"),
        ({"policies": [{"policy": "ppo", "kwargs": {"model_dir": "x"}}]}, "'model_dir'] not"),
        ({"policies": [{"policy": "always_edge", "tune": True}]}, "tune: true is for"),
        ({"policies": [{"policy": "analytic", "tune": True}]}, "sweep_points is required"),
        (
            {"policies": [{"policy": "analytic", "tune": True}], "sweep_points": 3},
            "alpha_grid is required",
        ),
        (
            {"policies": [{"policy": "analytic", "tune": True, "kwargs": {"theta": 1}}]},
            "kwargs ['theta'] are tuned",
        ),
        ({"policies": [{"policy": "random", "kwargs": {"p": 2}}]}, "p=2 must be in [0, 1]"),
        ({"policies": [{"policy": "random", "kwargs": {"q": 1}}]}, "unknown argument(s) ['q']"),
        ({"policies": ["analytic", "analytic"]}, "label(s) ['analytic'] repeat"),
        ({"policies": [{"policy": "analytic", "label": "a/b"}]}, "policy label 'a/b'"),
        ({"ppo_timesteps": 0}, "ppo_timesteps = 0"),
    ],
)
def test_bad_sweep_configs_are_rejected_naming_the_value(tmp_path, change, message):
    with pytest.raises(EdgeRouteError) as err:
        load_sweep_config(write(tmp_path, {**MINIMAL, **change}))
    assert message in str(err.value)


def test_bad_config_at_the_cli_exits_2_before_anything_starts(tmp_path, capsys):
    out = tmp_path / "out"
    bad = write(tmp_path, {**MINIMAL, "policies": []})
    assert cli_main(["sweep", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "edgeroute sweep: error:" in err and "policies: empty grid" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert cli_main(["sweep", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    with pytest.raises(SystemExit) as exit_:
        cli_main(["sweep", str(write(tmp_path, MINIMAL)), "--out", str(out), "--num-cpus", "0"])
    assert exit_.value.code == 2
    assert "'0' must be an integer >= 1" in capsys.readouterr().err


def test_a_bad_env_override_is_caught_when_the_environments_are_built(tmp_path, capsys):
    """Every (workload, env variant) environment is built once before Ray starts."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    bad_env = write(tmp_path, {**MINIMAL, "env_grid": {"channel": ["urban", "moon"]}})
    assert cli_main(["sweep", str(bad_env), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'moon'" in err and "urban" in err  # the bad value and the allowed presets
    assert not out.exists()


def test_an_existing_sweep_is_never_overwritten_and_resume_needs_the_same_config(tmp_path, capsys):
    """The out-dir checks run before Ray starts: an existing sweep refuses a new one."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep_config.json").write_text("{}")
    path = write(tmp_path, MINIMAL)
    assert cli_main(["sweep", str(path), "--out", str(out)]) == 2
    assert "already holds a sweep" in capsys.readouterr().err
    assert (out / "sweep_config.json").read_text() == "{}"
    assert cli_main(["sweep", str(path), "--out", str(out), "--resume"]) == 2
    assert "differs from the one" in capsys.readouterr().err
    assert cli_main(["sweep", str(path), "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no sweep" in capsys.readouterr().err


@pytest.fixture
def without_ray(monkeypatch):
    """Simulate an installation without the `ray` extra: importing ray fails."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_without_ray_sweep_and_dash_dash_ray_say_how_to_install_it(tmp_path, capsys, without_ray):
    out = tmp_path / "out"
    assert cli_main(["sweep", str(write(tmp_path, MINIMAL)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[ray]"' in err and "Traceback" not in err
    assert not out.exists()
    for cmd in ("benchmark", "ablate"):
        assert cli_main([cmd, "--quick", "--ray", "--out", str(out)]) == 2
        assert 'pip install -e ".[ray]"' in capsys.readouterr().err
        assert not out.exists()
    # In-process runs do not need Ray; --address without --ray is a mistake.
    args = ["benchmark", "--quick", "--out", str(out), "--address", "auto"]
    assert cli_main(args) == 2
    assert "--address and --num-cpus go with --ray" in capsys.readouterr().err


def test_policy_entry_labels_default_to_the_policy_name():
    assert PolicyEntry("analytic").label == "analytic"
    assert PolicyEntry("analytic", tune=True).label == "analytic_tuned"
    entry = PolicyEntry("analytic", {"switching": False}, "analytic_noswitch", True)
    assert json.loads(json.dumps(entry.to_dict()))["kwargs"] == {"switching": False}
