"""EdgeRoute/SingleTurn-v0: API conformance, info contract, consistency with cost_models."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from cost_models import router_cost
from cost_models.errors import EdgeRouteError
from envs.single_turn import SingleTurnEnv

SYN = {"benchmark": "synthetic", "synthetic_size": 120, "episode_queries": 20}

PENDING_KEYS = {"semantic_p", "estimate", "estimate_load_blind", "hindsight"}
SERVED_KEYS = {
    "rewards", "latency", "latency_s", "quality", "model", "switched", "recomputed_tokens",
    "uplink_tokens", "uplink_bytes", "benchmark", "dialogue_id", "turn_index", "time_s",
    "energy_j",
}  # fmt: skip


def make(**overrides):
    return gym.make("EdgeRoute/SingleTurn-v0", config={**SYN, **overrides})


def test_registration_is_idempotent():
    envs.register_envs()
    envs.register_envs()
    spec = gym.spec("EdgeRoute/SingleTurn-v0")
    assert spec.max_episode_steps == envs.MAX_EPISODE_STEPS
    assert gym.spec("EdgeRoute/MultiTurn-v0").max_episode_steps == envs.MAX_EPISODE_STEPS


def test_gymnasium_and_sb3_check_env():
    env = make()
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(SingleTurnEnv(config=SYN), warn=False)


def test_spaces_names_and_info_contract():
    env = make()
    obs, info = env.reset(seed=0)
    u = env.unwrapped
    assert env.action_space == gym.spaces.Discrete(2)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert np.all(np.isfinite(env.observation_space.low))
    assert np.all(np.isfinite(env.observation_space.high))
    assert len(u.observation_names) == obs.shape[0]
    assert len(set(u.observation_names)) == obs.shape[0]
    # default PCA to 16 dims on the 16-dim synthetic embeddings
    assert sum(n.startswith("embedding_") for n in u.observation_names) == 16
    assert set(info) == PENDING_KEYS
    assert set(info["estimate"]) == {"device", "edge"}
    for side in ("device", "edge"):
        assert set(info["estimate"][side]) == {
            "communication_s", "computation_s", "switching_s", "total_s",
        }  # fmt: skip
    assert set(info["hindsight"]) == {"quality", "latency_s", "reward"}
    obs, reward, terminated, truncated, info = env.step(1)
    assert set(info) == SERVED_KEYS | PENDING_KEYS
    assert set(info["rewards"]) == {"quality", "latency", "edge_call", "switch", "energy"}
    assert set(info["latency"]) == {
        "uplink_s", "queue_s", "prefill_s", "decode_s", "downlink_s", "total_s",
    }  # fmt: skip
    assert info["model"] == "edge" and info["benchmark"] == "synthetic"
    assert info["latency_s"] == pytest.approx(sum(
        v for k, v in info["latency"].items() if k != "total_s"
    ))  # fmt: skip
    w = u.config["reward_weights"]
    assert reward == pytest.approx(sum(w[k] * v for k, v in info["rewards"].items()))
    obs, reward, terminated, truncated, info = env.step(0)
    assert set(info["latency"]) == {"prefill_s", "decode_s", "total_s"}
    assert info["uplink_bytes"] == 0.0 and info["model"] == "device"


def test_hindsight_equals_what_step_returns_for_each_action():
    env = make(episode_queries=30)
    obs, info = env.reset(seed=11)
    u = env.unwrapped
    rng = np.random.default_rng(0)
    for _ in range(30):
        hind = info["hindsight"]
        for a in (0, 1):
            clone = copy.deepcopy(u)
            _, r, _, _, i = clone.step(a)
            assert r == hind["reward"][a]
            assert i["latency_s"] == hind["latency_s"][a]
            assert i["quality"] == hind["quality"][a]
        obs, r, terminated, _, info = env.step(int(rng.integers(2)))
        if terminated:
            break
    assert terminated


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


def test_same_seed_same_rollout_different_seed_different():
    def rollout(seed):
        env = make()
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(99)
        out = [obs]
        for _ in range(20):
            obs, r, *_ = env.step(int(rng.integers(2)))
            out.append(np.append(obs, r))
        return np.concatenate(out)

    a, b, c = rollout(5), rollout(5), rollout(6)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_common_random_numbers_same_world_whatever_the_actions():
    def world(policy):
        env = make(episode_queries=25)
        env.reset(seed=21)
        u = env.unwrapped
        ids, times = [], []
        for k in range(25):
            _, _, _, _, info = env.step(policy(k))
            ids.append(info["dialogue_id"])
        grid = np.arange(0.0, 600.0, 0.7)
        ch = np.array([u.channel.snr_db(t) for t in grid])
        load = np.array([u.load.utilisation(t) for t in grid])
        return ids, np.array(u._think), ch, load, times

    a = world(lambda k: 0)
    b = world(lambda k: 1)
    c = world(lambda k: k % 2)
    for x, y in ((a, b), (a, c)):
        assert x[0] == y[0]  # same query order
        assert np.array_equal(x[1], y[1])  # same think times
        assert np.array_equal(x[2], y[2])  # same channel path
        assert np.array_equal(x[3], y[3])  # same load path


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


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"no_such_key": 1}, "no_such_key"),
        ({"split": "dev"}, "'split'"),
        ({"episode_queries": 0}, "'episode_queries'"),
        ({"episode_queries": 5000}, "max_episode_steps"),
        ({"think_time_mean_s": -1.0}, "'think_time_mean_s'"),
        ({"reward_weights": {"speed": 1.0}}, "speed"),
        ({"reward_weights": {"latency": float("nan")}}, "reward_weights.latency"),
        ({"observation": {"embedding": "tsne"}}, "tsne"),
        ({"channel": "moon"}, "'channel'"),
        ({"deployment": "nope"}, "phone_3b__edge_70b"),
        ({"edge_model": "gpt-5"}, "llama-3.1-70b"),
        ({"common_random_numbers": "yes"}, "common_random_numbers"),
        ({"trace": "mmlu"}, "'trace'"),
    ],
)
def test_invalid_config_is_rejected_with_the_key_and_what_is_allowed(override, fragment):
    with pytest.raises(EdgeRouteError, match=None) as err:
        make(**override)
    assert fragment in str(err.value)


def test_reset_config_that_changes_the_observation_shape_is_rejected():
    env = make()
    env.reset(seed=0)
    with pytest.raises(EdgeRouteError, match="observation"):
        env.reset(options={"config": {"observation": {"pca_dim": 4}}})
    # the env is still usable with its old config
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape


@pytest.mark.parametrize("mode", ["full", "none", "pca"])
def test_observation_modes(mode):
    env = make(observation={"embedding": mode, "pca_dim": 8})
    obs, _ = env.reset(seed=0)
    n_emb = {"full": 16, "none": 0, "pca": 8}[mode]
    assert obs.shape == (n_emb + 16,)
    assert env.observation_space.contains(obs)


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


@pytest.mark.parametrize("bad", [2, -1, 0.5, "edge"])
def test_invalid_actions_are_rejected(bad):
    env = make()
    env.reset(seed=0)
    with pytest.raises((EdgeRouteError, ValueError)):
        env.unwrapped.step(bad)


def test_step_before_reset_and_after_the_end_is_an_error():
    env = SingleTurnEnv(config={**SYN, "episode_queries": 1})
    with pytest.raises(EdgeRouteError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    *_, terminated, _, info = env.step(np.int64(1))
    assert terminated and "hindsight" not in info
    with pytest.raises(EdgeRouteError, match="reset"):
        env.step(0)


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


def test_infos_and_observations_are_fresh_objects_each_step():
    """Storing every step's info and observation is safe: nothing returned is reused."""
    for env_id, cfg in (
        ("EdgeRoute/SingleTurn-v0", SYN),
        ("EdgeRoute/MultiTurn-v0", {"benchmark": "synthetic", "dialogues_per_episode": 2}),
    ):
        env = gym.make(env_id, config=cfg)
        obs, info = env.reset(seed=3)
        kept = [(obs, copy.deepcopy(obs), info, copy.deepcopy(info))]
        for k in range(6):
            obs, _, terminated, _, info = env.step(k % 2)
            kept.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))
            if terminated:
                break
        for obs_k, obs_copy, info_k, info_copy in kept:
            assert np.array_equal(obs_k, obs_copy)
            assert info_k == info_copy
        ids = [id(x) for _, _, i, _ in kept for x in (i, i.get("estimate"), i.get("hindsight"))]
        ids = [x for x in ids if x != id(None)]
        assert len(ids) == len(set(ids))
        assert all(type(v) is float for v in kept[-1][2]["latency"].values())
