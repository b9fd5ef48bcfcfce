"""Helpers shared by the CLI subcommands: ``key=value`` parsing, argument types that reject bad
numbers at parse time, a guard that turns stray OS errors into messages, and the arguments and
:class:`experiments.run_profile.RunOptions` of ``benchmark`` and ``ablate``."""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cost_models.errors import EdgeRouteError
from experiments.commands.bounds import MAX_SEED, MAX_TIMESTEPS, int_in

if TYPE_CHECKING:
    from experiments.run_profile import RunOptions
    from experiments.runs import Executor


def command_parser(
    subparsers: argparse._SubParsersAction, name: str, doc: str | None
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name`` from its module docstring: the first line (after
    ``edgeroute <name>``:) is the ``--help`` summary, the rest the description."""
    summary, _, rest = plain_help(doc).strip().partition("\n")
    summary = summary.split(": ", 1)[-1].rstrip(".")
    return subparsers.add_parser(name, help=summary, description=rest.strip() or summary)


def plain_help(doc: str | None) -> str:
    """A docstring as plain help text: reStructuredText roles and literals (``x``, :mod:`x`)
    become `x`, so that `--help` never shows markup."""
    text = re.sub(r"``([^`]+)``", r"`\1`", doc or "")
    return re.sub(r":(?:mod|func|class|meth|data|attr|obj):`~?([^`]+)`", r"`\1`", text)


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``low`` (argparse then exits 2 naming the value)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= {low}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def fraction(text: str) -> float:
    """An argparse ``type``: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number in [0, 1]")
    return value


def clean_os_errors(func: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Wrap a command so that an ``OSError`` no check anticipated (a file vanished, a disk
    filled up) stops with a message naming the file instead of a traceback (exit status 2)."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise EdgeRouteError(
                f"cannot read or write{where}: {exc.strerror or exc}; check the path, its "
                "permissions and the free disk space"
            ) from exc

    return run


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


def env_overrides(
    items: Sequence[str] | None, reserved: dict[str, str]
) -> dict[str, Any]:
    """``--env-config`` as a dict, refusing the keys a command sets itself (``reserved``: key
    -> the option that sets it): ``split=train`` under ``evaluate --split test`` would be
    overridden silently, and ``benchmark=mine`` under ``--benchmarks mmlu`` would replay one
    trace and label every table with another."""
    out = parse_assignments(items, "--env-config")
    for key, option in reserved.items():
        if key in out:
            raise EdgeRouteError(
                f"--env-config {key}={out[key]!r} is not allowed here: this command sets "
                f"{key!r} itself; use {option}"
            )
    return out


#: Env config keys the run commands set per benchmark and split.
RUN_RESERVED = {
    "benchmark": "--benchmarks NAME (imported traces too)",
    "split": "nothing: train, validation and test are each used for their purpose",
    "trace": "edgeroute data import FILE --name NAME, then --benchmarks NAME",
}


@dataclass(frozen=True)
class RunCommand:
    """What ``edgeroute <name> --help`` says about a run command, and the function it runs."""

    help: str
    description: str
    models_help: str
    """help of --models: where trained models to reuse come from"""
    func: Callable[[argparse.Namespace], int]


def _benchmark(args: argparse.Namespace) -> int:
    from experiments.benchmark import run_benchmark
    from experiments.run_out import prepare_run_out

    opts = run_options(args)
    with run_executor(args, opts) as executor:  # first: a missing Ray extra creates no --out
        prepare_run_out(opts.out_dir, opts.out_mode, "benchmark", opts.profile.to_dict())
        run_benchmark(opts, executor)
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from experiments.ablate import run_ablation
    from experiments.run_out import prepare_run_out

    opts = run_options(args, ablation=True)
    with run_executor(args, opts) as executor:  # first: a missing Ray extra creates no --out
        prepare_run_out(opts.out_dir, opts.out_mode, "ablate", opts.profile.to_dict())
        run_ablation(opts, executor)
    return 0


#: The two run commands: same arguments (:func:`add_run_arguments`), same options type.
RUN_COMMANDS: dict[str, RunCommand] = {
    "benchmark": RunCommand(
        help="benchmark every policy (the main job): results.json, results.md, plots",
        description="Tunes thresholds on validation, trains PPO on train, evaluates every "
        "policy on test with common random numbers and several seeds, sweeps tunable policies "
        "for quality-latency frontiers and compares them at the quality of always-edge.",
        models_help="reuse trained PPO models from an earlier benchmark --out directory",
        func=_benchmark,
    ),
    "ablate": RunCommand(
        help="cost-term ablation of the analytic router and PPO (one table)",
        description="Analytic router with each cost term switched off (re-tuned on "
        "validation) and PPO retrained without the observation groups that carry each term "
        "(and without the embedding); metrics on test and the cost of each removal.",
        models_help="reuse trained PPO variants from an earlier ablate --out directory",
        func=_ablate,
    ),
}


def add_run_command(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Register the run command ``name`` of :data:`RUN_COMMANDS`."""
    cmd = RUN_COMMANDS[name]
    p = subparsers.add_parser(name, help=cmd.help, description=cmd.description)
    add_run_arguments(p, cmd.models_help)
    p.set_defaults(
        func=cmd.func,
        interrupt_hint="finished results and PPO checkpoints are kept in --out; run the same "
        "command with --resume to continue",
    )


def add_run_arguments(p: argparse.ArgumentParser, models_help: str) -> None:
    """The options ``edgeroute benchmark`` and ``edgeroute ablate`` share."""
    p.add_argument("--out", type=Path, required=True, help="output directory")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="complete the run already in --out: its PPO runs continue from their checkpoints "
        "(finished ones train no further; a different config is refused), the rest runs",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the run already in --out (results, plots, ppo/) and start anew",
    )
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
    p.add_argument("--seeds", type=int_in(0, MAX_SEED), nargs="+", default=None,
                   help=f"evaluation seeds, integers in [0, {MAX_SEED}]")
    p.add_argument("--ppo-timesteps", type=int_in(1, MAX_TIMESTEPS), default=None,
                   help=f"override PPO budget (1 to {MAX_TIMESTEPS:.0e} steps)")
    p.add_argument(
        "--env-config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment config overrides for every benchmark, e.g. channel=cell_edge "
        "deployment=phone_3b__edge_70b (YAML values)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide training progress bars")
    p.add_argument(
        "--ray",
        action="store_true",
        help="fan the independent runs out on Ray (optional extra: pip install -e '.[ray]'); "
        "default: in this process. Same results either way",
    )
    add_ray_arguments(p)


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    """``--address`` and ``--num-cpus``, shared by ``sweep`` and the ``--ray`` run commands."""
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT (default: start Ray locally)",
    )
    p.add_argument(
        "--num-cpus",
        type=int_at_least(1),
        default=None,
        help="CPUs of the local Ray (default: all); with --address, the most runs at once",
    )


def ray_settings(args: argparse.Namespace) -> Any:
    """The :class:`experiments.ray_backend.RaySettings` of ``--address`` / ``--num-cpus``."""
    from experiments.ray_backend import RaySettings

    return RaySettings(args.address, args.num_cpus)


@contextmanager
def run_executor(args: argparse.Namespace, opts: RunOptions) -> Iterator[Executor]:
    """The executor of a run command: in this process, or on Ray with ``--ray`` (the session
    lasts for the block)."""
    from experiments.runs import InProcessExecutor

    if not args.ray:
        if args.address is not None or args.num_cpus is not None:
            raise EdgeRouteError("--address and --num-cpus go with --ray")
        executor = InProcessExecutor()
        try:
            yield executor
        finally:
            executor.close()
        return
    from experiments.ray_backend import RayExecutor, ray_session

    settings = ray_settings(args)
    with ray_session(settings, opts.out_dir, opts.log):
        yield RayExecutor(settings.max_in_flight, opts.log)


def run_options(args: argparse.Namespace, ablation: bool = False) -> RunOptions:
    """The options of a ``benchmark`` (or, with ``ablation``, ``ablate``) run from its
    arguments: the ``quick`` or ``full`` profile (its ablation view for ``ablate``) with
    ``--benchmarks``, ``--seeds`` and ``--ppo-timesteps`` applied (and validated)."""
    from experiments.run_profile import RunOptions, load_run_profile

    profile = load_run_profile(args.config, "quick" if args.quick else "full")
    if ablation:
        profile = profile.for_ablation()
    if args.benchmarks:
        profile = profile.select(args.benchmarks)
    overrides = {"seeds": args.seeds, "ppo_timesteps": args.ppo_timesteps}
    profile = profile.overridden(**{k: v for k, v in overrides.items() if v is not None})
    return RunOptions(
        out_dir=args.out,
        profile=profile,
        quick=args.quick,
        ppo_config=args.ppo_config,
        models_dir=args.models,
        # Under Ray, runs in parallel would interleave their bars: the executor logs progress.
        progress_bar=not (args.no_progress or args.ray),
        log=lambda s: print(s, flush=True),
        extra_env_config=env_overrides(args.env_config, RUN_RESERVED),
        command="edgeroute " + " ".join(sys.argv[1:]),
        out_mode=out_mode(args),
    )


def out_mode(args: argparse.Namespace) -> str:
    """``new``, ``resume`` or ``overwrite`` from ``--resume`` / ``--overwrite``."""
    if getattr(args, "resume", False):
        return "resume"
    return "overwrite" if getattr(args, "overwrite", False) else "new"
