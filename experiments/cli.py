"""The ``edgeroute`` command line.

Each subcommand lives in its own module under :mod:`experiments.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code). Bad input surfaces as
:class:`cost_models.errors.EdgeRouteError`: the CLI prints its message and exits with status 2,
never a traceback. Ctrl-C and SIGTERM stop any command with a message and status 130 / 143.
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
    "report",
    "tune-ppo",
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
        # A command's module is its name with "-" as "_" (tune-ppo: commands/tune_ppo.py).
        module = name.replace("-", "_")
        importlib.import_module(f"experiments.commands.{module}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgeroute`` console script; returns the process exit code."""
    from experiments.interrupt import exit_code, sigterm_as_interrupt
    from experiments.thread_errors import thread_os_errors_as_lines

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # SIGTERM (how clusters stop jobs) is handled as Ctrl-C; a library thread that dies of
        # a full disk prints one line, not a traceback.
        with sigterm_as_interrupt(), thread_os_errors_as_lines(f"edgeroute {args.command}"):
            return int(args.func(args) or 0)
    except EdgeRouteError as exc:
        print(f"edgeroute {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        hint = getattr(args, "interrupt_hint", None)
        print(
            f"edgeroute {args.command}: interrupted ({exc or 'SIGINT'})"
            + (f"; {hint}" if hint else ""),
            file=sys.stderr,
        )
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
