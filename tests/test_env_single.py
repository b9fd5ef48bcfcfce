"""EdgeRoute/SingleTurn-v0: API conformance, info contract, consistency with cost_models."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from cost_models import router_cost
from cost_models.errors import EdgeRouteError

SYN = {"benchmark": "synthetic", "synthetic_size": 120, "episode_queries": 20}

PENDING_KEYS = {"semantic_p", "estimate", "estimate_load_blind", "hindsight"}
SERVED_KEYS = {
    "rewards", "latency", "latency_s", "quality", "model", "switched", "recomputed_tokens",
    "uplink_tokens", "uplink_bytes", "benchmark", "dialogue_id", "turn_index", "time_s",
    "energy_j",
}  # fmt: skip


def make(**overrides):
    return gym.make("EdgeRoute/SingleTurn-v0", config={**SYN, **overrides})


def test_episode_terminates_after_configured_queries_and_reset_options_config():
    env = make(episode_queries=7)
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        *_, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            break
    assert (steps, terminated, truncated) == (7, True, False)
    env.reset(seed=0, options={"config": {"episode_queries": 3}})
    assert [env.step(1)[2] for _ in range(3)] == [False, False, True]
    assert env.unwrapped.config["episode_queries"] == 3  # persists


def test_estimate_and_realised_latency_match_cost_models():
    env = make(episode_queries=40)
    obs, info = env.reset(seed=4)
    u = env.unwrapped
    sc = u.scenario
    cm = u.channel_model
    pred_d, pred_e = u.data.predicted_output_tokens
    for _ in range(40):
        # Open-loop arrivals: the pending query k arrived at _arrive[k], whatever the actions.
        r, t = u._rows[u._k], float(u._arrive[u._k])
        ul_db, dl_db = u.channel.snr_db(t)
        ul_bps, dl_bps = cm.rate_bps(ul_db), cm.rate_bps(dl_db)
        util = u.load.utilisation(t)
        L = u.data.prompt_tokens[r]
        est = info["estimate"]
        # The device's estimate uses the predicted (train-mean) length, never the realised one.
        ref_d = router_cost.estimate_terms(sc, L, pred_d, ul_bps, dl_bps, util)["device"]
        ref_e = router_cost.estimate_terms(sc, L, pred_e, ul_bps, dl_bps, util)["edge"]
        for key in ("communication_s", "computation_s", "switching_s", "total_s"):
            assert est["device"][key] == pytest.approx(ref_d[key], rel=1e-9, abs=1e-12)
            assert est["edge"][key] == pytest.approx(ref_e[key], rel=1e-9, abs=1e-12)
        # Realised edge latency: arrival-time uplink/load, downlink at the send time.
        lat = router_cost.edge_latency(
            sc, L, u.data.output_tokens[1][r], ul_bps, dl_bps, util
        )
        obs, _, terminated, _, info_served = env.step(1)
        got = info_served["latency"]
        for key in ("uplink_s", "queue_s", "prefill_s", "decode_s"):
            assert got[key] == pytest.approx(lat[key], rel=1e-9)
        t_send = t + got["uplink_s"] + got["queue_s"] + got["prefill_s"] + got["decode_s"]
        down = router_cost.edge_latency(
            sc, L, u.data.output_tokens[1][r], ul_bps,
            cm.rate_bps(u.channel.snr_db(t_send)[1]), util,
        )["downlink_s"]  # fmt: skip
        assert got["downlink_s"] == pytest.approx(down, rel=1e-9)
        info = info_served
        if terminated:
            break


# ---------------------------------------------------------------------------- real traces

_REAL: dict[str, object] = {}


def real_trace(benchmark: str):
    """The prepared trace of ``benchmark`` from the cache; builds just that benchmark (one
    time, from the raw mirror) if the cache lacks it."""
    if benchmark not in _REAL:
        from envs.traces import load_trace

        try:
            _REAL[benchmark] = load_trace(benchmark)
        except EdgeRouteError:
            from envs.traces.prepare import prepare

            prepare([benchmark], progress=False)
            _REAL[benchmark] = load_trace(benchmark)
    return _REAL[benchmark]


@pytest.mark.parametrize("benchmark", ["mmlu", "gsm8k"])
def test_runs_on_real_single_turn_traces(benchmark):
    trace = real_trace(benchmark)
    env = gym.make("EdgeRoute/SingleTurn-v0", config={"trace": trace, "split": "test"})
    gym_check_env(env.unwrapped, skip_render_check=True)
    u = env.unwrapped
    # default observation: the 384-d sentence embedding reduced to 16 PCA components
    assert trace.embeddings.shape[1] > 16
    assert sum(n.startswith("embedding_") for n in u.observation_names) == 16
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    served = {0: [], 1: []}
    seen = set()
    for _ in range(300):
        a = int(rng.integers(2))
        obs, r, terminated, truncated, info = env.step(a)
        seen.add(info["dialogue_id"])
        assert env.observation_space.contains(obs)
        assert math.isfinite(r) and info["latency_s"] > 0
        assert info["benchmark"] == benchmark and 0.0 <= info["quality"] <= 1.0
        served[a].append(info["quality"])
        if terminated or truncated:
            obs, info = env.reset()
    # the large model of the label pair is better on average on these benchmarks
    assert np.mean(served[1]) > np.mean(served[0])
    # test-split rows only
    split = trace.frame["split"].to_numpy()
    assert seen <= set(trace.frame["dialogue_id"].to_numpy()[split == "test"])
    assert len(seen) > 100


# ---------------------------------------------------------------------------- batched env


def make_vec(num_envs=256, **overrides):
    return gym.make_vec(
        "EdgeRoute/SingleTurn-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        config={**SYN, **overrides},
    )


def test_vector_env_spaces_seeding_and_autoreset():
    from envs.vector import SingleTurnVectorEnv

    env = make_vec(64, episode_queries=5)
    assert isinstance(env, SingleTurnVectorEnv)
    obs, info = env.reset(seed=3)
    assert obs.shape == (64, *env.single_observation_space.shape)
    assert env.observation_space.contains(obs)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(12, 64))
    trajectory = []
    for k, a in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(a)
        assert env.observation_space.contains(obs)
        assert np.all(np.isfinite(reward)) and np.all(info["latency_s"] > 0)
        assert not truncated.any()
        # every user ends its 5-query episode on steps 5 and 10, and restarts in the same step
        assert bool(terminated.all()) == ((k + 1) % 5 == 0)
        assert terminated.all() or not terminated.any()
        if terminated.any():
            assert info["final_obs"].shape == obs.shape and info["_final_obs"].all()
        trajectory.append(np.append(obs.ravel(), reward))
    # same seed, same actions -> same trajectory; another seed -> another one
    def replay(seed):
        e = make_vec(64, episode_queries=5)
        e.reset(seed=seed)
        out = []
        for a in actions[:3]:
            obs, reward, *_ = e.step(a)
            out.append(np.append(obs.ravel(), reward))
        return out

    assert all(np.array_equal(x, y) for x, y in zip(replay(3), replay(3), strict=True))
    assert not np.array_equal(replay(3)[0], replay(4)[0])


def test_vector_env_has_the_scalar_env_latency_law():
    """Same processes, sampled at the visited times: mean latency and quality per action
    agree with the scalar environment (5% on latency, 0.03 on quality)."""
    for action in (0, 1):
        venv = make_vec(512)
        venv.reset(seed=0)
        lat, qual = [], []
        for _ in range(60):
            _, _, _, _, info = venv.step(np.full(512, action))
            lat.append(info["latency_s"])
            qual.append(info["quality"])
        env = make(episode_queries=100)
        env.reset(seed=0)
        s_lat, s_qual = [], []
        for _ in range(4000):
            *_, terminated, _, info = env.step(action)
            s_lat.append(info["latency_s"])
            s_qual.append(info["quality"])
            if terminated:
                env.reset()
        assert np.mean(lat) == pytest.approx(np.mean(s_lat), rel=0.05)
        assert abs(np.mean(qual) - np.mean(s_qual)) < 0.03


def test_stable_baselines3_make_vec_env_builds_and_steps():
    """SB3's make_vec_env passes render_mode='rgb_array'; the env must accept it."""
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("EdgeRoute/SingleTurn-v0", n_envs=2, env_kwargs={"config": SYN}, seed=0)
    obs = venv.reset()
    assert obs.shape == (2, *venv.observation_space.shape)
    ends = []
    for k in range(25):  # crosses an episode end (20 queries): SB3 auto-resets
        obs, reward, done, infos = venv.step(np.array([0, 1]))
        assert np.all(np.isfinite(reward))
        if done.any():
            ends.append(k)
            assert all("terminal_observation" in i for i in infos)
    assert ends == [19]
    venv.close()


