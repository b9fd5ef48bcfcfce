"""At what history length the paper's multi-turn rule starts to beat its single-turn form.

The paper's rule ``S = p - alpha (T_edge - T_device) > theta`` has two forms: the single-turn
one (Eq. 11: ``T`` = communication + computation) and the multi-turn one (Eq. 12: ``T`` also
holds the switching cost, the recompute and uplink of the history the side has not cached).
Dropping the switching term is the switching-term ablation, so the two comparisons are one.

This sweep replays ``long_sessions`` with its document scaled to each average in
``documents`` (``envs.traces.long_sessions.with_document_tokens``: the same sessions, longer
history) and, at each length, tunes both forms on validation (alpha, theta; the benchmark's
rule: cheapest at always-edge's validation quality) and reads each form's test frontier at
always-edge's test quality and at 90% of the always-device -> always-edge quality gap. The
crossover is the first history length at which the multi-turn form is faster at matched quality
(by more than :data:`WIN_MARGIN`); the sweep also reports the last one (at long enough history
both forms send nearly every turn to the edge and tie again). Latencies are modelled; quality is
modelled (the trace says so).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from cost_models.errors import require
from experiments.matched import at_quality
from experiments.run_profile import BenchmarkSpec, RunOptions
from experiments.runs import Executor, InProcessExecutor, RunBatch, policy_runs, split_runs
from experiments.sweeps import add_sweep, analytic_sweep, point_of, sweep_frontier
from experiments.tuning import analytic_candidates, record_validation, theta_grids, tune

#: Document averages swept by default (tokens): history at the last turn ~2k to ~16k.
DEFAULT_DOCUMENTS: tuple[float, ...] = (0.0, 1000.0, 2000.0, 4000.0, 8000.0, 14000.0)
#: The two forms of the rule, as Analytic arguments.
FORMS: dict[str, dict[str, Any]] = {"multi": {"form": "multi"}, "single": {"form": "single"}}
#: Matched-quality reading at this fraction of the quality gap (besides always-edge's quality).
GAP_FRACTION = 0.9
#: A form "wins" when faster by more than this share of the slower latency (noise margin).
WIN_MARGIN = 0.005


def history_tokens(document_tokens_mean: float) -> dict[str, float]:
    """Mean / p90 of the history before a test turn at this document average."""
    from envs.traces import load_trace
    from envs.traces.long_sessions import with_document_tokens

    trace = with_document_tokens(load_trace("long_sessions"), document_tokens_mean)
    h = trace.frame.loc[trace.frame["split"] == "test", "history_tokens"].to_numpy(float)
    return {"mean": float(h.mean()), "p90": float(np.percentile(h, 90))}


def crossover_one(
    document_tokens_mean: float, opts: RunOptions, executor: Executor
) -> dict[str, Any]:
    """Both forms tuned and compared at one document length."""
    prof = opts.profile
    bench = BenchmarkSpec(
        f"long_sessions@{document_tokens_mean:g}",
        "EdgeRoute/MultiTurn-v0",
        {"benchmark": "long_sessions", "document_tokens_mean": float(document_tokens_mean)},
    )
    cfg = {**prof.env_config.get(bench.env_id, {}), **bench.env_config, **opts.extra_env_config}
    val = split_runs(bench, cfg, "validation", prof.tune_seeds, bench.budget(prof.budget))
    test = split_runs(bench, cfg, "test", prof.seeds, bench.budget(prof.budget))
    rec = record_validation(executor, val)
    grids = {f: theta_grids(rec, prof.alpha_grid, prof.sweep_points, a) for f, a in FORMS.items()}
    tuned = tune(
        executor, val, rec.target_quality,
        {f: analytic_candidates(grids[f], a) for f, a in FORMS.items()},
    )  # fmt: skip
    batch = RunBatch()
    for extreme in ("always_device", "always_edge"):
        batch.add(extreme, test.specs(extreme, {}))
    sweeps = {f: analytic_sweep(grids[f], a) for f, a in FORMS.items()}
    for form, args in FORMS.items():
        batch.add(form, test.specs("analytic", {**tuned[form].best, **args}))
        add_sweep(batch, ("sweep", form), test, sweeps[form])
    done = batch.run(executor)
    extremes = [point_of(policy_runs(done[n]).metrics) for n in ("always_device", "always_edge")]
    q_device, target = (p.quality for p in extremes)
    gap_target = q_device + GAP_FRACTION * (target - q_device)
    row: dict[str, Any] = {
        "document_tokens_mean": float(document_tokens_mean),
        "history_tokens": history_tokens(document_tokens_mean),
        "target_quality": target,
        "always_device_latency_s": extremes[0].latency_mean_s,
        "always_edge_latency_s": extremes[1].latency_mean_s,
    }
    for form in FORMS:
        metrics = policy_runs(done[form]).metrics
        front = [*sweep_frontier(done, ("sweep", form), sweeps[form]), point_of(metrics)]
        row[form] = {
            "alpha": tuned[form].best["alpha"],
            "theta": tuned[form].best["theta"],
            "latency_mean_s": metrics["latency_mean_s"],
            "quality": metrics["quality"],
            "switches_per_dialogue": metrics["switches_per_dialogue"],
            "recomputed_tokens_per_dialogue": metrics["recomputed_tokens_per_dialogue"],
            "matched_latency_mean_s": at_quality(front + extremes, target)["latency_mean_s"],
            "gap90_latency_mean_s": at_quality(front + extremes, gap_target)["latency_mean_s"],
        }
    for key in ("matched_latency_mean_s", "gap90_latency_mean_s"):
        m, s = row["multi"][key], row["single"][key]
        row[f"single_minus_multi_{key}"] = None if m is None or s is None else s - m
    return row


def _wins(rows: Sequence[dict[str, Any]], key: str) -> list[bool]:
    out = []
    for r in rows:
        d, s = r[f"single_minus_multi_{key}"], r["single"][key]
        out.append(d is not None and s is not None and d > WIN_MARGIN * s)
    return out


def crossover_length(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean test history (tokens) at the first document length where the multi-turn form is
    faster by more than :data:`WIN_MARGIN` (None: nowhere in the sweep)."""
    for r, win in zip(rows, _wins(rows, key), strict=True):
        if win:
            return r["history_tokens"]["mean"]
    return None


