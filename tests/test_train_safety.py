"""Training never loses or mixes work: used run directories, resume checks, atomic writes,
checkpoint fallback, bad hyperparameters and paths refused before any work, progress bar."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import numpy as np
import pytest
import yaml

from cost_models.errors import EdgeRouteError
from envs.traces import atomic
from experiments import train as train_mod
from experiments.callbacks import planned_steps
from experiments.run_dir import checkpoints, save_model
from experiments.train import TrainSettings, train_ppo

ENV = "EdgeRoute/SingleTurn-v0"
MULTI = "EdgeRoute/MultiTurn-v0"
TINY_ENV = {"benchmark": "synthetic", "synthetic_size": 60, "episode_queries": 50}


def tiny_config(tmp_path: Path, **ppo) -> Path:
    """Rollouts of 2 x 64 steps, checkpoints every 128 steps, a 16-unit network."""
    entry = {
        "n_timesteps": 256,
        "n_envs": 2,
        "normalize_reward": True,
        "eval_freq": 128,
        "n_eval_episodes": 1,
        "checkpoint_freq": 128,
        "env_config": dict(TINY_ENV),
        "ppo": {
            "n_steps": 64,
            "batch_size": 64,
            "n_epochs": 1,
            "gamma": 0.5,
            "policy_kwargs": {"net_arch": [16]},
            **ppo,
        },
    }
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump({ENV: entry, MULTI: entry}))
    return path


def settings(tmp_path: Path, out: str = "run", **kw) -> TrainSettings:
    return TrainSettings(
        env_id=kw.pop("env_id", ENV),
        out_dir=tmp_path / out,
        config_path=kw.pop("config_path", None) or tiny_config(tmp_path),
        progress_bar=False,
        eval=kw.pop("eval", False),
        **kw,
    )


def train_cli(tmp_path: Path, *extra: str, out: str = "run", config: Path | None = None):
    return [
        "train",
        "--env",
        ENV,
        "--config",
        str(config or tiny_config(tmp_path)),
        "--out",
        str(tmp_path / out),
        "--no-progress",
        "--no-eval",
        *extra,
    ]


# ---- 1. a used run directory is refused; --overwrite replaces; --resume checks run.yaml ------


def test_used_run_dir_refused_then_overwrite_replaces_it(tmp_path, run_cli):
    code, _, err = run_cli(train_cli(tmp_path, "--timesteps", "128"))
    assert code == 0, err
    model = tmp_path / "run" / "model.zip"
    before = model.read_bytes()
    code, _, err = run_cli(train_cli(tmp_path, "--timesteps", "128", "--seed", "1"))
    assert code == 2 and "already holds a run" in err and str(tmp_path / "run") in err
    assert "--resume" in err and "--overwrite" in err
    assert model.read_bytes() == before  # nothing was touched
    stale = tmp_path / "run" / "checkpoints" / "ppo_999999_steps.zip"
    stale.write_bytes(b"an old run's checkpoint")
    code, _, err = run_cli(train_cli(tmp_path, "--timesteps", "128", "--overwrite"))
    assert code == 0, err
    assert not stale.exists()  # the old run's checkpoints cannot mix in
    code, _, err = run_cli(train_cli(tmp_path, "--resume", "--overwrite"))
    assert code == 2 and "not allowed with argument" in err


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"env_id": MULTI}, "env_id: run.yaml has 'EdgeRoute/SingleTurn-v0'"),
        ({"env_overrides": {"benchmark": "mmlu"}}, "benchmark: run.yaml has 'synthetic'"),
        ({"seed": 5}, "seed: run.yaml has 0, this command gives 5"),
        ({"ppo_overrides": {"gamma": 0.9}}, "ppo.gamma: run.yaml has 0.5"),
        ({"drop_groups": ("channel",)}, "drop_observation_groups"),
        ({"env_overrides": {"synthetic_size": 80}}, "env_config_train.synthetic_size"),
    ],
)
def test_resume_refuses_a_different_run_and_says_what_differs(tmp_path, change, named):
    train_ppo(settings(tmp_path, timesteps=128))
    resumed = settings(tmp_path, resume=True, timesteps=256)
    for key, value in change.items():
        setattr(resumed, key, value)
    with pytest.raises(EdgeRouteError, match="differs from the run") as err:
        train_ppo(resumed)
    assert named in str(err.value)
    assert checkpoints(tmp_path / "run")[0][0] == 128  # nothing trained


def test_resume_checks_the_observation_shape(tmp_path):
    """A run.yaml edited (or written by another layout) is caught by the built env's shape."""
    train_ppo(settings(tmp_path, timesteps=128))
    run_yaml = tmp_path / "run" / "run.yaml"
    run = yaml.safe_load(run_yaml.read_text())
    run["observation_shape"] = [7]
    run_yaml.write_text(yaml.safe_dump(run))
    with pytest.raises(EdgeRouteError, match=r"observation_shape: run.yaml has \[7\]"):
        train_ppo(settings(tmp_path, resume=True, timesteps=256))


