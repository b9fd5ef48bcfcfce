"""Environment speed: steps per second under random actions, and the ratio to CartPole.

What is timed: ``step()`` with uniformly random actions (drawn before the clock starts), with
``reset()`` whenever an episode ends (included in the time), on the default configuration of
each environment and a real prepared trace (MMLU for single-turn, MT-Bench-101 for
multi-turn; if a trace is not prepared, the built-in synthetic trace and the output says so).
Both the environment from ``gym.make`` (with Gymnasium's OrderEnforcing, PassiveEnvChecker
and TimeLimit wrappers) and the bare ``env.unwrapped`` are measured.

Gymnasium's ``CartPole-v1`` is timed the same way in the same process, interleaved with the
EdgeRoute environments (one repeat of each in turn, best of the repeats kept for each), and
every figure is also given as a ratio to it: machines here are shared and noisy, a ratio
measured side by side holds where an absolute figure does not.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the environments)
from cost_models.errors import EdgeRouteError

#: The reference environment every figure is divided by.
REFERENCE_ID = "CartPole-v1"
#: (result key, env id, preferred real benchmark, extra config) of each measured environment.
TARGETS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("single_turn", "EdgeRoute/SingleTurn-v0", "mmlu", {}),
    ("multi_turn", "EdgeRoute/MultiTurn-v0", "mt_bench_101", {}),
    # Multi-turn episodes of one dialogue (~3 turns) pay a reset (a new world) every few
    # steps; with 10 dialogues per episode the same step cost is amortised over more steps.
    ("multi_turn_10_dialogues", "EdgeRoute/MultiTurn-v0", "mt_bench_101",
     {"dialogues_per_episode": 10}),
)  # fmt: skip


def _make(env_id: str, benchmark: str, **config: Any) -> tuple[gym.Env, str]:
    try:
        return gym.make(env_id, config={"benchmark": benchmark, **config}), benchmark
    except EdgeRouteError as exc:
        if "prepare" not in str(exc):
            raise
        return gym.make(env_id, config={"benchmark": "synthetic", **config}), (
            f"synthetic ({benchmark} not prepared: run `edgeroute data prepare`)"
        )


def _timed_run(env: gym.Env, actions: list[int], seed: int) -> float:
    """Seconds for ``len(actions)`` steps of ``env`` (resets included) from ``reset(seed)``."""
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            reset()
    return time.perf_counter() - t0


def _steps_per_s(env: gym.Env, n_steps: int, repeats: int, seed: int = 0) -> float:
    """Best of ``repeats`` runs of ``n_steps`` random-action steps, in steps per second."""
    actions = np.random.default_rng(seed).integers(0, 2, size=n_steps).tolist()
    return n_steps / min(_timed_run(env, actions, seed + rep) for rep in range(repeats))


def _interleaved(runs: dict[str, Callable[[int], float]], repeats: int) -> dict[str, float]:
    """Best time of each run over ``repeats`` rounds, one run of each per round (so that every
    environment and the reference see the same stretches of machine load)."""
    best = dict.fromkeys(runs, float("inf"))
    for rep in range(repeats):
        for key, run in runs.items():
            best[key] = min(best[key], run(rep))
    return best


def run_env_benchmark(quick: bool = False) -> dict[str, Any]:
    """Steps per second of each environment and of CartPole-v1, and their ratios."""
    load_at_start = os.getloadavg()[0]
    n_steps = 20_000 if quick else 200_000
    repeats = 2 if quick else 3
    actions = np.random.default_rng(0).integers(0, 2, size=n_steps).tolist()
    made: dict[str, gym.Env] = {"cartpole": gym.make(REFERENCE_ID)}
    traces: dict[str, str] = {}
    for key, env_id, benchmark, config in TARGETS:
        made[key], traces[key] = _make(env_id, benchmark, **config)
    runs: dict[str, Callable[[int], float]] = {}
    for key, env in made.items():
        runs[key] = lambda rep, e=env: _timed_run(e, actions, rep)
        runs[f"{key}_unwrapped"] = lambda rep, e=env.unwrapped: _timed_run(e, actions, rep)
    best = _interleaved(runs, repeats)
    for env in made.values():
        env.close()
    rate = {key: n_steps / seconds for key, seconds in best.items()}
    result: dict[str, Any] = {}
    for key in made:
        for suffix, ref in (("", "cartpole"), ("_unwrapped", "cartpole_unwrapped")):
            result[f"{key}{suffix}_steps_per_s"] = rate[key + suffix]
            if key != "cartpole":
                result[f"{key}{suffix}_ratio_to_cartpole"] = rate[key + suffix] / rate[ref]
        if key in traces:
            result[f"{key}_trace"] = traces[key]
    try:
        from envs.vector import run_vector_benchmark
    except ImportError:
        pass
    else:
        batched = run_vector_benchmark(quick=quick)
        result.update(batched)
        cartpole_again = _steps_per_s(gym.make(REFERENCE_ID), n_steps, repeats)
        result["batched_ratio_to_cartpole"] = batched["batched_steps_per_s"] / cartpole_again
    result.update(
        {
            "steps_per_run": n_steps,
            "repeats_best_of": repeats,
            "definition": "env.step() calls per second, uniformly random actions, resets "
            "included, best of the repeats; '_steps_per_s' = gym.make env (wrappers), "
            "'_unwrapped_' = env.unwrapped; '_ratio_to_cartpole' = that figure / CartPole-v1's "
            "(gym.make or unwrapped alike), measured interleaved in this process; batched = "
            "user-steps per second (num_envs per call) / CartPole-v1 via gym.make",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_start": load_at_start,
            "load_average_1min_at_end": os.getloadavg()[0],
        }
    )
    return result


def format_report(r: dict[str, Any]) -> str:
    """The benchmark as a short table: steps/s and the ratio to CartPole-v1 per environment."""
    lines = [f"{'environment':34s} {'steps/s':>12s} {'x CartPole':>10s}   trace"]
    for key, *_ in TARGETS:
        for suffix, label in (("", key), ("_unwrapped", f"{key} (unwrapped)")):
            lines.append(
                f"{label:34s} {r[f'{key}{suffix}_steps_per_s']:12,.0f} "
                f"{r[f'{key}{suffix}_ratio_to_cartpole']:10.2f}   {r[f'{key}_trace']}"
            )
    for suffix, label in (("", REFERENCE_ID), ("_unwrapped", f"{REFERENCE_ID} (unwrapped)")):
        lines.append(f"{label:34s} {r[f'cartpole{suffix}_steps_per_s']:12,.0f} {1.0:10.2f}")
    if "batched_steps_per_s" in r:
        lines.append(
            f"{'batched single-turn':34s} {r['batched_steps_per_s']:12,.0f} "
            f"{r['batched_ratio_to_cartpole']:10.2f}   {r['batched_trace']} "
            f"({r['batched_num_envs']} users per call)"
        )
    lines.append(
        f"best of {r['repeats_best_of']} x {r['steps_per_run']:,} steps; load average "
        f"{r['load_average_1min_at_start']:.2f} -> {r['load_average_1min_at_end']:.2f} on "
        f"{r['cpu_count']} CPUs; python {r['python']}, numpy {r['numpy']}, gymnasium "
        f"{r['gymnasium']}\n({r['definition']})"
    )
    return "\n".join(lines)
