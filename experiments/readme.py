"""The README's headline block, rendered from a ``results.json`` (never typed in).

``python -m experiments.readme RESULTS_JSON README_MD`` replaces the text between
:data:`BEGIN` and :data:`END` in the README with the headline table with 95% CIs and the
paper-claim table of those results (:mod:`experiments.report_ci`), plus the command and
profile that produced them; the write is atomic. Rerun it after the full benchmark.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cost_models.errors import EdgeRouteError, require
from experiments.files import write_text
from experiments.report_ci import CI_NOTE, headline_ci_table, paper_table

BEGIN = "<!-- headline:begin (rendered by python -m experiments.readme; do not edit) -->"
END = "<!-- headline:end -->"


def render_block(results: Mapping[str, Any], source: str) -> str:
    """The block's text (between the markers) for ``results`` read from ``source``."""
    meta = results["meta"]
    quick = " **QUICK run: small budgets, not the reported numbers.**" if meta["quick"] else ""
    return "\n".join(
        [
            f"From `{source}` (`{meta['command']}`, {meta['wall_s']:.0f} s on "
            f"{meta['host']}).{quick}",
            "",
            headline_ci_table(results, markdown=True),
            "",
            CI_NOTE,
            "",
            "The paper's claim (5-15% lower latency, 10-20% fewer large-model calls than static "
            "routing at full quality), each reading of its words, analytic router on our data:",
            "",
            paper_table(results, markdown=True),
        ]
    )


def update_readme(readme: Path, results_path: Path) -> None:
    """Replace the block of ``readme`` with the rendering of ``results_path``."""
    text = readme.read_text()
    require(
        text.count(BEGIN) == 1 and text.count(END) == 1 and text.index(BEGIN) < text.index(END),
        f"{str(readme)!r} needs exactly one {BEGIN!r} ... {END!r} block",
    )
    results = json.loads(results_path.read_text())
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    block = render_block(results, results_path.as_posix())
    write_text(readme, f"{head}{BEGIN}\n{block}\n{END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m experiments.readme RESULTS_JSON README_MD", file=sys.stderr)
        return 2
    try:
        update_readme(Path(args[1]), Path(args[0]))
    except (EdgeRouteError, OSError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
