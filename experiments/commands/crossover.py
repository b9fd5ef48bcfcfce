"""``edgeroute crossover``: the history length at which the multi-turn rule starts to win.

Replays ``long_sessions`` with its documents scaled to each length of ``--documents`` and, at
each, tunes the paper's rule with and without its switching term (Eq. 12 vs its single-turn
form Eq. 11) on validation and compares them on test at matched quality
(:mod:`experiments.crossover`). Prints the table and writes ``crossover.json`` and
``crossover.md`` to ``--out``. Latencies and quality are modelled.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from cost_models.errors import require
from envs.traces.atomic import writable_dir
from experiments.commands._common import clean_os_errors, command_parser, run_options
from experiments.commands.bounds import MAX_CONTEXT_TOKENS, MAX_SEED, int_in


def _documents(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    require(
        len(values) >= 2
        and all(math.isfinite(v) and 0 <= v <= MAX_CONTEXT_TOKENS for v in values),
        f"--documents must be a comma list of at least two token counts in "
        f"[0, {MAX_CONTEXT_TOKENS:,}] (the longest model context), got {text!r}",
    )
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    from experiments.crossover import DEFAULT_DOCUMENTS

    p = command_parser(subparsers, "crossover", __doc__)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--quick", action="store_true", help="the quick profile's budgets")
    p.add_argument("--config", type=Path, default=None, help="budget YAML (default: shipped)")
    p.add_argument("--seeds", type=int_in(0, MAX_SEED), nargs="+", default=None,
                   help=f"evaluation seeds, integers in [0, {MAX_SEED}]")
    p.add_argument(
        "--documents",
        default=",".join(f"{d:g}" for d in DEFAULT_DOCUMENTS),
        help="average document lengths (tokens) to sweep, comma-separated",
    )
    p.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE",
                   help="environment config overrides (YAML values)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="(accepted for symmetry)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the crossover.json / crossover.md already in --out")  # fmt: skip
    p.set_defaults(
        func=run, benchmarks=None, ppo_timesteps=None, ppo_config=None, models=None, ray=False
    )


@clean_os_errors
def run(args: argparse.Namespace) -> int:
    from experiments.crossover import format_table, run_crossover
    from experiments.files import write_json, write_text

    documents = _documents(args.documents)
    opts = run_options(args)
    out = writable_dir(args.out, "--out")  # before minutes of work, not after
    require(
        args.overwrite or not (out / "crossover.json").exists(),
        f"--out {str(out)!r} already holds crossover.json; add --overwrite to replace it or "
        "choose another --out",
    )
    result = run_crossover(opts, documents)
    result["command"] = "edgeroute " + " ".join(sys.argv[1:])
    table = format_table(result)
    print(table, flush=True)  # first: a write that fails (full disk) must not lose the result
    write_json(out / "crossover.json", result)
    write_text(out / "crossover.md", f"`{result['command']}`\n\n```\n{table}\n```\n")
    return 0
