"""``edgeroute sweep``: run a YAML grid of workloads, env overrides, policies and seeds on Ray Tune.

The grid: workloads x env-config overrides x policies x training seeds x PPO hyperparameters,
each cell one Ray Tune trial (for PPO, one per training seed). Each trial runs every
evaluation seed on the test split and writes the benchmark's per-run metrics under
DIR/trials/<key>/ (PPO trials also their TensorBoard logs); DIR/sweep.json and DIR/sweep.md
aggregate them. Ray starts locally unless --address names a cluster. An interrupted sweep
continues with --resume (only unfinished trials run); an existing sweep is never overwritten.
Needs the optional extra: pip install -e ".[ray]". Example:
experiments/configs/sweep_example.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.commands._common import (
    add_ray_arguments,
    clean_os_errors,
    command_parser,
    ray_settings,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "sweep", __doc__)
    p.add_argument("config", type=Path, help="sweep YAML (see experiments/configs/)")
    p.add_argument("--out", type=Path, required=True, help="output directory of the sweep")
    add_ray_arguments(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish the sweep in --out after an interruption (same config; only unfinished "
        "trials run)",
    )
    p.set_defaults(func=clean_os_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from experiments.sweep import run_sweep

    results = run_sweep(
        args.config,
        args.out,
        ray_settings(args),
        resume=args.resume,
        log=lambda s: print(s, flush=True),
        command="edgeroute " + " ".join(sys.argv[1:]),
    )
    counts = results["meta"]["trials"]
    return 0 if counts["complete"] == counts["total"] else 1
