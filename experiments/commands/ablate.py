"""``edgeroute ablate``: the analytic router and PPO with each cost term / observation group off."""

from __future__ import annotations

import argparse

from experiments.commands._common import add_run_arguments, run_options


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
    from experiments.ablate import run_ablation

    run_ablation(run_options(args, ablation=True))
    return 0