def last_win_length(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean test history at the last document length where the multi-turn form still wins
    (beyond it both forms serve nearly every turn on the same side)."""
    last = None
    for r, win in zip(rows, _wins(rows, key), strict=True):
        if win:
            last = r["history_tokens"]["mean"]
    return last


def run_crossover(
    opts: RunOptions,
    documents: Sequence[float] = DEFAULT_DOCUMENTS,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """The sweep (module docstring): rows per document length and the crossover lengths."""
    require(len(documents) >= 2, f"need at least two document lengths, got {list(documents)}")
    executor = executor or InProcessExecutor()
    t0 = time.perf_counter()
    rows = []
    for doc in sorted(float(d) for d in documents):
        require(doc >= 0, f"document lengths must be >= 0, got {doc}")
        rows.append(crossover_one(doc, opts, executor))
        opts.log(f"[crossover] document {doc:g}: {format_row(rows[-1])}")
    return {
        "rows": rows,
        "crossover_history_tokens_matched": crossover_length(rows, "matched_latency_mean_s"),
        "crossover_history_tokens_gap90": crossover_length(rows, "gap90_latency_mean_s"),
        "last_win_history_tokens_matched": last_win_length(rows, "matched_latency_mean_s"),
        "last_win_history_tokens_gap90": last_win_length(rows, "gap90_latency_mean_s"),
        "quality_source": "modelled",
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _s(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:6.3f}"


def format_row(r: dict[str, Any]) -> str:
    return (
        f"history {r['history_tokens']['mean']:7.0f} | matched: multi "
        f"{_s(r['multi']['matched_latency_mean_s'])} single "
        f"{_s(r['single']['matched_latency_mean_s'])} | 90% gap: multi "
        f"{_s(r['multi']['gap90_latency_mean_s'])} single "
        f"{_s(r['single']['gap90_latency_mean_s'])}"
    )


def format_table(result: dict[str, Any]) -> str:
    """The sweep as a text table (latencies in s; modelled)."""
    lines = [
        "long_sessions document sweep: the multi-turn rule (with the switching term) vs its "
        "single-turn form, mean latency (s) at matched quality (modelled quality)",
        f"{'document':>9s} {'history':>8s} {'target q':>8s} {'multi':>7s} {'single':>7s} "
        f"{'gain':>7s} | {'multi@90%':>9s} {'single@90%':>10s} {'gain':>7s} | switches m/s",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['document_tokens_mean']:>9.0f} {r['history_tokens']['mean']:>8.0f} "
            f"{r['target_quality']:>8.3f} {_s(r['multi']['matched_latency_mean_s']):>7s} "
            f"{_s(r['single']['matched_latency_mean_s']):>7s} "
            f"{_s(r['single_minus_multi_matched_latency_mean_s']):>7s} | "
            f"{_s(r['multi']['gap90_latency_mean_s']):>9s} "
            f"{_s(r['single']['gap90_latency_mean_s']):>10s} "
            f"{_s(r['single_minus_multi_gap90_latency_mean_s']):>7s} | "
            f"{r['multi']['switches_per_dialogue']:.2f}/{r['single']['switches_per_dialogue']:.2f}"
        )
    for key, name in (("matched", "always-edge quality"), ("gap90", "90% of the gap")):
        h, last = (
            result[f"crossover_history_tokens_{key}"],
            result[f"last_win_history_tokens_{key}"],
        )
        lines.append(
            f"crossover at {name}: "
            + (
                "the multi-turn rule never wins in this range"
                if h is None
                else f"the multi-turn rule wins from ~{h:.0f} to ~{last:.0f} tokens of history"
            )
        )
    return "\n".join(lines)
