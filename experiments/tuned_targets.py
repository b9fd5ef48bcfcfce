"""Operating points tuned on validation for each matched-quality target and for equal reward.

The frontier comparison (:mod:`experiments.matched_ci`) reads each family on test at a target
quality; a deployed router has one (alpha, theta), chosen before test. This module gives that
reading too, each policy tuned on **validation** only:

- per matched-quality target (always-edge's validation quality and the same fractions of the
  always-device -> always-edge validation gap as on test), the cheapest SemanticThreshold and
  the cheapest Analytic grid point reaching it (``agents.calibration.matched_quality_objective``,
  the benchmark's tuning rule), then evaluated on test and compared paired (latency and
  edge-call reductions, quality difference, with CIs);
- at equal reward (the environment's reward weights, PPO's training objective): each family's
  grid point of highest validation reward, against each other and against PPO trained for that
  reward; test reward differences with CIs.

The test sweeps run exactly the validation grids (same thresholds, same order), so a tuned
point is a sweep point on test: no extra test runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.calibration import TuningResult, matched_quality_objective
from experiments.runs import Executor, SplitRuns, policy_runs
from experiments.stats import Resamples, paired_difference, summarize, table_means
from experiments.units import UnitTable, column

FAMILIES: tuple[str, ...] = ("semantic_threshold", "analytic")


def _argbest(result: TuningResult, key: Any) -> int:
    scores = [key(point) for point in result.grid]
    return min(range(len(scores)), key=scores.__getitem__)


def validation_choices(
    executor: Executor,
    val: SplitRuns,
    target_quality: float,
    results: Mapping[str, TuningResult],
    levels: Sequence[float],
) -> dict[str, Any]:
    """Grid indices (= test sweep indices) of each family's point per target and at best
    reward; ``results``: the families' validation grids (``semantic_threshold``, ``analytic``)."""
    q_device = float(policy_runs(executor.map(val.specs("always_device", {}))).metrics["quality"])
    fractions = [1.0, *[float(x) for x in levels if float(x) != 1.0]]
    per_target = {}
    for x in fractions:
        tq = q_device + x * (target_quality - q_device)
        key = matched_quality_objective(tq)
        per_target[f"{x:g}"] = {
            "validation_target_quality": tq,
            **{n: _argbest(results[n], key) for n in FAMILIES},
        }
    best_reward = {n: _argbest(results[n], lambda m: -float(m["reward_mean"])) for n in FAMILIES}
    return {
        "validation_device_quality": q_device,
        "per_target": per_target,
        "equal_reward": best_reward,
    }


def _metrics(t: UnitTable, res: Resamples) -> dict[str, float]:
    row = table_means(t, res)[0]
    return {
        c: float(row[column(c)]) for c in ("latency_mean_s", "quality", "edge_rate", "reward_mean")
    }


def _ci(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": d["point"], "ci95": d["ci95"]}


def tuned_comparisons(
    choices: Mapping[str, Any],
    sweeps: Mapping[str, Sequence[UnitTable]],
    ppo: UnitTable,
    edge: UnitTable,
    device: UnitTable,
    res: Resamples,
) -> dict[str, Any]:
    """``tuned_per_target`` and ``equal_reward`` entries of a benchmark section, from the test
    sweep tables of each family (index = validation grid index) and the headline PPO's."""
    iq = column("quality")
    qd, qe = table_means(device, res)[:, iq], table_means(edge, res)[:, iq]
    per_target: dict[str, Any] = {}
    for level, ch in choices["per_target"].items():
        s, a = (
            sweeps["semantic_threshold"][ch["semantic_threshold"]],
            sweeps["analytic"][ch["analytic"]],
        )
        test_target = summarize(qd + float(level) * (qe - qd))["point"]
        per_target[level] = {
            "validation_target_quality": ch["validation_target_quality"],
            "test_target_quality": test_target,
            "semantic_threshold": _metrics(s, res),
            "analytic": _metrics(a, res),
            "analytic_vs_static": {
                "latency_reduction": _ci(
                    paired_difference(s, a, "latency_mean_s", res, relative=True)
                ),
                "edge_call_reduction": _ci(
                    paired_difference(s, a, "edge_rate", res, relative=True)
                ),
                "quality_difference": _ci(paired_difference(s, a, "quality", res)),
            },
        }
    er = choices["equal_reward"]
    s, a = (
        sweeps["semantic_threshold"][er["semantic_threshold"]],
        sweeps["analytic"][er["analytic"]],
    )
    equal_reward = {
        "note": "each policy tuned on validation for the env's reward (PPO: trained for it)",
        "semantic_threshold": _metrics(s, res),
        "analytic": _metrics(a, res),
        "ppo": _metrics(ppo, res),
        "analytic_minus_static_reward": _ci(paired_difference(s, a, "reward_mean", res)),
        "ppo_minus_analytic_reward": _ci(paired_difference(a, ppo, "reward_mean", res)),
    }
    return {"tuned_per_target": per_target, "equal_reward": equal_reward}
