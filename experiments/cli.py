"""The ``edgeroute`` command line.

Each subcommand lives in its own module under :mod:`experiments.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Bad input surfaces as
:class:`cost_models.errors.EdgeRouteError`: the CLI prints its message and exits with status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cost_models.errors import EdgeRouteError

#: Subcommand modules, in the order ``edgeroute --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "costs",
    "data",
    "bench",
    "train",
    "evaluate",
    "crossover",
    "benchmark",
    "ablate",
    "load_delay",
    "sweep",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand of :data:`COMMAND_MODULES`.

    A listed module that does not import is a broken installation: the error propagates (a
    command must never vanish from ``--help`` silently).
    """
    parser = argparse.ArgumentParser(
        prog="edgeroute",
        description="Route LLM queries between an on-device model and an edge server.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"experiments.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgeroute`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EdgeRouteError as exc:
        print(f"edgeroute {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edgeroute {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
