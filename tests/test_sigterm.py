"""SIGTERM (how clusters stop jobs) saves a checkpoint like Ctrl-C: a real `edgeroute train`
subprocess is stopped mid-training, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from experiments.run_dir import checkpoints
from experiments.train import TrainSettings, train_ppo

REPO = Path(__file__).resolve().parents[1]
ENV = "EdgeRoute/SingleTurn-v0"


def _config(tmp_path: Path) -> Path:
    entry = {
        "n_timesteps": 10_000_000,  # far more than the test waits for
        "n_envs": 2,
        "normalize_reward": True,
        "checkpoint_freq": 10_000_000,  # so the only checkpoint is the one SIGTERM saves
        "env_config": {"benchmark": "synthetic", "synthetic_size": 60, "episode_queries": 50},
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}},
    }
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump({ENV: entry}))
    return path


def _wait_for_training(out: Path, proc: subprocess.Popen, timeout_s: float = 240.0) -> None:
    """Until TensorBoard has an event file (PPO's first rollout has started)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"train exited early: {proc.communicate()}")
        if list((out / "tb").rglob("events.out.tfevents.*")):
            return
        time.sleep(0.2)
    raise AssertionError("training did not start in time")


def test_sigterm_saves_a_checkpoint_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    config = _config(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "experiments.cli", "train", "--env", ENV, "--config"]
    cmd += [str(config), "--out", str(out), "--no-progress", "--no-eval"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_training(out, proc)
        time.sleep(1.0)  # a few rollouts
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, (stdout, stderr)
    assert "Traceback" not in stderr
    assert "interrupted at" in stderr and "continue with --resume" in stderr
    assert "stopped (SIGTERM)" in stderr
    saved = checkpoints(out)
    assert len(saved) == 1 and saved[0][0] > 0
    steps = saved[0][0]
    run = yaml.safe_load((out / "run.yaml").read_text())
    assert run["status"] == "interrupted" and run["num_timesteps"] == steps
    assert not (out / "model.zip").exists()
    result = train_ppo(
        TrainSettings(
            env_id=ENV,
            out_dir=out,
            config_path=config,
            timesteps=steps + 128,
            resume=True,
            progress_bar=False,
            eval=False,
        )
    )
    assert result.num_timesteps == steps + 128
    assert (out / "model.zip").exists()
