"""Property tests (hypothesis) of both environments, and the exogenous world's laws."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401
from cost_models import channel, deployment, edge_load, link
from cost_models.edge_load import LoadChain
from envs.load_path import LoadPath
from envs.world import ChannelModel, ChannelPath

configs = st.fixed_dictionaries(
    {
        "benchmark": st.just("synthetic"),
        "synthetic_size": st.integers(10, 60),
        "split": st.sampled_from(["train", "validation", "test"]),
        "deployment": st.sampled_from(sorted(deployment.SCENARIO_PRESETS)),
        "channel": st.sampled_from([None, *sorted(channel.CHANNEL_PRESETS)]),
        "think_time_mean_s": st.floats(0.01, 3000.0),
        "think_time_cv": st.floats(0.0, 3.0),
        "channel_block_s": st.floats(0.05, 10.0),
        "reward_weights": st.fixed_dictionaries(
            {
                "quality": st.floats(-10, 10),
                "latency": st.floats(-10, 10),
                "edge_call": st.floats(-10, 10),
                "switch": st.floats(-10, 10),
            }
        ),
        "observation": st.fixed_dictionaries(
            {
                "embedding": st.sampled_from(["pca", "full", "none"]),
                "pca_dim": st.integers(1, 32),
            }
        ),
        "common_random_numbers": st.booleans(),
        "device_kv_budget_bytes": st.one_of(st.none(), st.floats(1e3, 1e10)),
    }
)


def _check_rollout(env_id, config, episode_key, episode_len, actions, seed):
    env = gym.make(env_id, config={**config, episode_key: episode_len})
    obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    for a in actions:
        for side in ("device", "edge"):
            assert all(math.isfinite(v) for v in info["estimate"][side].values())
            assert info["estimate"][side]["total_s"] >= 0
        assert all(math.isfinite(x) and x >= 0 for x in info["hindsight"]["latency_s"])
        obs, reward, terminated, truncated, info = env.step(a)
        assert env.observation_space.contains(obs), (obs, env.unwrapped.observation_names)
        assert math.isfinite(reward)
        assert math.isfinite(info["latency_s"]) and info["latency_s"] >= 0
        assert all(math.isfinite(v) and v >= 0 for v in info["latency"].values())
        assert all(math.isfinite(v) for v in info["rewards"].values())
        assert info["recomputed_tokens"] >= 0 and info["uplink_bytes"] >= 0
        if terminated or truncated:
            obs, info = env.reset()
            assert env.observation_space.contains(obs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs,
    episode_len=st.integers(1, 30),
    actions=st.lists(st.integers(0, 1), min_size=1, max_size=60),
    seed=st.integers(0, 2**31),
)
def test_single_turn_properties(config, episode_len, actions, seed):
    _check_rollout("EdgeRoute/SingleTurn-v0", config, "episode_queries", episode_len, actions, seed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs,
    episode_len=st.integers(1, 5),
    actions=st.lists(st.integers(0, 1), min_size=1, max_size=60),
    seed=st.integers(0, 2**31),
)
def test_multi_turn_properties(config, episode_len, actions, seed):
    _check_rollout(
        "EdgeRoute/MultiTurn-v0", config, "dialogues_per_episode", episode_len, actions, seed
    )


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(sorted(channel.CHANNEL_PRESETS)),
    block_s=st.floats(0.01, 20.0),
    seed=st.integers(0, 2**31),
)
def test_channel_path_is_the_channel_process_on_a_grid(name, block_s, seed):
    """Same generator -> the block path equals ChannelProcess stepped by block_s."""
    path = ChannelPath(ChannelModel(name, block_s), np.random.default_rng(seed))
    proc = channel.ChannelProcess(name, np.random.default_rng(seed))
    states = [proc.state] + [proc.advance(block_s) for _ in range(1500)]
    for j, s in enumerate(states):
        ul, dl = path.snr_db((j + 0.5) * block_s)
        assert math.isclose(ul, s.uplink_snr_db, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(dl, s.downlink_snr_db, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(path.model.rate_bps(ul), s.uplink_bps, rel_tol=1e-9)
        assert math.isclose(path.model.rate_bps(dl), s.downlink_bps, rel_tol=1e-9)


def test_load_path_has_the_law_of_the_edge_load_chain():
    """Holding-time sampling vs stepping EdgeLoadProcess once per second: same occupancy
    and switching rate (200,000 s each; the tolerances are ~5 standard errors)."""
    chain = LoadChain()
    path = LoadPath(chain, np.random.default_rng(0))
    grid = np.arange(200_000) + 0.5
    a = np.array([path.utilisation(t) for t in grid])
    proc = edge_load.EdgeLoadProcess(rng=np.random.default_rng(1))
    b = np.array([proc.advance(1.0) for _ in grid])
    for level in chain.levels:
        assert abs((a == level).mean() - (b == level).mean()) < 0.03
    assert abs((np.diff(a) != 0).mean() - (np.diff(b) != 0).mean()) < 0.003


def test_without_common_random_numbers_retention_depends_on_the_policy():
    """CRN off: retention uniforms are drawn lazily, so they shift with the actions; CRN on:
    the world (channel, load, think times, query order) is identical either way."""

    def uniforms(crn, policy):
        env = gym.make(
            "EdgeRoute/MultiTurn-v0",
            config={
                "benchmark": "synthetic",
                "dialogues_per_episode": 10,
                "common_random_numbers": crn,
            },
        )
        env.reset(seed=1)
        u = env.unwrapped
        while True:
            *_, terminated, _, _ = env.step(policy())
            if terminated:
                break
        return u._lazy_rng.random(), u._think

    on_a, on_b = uniforms(True, lambda: 1), uniforms(True, lambda: 0)
    off_a, off_b = uniforms(False, lambda: 1), uniforms(False, lambda: 0)
    assert on_a == on_b  # the lazy stream is untouched under CRN
    assert off_a != off_b  # edge-always drew retention uniforms, device-always none
    assert on_a[1] == off_a[1]  # think times are fixed at reset either way


def test_synthetic_trace_structure_and_determinism():
    import pytest

    from cost_models.errors import EdgeRouteError
    from envs.traces.schema import COLUMNS
    from envs.traces.synthetic import make_synthetic_trace

    t = make_synthetic_trace(500, 3, seed=7, dim=8)
    f = t.frame
    assert list(f.columns) == list(COLUMNS) and len(t) == 1500
    assert t.embeddings.shape == (1500, 8) and t.semantic_p.shape == (1500,)
    assert t.meta["multi_turn"] and t.meta["quality_source"] == "modelled"
    # splits are by dialogue, and every split is used
    assert (f.groupby("dialogue_id")["split"].nunique() == 1).all()
    assert set(f["split"]) == {"train", "validation", "test"}
    # history = earlier user turns + reference (large) answers of the same dialogue
    d0 = f[f["dialogue_id"] == f["dialogue_id"].iloc[0]]
    per_turn = (d0["prompt_tokens"] + d0["output_tokens_large"]).to_numpy()
    assert d0["history_tokens"].tolist() == [0, per_turn[0], per_turn[0] + per_turn[1]]
    # structure: the large model is better on average; the score ranks the label
    assert f["quality_large"].mean() > f["quality_small"].mean() + 0.1
    labels = t.labels.astype(bool)
    p = t.semantic_p
    auc = (p[labels][:, None] > p[~labels][None, :]).mean()
    assert auc > 0.6
    # deterministic in the seed
    again = make_synthetic_trace(500, 3, seed=7, dim=8)
    assert again.frame.equals(f) and np.array_equal(again.embeddings, t.embeddings)
    assert not make_synthetic_trace(500, 3, seed=8, dim=8).frame.equals(f)
    with pytest.raises(EdgeRouteError, match="n_dialogues"):
        make_synthetic_trace(2, 1, seed=0)


def test_float_fast_paths_equal_the_array_laws():
    """The float fast paths the multi-turn step uses equal the vectorised cost_models laws."""
    from cost_models import kv_cache

    rng = np.random.default_rng(0)
    for _ in range(200):
        bits, rate = float(rng.uniform(0, 1e6)), float(rng.choice([0.0, rng.uniform(1, 1e8)]))
        acc, pen = float(rng.uniform(0, 0.1)), float(rng.uniform(0, 5))
        assert math.isclose(
            link.transmit_time_float_s(bits, rate, acc, pen),
            float(link.transmit_time_s(np.array([bits]), np.array([rate]), acc, pen)[0]),
            rel_tol=1e-12,
        )
        idle, util = float(rng.uniform(0, 2000)), float(rng.uniform(0.0, 0.95))
        assert math.isclose(
            kv_cache.edge_retention_probability_float(idle, util),
            float(kv_cache.edge_retention_probability(np.array([idle]), np.array([util]))[0]),
            rel_tol=1e-12,
        )


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), t_max=st.floats(1.0, 20_000.0))
def test_vectorised_load_path_is_the_scalar_one(seed, t_max):
    """The vectorised extension (single-turn reset) and the jump-by-jump one (multi-turn
    look-ups) consume the same uniforms: same levels at every time."""
    chain = LoadChain()
    u = np.random.default_rng(seed).random(41).tolist()
    times = np.sort(np.random.default_rng(seed + 1).uniform(0.0, t_max, 300))
    a = LoadPath(chain, seed, list(u)).levels_at(times)
    scalar = LoadPath(chain, seed, list(u))
    b = [scalar.level(float(t)) for t in times]
    assert a.tolist() == b


def test_channel_path_vectorised_and_scalar_look_ups_agree():
    first = np.random.default_rng(7).standard_normal((32, 5))
    path = ChannelPath(ChannelModel("urban", 2.0), 7, first)
    times = np.random.default_rng(8).uniform(0.0, 5000.0, 200)  # far beyond the first 32 blocks
    ul, dl = path.snr_db_at(times)
    for t, x, y in zip(times, ul, dl, strict=True):
        assert np.allclose(path.snr_db(float(t)), (x, y), rtol=1e-12, atol=1e-12)


def test_observation_encoder_scalar_and_vector_paths_agree():
    """The multi-turn (float) writer and the vectorised writers of the one encoder give the
    same observation, including clipped SNRs and saturated rates."""
    from envs.observation import ObservationLayout

    layout = ObservationLayout(3)
    rng = np.random.default_rng(0)
    n = 400
    ul, dl = rng.uniform(-40.0, 90.0, n), rng.uniform(-40.0, 90.0, n)
    ul_bps = np.where(rng.random(n) < 0.1, 0.0, 10.0 ** rng.uniform(3, 11, n))
    dl_bps = 10.0 ** rng.uniform(3, 11, n)
    util = rng.choice([0.1, 0.35, 0.65, 0.9], n)
    last = rng.integers(-1, 2, n)
    vec = np.zeros((n, len(layout.names)), dtype=np.float32)
    layout.write_link(vec, ul, dl, ul_bps, dl_bps, util)
    layout.write_last_model(vec, last)
    for i in range(n):
        row = np.zeros(len(layout.names), dtype=np.float32)
        layout.write_state(row, 0, ul[i], dl[i], ul_bps[i], dl_bps[i], util[i], 0.0, 0, 0,
                           int(last[i]))  # fmt: skip
        np.testing.assert_allclose(row, vec[i], rtol=1e-6, atol=0)
    assert np.all(vec >= layout.low) and np.all(vec <= layout.high)
