"""The benchmark: every policy on the test split of each benchmark, frontiers, matched quality.

For each benchmark (MMLU and GSM8K in the single-turn environment, MT-Bench-101 in the
multi-turn one):

1. **Validation** (never test): always-edge's validation quality is the target; the
   SemanticThreshold threshold and the Analytic ``(alpha, theta)`` are tuned to be the cheapest
   that reach it (:mod:`experiments.tuning`).
2. **PPO**: trained on the train split (:mod:`experiments.train`), or reused from ``--models``;
   optionally a reward-weight sweep (latency weight x factors) for extra frontier points.
3. **Test**: every policy with the same reset seeds (common random numbers) for several seeds;
   mean and spread over seeds.
4. **Frontiers**: SemanticThreshold over its validation-calibrated thresholds, Analytic over
   its theta grid at every alpha of the grid, Random over p, PPO over its reward-weight
   variants.
5. **Matched quality**: each frontier interpolated at always-edge's *test* quality; reductions
   of Analytic vs SemanticThreshold and of PPO vs Analytic, and the share of Analytic's latency
   gap to the Oracle that PPO closes.

Everything lands in ``results.json``, ``results.md`` and PNG plots (see :mod:`experiments.report`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.analytic import Analytic
from agents.base import Policy
from agents.baselines import AlwaysDevice, AlwaysEdge, LatencyGreedy, RandomRouter
from agents.oracle import Oracle
from agents.ppo import MODEL_FILE, PPOPolicy
from cost_models.errors import require
from experiments.envfactory import env_id_for, make_env
from experiments.evaluate import PolicyRuns, evaluate
from experiments.frontier import (
    FrontierPoint,
    gap_closed_pct,
    interpolate_at_quality,
    reduction_pct,
)
from experiments.metrics import pooled_latencies
from experiments.train import TrainSettings, train_ppo
from experiments.tuning import ValidationTuning, tune_on_validation

#: Policies of the main table, in display order.
POLICY_ORDER: tuple[str, ...] = (
    "always_device",
    "always_edge",
    "random",
    "semantic_threshold",
    "latency_greedy",
    "analytic",
    "ppo",
    "oracle",
)
#: Policies swept to draw frontiers.
TUNABLE: tuple[str, ...] = ("semantic_threshold", "analytic", "random", "ppo")


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark to run: its key in results, env id and env config overrides."""

    key: str
    env_id: str
    env_config: dict[str, Any]


def parse_benchmarks(items: Sequence[Any], common: Mapping[str, Any]) -> list[BenchmarkSpec]:
    """Profile entries to specs.

    Each entry is a benchmark name (env id from :data:`BENCHMARK_ENVS`) or a mapping
    ``{key, env_id, env_config}``. ``common`` maps env ids to config overrides applied to every
    benchmark run in that environment (episode length keys differ between the two envs).
    """
    specs = []
    for item in items:
        if isinstance(item, str):
            env_id = env_id_for(item)
            cfg = {**dict(common.get(env_id) or {}), "benchmark": item}
            specs.append(BenchmarkSpec(item, env_id, cfg))
        else:
            require(
                isinstance(item, Mapping) and "key" in item and "env_id" in item,
                f"benchmark entry {item!r} must be a name or a mapping with key and env_id",
            )
            env_id = str(item["env_id"])
            cfg = {**dict(common.get(env_id) or {}), **dict(item.get("env_config") or {})}
            specs.append(BenchmarkSpec(str(item["key"]), env_id, cfg))
    require(len(specs) > 0, "the benchmark profile lists no benchmarks")
    return specs


def select_benchmarks(items: Sequence[Any], wanted: Sequence[str]) -> list[Any]:
    """The profile entries whose key is in ``wanted`` (in ``wanted`` order); a name the
    profile does not list is taken as a plain benchmark name."""
    by_key = {(i if isinstance(i, str) else str(i.get("key"))): i for i in items}
    return [by_key.get(name, name) for name in wanted]


@dataclass
class BenchmarkOptions:
    """Arguments of a benchmark run."""

    out_dir: Path
    profile: dict[str, Any]
    quick: bool = False
    ppo_config: Path | None = None
    models_dir: Path | None = None
    progress_bar: bool = True
    log: Callable[[str], None] = print
    extra_env_config: dict[str, Any] = field(default_factory=dict)


