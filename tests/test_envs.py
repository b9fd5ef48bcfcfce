"""Every EdgeRoute environment against the same contract (stable-baselines3 ``tests/test_envs.py``
style): API conformance, the info contract, hindsight equals step, seeding, common random
numbers, bad configs and bad actions. Behaviour specific to one environment is tested in
``test_env_single.py`` / ``test_env_multi.py``."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from cost_models.errors import EdgeRouteError
from envs.observation import SCALAR_SLOTS
from envs.outcome import LATENCY_PARTS, REWARD_TERMS

#: Per env id: a small synthetic config, and the key that sets the episode length.
CONFIGS: dict[str, tuple[dict, str]] = {
    envs.SINGLE_TURN_ID: (
        {"benchmark": "synthetic", "synthetic_size": 120, "episode_queries": 20},
        "episode_queries",
    ),
    envs.MULTI_TURN_ID: (
        {"benchmark": "synthetic", "synthetic_size": 60, "dialogues_per_episode": 3},
        "dialogues_per_episode",
    ),
}
ENV_IDS = list(envs.ENV_IDS)

PENDING_KEYS = {"semantic_p", "estimate", "estimate_load_blind", "hindsight"}
SERVED_KEYS = {
    "rewards", "latency", "latency_s", "quality", "model", "switched", "recomputed_tokens",
    "uplink_tokens", "uplink_bytes", "benchmark", "dialogue_id", "turn_index", "time_s",
    "energy_j",
}  # fmt: skip


def make(env_id: str, **overrides) -> gym.Env:
    return gym.make(env_id, config={**CONFIGS[env_id][0], **overrides})


def rollout(env: gym.Env, seed: int, action_seed: int = 7, steps: int = 60):
    """(observations, rewards, infos) of random actions until the episode ends."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(action_seed)
    out = [(obs, None, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(2)))
        out.append((obs, reward, info))
        if terminated or truncated:
            break
    return out


def test_registration_is_idempotent():
    envs.register_envs()
    envs.register_envs()
    for env_id in ENV_IDS:
        assert gym.spec(env_id).max_episode_steps == envs.MAX_EPISODE_STEPS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_check_env(env_id):
    env = make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(type(env.unwrapped)(config=CONFIGS[env_id][0]), warn=False)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_and_info_contract(env_id):
    env = make(env_id)
    obs, info = env.reset(seed=0)
    u = env.unwrapped
    assert env.action_space == gym.spaces.Discrete(2)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert np.all(np.isfinite(env.observation_space.low))
    assert np.all(np.isfinite(env.observation_space.high))
    assert len(u.observation_names) == len(set(u.observation_names)) == obs.shape[0]
    assert set(info) == PENDING_KEYS
    for side in ("device", "edge"):
        assert set(info["estimate"][side]) == {
            "communication_s", "computation_s", "switching_s", "total_s",
        }  # fmt: skip
    assert set(info["hindsight"]) == {"quality", "latency_s", "reward"}
    w = u.config["reward_weights"]
    for action in (1, 0, 0, 1):
        obs, reward, terminated, _, info = env.step(action)
        assert set(info) == SERVED_KEYS | (set() if terminated else PENDING_KEYS)
        assert info["model"] == ("device", "edge")[action]
        assert tuple(info["rewards"]) == REWARD_TERMS
        # The reward is exactly the weighted sum of the reported terms, left to right.
        t = info["rewards"]
        assert reward == (
            w["quality"] * t["quality"] + w["latency"] * t["latency"]
            + w["edge_call"] * t["edge_call"] + w["switch"] * t["switch"]
            + w["energy"] * t["energy"]
        )  # fmt: skip
        assert list(info["latency"]) == [*LATENCY_PARTS[action], "total_s"]
        parts = [v for k, v in info["latency"].items() if k != "total_s"]
        assert info["latency_s"] == info["latency"]["total_s"] == pytest.approx(sum(parts))
        assert all(type(v) is float for v in info["latency"].values())
        if action == 0:
            assert info["uplink_tokens"] == 0 and info["uplink_bytes"] == 0.0
        else:
            assert info["uplink_tokens"] > 0 and info["uplink_bytes"] > 0
        if terminated:
            break


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_hindsight_equals_what_step_returns_for_each_action(env_id):
    env = make(env_id)
    obs, info = env.reset(seed=11)
    u = env.unwrapped
    rng = np.random.default_rng(0)
    terminated = False
    while not terminated:
        hind = info["hindsight"]
        for a in (0, 1):
            clone = copy.deepcopy(u)
            _, r, _, _, i = clone.step(a)
            assert r == hind["reward"][a]
            assert i["latency_s"] == hind["latency_s"][a]
            assert i["quality"] == hind["quality"][a]
        obs, _, terminated, _, info = env.step(int(rng.integers(2)))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_rollout_different_seed_different(env_id):
    def flat(seed):
        return np.concatenate(
            [np.append(o, 0.0 if r is None else r) for o, r, _ in rollout(make(env_id), seed)]
        )

    a, b, c = flat(5), flat(5), flat(6)
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_common_random_numbers_same_world_whatever_the_actions(env_id):
    def world(policy):
        env = make(env_id)
        env.reset(seed=21)
        u = env.unwrapped
        ids = []
        terminated = False
        while not terminated:
            *_, terminated, _, info = env.step(policy(len(ids)))
            ids.append(info["dialogue_id"])
        grid = np.arange(0.0, 600.0, 0.7)
        return (
            ids,
            np.asarray(u._think).tolist(),
            [u.channel.snr_db(t) for t in grid],
            [u.load.utilisation(t) for t in grid],
        )

    a, b, c = world(lambda k: 0), world(lambda k: 1), world(lambda k: k % 2)
    assert a == b == c


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"no_such_key": 1}, "no_such_key"),
        ({"split": "dev"}, "'split'"),
        ({"think_time_mean_s": -1.0}, "'think_time_mean_s'"),
        ({"think_time_mean_s": np.float64("nan")}, "'think_time_mean_s'"),
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
def test_invalid_config_is_rejected_with_the_key_and_what_is_allowed(env_id, override, fragment):
    with pytest.raises(EdgeRouteError) as err:
        make(env_id, **override)
    assert fragment in str(err.value)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("length", [0, -2, 2.5, 5000])
