"""``edgeroute ablate``: the analytic router and PPO with each cost term / observation group off."""

from __future__ import annotations

import argparse
import sys

from experiments.commands._common import add_run_arguments, parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ablate",
        help="cost-term ablation of the analytic router and PPO (one table)",
        description="Analytic router with each cost term switched off (re-tuned on "
        "validation) and PPO retrained without the observation groups that carry each term "
        "(and without the embedding); metrics on test and the cost of each removal.",
    )
    add_run_arguments(
        p, models_help="reuse trained PPO variants from an earlier ablate --out directory"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.ablate import AblationOptions, run_ablation
    from experiments.benchmark import select_benchmarks
    from experiments.config import load_benchmark_profile

    profile = load_benchmark_profile(args.config, "quick" if args.quick else "full")
    abl = dict(profile.get("ablation") or {})
    if args.benchmarks:
        abl["benchmarks"] = select_benchmarks(
            abl.get("benchmarks", profile["benchmarks"]), args.benchmarks
        )
    if args.ppo_timesteps:
        abl["ppo_timesteps"] = args.ppo_timesteps
    profile["ablation"] = abl
    opts = AblationOptions(
        out_dir=args.out,
        profile=profile,
        quick=args.quick,
        ppo_config=args.ppo_config,
        models_dir=args.models,
        progress_bar=not args.no_progress,
        log=lambda s: print(s, flush=True),
        extra_env_config=parse_assignments(args.env_config, "--env-config"),
    )
    run_ablation(opts, command="edgeroute " + " ".join(sys.argv[1:]))
    return 0
