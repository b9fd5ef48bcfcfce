"""PPO given a fair shot (issue 14): the router's estimates and the reward's prices as
observation slots, trade-off conditioning, RecurrentPPO, learning curves, and mutation tests
that a trained PPO beats random and loses when its actions are inverted."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

from agents.observation_groups import DropObservationGroups, group_of
from agents.ppo import PPOPolicy
from agents.registry import make_policy
from cost_models.errors import EdgeRouteError
from experiments.config import load_ppo_config
from experiments.envfactory import make_env
from experiments.evaluate import evaluate
from experiments.learning_curves import plot_learning_curves, read_curves
from experiments.train import TrainSettings, train_ppo

SINGLE, MULTI = "EdgeRoute/SingleTurn-v0", "EdgeRoute/MultiTurn-v0"
SYN = {"benchmark": "synthetic", "synthetic_size": 60}


def _slot(env, obs, name):
    return float(obs[env.unwrapped.observation_names.index(name)])


#: A stateful world (issue 10): shared edge, delayed load reports; the slots follow its estimate.
STATEFUL = {"edge_mode": "shared", "edge_users": 600, "load_observation": "reported"}


@pytest.mark.parametrize("env_id", [SINGLE, MULTI])
@pytest.mark.parametrize("world", [{}, STATEFUL], ids=["default", "stateful"])
def test_estimate_slots_are_the_routers_estimate(env_id, world):
    env = make_env(env_id, {**SYN, "split": "test", **world})
    obs, info = env.reset(seed=3)
    for step in range(12):
        t_d = info["estimate"]["device"]["total_s"]
        t_e = info["estimate"]["edge"]["total_s"]
        assert _slot(env, obs, "log1p_estimate_device_s") == pytest.approx(math.log1p(t_d), 1e-5)
        assert _slot(env, obs, "log1p_estimate_edge_s") == pytest.approx(math.log1p(t_e), 1e-5)
        gap = np.clip((t_e - t_d) / 10, -5, 5)
        assert _slot(env, obs, "estimate_gap_s/10") == pytest.approx(gap, abs=1e-5)
        assert _slot(env, obs, "tradeoff_latency_price_per_s") == pytest.approx(0.1)
        assert _slot(env, obs, "tradeoff_edge_call_price") == pytest.approx(0.05)
        obs, _, term, _, info = env.step(step % 2)
        if term:
            break


def test_vector_env_writes_the_same_estimate_slots():
    venv = gym.make_vec(SINGLE, num_envs=8, vectorization_mode="vector_entry_point", config=SYN)
    obs, _ = venv.reset(seed=0)
    names = venv.unwrapped.observation_names if hasattr(venv, "unwrapped") else None
    names = names or venv.observation_names
    i = names.index("log1p_estimate_device_s")
    # Device estimate: prefill + predicted decode of the row, as the scalar env computes it.
    assert np.all(obs[:, i] > 0) and np.all(np.isfinite(obs))
    assert np.allclose(obs[:, names.index("tradeoff_latency_price_per_s")], 0.1)
    with pytest.raises(EdgeRouteError, match="tradeoff_conditioning"):
        gym.make_vec(
            SINGLE, num_envs=2, vectorization_mode="vector_entry_point",
            config={**SYN, "tradeoff_conditioning": {}},
        )  # fmt: skip


@pytest.mark.parametrize("env_id", [SINGLE, MULTI])
def test_tradeoff_conditioning_draws_prices_shows_them_and_rewards_with_them(env_id):
    ranges = {"latency_price_per_s": [0.05, 0.5], "edge_call_price": [-0.2, 0.4]}
    env = make_env(env_id, {**SYN, "tradeoff_conditioning": ranges})
    seen = set()
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        w = _slot(env, obs, "tradeoff_latency_price_per_s")
        c = _slot(env, obs, "tradeoff_edge_call_price")
        assert 0.05 <= w <= 0.5 and -0.2 <= c <= 0.4
        seen.add(round(w, 6))
        obs, reward, _, _, info = env.step(1)
        terms = info["rewards"]
        expected = terms["quality"] - w * terms["latency"] - c * terms["edge_call"]
        assert reward == pytest.approx(expected, abs=1e-5)
        # Same seed, same prices (every draw from the seed).
        again, _ = env.reset(seed=seed)
        assert _slot(env, again, "tradeoff_latency_price_per_s") == pytest.approx(w)
    assert len(seen) == 6


@pytest.mark.parametrize(
    "bad",
    [{"latency_price_per_s": [0.5, 0.1]}, {"edge_call_price": [-3, 0]}, {"gamma": [0, 1]}, 0.3],
)
def test_tradeoff_conditioning_rejects_bad_ranges(bad):
    with pytest.raises(EdgeRouteError, match="tradeoff_conditioning"):
        make_env(SINGLE, {**SYN, "tradeoff_conditioning": bad})


def test_drop_observation_groups_estimate_and_tradeoff():
    env = make_env(SINGLE, SYN)
    full = env.observation_space.shape[0]
    for group, n in (("estimate", 3), ("tradeoff", 2)):
        wrapped = DropObservationGroups(env, [group])
        obs, _ = wrapped.reset(seed=0)
        assert obs.shape == (full - n,) == wrapped.observation_space.shape
        assert not any(group_of(s) == group for s in wrapped.kept_observation_names)
    kept = DropObservationGroups(env, ["estimate"]).kept_observation_names
    assert "estimate_gap_s/10" not in kept and "semantic_p" in kept


def test_shipped_ppo_config_is_a_bandit_on_single_turn_and_keeps_a_horizon_on_multi_turn():
    single, multi = load_ppo_config(None, SINGLE), load_ppo_config(None, MULTI)
    assert single.ppo["gamma"] == 0.0
    assert 0.0 < multi.ppo["gamma"] < 1.0
    # The bandit reading needs switch weight 0 in the env the config trains on.
    assert make_env(SINGLE, single.env_config).unwrapped.config["reward_weights"]["switch"] == 0


# ---------------------------------------------------------------- trained models

TINY = {"n_steps": 64, "batch_size": 64, "n_epochs": 2}


def _config(tmp_path: Path, env_id: str, policy: str = "MlpPolicy", gamma: float = 0.0) -> Path:
    entry = {
        "n_timesteps": 256, "n_envs": 2, "normalize_reward": False, "eval_freq": 128,
        "n_eval_episodes": 1, "checkpoint_freq": 100_000,
        "env_config": {**SYN, "dialogues_per_episode": 4}
        if env_id == MULTI else {**SYN, "episode_queries": 50},
        "ppo": {"policy": policy, "gamma": gamma, "policy_kwargs": {"net_arch": [16]}},
    }  # fmt: skip
    if policy == "MlpLstmPolicy":
        entry["ppo"]["policy_kwargs"]["lstm_hidden_size"] = 8
    path = tmp_path / f"{policy}.yaml"
    path.write_text(yaml.safe_dump({env_id: entry}))
    return path


def test_recurrent_ppo_trains_and_evaluates_through_the_same_path(tmp_path):
    out = tmp_path / "rppo"
    train_ppo(
        TrainSettings(
            MULTI, out, config_path=_config(tmp_path, MULTI, "MlpLstmPolicy", 0.9),
            progress_bar=False, ppo_overrides=dict(TINY),
        )
    )  # fmt: skip
    policy = PPOPolicy(out)
    assert policy.recurrent and policy.label() == "recurrent_ppo"
    env = make_env(MULTI, {**SYN, "split": "test", "dialogues_per_episode": 2})
    a = evaluate(env, policy, [0, 1]).metrics
    b = evaluate(env, PPOPolicy(out), [0, 1]).metrics
    assert a == b  # the LSTM state restarts with every episode: runs repeat exactly
    assert run_yaml(out)["ppo"]["policy"] == "MlpLstmPolicy"
    # Learning curves from the eval callback, as a PNG.
    curves = read_curves(tmp_path)
    assert list(curves) == ["rppo"] and curves["rppo"][0]["timesteps"] > 0
    assert {"mean_reward", "reward_per_step", "latency_mean_s"} <= set(curves["rppo"][0])
    png = plot_learning_curves(tmp_path, tmp_path / "learning.png", "t")
    assert png is not None and png.read_bytes()[:4] == b"\x89PNG"


def run_yaml(out: Path) -> dict:
    return yaml.safe_load((out / "run.yaml").read_text())


def test_lstm_kwargs_need_the_recurrent_policy(tmp_path):
    cfg = _config(tmp_path, SINGLE)
    data = yaml.safe_load(cfg.read_text())
    data[SINGLE]["ppo"]["policy_kwargs"]["lstm_hidden_size"] = 8
    cfg.write_text(yaml.safe_dump(data))
    with pytest.raises(EdgeRouteError, match="need policy MlpLstmPolicy"):
        train_ppo(TrainSettings(SINGLE, tmp_path / "x", config_path=cfg, progress_bar=False))


class Inverted(PPOPolicy):
    """The mutation: the trained model's actions flipped at evaluation."""

    def act(self, obs, info):
        return 1 - super().act(obs, info)


