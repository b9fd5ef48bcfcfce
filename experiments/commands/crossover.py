"""``edgeroute crossover``: the history length at which the multi-turn rule starts to win.

Replays ``long_sessions`` with its documents scaled to each length of ``--documents`` and, at
each, tunes the paper's rule with and without its switching term (Eq. 12 vs its single-turn
form Eq. 11) on validation and compares them on test at matched quality
(:mod:`experiments.crossover`). Prints the table and writes ``crossover.json`` and
``crossover.md`` to ``--out``. Latencies and quality are modelled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cost_models.errors import require
from experiments.commands._common import clean_os_errors, command_parser, run_options


def _documents(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    require(
        len(values) >= 2 and min(values) >= 0,
        f"--documents must be a comma list of at least two token counts >= 0, got {text!r}",
    )
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    from experiments.crossover import DEFAULT_DOCUMENTS

    p = command_parser(subparsers, "crossover", __doc__)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--quick", action="store_true", help="the quick profile's budgets")
    p.add_argument("--config", type=Path, default=None, help="budget YAML (default: shipped)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="evaluation seeds")
    p.add_argument(
        "--documents",
        default=",".join(f"{d:g}" for d in DEFAULT_DOCUMENTS),
        help="average document lengths (tokens) to sweep, comma-separated",
    )
    p.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE",
                   help="environment config overrides (YAML values)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="(accepted for symmetry)")
    p.set_defaults(
        func=run, benchmarks=None, ppo_timesteps=None, ppo_config=None, models=None, ray=False
    )


@clean_os_errors
def run(args: argparse.Namespace) -> int:
    from experiments.crossover import format_table, run_crossover
    from experiments.files import write_json, write_text

    documents = _documents(args.documents)
    opts = run_options(args)
    result = run_crossover(opts, documents)
    result["command"] = "edgeroute " + " ".join(sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(result)
    write_json(out / "crossover.json", result)
    write_text(out / "crossover.md", f"`{result['command']}`\n\n```\n{table}\n```\n")
    print(table)
    return 0