def test_invalid_episode_length_is_rejected(env_id, length):
    key = CONFIGS[env_id][1]
    with pytest.raises(EdgeRouteError) as err:
        make(env_id, **{key: length})
    assert key in str(err.value) or "max_episode_steps" in str(err.value)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_numpy_scalars_in_the_config_act_as_python_ones(env_id):
    """Configs built from numpy results are accepted, stored as plain Python values, and give
    exactly the rollout of the equivalent plain config."""
    key = CONFIGS[env_id][1]
    plain = {
        "think_time_mean_s": 12.5, "think_time_cv": 0.5, "common_random_numbers": True,
        "reward_weights": {"latency": -0.2}, "observation": {"pca_dim": 8}, key: 2,
    }  # fmt: skip
    numpy_cfg = {
        "think_time_mean_s": np.float64(12.5), "think_time_cv": np.float32(0.5),
        "common_random_numbers": np.bool_(True), "reward_weights": {"latency": np.float64(-0.2)},
        "observation": {"pca_dim": np.int64(8)}, key: np.int64(2),
    }  # fmt: skip
    a, b = make(env_id, **plain), make(env_id, **numpy_cfg)
    cfg = b.unwrapped.config
    assert type(cfg[key]) is int and type(cfg["common_random_numbers"]) is bool
    assert type(cfg["observation"]["pca_dim"]) is int
    assert type(cfg["reward_weights"]["latency"]) is float
    ra, rb = rollout(a, 3), rollout(b, 3)
    assert len(ra) == len(rb)
    for (oa, wa, _), (ob, wb, _) in zip(ra, rb, strict=True):
        assert np.array_equal(oa, ob) and wa == wb


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(
    "bad", [None, 2, -1, 0.5, 1.0, "edge", np.array([1]), np.array([0, 1]), np.float64(0.0)]
)
def test_bad_action_is_a_clean_error_naming_it(env_id, bad):
    env = make(env_id)
    env.reset(seed=0)
    with pytest.raises(EdgeRouteError) as err:
        env.unwrapped.step(bad)
    message = str(err.value)
    assert repr(bad) in message and "0 (device) or 1 (edge)" in message
    # the env is untouched and still steps
    env.unwrapped.step(0)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("good", [np.int64(1), np.int32(0), np.array(1), True, np.uint8(0)])
