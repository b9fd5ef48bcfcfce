"""Where a benchmark run spent its wall time, per workload (results.md and the README block).

Read from the run's own results file, never typed in: each section's ``wall_s`` (validation
tuning, PPO training, every test run and the bootstrap of that workload), the training runs'
``wall_s`` and steps from ``ppo_training``, and the budget the workload ran with. Training runs
go to the executor in parallel (``--ray``), so their summed time can exceed the wall time that
they took.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments.tables import markdown_table, text_table

TIME_NOTE = (
    "Per workload: validation tuning, PPO training, every test run and the bootstrap (wall "
    "time of this run); PPO training summed over its runs, which the executor runs in "
    "parallel under `--ray`."
)

HEADERS = [
    "workload",
    "wall (s)",
    "share",
    "PPO runs",
    "PPO steps per run",
    "PPO training, summed (s)",
    "test units per pass",
    "evaluation seeds",
]


def time_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """One row per workload, then the total over the run (the run's ``meta.wall_s``)."""
    sections = {k: v for k, v in results.items() if k != "meta"}
    total = float(results["meta"].get("wall_s") or sum(s["wall_s"] for s in sections.values()))
    rows = []
    for key, sec in sections.items():
        runs = list(sec.get("ppo_training", {}).get("runs", {}).values())
        steps = sorted({int(r["timesteps"]) for r in runs if "timesteps" in r})
        trained = sum(float(r["wall_s"]) for r in runs if "wall_s" in r)
        rows.append(
            [
                key,
                f"{sec['wall_s']:.0f}",
                f"{100.0 * sec['wall_s'] / total:.0f}%" if total else "n/a",
                str(len(runs)),
                " / ".join(f"{s:,}" for s in steps) or "n/a",
                f"{trained:.0f}",
                str(sec.get("bootstrap", {}).get("units", "n/a")),
                str(len(sec.get("seeds", []))),
            ]
        )
    rows.append(["total", f"{total:.0f}", "100%", "", "", "", "", ""])
    return rows


def time_table(results: Mapping[str, Any], markdown: bool = True) -> str:
    """:func:`time_rows` as a Markdown (or plain text) table."""
    table = markdown_table if markdown else text_table
    return table(HEADERS, time_rows(results))
