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
-communication     channel (SNRs, rates)                   communication term off
-computation       load (edge utilisation) + tokens        computation term off
-switching         kv (caches, last model, turn)           switching/KV term off
-embedding         embedding only                          (none)
=================  ======================================  ============================

"Cost of the removal" = change of mean latency, quality and edge rate against the full variant
of the same family (positive latency delta = slower without the term).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.analytic import Analytic
from agents.baselines import AlwaysDevice, AlwaysEdge
from agents.ppo import PPOPolicy
from experiments.benchmark import BenchmarkOptions, BenchmarkSpec, _train_or_reuse, parse_benchmarks
from experiments.envfactory import make_env
from experiments.evaluate import evaluate
from experiments.frontier import FrontierPoint, interpolate_at_quality
from experiments.tuning import record_validation, tune_analytic

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
    "ppo -communication (channel obs)": ("channel",),
    "ppo -computation (load + token obs)": ("load", "tokens"),
    "ppo -switching/KV (kv obs)": ("kv",),
    "ppo -embedding": ("embedding",),
}
DELTA_KEYS = ("delta_latency_mean_s", "delta_quality", "delta_edge_rate")
#: Second matched-quality target of the analytic rows: this fraction of the always-device ->
#: always-edge quality gap (at 100% the threshold frontiers often end in always-edge itself).
GAP_FRACTION = 0.9


@dataclass
class AblationOptions:
    """Arguments of an ablation run (budgets come from the profile's ``ablation`` entry)."""

    out_dir: Path
    profile: dict[str, Any]
    quick: bool = False
    ppo_config: Path | None = None
    models_dir: Path | None = None
    progress_bar: bool = True
    log: Any = print
    extra_env_config: dict[str, Any] = field(default_factory=dict)


def _slug(label: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in label)
    return "_".join(p for p in keep.split("_") if p)


def _with_deltas(rows: dict[str, dict[str, Any]], reference: str) -> None:
    ref = rows[reference]
    for row in rows.values():
        row["delta_latency_mean_s"] = row["latency_mean_s"] - ref["latency_mean_s"]
        row["delta_quality"] = row["quality"] - ref["quality"]
        row["delta_edge_rate"] = row["edge_rate"] - ref["edge_rate"]
        for key in ("matched_latency_mean_s", "gap90_latency_mean_s"):
            v, r = row.get(key), ref.get(key)
            row[f"delta_{key}"] = None if v is None or r is None else v - r


