"""``edgeroute benchmark``: every policy on every benchmark, frontiers, matched quality."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.commands._common import parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="benchmark every policy (the main job): results.json, results.md, plots",
        description="Tunes thresholds on validation, trains PPO on train, evaluates every "
        "policy on test with common random numbers and several seeds, sweeps tunable policies "
        "for quality-latency frontiers and compares them at the quality of always-edge.",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small budgets (a few minutes); every output says 'quick'",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="budget YAML with quick/full profiles (default: shipped)",
    )
    p.add_argument("--ppo-config", type=Path, default=None, help="PPO YAML keyed by env id")
    p.add_argument(
        "--models",
        type=Path,
        default=None,
        help="reuse trained PPO models from an earlier benchmark --out directory",
    )
    p.add_argument("--benchmarks", nargs="+", default=None, help="subset of benchmarks")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="evaluation seeds")
    p.add_argument("--ppo-timesteps", type=int, default=None, help="override PPO budget")
    p.add_argument(
        "--env-config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment config overrides for every benchmark, e.g. channel=cell_edge "
        "deployment=phone_3b__edge_70b (YAML values)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide training progress bars")
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
