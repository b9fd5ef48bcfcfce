"""``edgeroute report DIR``: the README's result tables, rendered from the result files in DIR.

Renders every results.json (edgeroute benchmark) and ablation.json (edgeroute ablate) under DIR
(e.g. the committed results/) as Markdown tables naming the file, the command, the wall time
and the machine. Prints them; with --readme FILE, writes them between the README's
`<!-- results:begin ... -->` and `<!-- results:end -->` markers; with --check as well, only
compares (exit 1 if the README differs, as CI's README-vs-results test does).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from experiments.commands._common import clean_os_errors, command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "report", __doc__)
    p.add_argument("results_dir", type=Path, help="directory of result files (e.g. results/)")
    p.add_argument("--readme", type=Path, default=None,
                   help="README to update between its results markers")  # fmt: skip
    p.add_argument("--check", action="store_true",
                   help="with --readme: only compare; exit 1 if the README differs")  # fmt: skip
    p.set_defaults(func=clean_os_errors(run))


def run(args: argparse.Namespace) -> int:
    from cost_models.errors import require
    from experiments.readme_results import render_results, update_readme

    require(args.readme is not None or not args.check, "--check goes with --readme FILE")
    shown = args.results_dir.as_posix().rstrip("/") or "."
    if args.readme is not None:  # named as the README's reader sees it: relative to the README
        shown = Path(os.path.relpath(args.results_dir, args.readme.parent)).as_posix()
    rendered = render_results(args.results_dir, shown)
    if args.readme is None:
        print(rendered, end="")
        return 0
    same = update_readme(args.readme, rendered, check=args.check)
    if args.check:
        if not same:
            print(
                f"{args.readme} differs from the tables rendered from {shown}; run "
                f"`edgeroute report {shown} --readme {args.readme}`",
                file=sys.stderr,
            )
        return 0 if same else 1
    print(f"{args.readme}: results tables {'unchanged' if same else 'updated'} from {shown}")
    return 0