#: A structured signal: quality only, an edge call costs 0.3, so the edge pays off exactly on
#: the hard queries (the synthetic trace's large model gains most there, and the embedding and
#: the semantic score both carry the difficulty).
SIGNAL = {**SYN, "synthetic_size": 400, "reward_weights": {"quality": 1.0, "latency": 0.0,
          "edge_call": -0.3, "switch": 0.0}}  # fmt: skip


def test_mutation_trained_ppo_beats_random_and_inverted_actions_lose(tmp_path):
    cfg = tmp_path / "signal.yaml"
    cfg.write_text(yaml.safe_dump({SINGLE: {
        "n_timesteps": 6000, "n_envs": 2, "eval_freq": 100_000, "checkpoint_freq": 100_000,
        "env_config": {**SIGNAL, "episode_queries": 100},
        "ppo": {"gamma": 0.0, "n_steps": 256, "batch_size": 128, "n_epochs": 5,
                "learning_rate": 3e-3, "policy_kwargs": {"net_arch": [32]}},
    }}))  # fmt: skip
    out = tmp_path / "signal"
    train_ppo(TrainSettings(SINGLE, out, config_path=cfg, progress_bar=False, eval=False))
    env = make_env(SINGLE, {**SIGNAL, "split": "test", "episode_queries": 200})

    def reward(policy):
        return evaluate(env, policy, [0, 1, 2]).metrics["reward_mean"]

    ppo, inverted = reward(PPOPolicy(out)), reward(Inverted(out))
    random = reward(make_policy("random", p=0.5, seed=0))
    print(f"mutation: ppo {ppo:.4f} random {random:.4f} inverted {inverted:.4f}")
    assert ppo > random + 0.02, (ppo, random)
    assert inverted < random - 0.02, (inverted, random)


