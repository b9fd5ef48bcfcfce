"""The benchmark: every policy on the test split of each benchmark, frontiers, matched quality.

For each benchmark (MMLU and GSM8K in the single-turn environment, MT-Bench-101 in the
multi-turn one):

1. **Validation** (never test): always-edge's validation quality is the target; the
   SemanticThreshold threshold and the Analytic ``(alpha, theta)`` are tuned to be the cheapest
   that reach it (:mod:`experiments.tuning`).
2. **PPO**: trained on the train split (:func:`experiments.runs.train_or_reuse`), or reused
   from ``--models``; optionally a reward-weight sweep (latency weight x factors) for extra
   frontier points.
3. **Test**: every policy with the same reset seeds (common random numbers) for several seeds;
   mean and spread over seeds.
4. **Frontiers**: SemanticThreshold over its validation-calibrated thresholds, Analytic over
   its theta grid at every alpha of the grid, Random over p, PPO over its reward-weight
   variants (:mod:`experiments.sweeps`).
5. **Matched quality**: each frontier interpolated at always-edge's *test* quality; reductions
   of Analytic vs SemanticThreshold and of PPO vs Analytic, and the share of Analytic's latency
   gap to the Oracle that PPO closes (:mod:`experiments.matched`).

Every run is a spec handed to an executor (:mod:`experiments.runs`), one call per phase:
validation (two calls), training, test (every policy, seed and sweep point at once).
Everything lands in ``results.json``, ``results.md`` and PNG plots (see :mod:`experiments.report`).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.registry import POLICY_REGISTRY, make_policy
from envs.stateful_config import stateful_active
from experiments import ppo_frontier
from experiments.envfactory import describe_env
from experiments.evaluate import SEED_STRIDE
from experiments.load_baselines import (
    LOAD_BASELINES,
    baseline_comparison,
    baseline_sweeps,
    tune_load_baselines,
)
from experiments.matched import matched_comparison
from experiments.metrics import pooled_latencies
from experiments.nonmyopic import nonmyopic_gap
from experiments.paired import NO_HINDSIGHT, paired_section
from experiments.provenance import code_provenance
from experiments.run_profile import BenchmarkSpec, EvalBudget, RunOptions
from experiments.runs import (
    Executor,
    InProcessExecutor,
    RunBatch,
    SplitRuns,
    TrainOutcome,
    TrainSpec,
    policy_runs,
    split_runs,
    train_spec,
)
from experiments.sweeps import (
    SweepPoint,
    add_sweep,
    analytic_sweep,
    point_dict,
    point_of,
    random_sweep,
    semantic_sweep,
    sweep_frontier,
)
from experiments.tuned_targets import validation_choices
from experiments.tuning import ValidationTuning, tune_on_validation

#: Policies of the main table, in display order: the registry's order without the old alias
#: ``oracle``; ``hindsight_optimal`` (the bound of a dialogue) only on multi-turn workloads.
POLICY_ORDER: tuple[str, ...] = tuple(
    n for n in POLICY_REGISTRY if n not in ("oracle", ppo_frontier.NAME)
)
#: Latency weights of the hindsight frontier (``nonmyopic_gap``'s latency at matched quality),
#: besides the environment's own reward (-0.1 per second by default, the bound's own run):
#: quality only (0) and three times the default bracket the myopic oracle's quality.
HINDSIGHT_LATENCY_WEIGHTS: tuple[float, ...] = (0.0, -0.3)


def nonmyopic_runs(bench: BenchmarkSpec, cfg: Mapping[str, Any], prof: Any) -> SplitRuns:
    """Test runs of one dialogue per episode for ``nonmyopic_gap``: then every policy starts
    each dialogue from the same state (in episodes of several dialogues the clock a policy
    leaves behind moves the next dialogue's world), so the per-dialogue comparison with the
    bound is exact. As many dialogues as the benchmark's episodes hold (at most 1,000 per
    seed)."""
    per_episode = int(cfg.get("dialogues_per_episode", 1))
    own = bench.budget(prof.budget)
    episodes = min(own.episodes * per_episode, SEED_STRIDE)
    one = {**cfg, "dialogues_per_episode": 1}
    budget = EvalBudget(episodes, None, full_pass=own.full_pass, pass_items=own.pass_items)
    return split_runs(bench, one, "test", prof.seeds, budget)


def hindsight_sweep() -> list[SweepPoint]:
    """The hindsight frontier: the bound planned for each latency weight."""
    return [
        SweepPoint("hindsight_optimal", {"latency_weight": w}, w) for w in HINDSIGHT_LATENCY_WEIGHTS
    ]


def gap_section(done: Mapping[Any, Any], points: list[SweepPoint]) -> dict[str, Any]:
    """``nonmyopic_gap`` from the single-dialogue runs (:func:`nonmyopic_runs`)."""
    myopic = policy_runs(done[("gap", "myopic_oracle")])
    hindsight = policy_runs(done[("gap", "hindsight_optimal")])
    frontier = sweep_frontier(done, ("gap", "sweep"), points) + [point_of(hindsight.metrics)]
    gap = nonmyopic_gap(hindsight.logs, myopic.logs, point_of(myopic.metrics), frontier)
    return {
        **gap,
        "myopic_oracle": myopic.metrics,
        "hindsight_optimal": hindsight.metrics,
        "hindsight_frontier": [point_dict(p) for p in frontier],
        "episodes": "one dialogue per episode, common random numbers",
    }


def policy_order(multi_turn: bool) -> tuple[str, ...]:
    """The policies of a section: every one, ``hindsight_optimal`` only on dialogues."""
    return tuple(n for n in POLICY_ORDER if multi_turn or n != "hindsight_optimal")


#: Policies whose tuned operating point and the two extremes join their frontier.
WITH_EXTREMES: tuple[str, ...] = ("semantic_threshold", "analytic")
#: Points marked on the frontier plots.
PLOT_FIXED: tuple[str, ...] = ("always_device", "always_edge", "latency_greedy", "myopic_oracle")


def fixed_policies(tuning: ValidationTuning, multi_turn: bool) -> dict[str, dict[str, Any]]:
    """Registry name -> arguments of every test policy but PPO (tuned ones from validation)."""
    fixed = {
        "always_device": {},
        "always_edge": {},
        "random": {"p": 0.5, "seed": 0},
        "semantic_threshold": tuning.semantic_kwargs(),
        "latency_greedy": {},
        "analytic": tuning.analytic_kwargs(),
        "myopic_oracle": {},
    }
    if multi_turn:
        fixed["hindsight_optimal"] = {}
    return fixed


@dataclass(frozen=True)
class PPOPlan:
    """The PPO training runs of one benchmark: headline seeds and reward-weight variants."""

    factors: tuple[float, ...]
    """latency-weight factor of each run (1.0: the headline PPO)"""
    specs: tuple[TrainSpec, ...]


def plan_ppo(
    opts: RunOptions, bench: BenchmarkSpec, env_config: Mapping[str, Any], weights: Mapping
) -> PPOPlan:
    """Every ``ppo_seeds`` seed of the headline PPO, the first seed of each other factor."""
    prof = opts.profile
    factors, specs = [], []
    for factor in prof.ppo_latency_weight_factors:
        cfg, variant, seeds = dict(env_config), "ppo", prof.ppo_seeds
        if factor != 1.0:
            cfg["reward_weights"] = {**weights, "latency": weights["latency"] * factor}
            variant, seeds = f"ppo_latency_x{factor:g}", prof.ppo_seeds[:1]
        for seed in seeds:
            factors.append(factor)
            specs.append(
                train_spec(opts, bench, variant, cfg, seed, bench.timesteps(prof.ppo_timesteps))
            )
    return PPOPlan(tuple(factors), tuple(specs))


def run_one_benchmark(
    bench: BenchmarkSpec, opts: RunOptions, executor: Executor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the whole pipeline on one benchmark; returns (results section, plot data)."""
    opts = opts.for_workload(bench)
    prof, log = opts.profile, opts.log
    cfg = {**bench.env_config, **opts.extra_env_config}
    val = split_runs(bench, cfg, "validation", prof.tune_seeds, bench.budget(prof.budget))
    test = split_runs(bench, cfg, "test", prof.seeds, bench.budget(prof.budget))
    described = describe_env(bench.env_id, test.env.config, bench.key)
    t0 = time.perf_counter()

    # 1. validation tuning
    tuning = tune_on_validation(executor, val, prof.sweep_points, prof.alpha_grid)
    log(
        f"[{bench.key}] validation: target quality {tuning.target_quality:.3f}; "
        f"semantic threshold {tuning.semantic.best['threshold']:.4g}; analytic alpha "
        f"{tuning.analytic.best['alpha']:.3g} theta {tuning.analytic.best['theta']:.4g} "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    baselines = tune_load_baselines(
        executor, val, tuning.record, prof.sweep_points, prof.alpha_grid
    )

    choices = validation_choices(
        executor,
        val,
        tuning.target_quality,
        {"semantic_threshold": tuning.semantic, "analytic": tuning.analytic},
        prof.pgr_levels,
    )

    # 2. PPO (headline + reward-weight sweep)
    plan = plan_ppo(opts, bench, cfg, described.reward_weights)
    cond_specs = ppo_frontier.conditioned_specs(opts, bench, cfg)
    trained: list[TrainOutcome] = executor.map([*plan.specs, *cond_specs])
    cond = trained[len(plan.specs) :]
    trained = trained[: len(plan.specs)]
    for outcome in [*trained, *cond]:
        log(f"[{bench.key}] {_trained_text(outcome)}")
    headline = [o for f, o in zip(plan.factors, trained, strict=True) if f == 1.0]
    variants = [(f, o) for f, o in zip(plan.factors, trained, strict=True) if f != 1.0]

    # 3. + 4. test: every policy, seed and sweep point, common random numbers
    batch = RunBatch()
    multi = bool(described.multi_turn)
    # The hindsight bound needs a world the actions do not change (no stateful world).
    bound = multi and not stateful_active(cfg)
    fixed = fixed_policies(tuning, bound)
    fixed.update({p: dict(baselines[p]["best"]) for p in LOAD_BASELINES})
    for name, kwargs in fixed.items():
        batch.add(name, test.specs(name, kwargs, keep_log=True))
    # PPO: every training seed on every eval seed; metrics pooled over training seeds.
    for o in headline:
        batch.add("ppo", test.specs("ppo", {"model_dir": str(o.model_dir)}, keep_log=True))
    sweep_plan: dict[str, list[SweepPoint]] = {
        "semantic_threshold": semantic_sweep(tuning.semantic_thresholds),
        "analytic": analytic_sweep(tuning.theta_grids),
        "random": random_sweep(prof.sweep_points),
        "ppo": [SweepPoint("ppo", {"model_dir": str(o.model_dir)}, f) for f, o in variants],
        **baseline_sweeps(baselines),
    }
    if cond:
        sweep_plan[ppo_frontier.NAME] = ppo_frontier.conditioned_sweep(cond[0], tuning.theta_grids)
        own = ppo_frontier.own_prices_kwargs(cond[0], described.reward_weights)
        batch.add(ppo_frontier.NAME, test.specs(ppo_frontier.NAME, own, keep_log=True))
    for family, points in sweep_plan.items():
        add_sweep(batch, family, test, points, keep_log=True)
    hindsight_points = hindsight_sweep()
    if bound:  # the hindsight frontier on the test episodes themselves (paired with the rest)
        add_sweep(batch, "hindsight", test, hindsight_points, keep_log=True)
    if bound:
        gap_runs = nonmyopic_runs(bench, cfg, prof)
        for name in ("myopic_oracle", "hindsight_optimal"):
            batch.add(("gap", name), gap_runs.specs(name, {}, keep_log=True))
        add_sweep(batch, ("gap", "sweep"), gap_runs, hindsight_points)
    done = batch.run(executor)
    paired = paired_section(
        done,
        {k: len(v) for k, v in sweep_plan.items()},
        "hindsight" if bound else (NO_HINDSIGHT if stateful_active(cfg) else None),
        len(hindsight_points),
        prof.pgr_levels,
        prof.bootstrap_reps,
        choices,
    )

    order = policy_order(bound)
    runs = {name: policy_runs(done[name]) for name in order}
    policy_metrics = {name: runs[name].metrics for name in order}
    sweeps = {k: sweep_frontier(done, k, points) for k, points in sweep_plan.items()}
    sweeps["ppo"].insert(0, point_of(runs["ppo"].metrics, 1.0))
    # The tuned operating points belong to their frontiers too, and so do the two extremes
    # (threshold above every score = always-device, below every score = always-edge): the
    # calibrated grid reaches them on validation but not necessarily on test.
    for name in (*WITH_EXTREMES, *LOAD_BASELINES):
        sweeps[name] += [
            point_of(policy_metrics[n]) for n in (name, "always_device", "always_edge")
        ]

    conditioned = _conditioned(cond, done, sweeps, policy_metrics, prof.pgr_levels)
    section = {
        "env_id": bench.env_id,
        "quick": opts.quick,
        "quality_source": described.quality_source,
        "scenario": described.scenario,
        "policies": policy_metrics,
        "policy_params": {name: make_policy(name, **kw).params() for name, kw in fixed.items()},
        **matched_comparison(sweeps, policy_metrics, prof.pgr_levels),
        **{k: v for k, v in paired.items() if k != "hindsight"},
        "frontiers": {k: [point_dict(p) for p in v] for k, v in sweeps.items()},
        "hindsight": paired["hindsight"],
        **({"nonmyopic_gap": gap_section(done, hindsight_points)} if bound else {}),
        **conditioned,
        "load_baselines": {
            "vs_static": baseline_comparison(sweeps, policy_metrics, prof.pgr_levels),
            "tuning": {
                p: {k: baselines[p][k] for k in ("best", "validation")} for p in LOAD_BASELINES
            },  # fmt: skip
        },
        "tuning": {
            "validation_target_quality": tuning.target_quality,
            "semantic_threshold": tuning.semantic.best,
            "semantic_threshold_validation": tuning.semantic.best_metrics,
            "analytic": tuning.analytic.best,
            "analytic_validation": tuning.analytic.best_metrics,
            "alpha_grid": list(tuning.theta_grids),
            "seeds": list(prof.tune_seeds),
        },
        "ppo_training": {
            "default_reward_weights": described.reward_weights,
            "runs": {
                o.spec.name: {**o.info, "latency_weight_factor": f}
                for f, o in zip(plan.factors, trained, strict=True)
            }
            | {o.spec.name: {**o.info, "tradeoff_conditioning": True} for o in cond},
        },
        "seeds": list(prof.seeds),
        "episodes_per_seed": prof.episodes_per_seed,
        "max_steps_per_episode": prof.max_steps_per_episode,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    plot_data = {
        "sweeps": sweeps,
        "latencies": {n: pooled_latencies(runs[n].logs) for n in order},
    }
    return section, plot_data


def _conditioned(cond, done, sweeps, policy_metrics, pgr_levels) -> dict[str, Any]:
    """The ``ppo_conditioned`` entry of a section (empty if the profile trains none). Its
    points join PPO's frontier too (as the reward-weight variants do), so the matched-quality
    ``ppo`` comparison reads the best PPO operating points whichever run gave them."""
    if not cond:
        return {}
    own = policy_runs(done[ppo_frontier.NAME]).metrics
    sweeps[ppo_frontier.NAME].append(point_of(own))
    sweeps["ppo"].extend(sweeps[ppo_frontier.NAME])
    section = ppo_frontier.conditioned_section(
        sweeps[ppo_frontier.NAME], sweeps["analytic"], own,
        policy_metrics["always_edge"]["quality"], policy_metrics["always_device"]["quality"],
        pgr_levels,
    )  # fmt: skip
    return {ppo_frontier.NAME: section}


def _trained_text(outcome: TrainOutcome) -> str:
    info = outcome.info
    if "reused" in info:
        return f"reused {outcome.spec.name} from {info['reused']}"
    return (
        f"trained {outcome.spec.name} ({info['wall_s']:.0f} s, {info['steps_per_s']:.0f} steps/s)"
    )


def run_meta(opts: RunOptions, job: str) -> dict[str, Any]:
    """The ``meta`` entry of a results file: what was run, where, with which budgets."""
    return {
        "quick": opts.quick,
        "command": opts.command or f"edgeroute {job}",
        "profile": {k: v for k, v in opts.profile.to_dict().items() if k != "ablation"},
        "host": f"{platform.node() or 'host'} ({platform.machine()}, {os.cpu_count()} CPUs)",
        "note": "QUICK run: small budgets" if opts.quick else "full run",
        "env_overrides": {k: v for k, v in opts.extra_env_config.items() if k != "trace"},
        "code": code_provenance(),
    }


def run_benchmark(opts: RunOptions, executor: Executor | None = None) -> dict[str, Any]:
    """Run every benchmark of the profile; write results.json, results.md and plots.

    ``executor`` runs the independent runs (default: :class:`InProcessExecutor`).
    """
    from experiments.files import write_json, write_text
    from experiments.learning_curves import plot_learning_curves
    from experiments.plots import plot_frontiers, plot_latency_distributions
    from experiments.report import (
        quality_label,
        quick_tag,
        results_markdown,
        section_text,
    )

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    specs = opts.profile.specs()
    results: dict[str, Any] = {"meta": run_meta(opts, "benchmark")}
    own = executor is None
    executor = InProcessExecutor() if executor is None else executor
    try:
        for bench in specs:
            section, plot_data = run_one_benchmark(bench, opts, executor)
            results[bench.key] = section
            opts.log(section_text(bench.key, section, opts.quick))
            title = f"{bench.key} ({quality_label(section)}, test){quick_tag(opts.quick)}"
            policies = section["policies"]
            fixed = {n: (policies[n]["quality"], policies[n]["latency_mean_s"]) for n in PLOT_FIXED}
            plot_frontiers(
                plot_data["sweeps"],
                fixed,
                out / f"frontier_{bench.key}.png",
                title,
                target_quality=section["matched_quality"]["target_quality"],
            )
            plot_latency_distributions(
                plot_data["latencies"], out / f"latency_{bench.key}.png", title
            )
            curves = f"{bench.key}: PPO training, validation split{quick_tag(opts.quick)}"
            plot_learning_curves(out / "ppo" / bench.key, out / f"learning_{bench.key}.png", curves)
            # Written after each benchmark so an interrupted run keeps what it finished.
            results["meta"]["wall_s"] = round(time.perf_counter() - t0, 1)
            write_json(out / "results.json", results)
            write_text(out / "results.md", results_markdown(results))
    finally:
        if own:
            executor.close()
    opts.log(
        f"wrote {out / 'results.json'}, {out / 'results.md'} and plots "
        f"in {results['meta']['wall_s']:.0f} s{quick_tag(opts.quick)}"
    )
    return results
