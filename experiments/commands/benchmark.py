"""``edgeroute benchmark``: every policy on every benchmark, frontiers, matched quality.

Its arguments and options are those of ``ablate`` (:mod:`experiments.commands._common`); the job
is :func:`experiments.benchmark.run_benchmark`.
"""

from __future__ import annotations

import argparse

from experiments.commands._common import add_run_command


def register(subparsers: argparse._SubParsersAction) -> None:
    add_run_command(subparsers, "benchmark")
