"""``edgeroute benchmark``: every policy on every benchmark, frontiers, matched quality."""

from __future__ import annotations

import argparse

from experiments.commands._common import add_run_arguments, run_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="benchmark every policy (the main job): results.json, results.md, plots",
        description="Tunes thresholds on validation, trains PPO on train, evaluates every "
        "policy on test with common random numbers and several seeds, sweeps tunable policies "
        "for quality-latency frontiers and compares them at the quality of always-edge.",
    )
    add_run_arguments(
        p, models_help="reuse trained PPO models from an earlier benchmark --out directory"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.benchmark import run_benchmark

    run_benchmark(run_options(args))
    return 0