def test_open_loop_arrivals_are_the_same_for_every_policy():
    """Single-turn arrivals do not wait for answers: query k arrives at the same time (and so
    sees the same channel and load) whatever was done before."""

    def arrivals(policy):
        env = make(episode_queries=30)
        env.reset(seed=17)
        out = []
        for k in range(30):
            *_, info = env.step(policy(k))
            out.append((info["dialogue_id"], info["time_s"] - info["latency_s"]))
        return out

    a, b, c = arrivals(lambda k: 0), arrivals(lambda k: 1), arrivals(lambda k: k % 2)
    for x, y in ((a, b), (a, c)):
        assert [i for i, _ in x] == [i for i, _ in y]
        assert np.allclose([t for _, t in x], [t for _, t in y], rtol=1e-12, atol=1e-9)
    gaps = np.diff([t for _, t in a])
    assert np.all(gaps > 0) and abs(np.mean(gaps) / 30.0 - 1.0) < 0.6  # mean gap 30 s



@pytest.mark.parametrize(
    "bad",
    [np.full(8, 0.5), np.full(7, 1), np.full(8, 2), np.full(8, -1), np.zeros((1, 8), int), None],
)
def test_vector_env_rejects_bad_actions_naming_them(bad):
    env = make_vec(8)
    env.reset(seed=0)
    with pytest.raises(EdgeRouteError) as err:
        env.step(bad)
    assert "0 (device) or 1 (edge)" in str(err.value) and repr(bad) in str(err.value)