def test_conditioned_policy_shows_its_prices_to_the_model(tmp_path):
    out = tmp_path / "cond"
    cfg = _config(tmp_path, SINGLE)
    train_ppo(
        TrainSettings(
            SINGLE, out, config_path=cfg, progress_bar=False, ppo_overrides=dict(TINY),
            env_overrides={"tradeoff_conditioning": {}}, eval=False,
        )
    )  # fmt: skip
    env = make_env(SINGLE, {**SYN, "split": "test"})
    pol = make_policy("ppo_conditioned", model_dir=str(out), latency_price_per_s=0.7,
                      edge_call_price=-0.2)  # fmt: skip
    pol.bind(env.unwrapped.observation_names)
    obs, _ = env.reset(seed=0)
    x = pol._prepare(obs)
    names = env.unwrapped.observation_names
    assert x[names.index("tradeoff_latency_price_per_s")] == pytest.approx(0.7)
    assert x[names.index("tradeoff_edge_call_price")] == pytest.approx(-0.2)
    assert obs[names.index("tradeoff_latency_price_per_s")] == pytest.approx(0.1)  # env's own
    assert pol.params()["edge_call_price"] == -0.2


def test_tune_ppo_searches_on_validation_writes_a_usable_config_and_resumes(tmp_path, capsys):
    from experiments.cli import main as cli_main

    out = tmp_path / "tune"
    args = ["tune-ppo", "--benchmark", "synthetic", "--out", str(out), "--n-trials", "2",
            "--timesteps", "512", "--n-evaluations", "2", "--n-eval-episodes", "1",
            "--env-config", "synthetic_size=60", "episode_queries=30"]  # fmt: skip
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "2 trials x 512 steps" in printed  # the budget is stated
    summary = __import__("json").loads((out / "tune.json").read_text())
    assert summary["budget"]["n_trials"] == 2 and len(summary["trials"]) == 2
    assert "never test" in summary["objective"]
    # The best config is a PPO YAML train accepts; gamma stays 0 on the single-turn bandit.
    best = load_ppo_config(out / "best_ppo.yaml", SINGLE)
    assert best.ppo["gamma"] == 0.0
    assert best.ppo["learning_rate"] == summary["best"]["params"]["learning_rate"]
    # An existing search is refused; --resume adds the missing trials only.
    assert cli_main(args) == 2
    assert cli_main([*args[:6], "3", *args[7:], "--resume"]) == 0
    summary = __import__("json").loads((out / "tune.json").read_text())
    assert len(summary["trials"]) == 3
    # Changed settings on resume, and any split override, are refused.
    assert cli_main([*args[:8], "1024", *args[9:], "--resume"]) == 2
    assert cli_main([*args, "split=test", "--overwrite"]) == 2
