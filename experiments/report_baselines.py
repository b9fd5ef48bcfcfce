"""Two readings of a benchmark run for the README block: where the analytic router's gain
comes from (it and the two load baselines against static routing at matched quality,
``results.json[workload]["load_baselines"]["vs_static"]``), and what planning over a dialogue
gains over the per-step best (``nonmyopic_gap``, issue 9).

The analytic rule with a load-blind estimate (``analytic_load_blind``) and the load-aware rule
without the semantic score (``load_aware_semantic_blind``), each tuned on validation and swept
as the analytic router is (issue 10), read on their frontiers at the same targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments.tables import markdown_table, text_table

ROUTERS = {
    "analytic": "analytic",
    "analytic_load_blind": "load-blind analytic",
    "load_aware_semantic_blind": "load-aware, semantic-blind",
}
LEVELS = {"0.8": "80% of the gap", "0.9": "90%", "0.95": "95%", "1": "always-edge quality"}


def _pct(entry: Mapping[str, Any] | None) -> str:
    value = None if entry is None else entry.get("latency_reduction_pct")
    return "n/a" if value is None else f"{value:+.1f}%"


def baseline_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """One row per workload and router: latency reduction vs static at each level."""
    rows = []
    for key, sec in results.items():
        if key == "meta" or "load_baselines" not in sec:
            continue
        by_level = sec["load_baselines"]["vs_static"]
        for name, label in ROUTERS.items():
            cells = [_pct(by_level.get(lv, {}).get(f"{name}_vs_static")) for lv in LEVELS]
            rows.append([key, label, *cells])
    return rows


def baseline_table(results: Mapping[str, Any], markdown: bool = True) -> str:
    """:func:`baseline_rows` as a table (empty string when no section has load baselines)."""
    rows = baseline_rows(results)
    if not rows:
        return ""
    table = markdown_table if markdown else text_table
    return table(["workload", "router", *LEVELS.values()], rows)


GAP_HEADERS = [
    "workload",
    "dialogues",
    "reward gained per dialogue",
    "dialogues improved",
    "smallest gain",
    "latency saved at the myopic oracle's quality (s)",
]


def nonmyopic_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """One row per multi-turn workload: what ``hindsight_optimal`` gains over the myopic oracle
    on one-dialogue episodes (every policy starts each dialogue from the same state)."""
    rows = []
    for key, sec in results.items():
        gap = sec.get("nonmyopic_gap") if key != "meta" else None
        if not gap:
            continue
        saved = gap.get("latency_s_at_matched_quality")
        rows.append(
            [
                key,
                str(gap["dialogues"]),
                f"{gap['reward_per_dialogue']:+.4f}",
                f"{100.0 * gap['share_of_dialogues_improved']:.1f}%",
                f"{gap['min_gain']:+.4f}",
                "n/a" if saved is None else f"{saved:.3f}",
            ]
        )
    return rows


def nonmyopic_table(results: Mapping[str, Any], markdown: bool = True) -> str:
    """:func:`nonmyopic_rows` as a table (empty string when no section has the gap)."""
    rows = nonmyopic_rows(results)
    if not rows:
        return ""
    return (markdown_table if markdown else text_table)(GAP_HEADERS, rows)


def readings_lines(results: Mapping[str, Any]) -> list[str]:
    """The captioned load-baseline, nonmyopic-gap and time tables of a run, as Markdown lines:
    one source for ``results.md`` and the README block."""
    from experiments.report_time import TIME_NOTE, time_table

    captioned = [
        (
            "Where the analytic router's gain comes from: latency reduction against static "
            "routing at matched quality of the analytic router and the two load baselines "
            "(each tuned on validation, read on its own frontier):",
            baseline_table(results),
        ),
        (
            "What planning over a dialogue gains over the best per-step choice "
            "(`hindsight_optimal` vs the myopic oracle, on one-dialogue episodes):",
            nonmyopic_table(results),
        ),
        ("Where the run spent its time. " + TIME_NOTE, time_table(results)),
    ]
    return [line for caption, table in captioned if table for line in (caption, "", table, "")]
