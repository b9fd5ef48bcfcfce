"""``edgeroute ablate``: the analytic router and PPO with each cost term / observation group off."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.commands._common import parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ablate",
        help="cost-term ablation of the analytic router and PPO (one table)",
        description="Analytic router with each cost term switched off (re-tuned on "
        "validation) and PPO retrained without the observation groups that carry each term "
        "(and without the embedding); metrics on test and the cost of each removal.",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--quick", action="store_true", help="small budgets; outputs say 'quick'")
    p.add_argument("--config", type=Path, default=None, help="budget YAML (default: shipped)")
    p.add_argument("--ppo-config", type=Path, default=None, help="PPO YAML keyed by env id")
    p.add_argument(
        "--models",
        type=Path,
        default=None,
        help="reuse trained PPO variants from an earlier ablate --out directory",
    )
    p.add_argument("--benchmarks", nargs="+", default=None, help="subset of benchmarks")
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
