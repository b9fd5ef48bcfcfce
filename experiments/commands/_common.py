"""Helpers shared by the CLI subcommands: ``key=value`` parsing and the run options of
``benchmark`` and ``ablate``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from cost_models.errors import EdgeRouteError


def parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars/lists)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise EdgeRouteError(f"{what} {item!r} must look like key=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise EdgeRouteError(f"{what} {item!r}: value is not valid YAML ({exc})") from exc
    return out


def add_run_arguments(p: argparse.ArgumentParser, models_help: str) -> None:
    """The options ``edgeroute benchmark`` and ``edgeroute ablate`` share."""
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
    p.add_argument("--models", type=Path, default=None, help=models_help)
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
