"""Each policy behaves as defined, on a tiny hand-made trace replayed by the real environments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.analytic import Analytic
from agents.base import DEVICE, EDGE, Policy
from agents.baselines import (
    AlwaysDevice,
    AlwaysEdge,
    LatencyGreedy,
    RandomRouter,
    SemanticThreshold,
)
from agents.observation_groups import DropObservationGroups, group_of, keep_indices
from agents.oracle import Oracle
from agents.registry import POLICY_REGISTRY, available_policies, make_policy
from cost_models.errors import EdgeRouteError
from cost_models.router_cost import CostTerms, analytic_score
from envs.traces.schema import COLUMNS, Trace
from experiments.envfactory import make_env
from experiments.evaluate import evaluate, run_policy

SINGLE = "EdgeRoute/SingleTurn-v0"
MULTI = "EdgeRoute/MultiTurn-v0"


def tiny_trace(multi_turn: bool = False) -> Trace:
    """12 hand-made rows (4 per split); for multi-turn, dialogues of 2 turns.

    Test rows: semantic scores 0.1, 0.4, 0.6, 0.9; the large model is right on every test row,
    the small one only on the two low-score rows, so the score predicts the label.
    """
    n = 12
    turns = 2 if multi_turn else 1
    dialogue = [f"tiny/{i // turns:02d}" for i in range(n)]
    split = ["train"] * 4 + ["validation"] * 4 + ["test"] * 4
    p = [0.2, 0.7, 0.3, 0.8, 0.2, 0.7, 0.3, 0.8, 0.1, 0.4, 0.6, 0.9]
    q_small = [1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0]
    q_large = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    frame = pd.DataFrame(
        {
            "id": [f"tiny/{i:02d}" for i in range(n)],
            "benchmark": "tiny",
            "subject": "hand-made",
            "split": split,
            "dialogue_id": dialogue,
            "turn_index": [i % turns for i in range(n)],
            "text": [f"q{i}" for i in range(n)],
            "prompt_tokens": [40, 400, 80, 800, 40, 400, 80, 800, 50, 200, 400, 900],
            "history_tokens": [0 if i % turns == 0 else 300 for i in range(n)],
            "output_tokens_small": [100] * n,
            "output_tokens_large": [150] * n,
            "quality_small": np.asarray(q_small, dtype=float),
            "quality_large": np.asarray(q_large, dtype=float),
            "quality_source": "modelled",
            "tokens_source": "hand-made",
        }
    )[list(COLUMNS)]
    meta = {
        "benchmark": "tiny",
        "pair": "tiny",
        "small": "s",
        "large": "l",
        "quality_source": "modelled",
        "multi_turn": multi_turn,
        "tokenizer": "none",
    }
    emb = np.stack([np.asarray(p), 1 - np.asarray(p), np.arange(n) / n], axis=1).astype(np.float32)
    return Trace(frame=frame, meta=meta, embeddings=emb, semantic_p=np.asarray(p, np.float32))


def tiny_env(multi_turn: bool = False, **extra):
    cfg = {
        "trace": tiny_trace(multi_turn),
        "split": "test",
        "observation": {"embedding": "full"},
        **extra,
    }
    if multi_turn:
        cfg["dialogues_per_episode"] = 2
        return make_env(MULTI, cfg)
    cfg["episode_queries"] = 4
    return make_env(SINGLE, cfg)


BASELINES = [
    AlwaysDevice(),
    AlwaysEdge(),
    RandomRouter(p=0.5, seed=3),
    SemanticThreshold(threshold=0.5),
    LatencyGreedy(),
    Analytic(alpha=0.1, theta=0.5),
]


def test_registry_lists_every_policy_and_rejects_unknown():
    assert set(available_policies()) >= {
        "always_device",
        "always_edge",
        "random",
        "semantic_threshold",
        "latency_greedy",
        "analytic",
        "oracle",
        "ppo",
    }
    assert isinstance(make_policy("analytic", alpha=0.2, theta=0.1), Analytic)
    with pytest.raises(EdgeRouteError, match="unknown policy"):
        make_policy("nope")
    with pytest.raises(EdgeRouteError, match="unknown argument"):
        make_policy("random", q=0.3)
    with pytest.raises(EdgeRouteError):
        RandomRouter(p=1.5)
    with pytest.raises(EdgeRouteError):
        Analytic(alpha=-1.0)
    assert all(issubclass(c, Policy) for c in POLICY_REGISTRY.values())
    # One explicit mapping: each key is its class's name (the label in tables).
    assert {name: cls.name for name, cls in POLICY_REGISTRY.items()} == {
        name: name for name in POLICY_REGISTRY
    }
    with pytest.raises(TypeError):
        POLICY_REGISTRY["mine"] = AlwaysEdge  # type: ignore[index]


@pytest.mark.parametrize("multi_turn", [False, True])
def test_always_edge_and_always_device_rates(multi_turn):
    env = tiny_env(multi_turn)
    edge = evaluate(env, AlwaysEdge(), [0, 1]).metrics
    device = evaluate(env, AlwaysDevice(), [0, 1]).metrics
    assert edge["edge_rate"] == 1.0
    assert device["edge_rate"] == 0.0
    assert edge["quality"] == 1.0  # the large model is right on every test row
    assert device["quality"] == 0.5  # the small model on two of four


@pytest.mark.parametrize("multi_turn", [False, True])
def test_oracle_never_worse_than_any_policy_on_reward(multi_turn):
    env = tiny_env(multi_turn)
    oracle_reward = evaluate(env, Oracle(), [0, 1, 2]).metrics["reward_mean"]
    for policy in BASELINES:
        assert oracle_reward >= evaluate(env, policy, [0, 1, 2]).metrics["reward_mean"] - 1e-12
    # And per decision: on every state any policy meets, the Oracle's action is the best.
    for policy in BASELINES:
        obs, info = env.reset(seed=5)
        done = False
        while not done:
            best = max(info["hindsight"]["reward"])
            assert info["hindsight"]["reward"][Oracle().act(obs, info)] == best
            obs, reward, term, trunc, info = env.step(policy.act(obs, info))
            assert reward <= best + 1e-12
            done = term or trunc


def test_semantic_threshold_follows_the_score():
    env = tiny_env()
    for threshold, expected_edge in ((0.05, 1.0), (0.5, 0.5), (0.95, 0.0)):
        policy = SemanticThreshold(threshold=threshold)
        obs, info = env.reset(seed=0)
        for _ in range(4):
            action = policy.act(obs, info)
            assert action == (EDGE if info["semantic_p"] > threshold else DEVICE)
            obs, _, term, _, info = env.step(action)
        assert evaluate(env, policy, [0]).metrics["edge_rate"] == expected_edge


@pytest.mark.parametrize("multi_turn", [False, True])
def test_latency_greedy_and_analytic_follow_the_estimate(multi_turn):
    env = tiny_env(multi_turn)
    greedy = LatencyGreedy()
    for terms in (CostTerms(), CostTerms(semantic=False), CostTerms(switching=False)):
        analytic = Analytic(
            alpha=0.2, theta=0.4, semantic=terms.semantic, switching=terms.switching
        )
        obs, info = env.reset(seed=1)
        done = False
        while not done:
            est = info["estimate"]
            t_dev, t_edge = est["device"]["total_s"], est["edge"]["total_s"]
            assert greedy.act(obs, info) == (EDGE if t_edge < t_dev else DEVICE)
            keys = terms.enabled_keys()
            p = info["semantic_p"] if terms.semantic else 0.5
            s = p - 0.2 * (sum(est["edge"][k] for k in keys) - sum(est["device"][k] for k in keys))
            assert analytic.score(info) == pytest.approx(s)
            assert analytic.score(info) == pytest.approx(
                analytic_score(info["semantic_p"], est["device"], est["edge"], 0.2, terms)
            )
            assert analytic.act(obs, info) == (EDGE if s > 0.4 else DEVICE)
            obs, _, term, trunc, info = env.step(analytic.act(obs, info))
            done = term or trunc


def test_analytic_single_form_drops_switching_and_knob_sweeps_theta():
    single = Analytic(alpha=1.0, theta=0.0, form="single")
    assert not single.terms.switching
    info = {
        "semantic_p": 0.5,
        "estimate": {
            "device": {
                "communication_s": 0.0,
                "computation_s": 1.0,
                "switching_s": 5.0,
                "total_s": 6.0,
            },
            "edge": {
                "communication_s": 0.5,
                "computation_s": 0.5,
                "switching_s": 0.0,
                "total_s": 1.0,
            },
        },
    }
    assert single.score(info) == pytest.approx(0.5 - (1.0 - 1.0))
    assert Analytic(alpha=1.0, theta=0.0).score(info) == pytest.approx(0.5 - (1.0 - 6.0))
    swept = single.with_knob(0.7)
    assert isinstance(swept, Analytic) and swept.theta == 0.7 and not swept.terms.switching
    with pytest.raises(EdgeRouteError):
        AlwaysEdge().with_knob(0.3)


def test_random_router_is_seeded_and_respects_p():
    env = tiny_env(episode_queries=400)
    a = run_policy(env, RandomRouter(p=0.3, seed=7), seed=0)
    b = run_policy(env, RandomRouter(p=0.3, seed=7), seed=0)
    assert a.edge == b.edge
    assert 0.2 < np.mean(a.edge) < 0.4
    assert np.mean(run_policy(env, RandomRouter(p=0.0), seed=0).edge) == 0.0
    assert np.mean(run_policy(env, RandomRouter(p=1.0), seed=0).edge) == 1.0


def test_common_random_numbers_same_queries_for_every_policy():
    env = tiny_env(multi_turn=True)
    logs = [run_policy(env, pol, seed=4) for pol in (AlwaysDevice(), AlwaysEdge(), Oracle())]
    assert logs[0].dialogue_id == logs[1].dialogue_id == logs[2].dialogue_id


def test_observation_groups_cover_the_env_slots_and_drop_them():
    env = tiny_env()
    names = list(env.unwrapped.observation_names)
    assert all(group_of(n) is not None for n in names), [n for n in names if group_of(n) is None]
    keep = keep_indices(names, ["channel", "kv"])
    kept = [names[i] for i in keep]
    assert "semantic_p" in kept and "uplink_snr_db/10" not in kept
    assert "last_model_edge" not in kept and "embedding_0" in kept
    wrapped = DropObservationGroups(env, ["embedding"])
    obs, _ = wrapped.reset(seed=0)
    assert obs.shape == wrapped.observation_space.shape == (len(names) - 3,)
    assert wrapped.observation_space.contains(obs)
    with pytest.raises(EdgeRouteError, match="unknown observation group"):
        keep_indices(names, ["nope"])
