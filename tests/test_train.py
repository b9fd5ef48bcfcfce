"""PPO training: reload gives identical actions, same seed same weights, resume continues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from agents.ppo import PPOPolicy
from cost_models.errors import EdgeRouteError
from experiments import callbacks as callbacks_mod
from experiments.cli import main as cli_main
from experiments.config import load_ppo_config
from experiments.envfactory import make_env
from experiments.evaluate import evaluate
from experiments.run_profile import load_run_profile
from experiments.train import TrainSettings, latest_checkpoint, train_ppo

ENV = "EdgeRoute/SingleTurn-v0"
#: Small rollouts so that a few hundred steps make several PPO updates.
TINY_PPO = {"n_steps": 64, "batch_size": 64, "n_epochs": 2}


def tiny_config(tmp_path: Path, normalize_reward: bool = True) -> Path:
    entry = {
        "n_timesteps": 256,
        "n_envs": 2,
        "normalize_reward": normalize_reward,
        "eval_freq": 128,
        "n_eval_episodes": 1,
        "checkpoint_freq": 128,
        "env_config": {"benchmark": "synthetic", "synthetic_size": 60, "episode_queries": 50},
        "ppo": {"policy": "MlpPolicy", "gamma": 0.5, "policy_kwargs": {"net_arch": [16]}},
    }
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump({ENV: entry}))
    return path


def settings(tmp_path: Path, out: str, **kw) -> TrainSettings:
    return TrainSettings(
        env_id=ENV,
        out_dir=tmp_path / out,
        config_path=tiny_config(tmp_path),
        progress_bar=False,
        ppo_overrides=dict(TINY_PPO),
        **kw,
    )


def _obs_batch(n: int = 64) -> np.ndarray:
    env = make_env(ENV, {"benchmark": "synthetic", "synthetic_size": 60, "split": "test"})
    obs, _ = env.reset(seed=0)
    rows = [obs]
    for _ in range(n - 1):
        obs, _, term, _, _ = env.step(0)
        if term:
            obs, _ = env.reset()
        rows.append(obs)
    return np.stack(rows)


def test_trained_model_reloads_with_identical_actions(tmp_path):
    result = train_ppo(settings(tmp_path, "run", seed=3))
    assert result.num_timesteps >= 256
    out = result.out_dir
    for name in ("model.zip", "run.yaml", "vecnormalize.pkl"):
        assert (out / name).exists(), name
    run = yaml.safe_load((out / "run.yaml").read_text())
    assert run["ppo"]["gamma"] == 0.5 and run["env_config_train"]["split"] == "train"
    assert run["env_config_eval"]["split"] == "validation"
    assert any((out / "tb").rglob("events.out.tfevents.*"))
    assert (out / "best" / "best_model.zip").exists()

    obs = _obs_batch()
    in_memory, _ = result.model.predict(obs, deterministic=True)
    policy = PPOPolicy(out)
    policy.bind(
        make_env(ENV, {"benchmark": "synthetic", "synthetic_size": 60}).unwrapped.observation_names
    )
    reloaded = policy.act_batch(obs)
    assert np.array_equal(np.asarray(in_memory), reloaded)
    # Through the evaluation loop, reloading twice gives the same decisions.
    env = make_env(ENV, {"benchmark": "synthetic", "synthetic_size": 60, "split": "test"})
    a = evaluate(env, PPOPolicy(out), [0]).metrics
    b = evaluate(env, PPOPolicy(out), [0]).metrics
    assert a == b


def test_same_seed_same_weights_and_actions(tmp_path):
    r1 = train_ppo(settings(tmp_path, "a", seed=11, eval=False))
    r2 = train_ppo(settings(tmp_path, "b", seed=11, eval=False))
    r3 = train_ppo(settings(tmp_path, "c", seed=12, eval=False))
    p1 = r1.model.policy.state_dict()
    p2 = r2.model.policy.state_dict()
    p3 = r3.model.policy.state_dict()
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert not all(torch.equal(p1[k], p3[k]) for k in p1)
    obs = _obs_batch()
    assert np.array_equal(
        PPOPolicy(r1.out_dir).act_batch(obs), PPOPolicy(r2.out_dir).act_batch(obs)
    )


def test_interrupt_saves_and_resume_continues_step_count(tmp_path, monkeypatch):
    original = callbacks_mod.RoutingLogCallback._on_step

    def interrupt_after_300(self):
        if self.num_timesteps >= 300:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(callbacks_mod.RoutingLogCallback, "_on_step", interrupt_after_300)
    s = settings(tmp_path, "resume", seed=0, timesteps=640, eval=False)
    with pytest.raises(KeyboardInterrupt):
        train_ppo(s)
    ckpt = latest_checkpoint(s.out_dir)
    assert ckpt is not None
    interrupted_steps = ckpt.steps
    assert 300 <= interrupted_steps < 640
    assert not (s.out_dir / "model.zip").exists()

    monkeypatch.setattr(callbacks_mod.RoutingLogCallback, "_on_step", original)
    s.resume = True
    result = train_ppo(s)
    assert result.num_timesteps >= 640
    # The step count continued: only the remaining steps were run after the checkpoint.
    assert result.num_timesteps - interrupted_steps < 640
    run = yaml.safe_load((s.out_dir / "run.yaml").read_text())
    assert run["num_timesteps"] == result.num_timesteps
    # TensorBoard continued in the same run directory.
    assert [p.name for p in (s.out_dir / "tb").iterdir()] == ["ppo_1"]


def test_resume_without_checkpoint_and_bad_config_raise(tmp_path):
    with pytest.raises(EdgeRouteError, match="no checkpoint"):
        train_ppo(settings(tmp_path, "none", resume=True))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({ENV: {"ppo": {"learning_rat": 0.1}}}))
    with pytest.raises(EdgeRouteError, match="learning_rat"):
        load_ppo_config(bad, ENV)
    with pytest.raises(EdgeRouteError, match="no entry"):
        load_ppo_config(bad, "EdgeRoute/MultiTurn-v0")
    assert cli_main(["train", "--env", ENV, "--config", str(bad), "--out", str(tmp_path)]) == 2


def test_shipped_configs_load():
    for env_id in (ENV, "EdgeRoute/MultiTurn-v0"):
        cfg = load_ppo_config(None, env_id)
        assert cfg.ppo["policy"] == "MlpPolicy" and cfg.n_timesteps > 0
    for profile in ("quick", "full"):
        prof = load_run_profile(None, profile)
        keys = {b if isinstance(b, str) else b.key for b in prof.benchmarks}
        assert keys >= {"mmlu", "gsm8k", "mt_bench_101"}
