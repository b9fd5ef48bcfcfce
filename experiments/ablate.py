"""Cost-term ablation of the analytic router and PPO, as one table.

Analytic router: each cost term of ``S = p - alpha (T_edge - T_device)`` switched off in turn
(``CostTerms``: semantic -> p replaced by 0.5; communication, computation, switching/KV -> that
part of both T's dropped). Each variant is re-tuned on validation (alpha and theta), so the
table shows what the *information* in a term is worth, not the damage of a mistuned rule; its
(alpha, theta) sweep on test is also read at always-edge quality (matched quality).

PPO has no explicit cost terms: it learns from observations. "Switching a term off" for PPO
means removing the observation slots that carry that term's information, and we also remove
the observation groups asked for by the issue (embedding, channel, KV). The groups
(``agents.observation_groups``) and what they stand for:

=================  ======================================  ============================
PPO variant        removed observation groups              analytic counterpart
=================  ======================================  ============================
-semantic          semantic (p) + embedding                semantic term off
-communication     channel (SNRs, rates) + estimate        communication term off
-computation       load (edge utilisation) + tokens        computation term off
                   + estimate
-switching         kv (caches, last model, turn)           switching/KV term off
                   + estimate
-embedding         embedding only                          (none)
-estimate          estimate (T_device, T_edge, gap)        (none: the rule's own inputs)
=================  ======================================  ============================

The ``estimate`` slots (issue 14) are the router's T_device and T_edge, which mix the channel,
the load, the tokens and the cache state; a variant that removes one of those terms' slots
removes the estimate slots too, or the information would still reach PPO through them.

"Cost of the removal" = change of mean latency, quality and edge rate against the full variant
of the same family (positive latency delta = slower without the term).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from experiments.benchmark import run_meta
from experiments.envfactory import describe_env
from experiments.matched import at_quality
from experiments.run_profile import BenchmarkSpec, RunOptions
from experiments.runs import (
    Executor,
    InProcessExecutor,
    RunBatch,
    TrainOutcome,
    policy_runs,
    split_runs,
    train_spec,
)
from experiments.sweeps import add_sweep, analytic_sweep, point_of, sweep_frontier
from experiments.tuning import analytic_candidates, record_validation, theta_grids, tune

#: Analytic variants: label -> CostTerms flags switched off.
ANALYTIC_VARIANTS: dict[str, dict[str, bool]] = {
    "analytic (all terms)": {},
    "analytic -semantic": {"semantic": False},
    "analytic -communication": {"communication": False},
    "analytic -computation": {"computation": False},
    "analytic -switching/KV": {"switching": False},
}
#: PPO variants: label -> observation groups removed.
PPO_VARIANTS: dict[str, tuple[str, ...]] = {
    "ppo (full observation)": (),
    "ppo -semantic (p + embedding)": ("semantic", "embedding"),
    "ppo -communication (channel obs)": ("channel", "estimate"),
    "ppo -computation (load + token obs)": ("load", "tokens", "estimate"),
    "ppo -switching/KV (kv obs)": ("kv", "estimate"),
    "ppo -embedding": ("embedding",),
    "ppo -estimate (router's T obs)": ("estimate",),
}
#: The full variant of each family, the reference of its deltas.
ANALYTIC_REFERENCE = "analytic (all terms)"
PPO_REFERENCE = "ppo (full observation)"
#: Second matched-quality target of the analytic rows: this fraction of the always-device ->
#: always-edge quality gap (at 100% the threshold frontiers often end in always-edge itself).
GAP_FRACTION = 0.9
#: Metrics compared against the reference row (``delta_<key>``; None where either is None).
DELTA_OF: tuple[str, ...] = (
    "latency_mean_s",
    "quality",
    "edge_rate",
    "matched_latency_mean_s",
    "gap90_latency_mean_s",
)
#: Columns of the ablation table (formats in :data:`experiments.tables.COLUMN_FORMATS`).
ABLATION_KEYS: tuple[str, ...] = (
    "latency_mean_s",
    "latency_p95_s",
    "quality",
    "edge_rate",
    "matched_latency_mean_s",
    "delta_latency_mean_s",
    "delta_quality",
    "delta_edge_rate",
    "delta_matched_latency_mean_s",
    "gap90_latency_mean_s",
    "delta_gap90_latency_mean_s",
)


def _slug(label: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in label)
    return "_".join(p for p in keep.split("_") if p)


def _with_deltas(rows: dict[str, dict[str, Any]], reference: str) -> None:
    ref = rows[reference]
    for row in rows.values():
        for key in DELTA_OF:
            v, r = row.get(key), ref.get(key)
            row[f"delta_{key}"] = None if v is None or r is None else v - r


def ablate_one(bench: BenchmarkSpec, opts: RunOptions, executor: Executor) -> dict[str, Any]:
    """Analytic and PPO variants on one benchmark; rows of metrics plus deltas."""
    opts = opts.for_workload(bench)
    prof = opts.profile
    cfg = {**bench.env_config, **opts.extra_env_config}
    val = split_runs(bench, cfg, "validation", prof.tune_seeds, bench.budget(prof.budget))
    test = split_runs(bench, cfg, "test", prof.seeds, bench.budget(prof.budget))
    t0 = time.perf_counter()

    # Validation: one record of always-edge calibrates every variant's grid; all grids at once.
    rec = record_validation(executor, val)
    grids = {
        label: theta_grids(rec, prof.alpha_grid, prof.sweep_points, off)
        for label, off in ANALYTIC_VARIANTS.items()
    }
    tuned = tune(
        executor,
        val,
        rec.target_quality,
        {label: analytic_candidates(grids[label], off) for label, off in ANALYTIC_VARIANTS.items()},
    )
    # PPO variants: one training seed each (the profile's first).
    seed = prof.ppo_seeds[0]
    trained: list[TrainOutcome] = executor.map(
        [
            train_spec(
                opts, bench, _slug(label), cfg, seed, bench.timesteps(prof.ppo_timesteps), groups
            )
            for label, groups in PPO_VARIANTS.items()
        ]
    )

    # Test: the extremes, each analytic variant's tuned point and sweep, each PPO variant.
    batch = RunBatch()
    for extreme in ("always_device", "always_edge"):
        batch.add(extreme, test.specs(extreme, {}))
    sweeps = {label: analytic_sweep(grids[label], off) for label, off in ANALYTIC_VARIANTS.items()}
    for label, off in ANALYTIC_VARIANTS.items():
        batch.add(label, test.specs("analytic", {**tuned[label].best, **off}))
        add_sweep(batch, ("sweep", label), test, sweeps[label])
    for label, outcome in zip(PPO_VARIANTS, trained, strict=True):
        batch.add(label, test.specs("ppo", {"model_dir": str(outcome.model_dir)}))
    done = batch.run(executor)

    extremes = [point_of(policy_runs(done[n]).metrics) for n in ("always_device", "always_edge")]
    q_device, target = (p.quality for p in extremes)
    gap_target = q_device + GAP_FRACTION * (target - q_device)
    analytic_rows: dict[str, dict[str, Any]] = {}
    for label in ANALYTIC_VARIANTS:
        metrics = policy_runs(done[label]).metrics
        frontier = [*sweep_frontier(done, ("sweep", label), sweeps[label]), point_of(metrics)]
        matched = at_quality(frontier + extremes, target)
        at_gap = at_quality(frontier + extremes, gap_target)
        analytic_rows[label] = {
            **metrics,
            "alpha": tuned[label].best["alpha"],
            "theta": tuned[label].best["theta"],
            "matched_latency_mean_s": matched["latency_mean_s"],
            "matched_edge_rate": matched["edge_rate"],
            "gap90_latency_mean_s": at_gap["latency_mean_s"],
            "gap90_edge_rate": at_gap["edge_rate"],
        }
    ppo_rows: dict[str, dict[str, Any]] = {}
    for (label, groups), outcome in zip(PPO_VARIANTS.items(), trained, strict=True):
        metrics = policy_runs(done[label]).metrics
        ppo_rows[label] = {**metrics, "removed_groups": list(groups), "training": outcome.info}
    for label, row in {**analytic_rows, **ppo_rows}.items():
        opts.log(
            f"[{bench.key}] {label}: {row['latency_mean_s']:.3f} s, quality "
            f"{row['quality']:.3f}, edge {row['edge_rate']:.3f}"
        )
    _with_deltas(analytic_rows, ANALYTIC_REFERENCE)
    _with_deltas(ppo_rows, PPO_REFERENCE)
    return {
        "env_id": bench.env_id,
        "target_quality": target,
        "rows": {**analytic_rows, **ppo_rows},
        "seeds": list(prof.seeds),
        "ppo_timesteps": prof.ppo_timesteps,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def ablation_tables(results: Mapping[str, Any], markdown: bool, quick: bool) -> str:
    """One table per benchmark (analytic and PPO rows together)."""
    from experiments.report import quality_label, quick_tag
    from experiments.tables import headers_for, markdown_table, metric_rows, text_table

    headers = headers_for("variant", ABLATION_KEYS)
    out = []
    for key, sec in results.items():
        if key == "meta":
            continue
        out.append(
            f"{'## ' if markdown else '== '}{key} ({quality_label(sec)}; target quality "
            f"{sec['target_quality']:.3f}){quick_tag(quick)}"
        )
        if markdown:
            out.append("")
        rows = metric_rows(sec["rows"], ABLATION_KEYS)
        out.append(markdown_table(headers, rows) if markdown else text_table(headers, rows))
        out.append("")
    return "\n".join(out)


def ablation_markdown(results: Mapping[str, Any], command: str) -> str:
    """``ablation.md``: what was varied, how to read it, the tables."""
    from experiments.report import RECONSTRUCTION_NOTE

    quick = bool(results["meta"]["quick"])
    md = [
        "# edgeroute cost-term ablation" + (" (QUICK run)" if quick else ""),
        "",
        f"Command: `{command}`; wall time {results['meta']['wall_s']:.0f} s.",
        "",
        RECONSTRUCTION_NOTE,
        "",
        "Analytic variants are re-tuned on validation without the term; PPO variants are "
        "retrained without the observation slots that carry it (see "
        "`experiments/ablate.py`). Deltas are against the full variant of the same family "
        "(positive latency delta = slower without it). Test split, mean ± std over seeds. "
        "'latency at target' / 'at 90% gap' read each analytic variant's (alpha, theta) "
        "sweep at always-edge quality / at 90% of the always-device -> always-edge gap; "
        "PPO variants are single operating points (n/a there).",
        "",
        ablation_tables(
            {k: v for k, v in results.items() if k != "meta"}, markdown=True, quick=quick
        ),
    ]
    return "\n".join(md)


def run_ablation(opts: RunOptions, executor: Executor | None = None) -> dict[str, Any]:
    """Run the ablation on the profile's benchmarks (pass ``profile.for_ablation()``); write
    ablation.json/.md. ``executor`` runs the independent runs (default: in process)."""
    from experiments.files import write_json, write_text
    from experiments.report import quick_tag

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meta = run_meta(opts, "ablate")
    kept = ("quick", "command", "profile", "code")
    results: dict[str, Any] = {"meta": {k: meta[k] for k in kept}}
    own = executor is None
    executor = InProcessExecutor() if executor is None else executor
    try:
        for bench in opts.profile.specs():
            section = ablate_one(bench, opts, executor)
            cfg = {**bench.env_config, **opts.extra_env_config, "split": "test"}
            section["quality_source"] = describe_env(bench.env_id, cfg, bench.key).quality_source
            results[bench.key] = section
            opts.log(ablation_tables({bench.key: section}, markdown=False, quick=opts.quick))
            results["meta"]["wall_s"] = round(time.perf_counter() - t0, 1)
            write_json(out / "ablation.json", results)
            write_text(out / "ablation.md", ablation_markdown(results, meta["command"]))
    finally:
        if own:
            executor.close()
    opts.log(
        f"wrote {out / 'ablation.json'} and {out / 'ablation.md'} in "
        f"{results['meta']['wall_s']:.0f} s{quick_tag(opts.quick)}"
    )
    return results