# ---- 2. atomic writes; resume falls back to the newest checkpoint that loads -----------------


class _FullDisk(io.BufferedWriter):
    """A writer that accepts ``budget`` bytes and then fails like a full disk (ENOSPC)."""

    def __init__(self, raw, budget: int) -> None:
        super().__init__(raw)
        self.budget = budget

    def write(self, data) -> int:
        if len(data) > self.budget:
            super().write(bytes(data[: self.budget]))
            self.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return super().write(data)


def full_disk(monkeypatch, budget: int = 100) -> None:
    real = atomic._open_temp

    def open_temp(directory, name):
        tmp, fh = real(directory, name)
        return tmp, _FullDisk(fh.detach(), budget)

    monkeypatch.setattr(atomic, "_open_temp", open_temp)


def test_disk_full_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "run.yaml"
    atomic.atomic_write_text(target, "seed: 0\n" * 100)
    full_disk(monkeypatch)
    with pytest.raises(EdgeRouteError, match="No space left on device") as err:
        atomic.atomic_write_text(target, "seed: 1\n" * 100)
    assert str(target) in str(err.value) and "previous content is intact" in str(err.value)
    assert target.read_text() == "seed: 0\n" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["run.yaml"]


def test_disk_full_model_save_leaves_no_model(tmp_path, monkeypatch):
    result = train_ppo(settings(tmp_path, timesteps=128))
    full_disk(monkeypatch, budget=1000)
    target = tmp_path / "other" / "model.zip"
    with pytest.raises(EdgeRouteError, match="nothing was written"):
        save_model(result.model, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_disk_full_during_training_names_the_file_and_the_intact_checkpoint(tmp_path, monkeypatch):
    """The checkpoint at 256 steps hits a full disk: the error names it and the one at 128."""
    from experiments import run_dir

    real_save = run_dir.save_model

    def failing_save_model(model, path):
        if model.num_timesteps >= 256:
            full_disk(monkeypatch, budget=500)
        return real_save(model, path)

    monkeypatch.setattr(run_dir, "save_model", failing_save_model)
    with pytest.raises(EdgeRouteError) as err:
        train_ppo(settings(tmp_path, timesteps=512))
    msg = str(err.value)
    assert "training stopped at 256 steps" in msg and "No space left on device" in msg
    assert "ppo_256_steps.zip" in msg and "newest complete checkpoint" in msg
    assert "ppo_128_steps.zip" in msg
    out = tmp_path / "run"
    assert not (out / "model.zip").exists()
    assert [s for s, _ in checkpoints(out)] == [128]  # no truncated checkpoint under its name
    assert not [p for p in out.rglob("*.tmp")]


def test_resume_falls_back_to_the_newest_checkpoint_that_loads(tmp_path, capsys):
    train_ppo(settings(tmp_path, timesteps=384))
    out = tmp_path / "run"
    assert [s for s, _ in checkpoints(out)] == [384, 256, 128]
    (out / "checkpoints" / "ppo_384_steps.zip").write_bytes(b"")  # a full disk, old style
    (out / "checkpoints" / "ppo_256_steps.zip").write_bytes(b"PK\x03\x04 truncated")
    capsys.readouterr()
    result = train_ppo(settings(tmp_path, resume=True, timesteps=512))
    err = capsys.readouterr().err
    assert "skipped ppo_384_steps.zip (0 bytes) does not load" in err
    assert "skipped ppo_256_steps.zip" in err
    assert "resuming from" in err and "ppo_128_steps.zip at 128 steps" in err
    assert result.num_timesteps == 512


def test_resume_with_no_loadable_checkpoint_lists_them(tmp_path):
    train_ppo(settings(tmp_path, timesteps=128))
    (tmp_path / "run" / "checkpoints" / "ppo_128_steps.zip").write_bytes(b"")
    with pytest.raises(EdgeRouteError, match="none of the checkpoints") as err:
        train_ppo(settings(tmp_path, resume=True, timesteps=256))
    assert "ppo_128_steps.zip (0 bytes)" in str(err.value)


def test_evaluation_files_are_published_atomically(tmp_path, monkeypatch):
    """evaluations.npz and best/best_model.zip appear whole, and a full disk while SB3 writes
    them keeps the previous ones and names the failure."""
    result = train_ppo(settings(tmp_path, timesteps=256, eval=True))
    out = result.out_dir
    evals = np.load(out / "evaluations.npz")
    assert evals["timesteps"].tolist() == [128, 256]
    assert (out / "best" / "best_model.zip").stat().st_size > 1000
    assert not (out / ".eval-staging").exists()
    train_ppo(settings(tmp_path, resume=True, timesteps=384, eval=True))
    # resuming extends the history instead of replacing it
    assert np.load(out / "evaluations.npz")["timesteps"].tolist() == [128, 256, 384]
    before = (out / "evaluations.npz").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    resumed = settings(tmp_path, resume=True, timesteps=512, eval=True)
    with pytest.raises(EdgeRouteError, match="could not write the evaluation results") as err:
        train_ppo(resumed)
    assert "No space left on device" in str(err.value)
    assert (out / "evaluations.npz").read_bytes() == before


# ---- 7. bad hyperparameters, seeds, steps and paths: exit 2 before any environment ---------

BAD_PPO = [
    ({"learning_rate": "fast"}, "learning_rate = 'fast'"),
    ({"learning_rate": -0.001}, "learning_rate = -0.001"),
    ({"learning_rate": float("nan")}, "learning_rate = nan"),
    ({"n_steps": 0}, "n_steps = 0"),
    ({"batch_size": 1}, "batch_size = 1"),
    ({"batch_size": 4096}, "batch_size = 4096 exceeds the rollout size"),
    ({"gamma": 2.0}, "gamma = 2.0"),
    ({"gae_lambda": -0.1}, "gae_lambda = -0.1"),
    ({"clip_range": 0}, "clip_range = 0"),
    ({"ent_coef": "lots"}, "ent_coef = 'lots'"),
    ({"n_epochs": 1.5}, "n_epochs = 1.5"),
    ({"use_sde": True}, "use_sde = True"),
    ({"seed": 3}, "sets ['seed']"),
    ({"device": "cuda"}, "sets ['device']"),
    ({"policy_kwargs": {"net_arch": "big"}}, "net_arch = 'big'"),
    ({"policy_kwargs": {"net_arch": [64, 0]}}, "net_arch = [64, 0]"),
    ({"policy_kwargs": {"activation_fn": "swish3"}}, "activation_fn = 'swish3'"),
    ({"policy_kwargs": {"netarch": [8]}}, "unknown key(s) ['netarch']"),
]


@pytest.mark.parametrize(("ppo", "named"), BAD_PPO)
def test_bad_ppo_hyperparameters_exit_2_before_any_env(tmp_path, monkeypatch, ppo, named, run_cli):
    def no_env(*args, **kwargs):
        raise AssertionError("an environment was built before the config was validated")

    monkeypatch.setattr(train_mod, "_make_vec_env", no_env)
    code, _, err = run_cli(train_cli(tmp_path, config=tiny_config(tmp_path, **ppo)))
    assert code == 2, err
    assert named in err
    assert not (tmp_path / "run").exists()


def test_good_spellings_are_accepted(tmp_path):
    """YAML reads 1e-3 as a string; activation names become torch classes."""
    from experiments.ppo_checks import check_ppo_kwargs

    out = check_ppo_kwargs(
        {"learning_rate": "1e-3", "policy_kwargs": {"activation_fn": "nn.Tanh"}}, 4, "x"
    )
    import torch

    assert out["learning_rate"] == 0.001 and out["policy_kwargs"]["activation_fn"] is torch.nn.Tanh


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seed", "-1"], "'-1' must be an integer >= 0"),
        (["--seed", "1e20"], "'1e20' is not an integer"),
        (["--timesteps", "0"], "'0' must be an integer >= 1"),
        (["--timesteps", "-5"], "'-5' must be an integer >= 1"),
    ],
)
def test_bad_seed_and_timesteps_exit_2(tmp_path, args, named, run_cli):
    code, _, err = run_cli(train_cli(tmp_path, *args))
    assert code == 2 and named in err