def _points_of(
    runs: Sequence[tuple[float | None, PolicyRuns]], params: Mapping[str, float] | None = None
) -> list[FrontierPoint]:
    return [
        FrontierPoint(
            quality=r.metrics["quality"],
            latency_mean_s=r.metrics["latency_mean_s"],
            edge_rate=r.metrics["edge_rate"],
            knob=None if k is None else float(k),
            params=tuple((params or {}).items()),
        )
        for k, r in runs
    ]


def _point_dict(p: FrontierPoint) -> dict[str, Any]:
    return {
        "knob": p.knob,
        **dict(p.params),
        "quality": p.quality,
        "latency_mean_s": p.latency_mean_s,
        "edge_rate": p.edge_rate,
    }


def _train_or_reuse(
    spec: BenchmarkSpec,
    variant: str,
    env_config: Mapping[str, Any],
    seed: int,
    opts: BenchmarkOptions,
    drop_groups: Sequence[str] = (),
    timesteps: int | None = None,
) -> tuple[Path, dict[str, Any]]:
    """A trained model directory for ``spec``/``variant``/``seed`` (trained unless reused)."""
    name = f"{variant}_seed{seed}"
    if opts.models_dir is not None:
        reuse = Path(opts.models_dir) / spec.key / name
        require(
            (reuse / MODEL_FILE).exists(),
            f"--models {opts.models_dir}: no {MODEL_FILE} in {reuse} (expected layout "
            "<models>/<benchmark>/<variant>_seed<seed>/model.zip, as a benchmark run writes)",
        )
        return reuse, {"reused": str(reuse)}
    out = Path(opts.out_dir) / "ppo" / spec.key / name
    result = train_ppo(
        TrainSettings(
            env_id=spec.env_id,
            out_dir=out,
            seed=seed,
            config_path=opts.ppo_config,
            timesteps=int(timesteps or opts.profile["ppo_timesteps"]),
            env_overrides=dict(env_config),
            drop_groups=tuple(drop_groups),
            progress_bar=opts.progress_bar,
        )
    )
    return out, {
        "model_dir": str(out),
        "timesteps": result.num_timesteps,
        "wall_s": round(result.wall_s, 2),
        "steps_per_s": round(result.steps_per_s, 1),
    }


def default_reward_weights(env_id: str, env_config: Mapping[str, Any]) -> dict[str, float]:
    """The environment's reward weights for ``env_config`` (for the reward-weight sweep)."""
    env = make_env(env_id, env_config)
    try:
        return dict(env.unwrapped.config["reward_weights"])
    finally:
        env.close()


def quality_source_of(env: Any, key: str) -> str:
    """``measured`` or ``modelled`` from the environment's trace metadata."""
    trace = getattr(env.unwrapped, "trace", None)
    meta = getattr(trace, "meta", None) or {}
    if "quality_source" in meta:
        return str(meta["quality_source"])
    return "modelled" if key in ("mt_bench_101", "synthetic") else "measured"


def scenario_of(env: Any) -> dict[str, Any]:
    """Deployment scenario, label pair and latency architecture, for the report."""
    u = env.unwrapped
    cfg = dict(getattr(u, "config", {}) or {})
    trace = getattr(u, "trace", None)
    meta = dict(getattr(trace, "meta", None) or {})
    out = {
        k: cfg.get(k)
        for k in (
            "deployment",
            "device_model",
            "device_hardware",
            "edge_model",
            "edge_hardware",
            "channel",
            "pair",
            "reward_weights",
        )
        if cfg.get(k) is not None
    }
    out["label_pair"] = {
        "small": meta.get("small"),
        "large": meta.get("large"),
        "pair": meta.get("pair"),
    }
    scenario = getattr(u, "scenario", None)
    if scenario is not None:
        out["latency_architecture"] = {
            f: str(getattr(scenario, f))
            for f in (
                "name",
                "device_model",
                "device_hw",
                "device_precision",
                "edge_model",
                "edge_hw",
                "edge_precision",
                "channel",
            )
            if hasattr(scenario, f)
        }
    return out


