"""Rendering benchmark and ablation results: terminal tables, results.md, plots, results.json.

Every output of a ``--quick`` run says "quick" (titles, headings, JSON ``meta.quick``); every
table built on MT-Bench-101 says "modelled quality" (no public per-turn outcomes exist; see
README.md "Limits" and ``envs/traces/mt_bench_101.py``); results.md states that the cost
equations are our reconstruction of the paper's (its exact formulas are not public).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from experiments.metrics import METRIC_KEYS
from experiments.report_baselines import readings_lines
from experiments.report_ci import CI_NOTE, headline_ci_table, paper_table, tuned_tables
from experiments.tables import (
    headers_for,
    markdown_table,
    metric_rows,
    text_table,
)

#: Extra columns for multi-turn benchmarks.
MULTI_TURN_KEYS: tuple[str, ...] = ("switches_per_dialogue", "recomputed_tokens_per_dialogue")
#: Main-table columns: every metric but the multi-turn ones.
POLICY_KEYS: tuple[str, ...] = tuple(k for k in METRIC_KEYS if k not in MULTI_TURN_KEYS)

RECONSTRUCTION_NOTE = (
    "The latency and cost equations (channel, roofline compute, KV-cache recompute, the "
    "analytic score's T terms) are this project's reconstruction: the paper's exact formulas "
    "are not public. The decision rule S = p - alpha (T_edge - T_device) > theta is the "
    "published one."
)


def quick_tag(quick: bool) -> str:
    return " [QUICK run: small budgets, not the reported numbers]" if quick else ""


def quality_label(section: Mapping[str, Any]) -> str:
    return "modelled quality" if section.get("quality_source") == "modelled" else "measured quality"


def policy_keys_for(section: Mapping[str, Any]) -> tuple[str, ...]:
    multi = "MultiTurn" in str(section.get("env_id", ""))
    return POLICY_KEYS + (MULTI_TURN_KEYS if multi else ())


def policy_table(section: Mapping[str, Any], markdown: bool) -> str:
    keys = policy_keys_for(section)
    headers = headers_for("policy", keys)
    rows = metric_rows(section["policies"], keys)
    return markdown_table(headers, rows) if markdown else text_table(headers, rows)


def matched_table(section: Mapping[str, Any], markdown: bool) -> str:
    matched = section["matched_quality"]
    rows = []
    for name, m in matched.items():
        if name == "target_quality":
            continue
        lat = m["latency_mean_s"]
        edge = m["edge_rate"]
        low = m.get("min_edge_rate")
        rows.append(
            [
                name,
                "n/a (target above frontier)" if lat is None else f"{lat:.3f}",
                "n/a" if edge is None else f"{edge:.3f}",
                "n/a" if low is None else f"{low:.3f}",
                f"{m['max_quality']:.3f}",
            ]
        )
    headers = [
        "policy",
        "mean latency (s) at target",
        "edge rate at the lowest-latency point",
        "min edge rate reaching target",
        "best quality",
    ]
    return markdown_table(headers, rows) if markdown else text_table(headers, rows)


def routellm_table(section: Mapping[str, Any], markdown: bool) -> str:
    """APGR and CPT(50 %, 80 %) of each tunable policy, RouteLLM's way (edge = strong model)."""
    rows = []
    for name, m in (section.get("routellm_metrics") or {}).items():

        def fmt(v: Any, f: str) -> str:
            return "n/a" if v is None else f.format(v)

        rows.append(
            [name, fmt(m["apgr"], "{:.3f}"), fmt(m["cpt50"], "{:.1f}%"), fmt(m["cpt80"], "{:.1f}%")]
        )
    headers = ["policy", "APGR", "CPT(50%) edge calls", "CPT(80%) edge calls"]
    return markdown_table(headers, rows) if markdown else text_table(headers, rows)


def pgr_table(section: Mapping[str, Any], markdown: bool) -> str:
    """Latency of each tunable policy and the reductions at each quality-gap fraction."""
    rows = []
    for level, e in (section.get("matched_quality_gap_recovered") or {}).items():

        def lat(name: str, e: Mapping[str, Any] = e) -> str:
            v = e[name]["latency_mean_s"]
            return "n/a" if v is None else f"{v:.3f}"

        rows.append(
            [
                f"{float(level):.0%}",
                f"{e['target_quality']:.3f}",
                lat("semantic_threshold"),
                lat("analytic"),
                lat("ppo"),
                *_reduction_cells(e),
            ]
        )
    headers = [
        "gap recovered",
        "quality",
        "static (s)",
        "analytic (s)",
        "PPO (s)",
        "analytic vs static: latency",
        "edge calls",
        "PPO vs analytic: latency",
        "edge calls",
    ]
    return markdown_table(headers, rows) if markdown else text_table(headers, rows)