def ablate_one(spec: BenchmarkSpec, opts: AblationOptions) -> dict[str, Any]:
    """Analytic and PPO variants on one benchmark; rows of metrics plus deltas."""
    prof = opts.profile
    abl = prof.get("ablation") or {}
    seeds = [int(s) for s in prof["seeds"]]
    tune_seeds = [int(s) for s in prof.get("tune_seeds", seeds[:1])]
    episodes = int(prof["episodes_per_seed"])
    max_steps = prof.get("max_steps_per_episode")
    n_points = int(prof["sweep_points"])
    alphas = [float(a) for a in prof["alpha_grid"]]
    base_cfg = {**spec.env_config, **opts.extra_env_config}
    t0 = time.perf_counter()

    val_env = make_env(spec.env_id, {**base_cfg, "split": "validation"})
    rec = record_validation(val_env, tune_seeds, episodes, max_steps)
    test_env = make_env(spec.env_id, {**base_cfg, "split": "test"})
    extremes = []
    for extreme in (AlwaysDevice(), AlwaysEdge()):
        m = evaluate(test_env, extreme, seeds, episodes, max_steps).metrics
        extremes.append(FrontierPoint(m["quality"], m["latency_mean_s"], m["edge_rate"]))
    target = extremes[1].quality

    analytic_rows: dict[str, dict[str, Any]] = {}
    for label, off in ANALYTIC_VARIANTS.items():
        result, grids = tune_analytic(
            val_env, rec, tune_seeds, episodes, n_points, alphas, max_steps, off
        )
        policy = Analytic(**result.best, **off)
        metrics = evaluate(test_env, policy, seeds, episodes, max_steps).metrics
        sweep = []
        for alpha, thetas in grids.items():
            for theta in thetas:
                pol = Analytic(alpha=alpha, theta=theta, **off)
                m = evaluate(test_env, pol, seeds, episodes, max_steps).metrics
                sweep.append(
                    FrontierPoint(m["quality"], m["latency_mean_s"], m["edge_rate"], theta)
                )
        sweep.append(
            FrontierPoint(metrics["quality"], metrics["latency_mean_s"], metrics["edge_rate"])
        )
        matched = interpolate_at_quality(sweep + extremes, target)
        gap_target = extremes[0].quality + GAP_FRACTION * (target - extremes[0].quality)
        at_gap = interpolate_at_quality(sweep + extremes, gap_target)
        analytic_rows[label] = {
            **metrics,
            "alpha": result.best["alpha"],
            "theta": result.best["theta"],
            "matched_latency_mean_s": matched.latency_mean_s,
            "matched_edge_rate": matched.edge_rate,
            "gap90_latency_mean_s": at_gap.latency_mean_s,
            "gap90_edge_rate": at_gap.edge_rate,
        }
        opts.log(
            f"[{spec.key}] {label}: {metrics['latency_mean_s']:.3f} s, quality "
            f"{metrics['quality']:.3f}, edge {metrics['edge_rate']:.3f}"
        )
    val_env.close()
    _with_deltas(analytic_rows, "analytic (all terms)")

    ppo_rows: dict[str, dict[str, Any]] = {}
    timesteps = int(abl.get("ppo_timesteps", prof["ppo_timesteps"]))
    bench_opts = BenchmarkOptions(
        out_dir=opts.out_dir,
        profile=prof,
        quick=opts.quick,
        ppo_config=opts.ppo_config,
        models_dir=opts.models_dir,
        progress_bar=opts.progress_bar,
        log=opts.log,
    )
    seed = int(prof.get("ppo_seeds", [0])[0])
    for label, groups in PPO_VARIANTS.items():
        model_dir, info = _train_or_reuse(
            spec,
            _slug(label),
            base_cfg,
            seed,
            bench_opts,
            drop_groups=groups,
            timesteps=timesteps,
        )
        metrics = evaluate(test_env, PPOPolicy(model_dir), seeds, episodes, max_steps).metrics
        ppo_rows[label] = {**metrics, "removed_groups": list(groups), "training": info}
        opts.log(
            f"[{spec.key}] {label}: {metrics['latency_mean_s']:.3f} s, quality "
            f"{metrics['quality']:.3f}, edge {metrics['edge_rate']:.3f}"
        )
    _with_deltas(ppo_rows, "ppo (full observation)")
    test_env.close()
    return {
        "env_id": spec.env_id,
        "target_quality": target,
        "rows": {**analytic_rows, **ppo_rows},
        "seeds": seeds,
        "ppo_timesteps": timesteps,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


ABLATION_KEYS = (
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


def ablation_tables(results: Mapping[str, Any], markdown: bool, quick: bool) -> str:
    """One table per benchmark (analytic and PPO rows together)."""
    from experiments.report import quick_tag
    from experiments.tables import COLUMN_FORMATS, markdown_table, metric_rows, text_table

    COLUMN_FORMATS.setdefault("matched_latency_mean_s", ("latency at target (s)", "{:.3f}"))
    COLUMN_FORMATS.setdefault(
        "delta_matched_latency_mean_s", ("Δ latency at target (s)", "{:+.3f}")
    )
    COLUMN_FORMATS.setdefault("gap90_latency_mean_s", ("latency at 90% gap (s)", "{:.3f}"))
    COLUMN_FORMATS.setdefault("delta_gap90_latency_mean_s", ("Δ latency at 90% gap (s)", "{:+.3f}"))
    headers = ["variant"] + [COLUMN_FORMATS.get(k, (k, ""))[0] for k in ABLATION_KEYS]
    out = []
    for key, sec in results.items():
        if key == "meta":
            continue
        label = (
            "modelled quality" if sec.get("quality_source") == "modelled" else ("measured quality")
        )
        out.append(
            f"{'## ' if markdown else '== '}{key} ({label}; target quality "
            f"{sec['target_quality']:.3f}){quick_tag(quick)}"
        )
        if markdown:
            out.append("")
        rows = metric_rows(sec["rows"], ABLATION_KEYS)
        out.append(markdown_table(headers, rows) if markdown else text_table(headers, rows))
        out.append("")
    return "\n".join(out)


def run_ablation(opts: AblationOptions, command: str = "edgeroute ablate") -> dict[str, Any]:
    """Run the ablation on the profile's ablation benchmarks; write ablation.json/.md."""
    from experiments.benchmark import quality_source_of
    from experiments.report import RECONSTRUCTION_NOTE, quick_tag, write_json

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    abl = opts.profile.get("ablation") or {}
    specs = parse_benchmarks(
        abl.get("benchmarks", opts.profile["benchmarks"]), opts.profile.get("env_config") or {}
    )
    results: dict[str, Any] = {"meta": {"quick": opts.quick, "command": command}}
    for spec in specs:
        section = ablate_one(spec, opts)
        env = make_env(spec.env_id, {**spec.env_config, **opts.extra_env_config, "split": "test"})
        section["quality_source"] = quality_source_of(env, spec.key)
        env.close()
        results[spec.key] = section
        opts.log(ablation_tables({spec.key: section}, markdown=False, quick=opts.quick))
        results["meta"]["wall_s"] = round(time.perf_counter() - t0, 1)
        write_json(out / "ablation.json", results)
        md = [
            "# edgeroute cost-term ablation" + (" (QUICK run)" if opts.quick else ""),
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
                {k: v for k, v in results.items() if k != "meta"},
                markdown=True,
                quick=opts.quick,
            ),
        ]
        (out / "ablation.md").write_text("\n".join(md))
    opts.log(
        f"wrote {out / 'ablation.json'} and {out / 'ablation.md'} in "
        f"{results['meta']['wall_s']:.0f} s{quick_tag(opts.quick)}"
    )
    return results