def test_integer_actions_of_any_type_are_accepted(env_id, good):
    env = make(env_id)
    env.reset(seed=0)
    *_, info = env.unwrapped.step(good)
    assert info["model"] == ("device", "edge")[int(good)]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_before_reset_and_after_the_end_is_an_error(env_id):
    key = CONFIGS[env_id][1]
    env = type(make(env_id).unwrapped)(config={**CONFIGS[env_id][0], key: 1})
    with pytest.raises(EdgeRouteError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    terminated = False
    while not terminated:
        *_, terminated, _, info = env.step(np.int64(1))
    assert "hindsight" not in info
    with pytest.raises(EdgeRouteError, match="reset"):
        env.step(0)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_infos_and_observations_are_fresh_objects_each_step(env_id):
    """Storing every step's info and observation is safe: nothing returned is reused."""
    env = make(env_id)
    obs, info = env.reset(seed=3)
    kept = [(obs, copy.deepcopy(obs), info, copy.deepcopy(info))]
    for k in range(8):
        obs, _, terminated, _, info = env.step(k % 2)
        kept.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))
        if terminated:
            break
    for obs_k, obs_copy, info_k, info_copy in kept:
        assert np.array_equal(obs_k, obs_copy)
        assert info_k == info_copy
    ids = [
        id(x)
        for _, _, i, _ in kept
        for x in (i, i.get("estimate"), i.get("hindsight"), i.get("latency"), i.get("rewards"))
        if x is not None
    ]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_config_that_changes_the_observation_shape_is_rejected(env_id):
    env = make(env_id)
    env.reset(seed=0)
    with pytest.raises(EdgeRouteError, match="observation"):
        env.reset(options={"config": {"observation": {"pca_dim": 4}}})
    obs, _ = env.reset(seed=0)  # still usable with its old config
    assert obs.shape == env.observation_space.shape


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(("mode", "n_emb"), [("full", 16), ("none", 0), ("pca", 8)])
def test_observation_modes(env_id, mode, n_emb):
    env = make(env_id, observation={"embedding": mode, "pca_dim": 8})
    obs, _ = env.reset(seed=0)
    assert obs.shape == (n_emb + len(SCALAR_SLOTS),) == (n_emb + 21,)
    for o, _, _ in rollout(env, 0):
        assert env.observation_space.contains(o)


def test_reward_is_the_weighted_sum_of_the_terms_for_floats_and_arrays():
    """``reward_function(weights)(out)`` is exactly the left-to-right weighted sum of
    ``reward_terms(out)``, for one outcome and for an array outcome, for any finite weights."""
    from envs.outcome import REWARD_TERM_SOURCE, Outcome, reward_function, reward_terms

    assert tuple(REWARD_TERM_SOURCE) == REWARD_TERMS
    rng = np.random.default_rng(0)
    n = 50
    batch = Outcome(
        rng.integers(0, 2, n), rng.random(n), rng.exponential(2.0, n), (), rng.random(n) < 0.5,
        0, 0, 0.0, rng.random(n), np.arange(n),
    )  # fmt: skip
    for _ in range(20):
        weights = dict(zip(REWARD_TERMS, rng.normal(0.0, 3.0, len(REWARD_TERMS)), strict=True))
        reward_of = reward_function(weights)
        terms = reward_terms(batch)
        expected = weights["quality"] * terms["quality"]
        for term in REWARD_TERMS[1:]:
            expected = expected + weights[term] * terms[term]
        assert np.array_equal(reward_of(batch), expected)
        for i in range(3):
            one = Outcome(*(f[i] if isinstance(f, np.ndarray) else f for f in batch))
            t = reward_terms(one)
            assert t == {k: float(np.asarray(v)[()]) for k, v in t.items()}
            assert reward_of(one) == expected[i]
    with pytest.raises(EdgeRouteError, match="latency"):
        reward_function({"latency": float("inf")})
