"""Environment speed: steps per second of one environment under random actions.

What is timed: ``step()`` with uniformly random actions (drawn before the clock starts), with
``reset()`` whenever an episode ends (included in the time), on the default configuration of
each environment and a real prepared trace (MMLU for single-turn, MT-Bench-101 for
multi-turn; if a trace is not prepared, the built-in synthetic trace and the output says so).
Both the environment from ``gym.make`` (with Gymnasium's OrderEnforcing, PassiveEnvChecker
and TimeLimit wrappers) and the bare ``env.unwrapped`` are measured; the best of a few repeats
is kept, since the machine is shared.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the environments)
from cost_models.errors import EdgeRouteError

#: (env id, preferred real benchmark, episode key) of each measured environment.
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("single_turn", "EdgeRoute/SingleTurn-v0", "mmlu"),
    ("multi_turn", "EdgeRoute/MultiTurn-v0", "mt_bench_101"),
)


def _make(env_id: str, benchmark: str, **config: Any) -> tuple[gym.Env, str]:
    try:
        return gym.make(env_id, config={"benchmark": benchmark, **config}), benchmark
    except EdgeRouteError as exc:
        if "prepare" not in str(exc):
            raise
        return gym.make(env_id, config={"benchmark": "synthetic", **config}), (
            f"synthetic ({benchmark} not prepared: run `edgeroute data prepare`)"
        )


def _steps_per_s(env: gym.Env, n_steps: int, repeats: int, seed: int = 0) -> float:
    actions = np.random.default_rng(seed).integers(0, 2, size=n_steps).tolist()
    best = float("inf")
    for rep in range(repeats):
        env.reset(seed=seed + rep)
        step, reset = env.step, env.reset
        t0 = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        best = min(best, time.perf_counter() - t0)
    return n_steps / best


def run_env_benchmark(quick: bool = False) -> dict[str, Any]:
    """Steps per second of each environment (see the module docstring for the definition)."""
    load_at_start = os.getloadavg()[0]
    n_steps = 20_000 if quick else 200_000
    repeats = 2 if quick else 3
    result: dict[str, Any] = {}
    for key, env_id, benchmark in TARGETS:
        env, used = _make(env_id, benchmark)
        result[f"{key}_steps_per_s"] = _steps_per_s(env, n_steps, repeats)
        result[f"{key}_unwrapped_steps_per_s"] = _steps_per_s(env.unwrapped, n_steps, repeats)
        result[f"{key}_trace"] = used
        env.close()
    # Multi-turn episodes of one dialogue (~3 turns) pay a reset (a new world: streams,
    # channel and load paths) every few steps; with 10 dialogues per episode the same step
    # cost is amortised over 10x more steps.
    env, _ = _make(TARGETS[1][1], TARGETS[1][2], dialogues_per_episode=10)
    result["multi_turn_10_dialogues_unwrapped_steps_per_s"] = _steps_per_s(
        env.unwrapped, n_steps, repeats
    )
    env.close()
    try:
        from envs.vector import run_vector_benchmark
    except ImportError:
        pass
    else:
        result.update(run_vector_benchmark(quick=quick))
    result.update(
        {
            "steps_per_run": n_steps,
            "repeats_best_of": repeats,
            "definition": "env.step() calls per second, uniformly random actions, resets "
            "included, best of the repeats; '_steps_per_s' = gym.make env (wrappers), "
            "'_unwrapped_' = env.unwrapped",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_start": load_at_start,
            "load_average_1min_at_end": os.getloadavg()[0],
        }
    )
    return result
