"""``edgeroute benchmark``: every policy on every benchmark, frontiers, matched quality."""

from __future__ import annotations

import argparse
import sys

from experiments.commands._common import add_run_arguments, parse_assignments


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
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="evaluation seeds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.benchmark import BenchmarkOptions, run_benchmark, select_benchmarks
    from experiments.config import load_benchmark_profile

    profile = load_benchmark_profile(args.config, "quick" if args.quick else "full")
    if args.benchmarks:
        profile["benchmarks"] = select_benchmarks(profile["benchmarks"], args.benchmarks)
    if args.seeds:
        profile["seeds"] = args.seeds
    if args.ppo_timesteps:
        profile["ppo_timesteps"] = args.ppo_timesteps
    opts = BenchmarkOptions(
        out_dir=args.out,
        profile=profile,
        quick=args.quick,
        ppo_config=args.ppo_config,
        models_dir=args.models,
        progress_bar=not args.no_progress,
        log=lambda s: print(s, flush=True),
        extra_env_config=parse_assignments(args.env_config, "--env-config"),
    )
    run_benchmark(opts, command="edgeroute " + " ".join(sys.argv[1:]))
    return 0
