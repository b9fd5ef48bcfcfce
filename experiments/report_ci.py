"""Tables of the paired-bootstrap results: the headline with 95% CIs and the paper's claim.

Rendered from ``results.json`` sections (the entries :mod:`experiments.matched_ci` writes), for
the terminal, ``results.md`` and the README's results block
(:mod:`experiments.readme_results`): every number in them is read from results, none is typed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experiments.tables import markdown_table, text_table

#: Matched-quality levels of the headline, in order: always-edge quality, then gap fractions.
HEADLINE_LEVELS: tuple[str, ...] = ("1", "0.95", "0.9", "0.8")


def ci_cell(value: float | None, ci: Sequence[float] | None, unit: str = "%") -> str:
    """``+5.1% [-4.1, +6.6]``; ``n/a`` where undefined (target out of a frontier's reach)."""
    if value is None:
        return "n/a"
    cell = f"{value:+.1f}{unit}"
    return cell if not ci else f"{cell} [{ci[0]:+.1f}, {ci[1]:+.1f}]"


def _level_name(level: str) -> str:
    return "always-edge quality" if level == "1" else f"{float(level):.0%} of the gap"


def _reductions(entry: Mapping[str, Any]) -> list[str]:
    return [
        ci_cell(entry["latency_reduction_pct"], entry["latency_reduction_ci95"]),
        ci_cell(entry["edge_call_reduction_pct"], entry["edge_call_reduction_ci95"]),
    ]


HEADLINE_CI_HEADERS = [
    "benchmark",
    "matched quality",
    "target",
    "analytic vs static: latency",
    "edge calls",
    "PPO vs analytic: latency",
    "edge calls",
    "PPO's share of analytic's gap to hindsight",
]


def headline_ci_rows(
    results: Mapping[str, Any], levels: Sequence[str] = HEADLINE_LEVELS
) -> list[list[str]]:
    """One row per benchmark and matched-quality level present in its results."""
    rows = []
    for key, sec in results.items():
        if key == "meta" or "levels" not in (sec.get("analytic_vs_static") or {}):
            continue
        label = "modelled" if sec.get("quality_source") == "modelled" else "measured"
        for level in levels:
            a = sec["analytic_vs_static"]["levels"].get(level)
            if a is None:
                continue
            p = sec["ppo_vs_analytic"]["levels"][level]
            g = sec["gap_closed"][level]
            rows.append(
                [
                    f"{key} ({label}, {sec.get('n_train_seeds', 0)} PPO seeds)",
                    _level_name(level),
                    f"{a['target_quality']:.3f}",
                    *_reductions(a),
                    *_reductions(p),
                    ci_cell(g["gap_closed_pct"], g["gap_closed_ci95"]),
                ]
            )
    return rows


def headline_ci_table(results: Mapping[str, Any], markdown: bool) -> str:
    rows = headline_ci_rows(results)
    return (markdown_table if markdown else text_table)(HEADLINE_CI_HEADERS, rows)


PAPER_HEADERS = [
    "benchmark",
    "reading of the paper's claim",
    "latency reduction",
    "paper",
    "edge-call reduction",
    "paper",
]


def paper_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """Analytic vs "static routing" at "full quality", one row per reading of those words."""
    rows = []
    for key, sec in results.items():
        claim = sec.get("paper_claim") if key != "meta" else None
        if not claim:
            continue
        lat_lo, lat_hi = claim["paper_latency_reduction_pct"]
        edge_lo, edge_hi = claim["paper_edge_call_reduction_pct"]
        for reading, e in claim["readings"].items():
            rows.append(
                [
                    key,
                    reading,
                    ci_cell(e["latency_reduction_pct"], e["latency_reduction_ci95"]),
                    f"{lat_lo:g}-{lat_hi:g}%",
                    ci_cell(e["edge_call_reduction_pct"], e["edge_call_reduction_ci95"]),
                    f"{edge_lo:g}-{edge_hi:g}%",
                ]
            )
    return rows


def paper_table(results: Mapping[str, Any], markdown: bool) -> str:
    return (markdown_table if markdown else text_table)(PAPER_HEADERS, paper_rows(results))


CI_NOTE = (
    "Cells: point estimate [paired bootstrap 95% CI] in percent, positive = lower latency / "
    "fewer edge calls. Every policy passes once over the whole test split (or, where the "
    "workload sets `pass_items`, the same fixed subset of it) per evaluation seed "
    "with common random numbers; the bootstrap resamples test items (queries, or dialogues for "
    "multi-turn) and PPO's training seeds, and redoes each frontier's interpolation at the "
    "target quality inside every resample. `n/a`: the target is beyond that frontier. The "
    "hindsight frontier is exact for single-turn (best action per query in hindsight over the "
    "whole trade-off); for dialogues it is hindsight_optimal at three latency weights. "
    "Latencies are modelled (our cost model), not measured."
)


TUNED_HEADERS = [
    "benchmark",
    "tuned on validation for",
    "analytic vs static: latency",
    "edge calls",
    "quality difference (points)",
]


def _points(d: Mapping[str, Any]) -> str:
    ci = d["ci95"]
    scaled = None if ci is None else [100 * ci[0], 100 * ci[1]]
    return ci_cell(None if d["value"] is None else 100 * d["value"], scaled, unit="")


def tuned_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """Validation-tuned operating points on test (per target, then at equal reward)."""
    rows = []
    for key, sec in results.items():
        if key == "meta" or "tuned_per_target" not in sec:
            continue
        for level, e in sec["tuned_per_target"].items():
            c = e["analytic_vs_static"]
            rows.append(
                [
                    key,
                    _level_name(level),
                    ci_cell(c["latency_reduction"]["value"], c["latency_reduction"]["ci95"]),
                    ci_cell(c["edge_call_reduction"]["value"], c["edge_call_reduction"]["ci95"]),
                    _points(c["quality_difference"]),
                ]
            )
    return rows


EQUAL_REWARD_HEADERS = ["benchmark", "reward: static", "analytic", "PPO", "analytic - static",
                        "PPO - analytic"]  # fmt: skip


def equal_reward_rows(results: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key, sec in results.items():
        e = sec.get("equal_reward") if key != "meta" else None
        if not e:
            continue

        def diff(d: Mapping[str, Any]) -> str:
            ci = d["ci95"]
            return f"{d['value']:+.4f}" + ("" if ci is None else f" [{ci[0]:+.4f}, {ci[1]:+.4f}]")

        rows.append(
            [
                key,
                *(f"{e[n]['reward_mean']:.4f}" for n in ("semantic_threshold", "analytic", "ppo")),
                diff(e["analytic_minus_static_reward"]),
                diff(e["ppo_minus_analytic_reward"]),
            ]
        )
    return rows


def tuned_tables(results: Mapping[str, Any], markdown: bool) -> str:
    """Both tables of the validation-tuned comparison."""
    table = markdown_table if markdown else text_table
    return (
        table(TUNED_HEADERS, tuned_rows(results))
        + "\n\nAt equal reward (each tuned on validation for the env's reward; PPO trained for "
        "it), test reward per step [paired 95% CI]:\n\n"
        + table(EQUAL_REWARD_HEADERS, equal_reward_rows(results))
    )