def _pct(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.1f}%"


#: The two comparisons every table reports, and the two reductions of each.
COMPARISONS: tuple[str, ...] = ("analytic_vs_static", "ppo_vs_analytic")
REDUCTIONS: tuple[str, ...] = ("latency_reduction_pct", "edge_call_reduction_pct")


def _reduction_cells(entry: Mapping[str, Any]) -> list[str]:
    """Analytic vs static and PPO vs analytic: latency and edge-call reductions (4 cells)."""
    return [_pct(entry[cmp][red]) for cmp in COMPARISONS for red in REDUCTIONS]


def headline_rows(results: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key, sec in results.items():
        if key == "meta":
            continue
        rows.append(
            [
                f"{key} ({quality_label(sec)})",
                f"{sec['matched_quality']['target_quality']:.3f}",
                *_reduction_cells(sec),
                _pct(sec.get("gap_closed_pct")),
                *_pgr_headline(sec),
            ]
        )
    return rows


#: Quality-gap fraction also shown in the headline (the 100% point is knife-edge).
HEADLINE_PGR = "0.95"


def _pgr_headline(sec: Mapping[str, Any]) -> list[str]:
    e = (sec.get("matched_quality_gap_recovered") or {}).get(HEADLINE_PGR)
    if e is None:
        return ["n/a"] * (len(COMPARISONS) * len(REDUCTIONS))
    return _reduction_cells(e)


HEADLINE_HEADERS = [
    "benchmark",
    "target quality (always-edge)",
    "analytic vs static: latency",
    "analytic vs static: edge calls",
    "PPO vs analytic: latency",
    "PPO vs analytic: edge calls",
    "hindsight gap closed by PPO",
    "at 95% gap: analytic vs static latency",
    "edge calls",
    "at 95% gap: PPO vs analytic latency",
    "edge calls",
]


def nonmyopic_text(section: Mapping[str, Any]) -> str:
    """One sentence on ``nonmyopic_gap`` (multi-turn sections), or ``""``."""
    gap = section.get("nonmyopic_gap")
    if not gap:
        return ""
    lat = gap["latency_s_at_matched_quality"]
    return (
        "planning over a dialogue (hindsight_optimal) vs the best per-step choice (myopic "
        f"oracle), {gap['dialogues']} one-dialogue episodes: +{gap['reward_per_dialogue']:.4f} "
        f"reward per dialogue, better on {100 * gap['share_of_dialogues_improved']:.1f}% of "
        "dialogues, latency at the myopic oracle's quality "
        + ("n/a" if lat is None else f"{lat:+.3f} s lower")
    )


def section_text(key: str, section: Mapping[str, Any], quick: bool) -> str:
    """Terminal rendering of one benchmark's tables."""
    lines = [
        f"== {key} ({quality_label(section)}, test split){quick_tag(quick)} ==",
        policy_table(section, markdown=False),
        "",
        "matched quality: target = always_edge quality "
        f"{section['matched_quality']['target_quality']:.3f}",
        matched_table(section, markdown=False),
        "",
        "reductions at matched quality: analytic vs static "
        f"latency {_pct(section['analytic_vs_static']['latency_reduction_pct'])}, edge calls "
        f"{_pct(section['analytic_vs_static']['edge_call_reduction_pct'])}; PPO vs analytic "
        f"latency {_pct(section['ppo_vs_analytic']['latency_reduction_pct'])}, edge calls "
        f"{_pct(section['ppo_vs_analytic']['edge_call_reduction_pct'])}; hindsight gap closed "
        f"{_pct(section.get('gap_closed_pct'))}",
        "",
        "with paired bootstrap 95% CIs (test items and PPO training seeds):",
        headline_ci_table({key: section}, markdown=False),
        "",
        "the paper's claim (5-15% latency, 10-20% edge calls vs static at full quality), read "
        "each way:",
        paper_table({key: section}, markdown=False),
        "",
        "at fractions of the always-device -> always-edge quality gap:",
        pgr_table(section, markdown=False),
        "",
        "RouteLLM metrics (routellm/evals/evaluate.py; edge calls = strong-model calls):",
        routellm_table(section, markdown=False),
    ]
    if section.get("nonmyopic_gap"):
        lines += ["", nonmyopic_text(section)]
    return "\n".join(lines)


def _scenario_lines(section: Mapping[str, Any]) -> list[str]:
    sc = section.get("scenario") or {}
    arch = sc.get("latency_architecture") or {}
    pair = sc.get("label_pair") or {}
    lines = []
    if arch:
        lines.append(
            "- latency architecture (deployment scenario "
            f"`{arch.get('name', sc.get('deployment'))}`): device "
            f"{arch.get('device_model')} ({arch.get('device_precision')}) on "
            f"{arch.get('device_hw')}; edge {arch.get('edge_model')} "
            f"({arch.get('edge_precision')}) on {arch.get('edge_hw')}; channel "
            f"`{sc.get('channel') or arch.get('channel')}`"
        )
    elif sc.get("deployment"):
        lines.append(f"- deployment scenario: `{sc.get('deployment')}`")
    if pair:
        lines.append(
            f"- quality labels: small = {pair.get('small')}, large = {pair.get('large')} "
            f"(pair `{pair.get('pair')}`; the latency architecture may differ from the label "
            "models, see above)"
        )
    if sc.get("reward_weights"):
        lines.append(f"- reward weights: {sc['reward_weights']}")
    return lines


def _ci_words(entry: Mapping[str, Any]) -> str:
    """`` [lo, hi]``, and whether the latency difference is a finding (its CI excludes 0)."""
    ci = entry.get("latency_reduction_ci95")
    if ci is None:
        return " (no 95% CI: the target is out of reach in too many resamples)"
    found = ci[0] > 0 or ci[1] < 0
    return f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" + ("" if found else ", a CI that includes 0")


def verdict(key: str, sec: Mapping[str, Any]) -> str:
    """One honest sentence per benchmark on Analytic vs static and PPO vs Analytic at
    always-edge quality, each with its paired 95% CI (a CI including 0 is no finding)."""
    mq = sec["matched_quality"]
    a = sec["analytic_vs_static"]
    p = sec["ppo_vs_analytic"]
    parts = []
    lat = a["latency_reduction_pct"]
    if lat is None:
        parts.append("analytic vs static: not comparable at always-edge quality")
    elif abs(lat) < 0.05:
        ae = sec["policies"]["always_edge"]["latency_mean_s"]
        same = mq["analytic"]["latency_mean_s"] == ae == mq["semantic_threshold"]["latency_mean_s"]
        parts.append(
            "analytic and static routing tie at always-edge quality"
            + (" (both frontiers reach it only at always-edge itself)" if same else "")
        )
    else:
        word = "lower" if lat > 0 else "higher"
        parts.append(
            f"analytic has {abs(lat):.1f}% {word} mean latency than static routing{_ci_words(a)}"
        )
    plat = p["latency_reduction_pct"]
    if not mq["ppo"]["reachable"]:
        parts.append(
            f"PPO does not reach always-edge quality on its frontier (best "
            f"{mq['ppo']['max_quality']:.4f} < {mq['target_quality']:.4f}), so it does not "
            "beat the analytic router at matched quality"
        )
    elif plat is not None and plat > 0.05:
        parts.append(
            f"PPO has {plat:.1f}% lower latency than the analytic router at matched "
            f"quality{_ci_words(p)}"
        )
    elif plat is not None:
        parts.append(
            f"PPO does not beat the analytic router at matched quality ({plat:+.1f}% "
            f"latency{_ci_words(p)})"
        )
    return f"**{key}**: " + "; ".join(parts) + "."


def code_lines(code: Mapping[str, Any] | None) -> list[str]:
    """The commit and library versions of a results file (none for files from before them)."""
    if not code:
        return []
    commit = code.get("git_commit") or "unknown"
    dirty = " (with uncommitted changes)" if code.get("git_dirty") else ""
    libs = ", ".join(f"{k} {v}" for k, v in code.get("packages", {}).items() if v)
    return [f"Code: commit `{commit[:12]}`{dirty}, Python {code.get('python')}; {libs}."]


def results_markdown(results: Mapping[str, Any]) -> str:
    meta = results["meta"]
    quick = bool(meta["quick"])
    title = "# edgeroute benchmark results" + (" (QUICK run)" if quick else "")
    out = [title, ""]
    if quick:
        out += [
            "**Quick run**: small budgets (few steps per episode, short PPO training, coarse "
            "sweeps). These numbers test the pipeline; they are not the reported results.",
            "",
        ]
    out += [
        f"Command: `{meta['command']}`  ",
        f"Wall time: {meta['wall_s']:.0f} s on {meta['host']}.",
        f"Environment overrides: {meta.get('env_overrides') or 'none (each trace default)'}.",
        *code_lines(meta.get("code")),
        "",
        RECONSTRUCTION_NOTE,
        "",
        "Matched quality: each tunable policy's quality-latency frontier (Pareto points of its "
        "sweep, linear interpolation between them) is read at the test quality of always-edge. "
        "Thresholds, alpha and theta are tuned on the validation split; PPO trains on the train "
        "split; every number below is on the test split, mean ± std over evaluation seeds with "
        "common random numbers.",
        "",
        "## Headline with 95% CIs" + quick_tag(quick),
        "",
        headline_ci_table(results, markdown=True),
        "",
        CI_NOTE,
        "",
        "## The paper's claim, each reading" + quick_tag(quick),
        "",
        paper_table(results, markdown=True),
        "",
        "## One operating point each, tuned on validation" + quick_tag(quick),
        "",
        "Each policy's single (threshold) or (alpha, theta) chosen on validation as the "
        "cheapest reaching the target (the validation analogue of each level), read on test, "
        "paired: [95% CI].",
        "",
        tuned_tables(results, markdown=True),
        "",
        "## Readings of the run",
        "",
        *readings_lines(results),
        "## Point estimates (matched quality = quality of always-edge)" + quick_tag(quick),
        "",
        markdown_table(HEADLINE_HEADERS, headline_rows(results)),
        "",
        "Positive = lower latency / fewer edge calls (edge calls of the lowest-latency "
        "operating point that reaches the target; each section's matched-quality table also "
        "gives the minimum edge share that reaches it). `n/a`: the target quality is not on "
        "that policy's frontier (it never reaches always-edge quality). The last four columns "
        "compare at 95% of the always-device -> always-edge quality gap (RouteLLM's "
        "performance gap recovered): at exactly 100% every threshold frontier tends to end in "
        "always-edge itself, so the 100% comparison is knife-edge on noisy quality estimates. "
        "The hindsight gap is read at the same quality on the hindsight frontier.",
        "",
        *[verdict(k, v) + "  " for k, v in results.items() if k != "meta"],
        "",
    ]
    for key, sec in results.items():
        if key == "meta":
            continue
        out += [
            f"## {key} ({quality_label(sec)}){quick_tag(quick)}",
            "",
            f"Environment `{sec['env_id']}`, test split, seeds {sec['seeds']}, quality source: "
            f"**{sec['quality_source']}**.",
            "",
            *_scenario_lines(sec),
            "",
            policy_table(sec, markdown=True),
            "",
            f"Matched quality (target {sec['matched_quality']['target_quality']:.3f}, "
            f"{quality_label(sec)}):",
            "",
            matched_table(sec, markdown=True),
            "",
            "At fractions of the always-device -> always-edge quality gap (performance gap "
            "recovered, PGR):",
            "",
            pgr_table(sec, markdown=True),
            "",
            "RouteLLM's metrics (APGR and CPT as `routellm/evals/evaluate.py` computes them, on "
            "each policy's sweep with always-device and always-edge as its ends; CPT in percent "
            "of queries sent to the edge):",
            "",
            routellm_table(sec, markdown=True),
            "",
            "PPO vs analytic at PPO's own quality "
            f"({sec['ppo_vs_analytic_at_ppo_quality']['quality']:.3f}): latency "
            f"{_pct(sec['ppo_vs_analytic_at_ppo_quality']['latency_reduction_pct'])}, edge calls "
            f"{_pct(sec['ppo_vs_analytic_at_ppo_quality']['edge_call_reduction_pct'])}.",
            "",
            *([nonmyopic_text(sec) + ".", ""] if sec.get("nonmyopic_gap") else []),
            f"![frontier](frontier_{key}.png) ![latency](latency_{key}.png)",
            "",
        ]
    return "\n".join(out)