def run_one_benchmark(spec: BenchmarkSpec, opts: BenchmarkOptions) -> tuple[dict, dict]:
    """Run the whole pipeline on one benchmark; returns (results section, plot data)."""
    prof = opts.profile
    log = opts.log
    seeds = [int(s) for s in prof["seeds"]]
    tune_seeds = [int(s) for s in prof.get("tune_seeds", seeds[:1])]
    episodes = int(prof["episodes_per_seed"])
    max_steps = prof.get("max_steps_per_episode")
    n_points = int(prof["sweep_points"])
    base_cfg = {**spec.env_config, **opts.extra_env_config}
    t0 = time.perf_counter()

    # 1. validation tuning
    val_env = make_env(spec.env_id, {**base_cfg, "split": "validation"})
    tuning: ValidationTuning = tune_on_validation(
        val_env,
        tune_seeds,
        episodes,
        n_points,
        [float(a) for a in prof["alpha_grid"]],
        max_steps,
    )
    val_env.close()
    log(
        f"[{spec.key}] validation: target quality {tuning.target_quality:.3f}; "
        f"semantic threshold {tuning.semantic.best['threshold']:.4g}; analytic alpha "
        f"{tuning.analytic.best['alpha']:.3g} theta {tuning.analytic.best['theta']:.4g} "
        f"({time.perf_counter() - t0:.0f} s)"
    )

    # 2. PPO (headline + reward-weight sweep)
    weights = default_reward_weights(spec.env_id, {**base_cfg, "split": "train"})
    ppo_models: dict[float, list[Path]] = {}
    ppo_training: dict[str, Any] = {"default_reward_weights": weights, "runs": {}}
    for factor in [float(f) for f in prof.get("ppo_latency_weight_factors", [1.0])]:
        cfg = dict(base_cfg)
        variant = "ppo"
        if factor != 1.0:
            cfg["reward_weights"] = {**weights, "latency": weights["latency"] * factor}
            variant = f"ppo_latency_x{factor:g}"
        seeds_for = prof.get("ppo_seeds", [0]) if factor == 1.0 else prof.get("ppo_seeds", [0])[:1]
        for s in seeds_for:
            t1 = time.perf_counter()
            model_dir, info = _train_or_reuse(spec, variant, cfg, int(s), opts)
            ppo_models.setdefault(factor, []).append(model_dir)
            ppo_training["runs"][f"{variant}_seed{s}"] = {**info, "latency_weight_factor": factor}
            log(f"[{spec.key}] trained {variant} seed {s} ({time.perf_counter() - t1:.0f} s)")

    # 3. test: every policy, common random numbers
    test_env = make_env(spec.env_id, {**base_cfg, "split": "test"})
    policies: dict[str, Policy] = {
        "always_device": AlwaysDevice(),
        "always_edge": AlwaysEdge(),
        "random": RandomRouter(p=0.5, seed=0),
        "semantic_threshold": tuning.semantic_policy(),
        "latency_greedy": LatencyGreedy(),
        "analytic": tuning.analytic_policy(),
        "oracle": Oracle(),
    }
    runs: dict[str, PolicyRuns] = {
        name: evaluate(test_env, pol, seeds, episodes, max_steps, keep_logs=True)
        for name, pol in policies.items()
    }
    # PPO: every training seed on every eval seed; metrics pooled over training seeds.
    ppo_runs = [
        evaluate(test_env, PPOPolicy(d), seeds, episodes, max_steps, keep_logs=True)
        for d in ppo_models[1.0]
    ]
    runs["ppo"] = _pool_runs("ppo", ppo_runs)
    policy_metrics = {name: runs[name].metrics for name in POLICY_ORDER if name in runs}
    target = policy_metrics["always_edge"]["quality"]

    # 4. frontiers on test
    sweep_seeds = seeds
    sweeps: dict[str, list[FrontierPoint]] = {}
    sem_runs = [
        (
            t,
            evaluate(
                test_env, tuning.semantic_policy().with_knob(t), sweep_seeds, episodes, max_steps
            ),
        )
        for t in tuning.semantic_thresholds
    ]
    sweeps["semantic_threshold"] = _points_of(sem_runs)
    # Analytic: theta swept at every alpha of the grid (validation-calibrated thetas); the
    # frontier is that of the whole family, as the semantic one is over its threshold.
    sweeps["analytic"] = []
    for alpha, thetas in tuning.theta_grids.items():
        ana = Analytic(alpha=alpha, theta=0.0)
        ana_runs = [
            (th, evaluate(test_env, ana.with_knob(th), sweep_seeds, episodes, max_steps))
            for th in thetas
        ]
        sweeps["analytic"] += _points_of(ana_runs, {"alpha": alpha})
    rnd_runs = [
        (p, evaluate(test_env, RandomRouter(p=float(p), seed=0), sweep_seeds, episodes, max_steps))
        for p in np.linspace(0.0, 1.0, n_points)
    ]
    sweeps["random"] = _points_of(rnd_runs)
    ppo_points = [(1.0, runs["ppo"])]
    for factor, dirs in ppo_models.items():
        if factor != 1.0:
            ppo_points.append(
                (factor, evaluate(test_env, PPOPolicy(dirs[0]), sweep_seeds, episodes, max_steps))
            )
    sweeps["ppo"] = _points_of(ppo_points)
    # The tuned operating points belong to their frontiers too, and so do the two extremes
    # (threshold above every score = always-device, below every score = always-edge): the
    # calibrated grid reaches them on validation but not necessarily on test.
    extremes = [(None, runs["always_device"]), (None, runs["always_edge"])]
    sweeps["semantic_threshold"] += _points_of([(None, runs["semantic_threshold"]), *extremes])
    sweeps["analytic"] += _points_of([(None, runs["analytic"]), *extremes])
    quality_source = quality_source_of(test_env, spec.key)
    scenario = scenario_of(test_env)
    test_env.close()

    # 5. matched quality and reductions
    matched: dict[str, Any] = {"target_quality": target}
    for name in TUNABLE:
        m = interpolate_at_quality(sweeps[name], target)
        matched[name] = {
            "latency_mean_s": m.latency_mean_s,
            "edge_rate": m.edge_rate,
            "reachable": m.reachable,
            "max_quality": max(p.quality for p in sweeps[name]),
        }
    # Also at fractions of always-device -> always-edge quality gap (RouteLLM's "performance
    # gap recovered"): the 100% point is knife-edge when frontiers are flat near the top.
    q_device = policy_metrics["always_device"]["quality"]
    by_pgr: dict[str, Any] = {}
    for level in [float(x) for x in prof.get("pgr_levels", [0.8, 0.9, 0.95])]:
        tq = q_device + level * (target - q_device)
        entry: dict[str, Any] = {"target_quality": tq}
        for name in TUNABLE:
            m = interpolate_at_quality(sweeps[name], tq)
            entry[name] = {"latency_mean_s": m.latency_mean_s, "edge_rate": m.edge_rate}
        entry["analytic_vs_static"] = _reductions(entry["semantic_threshold"], entry["analytic"])
        entry["ppo_vs_analytic"] = _reductions(entry["analytic"], entry["ppo"])
        by_pgr[f"{level:g}"] = entry
    analytic_vs_static = _reductions(matched["semantic_threshold"], matched["analytic"])
    ppo_vs_analytic = _reductions(matched["analytic"], matched["ppo"])
    oracle_latency = policy_metrics["oracle"]["latency_mean_s"]
    gap = gap_closed_pct(
        matched["analytic"]["latency_mean_s"], matched["ppo"]["latency_mean_s"], oracle_latency
    )
    # Where PPO cannot reach the target: compare at PPO's own quality as well.
    ppo_q = policy_metrics["ppo"]["quality"]
    at_ppo = interpolate_at_quality(sweeps["analytic"], ppo_q)
    ppo_vs_analytic_at_ppo_quality = {
        "quality": ppo_q,
        "analytic_latency_mean_s": at_ppo.latency_mean_s,
        "ppo_latency_mean_s": policy_metrics["ppo"]["latency_mean_s"],
        "latency_reduction_pct": reduction_pct(
            at_ppo.latency_mean_s, policy_metrics["ppo"]["latency_mean_s"]
        ),
        "edge_call_reduction_pct": reduction_pct(
            at_ppo.edge_rate, policy_metrics["ppo"]["edge_rate"]
        ),
    }

    section = {
        "env_id": spec.env_id,
        "quick": opts.quick,
        "quality_source": quality_source,
        "scenario": scenario,
        "policies": policy_metrics,
        "policy_params": {name: pol.params() for name, pol in policies.items()},
        "matched_quality": matched,
        "analytic_vs_static": analytic_vs_static,
        "ppo_vs_analytic": ppo_vs_analytic,
        "ppo_vs_analytic_at_ppo_quality": ppo_vs_analytic_at_ppo_quality,
        "matched_quality_gap_recovered": by_pgr,
        "oracle_gap_closed_pct": gap,
        "oracle_latency_mean_s": oracle_latency,
        "frontiers": {k: [_point_dict(p) for p in v] for k, v in sweeps.items()},
        "tuning": {
            "validation_target_quality": tuning.target_quality,
            "semantic_threshold": tuning.semantic.best,
            "semantic_threshold_validation": tuning.semantic.best_metrics,
            "analytic": tuning.analytic.best,
            "analytic_validation": tuning.analytic.best_metrics,
            "alpha_grid": list(tuning.theta_grids),
            "seeds": tune_seeds,
        },
        "ppo_training": ppo_training,
        "seeds": seeds,
        "episodes_per_seed": episodes,
        "max_steps_per_episode": max_steps,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    plot_data = {
        "sweeps": sweeps,
        "latencies": {n: pooled_latencies(runs[n].logs) for n in POLICY_ORDER if n in runs},
    }
    return section, plot_data


def _reductions(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "latency_reduction_pct": reduction_pct(
            baseline["latency_mean_s"], candidate["latency_mean_s"]
        ),
        "edge_call_reduction_pct": reduction_pct(baseline["edge_rate"], candidate["edge_rate"]),
    }


def _pool_runs(label: str, runs: Sequence[PolicyRuns]) -> PolicyRuns:
    """Pool several trained models' runs: per-seed metrics of all of them, one aggregate."""
    from experiments.metrics import aggregate_over_seeds

    per_seed = [m for r in runs for m in r.per_seed]
    logs = [log for r in runs for log in r.logs]
    return PolicyRuns(
        label=label, logs=logs, per_seed=per_seed, metrics=aggregate_over_seeds(per_seed)
    )


def run_benchmark(opts: BenchmarkOptions, command: str = "edgeroute benchmark") -> dict[str, Any]:
    """Run every benchmark of the profile; write results.json, results.md and plots."""
    import platform

    from experiments.plots import plot_frontiers, plot_latency_distributions
    from experiments.report import (
        quality_label,
        quick_tag,
        results_markdown,
        section_text,
        write_json,
    )

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    specs = parse_benchmarks(opts.profile["benchmarks"], opts.profile.get("env_config") or {})
    results: dict[str, Any] = {
        "meta": {
            "quick": opts.quick,
            "command": command,
            "profile": {k: v for k, v in opts.profile.items() if k != "ablation"},
            "host": f"{platform.node() or 'host'} ({platform.machine()}, "
            f"{__import__('os').cpu_count()} CPUs)",
            "note": "QUICK run: small budgets" if opts.quick else "full run",
            "env_overrides": {k: v for k, v in opts.extra_env_config.items() if k != "trace"},
        }
    }
    for spec in specs:
        section, plot_data = run_one_benchmark(spec, opts)
        results[spec.key] = section
        opts.log(section_text(spec.key, section, opts.quick))
        title = f"{spec.key} ({quality_label(section)}, test){quick_tag(opts.quick)}"
        fixed = {
            n: (section["policies"][n]["quality"], section["policies"][n]["latency_mean_s"])
            for n in ("always_device", "always_edge", "latency_greedy", "oracle")
        }
        plot_frontiers(
            plot_data["sweeps"],
            fixed,
            out / f"frontier_{spec.key}.png",
            title,
            target_quality=section["matched_quality"]["target_quality"],
        )
        plot_latency_distributions(plot_data["latencies"], out / f"latency_{spec.key}.png", title)
        # Written after each benchmark so an interrupted run keeps what it finished.
        results["meta"]["wall_s"] = round(time.perf_counter() - t0, 1)
        write_json(out / "results.json", results)
        (out / "results.md").write_text(results_markdown(results))
    opts.log(
        f"wrote {out / 'results.json'}, {out / 'results.md'} and plots "
        f"in {results['meta']['wall_s']:.0f} s{quick_tag(opts.quick)}"
    )
    return results
