"""``edgeroute ablate``: the analytic router and PPO with each cost term / observation group off.

Its arguments and options are those of ``benchmark`` (:mod:`experiments.commands._common`); the
job is :func:`experiments.ablate.run_ablation`.
"""

from __future__ import annotations

import argparse

from experiments.commands._common import add_run_command


def register(subparsers: argparse._SubParsersAction) -> None:
    add_run_command(subparsers, "ablate")
