"""The trade-off-conditioned PPO in the benchmark: one model, a frontier on the analytic grid.

The headline PPO is trained at one reward weighting and so gives one operating point (the
latency-weight variants add a few more, each a training run, none with a different edge-call
price, so none can reach always-edge quality by construction). The conditioned PPO
(:mod:`envs.tradeoff`, :class:`agents.ppo_conditioned.PPOConditioned`) is trained once with
the latency price and the edge-call price drawn per episode and shown in the observation, and
is then swept at test over the analytic router's own grid: latency price ``w = alpha`` for each
alpha of the validation grid and edge-call price ``c = theta`` for each theta of that alpha's
validation-calibrated grid. So both frontiers are read on the same ``(alpha, theta)`` points
and at the same matched quality.

This module keeps that path out of :mod:`experiments.benchmark`: the training spec, the sweep
points, the operating point at the environment's own prices, and the section of results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.frontier import FrontierPoint, interpolate_at_quality, reduction_pct
from experiments.paired import CONDITIONED
from experiments.run_profile import BenchmarkSpec, RunOptions
from experiments.runs import TrainOutcome, TrainSpec, train_spec
from experiments.sweeps import SweepPoint, point_dict

#: The family name in sweeps, plots and results.
NAME = CONDITIONED
#: PPO arguments of the conditioned run on top of the PPO YAML's. Measured on MMLU validation
#: (20k steps, episodes of 20 queries; /tmp probe in the issue-14 report): with the YAML's
#: learning rate 3e-4 and entropy bonus 0.01 the model barely reads the price slots (edge rate
#: 0.18 at a 0.3 subsidy, 0.03 at a 0.5 price); with 1e-3 and no entropy bonus it spans the
#: whole range (0.99 .. 0.00), which a frontier needs.
CONDITIONED_PPO: dict[str, Any] = {"learning_rate": 1e-3, "ent_coef": 0.0}
#: Shorter training episodes for the conditioned run (prices are drawn per episode): 10x more
#: price draws per step. Single-turn is a bandit (episode length changes nothing an action
#: sees); multi-turn keeps whole dialogues, two per episode.
CONDITIONED_EPISODES: dict[str, dict[str, int]] = {
    "EdgeRoute/SingleTurn-v0": {"episode_queries": 20},
    "EdgeRoute/MultiTurn-v0": {"dialogues_per_episode": 2},
}


def conditioned_specs(
    opts: RunOptions, bench: BenchmarkSpec, env_config: Mapping[str, Any]
) -> list[TrainSpec]:
    """The conditioned training run (first PPO seed), or none if the profile has no budget."""
    prof = opts.profile
    steps = prof.ppo_conditioned_timesteps
    if steps is None:
        return []
    steps = bench.timesteps(steps)
    ranges = dict(env_config.get("tradeoff_conditioning") or {})  # {}: envs.tradeoff defaults
    cfg = {
        **env_config,
        **CONDITIONED_EPISODES.get(bench.env_id, {}),
        "tradeoff_conditioning": ranges,
    }
    spec = train_spec(opts, bench, NAME, cfg, prof.ppo_seeds[0], steps)
    ppo = {**CONDITIONED_PPO, **spec.settings.ppo_overrides}
    settings = dataclasses.replace(spec.settings, ppo_overrides=ppo)
    return [dataclasses.replace(spec, settings=settings)]


def conditioned_sweep(
    outcome: TrainOutcome, theta_grids: Mapping[float, Sequence[float]]
) -> list[SweepPoint]:
    """The model at ``(w, c) = (alpha, theta)`` of every point of the analytic grid."""
    model_dir = str(outcome.model_dir)
    return [
        SweepPoint(
            NAME,
            {"model_dir": model_dir, "latency_price_per_s": float(a), "edge_call_price": float(th)},
            float(th),
            (("alpha", float(a)),),
        )
        for a, thetas in theta_grids.items()
        for th in thetas
    ]


def own_prices_kwargs(outcome: TrainOutcome, weights: Mapping[str, float]) -> dict[str, Any]:
    """The model at the environment's own reward prices (its single operating point)."""
    return {
        "model_dir": str(outcome.model_dir),
        "latency_price_per_s": -float(weights.get("latency", 0.0)),
        "edge_call_price": -float(weights.get("edge_call", 0.0)),
    }


def _at(points: Sequence[FrontierPoint], quality: float) -> dict[str, Any]:
    m = interpolate_at_quality(points, quality)
    return {"latency_mean_s": m.latency_mean_s, "edge_rate": m.edge_rate, "reachable": m.reachable}


def conditioned_section(
    frontier: Sequence[FrontierPoint],
    analytic: Sequence[FrontierPoint],
    own: Mapping[str, float],
    target_quality: float,
    device_quality: float,
    pgr_levels: Sequence[float],
) -> dict[str, Any]:
    """``results.json[workload]["ppo_conditioned"]``: its point at the env's prices, its
    frontier, and latency / edge-call reductions against the analytic frontier at always-edge's
    test quality and at each fraction of the device -> edge quality gap (its training run is
    in the section's ``ppo_training.runs``) (positive: PPO lower;
    ``None`` where either frontier does not reach the target)."""
    levels: dict[str, Any] = {}
    for level in (1.0, *pgr_levels):
        tq = device_quality + level * (target_quality - device_quality)
        mine, theirs = _at(frontier, tq), _at(analytic, tq)
        levels[f"{level:g}"] = {
            "target_quality": tq,
            NAME: mine,
            "analytic": theirs,
            "latency_reduction_pct": reduction_pct(
                theirs["latency_mean_s"], mine["latency_mean_s"]
            ),
            "edge_call_reduction_pct": reduction_pct(theirs["edge_rate"], mine["edge_rate"]),
        }
    return {
        "own_prices": dict(own),
        "frontier": [point_dict(p) for p in frontier],
        "max_quality": max(p.quality for p in frontier),
        "vs_analytic_at_matched_quality": levels,
        "grid": "the analytic (alpha, theta) validation grid, as (latency price, edge price)",
    }
