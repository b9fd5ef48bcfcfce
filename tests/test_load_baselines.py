"""The issue-10 baselines and workloads in the benchmark: comparison arithmetic, the shipped
profiles, and the guards around worlds that depend on the actions."""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401
from cost_models.errors import EdgeRouteError
from envs.stateful_config import stateful_active
from experiments.frontier import FrontierPoint
from experiments.load_baselines import LOAD_BASELINES, baseline_comparison, baseline_sweeps
from experiments.run_profile import load_run_profile

SYN = {"benchmark": "synthetic", "synthetic_size": 60}


def _line(q0: float, l0: float, q1: float, l1: float) -> list[FrontierPoint]:
    """A two-point frontier from (quality, latency) at edge rate 0 to 1."""
    return [FrontierPoint(q0, l0, 0.0), FrontierPoint(q1, l1, 1.0)]


def test_baseline_comparison_reads_each_frontier_at_the_same_quality() -> None:
    sweeps = {
        "semantic_threshold": _line(0.6, 1.0, 0.8, 2.0),  # 1.5 s at 0.7, 1.9 s at 0.78
        "analytic": _line(0.6, 1.0, 0.8, 1.5),  # 1.25 s at 0.7
        "analytic_load_blind": _line(0.6, 1.0, 0.8, 2.0),  # = static
        "load_aware_semantic_blind": _line(0.6, 1.0, 0.8, 2.5),  # 1.75 s at 0.7
    }
    policies = {"always_edge": {"quality": 0.8}, "always_device": {"quality": 0.6}}
    out = baseline_comparison(sweeps, policies, [0.5])
    half = out["0.5"]
    assert half["target_quality"] == pytest.approx(0.7)
    assert half["analytic_vs_static"]["latency_reduction_pct"] == pytest.approx(100 * 0.25 / 1.5)
    assert half["analytic_load_blind_vs_static"]["latency_reduction_pct"] == pytest.approx(0.0)
    assert half["load_aware_semantic_blind_vs_static"]["latency_reduction_pct"] == pytest.approx(
        -100 * 0.25 / 1.5
    )
    assert out["1"]["target_quality"] == 0.8


def test_baseline_sweeps_cover_every_alpha_and_theta() -> None:
    tuned = {p: {"theta_grids": {0.1: [-0.2, 0.3], 1.0: [0.0]}} for p in LOAD_BASELINES}
    sweeps = baseline_sweeps(tuned)
    assert set(sweeps) == set(LOAD_BASELINES)
    pts = sweeps["analytic_load_blind"]
    assert [(p.kwargs["alpha"], p.kwargs["theta"]) for p in pts] == [
        (0.1, -0.2), (0.1, 0.3), (1.0, 0.0),
    ]  # fmt: skip
    assert all(p.policy == "analytic_load_blind" for p in pts)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_shipped_profiles_hold_the_shared_edge_workloads(profile: str) -> None:
    specs = {s.key: s for s in load_run_profile(None, profile).specs()}
    single, multi = specs["mmlu_shared_edge"], specs["mt_bench_101_shared_edge"]
    assert single.env_id == "EdgeRoute/SingleTurn-v0" and multi.env_id == "EdgeRoute/MultiTurn-v0"
    for s in (single, multi):
        cfg = s.env_config
        assert cfg["edge_mode"] == "shared" and cfg["load_observation"] == "reported"
        assert cfg["load_report_delay_s"] > 0 and cfg["link"].startswith("trace:")
        assert stateful_active(cfg)
    # the existing workloads stay on the default world
    assert not any(stateful_active(specs[k].env_config) for k in ("mmlu", "mt_bench_101"))


def test_hindsight_bound_refuses_a_world_that_depends_on_the_actions() -> None:
    env = gym.make("EdgeRoute/MultiTurn-v0", config={**SYN, "edge_mode": "shared",
                                                      "edge_users": 10})  # fmt: skip
    env.reset(seed=0)
    with pytest.raises(EdgeRouteError, match="does not depend on the actions"):
        env.unwrapped.hindsight_problem()


def test_batched_default_vector_env_refuses_stateful_and_energy_configs() -> None:
    from envs.vector import SingleTurnVectorEnv

    with pytest.raises(EdgeRouteError, match="SharedEdgeVectorEnv"):
        SingleTurnVectorEnv(2, config={**SYN, "link": "trace:verizon-lte-short"})
    with pytest.raises(EdgeRouteError, match="energy"):
        SingleTurnVectorEnv(2, config={**SYN, "reward_weights": {"energy": -0.01}})


def test_energy_weight_moves_the_reward_by_weight_times_joules() -> None:
    base = gym.make("EdgeRoute/SingleTurn-v0", config={**SYN, "episode_queries": 5})
    w = -0.02
    priced = gym.make("EdgeRoute/SingleTurn-v0", config={
        **SYN, "episode_queries": 5,
        "reward_weights": {**base.unwrapped.config["reward_weights"], "energy": w},
    })  # fmt: skip
    base.reset(seed=3)
    priced.reset(seed=3)
    for action in (0, 1, 1, 0):
        _, r0, _, _, i0 = base.step(action)
        _, r1, _, _, i1 = priced.step(action)
        assert i0["energy_j"] == i1["energy_j"] > 0
        assert r1 == pytest.approx(r0 + w * i1["energy_j"], rel=1e-12)