def test_seed_out_of_range_in_the_python_api(tmp_path):
    for seed in (-1, 10**20, 2.5, True):
        with pytest.raises(EdgeRouteError, match=r"seed .* is not allowed"):
            train_ppo(settings(tmp_path, seed=seed))


def _read_only_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    if __import__("os").access(d, __import__("os").W_OK):  # root ignores permissions
        return Path("/sys/edgeroute-readonly-test")  # sysfs refuses new entries, even to root
    return d / "run"


@pytest.mark.parametrize("case", ["a file", "under a file", "read-only"])
def test_bad_out_paths_exit_2(tmp_path, case, run_cli):
    (tmp_path / "f").write_text("x")
    out = {
        "a file": tmp_path / "f",
        "under a file": tmp_path / "f" / "run",
        "read-only": _read_only_dir(tmp_path),
    }[case]
    argv = train_cli(tmp_path)
    argv[argv.index("--out") + 1] = str(out)
    code, _, err = run_cli(argv)
    assert code == 2 and str(out) in err
    assert {"a file": "is a file", "under a file": "lies under", "read-only": "not a writable"}[
        case
    ] in err


# ---- 8. the progress bar counts the steps PPO will run --------------------------------------


def test_progress_bar_total_is_the_steps_that_run(tmp_path, capsys):
    assert planned_steps(100_000, 512, 4) == 100_352  # the overshoot of SB3's own bar
    assert planned_steps(100_352, 512, 4) == 100_352 and planned_steps(0, 512, 4) == 0
    s = settings(tmp_path, timesteps=200)
    s.progress_bar = True
    result = train_ppo(s)
    err = capsys.readouterr().err
    assert result.num_timesteps == 256
    assert "200 steps requested, 256 will run" in err
    assert "256/256" in err and "/200" not in err
    run = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())
    assert run["status"] == "complete" and run["observation_shape"] == [
        int(np.prod(result.model.observation_space.shape))
    ]
