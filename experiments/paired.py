"""The paired-statistics part of a benchmark section, from the test batch's per-item logs.

:func:`paired_section` turns the test runs (every policy and sweep point passing once over the
test split with common random numbers, logs kept) into :class:`experiments.units.UnitTable`
frontiers and hands them to :func:`experiments.matched_ci.matched_with_ci`; it adds the
hindsight frontier (exact for single-turn, :mod:`experiments.hindsight_frontier`;
``hindsight_optimal`` over its latency weights for dialogues) and the IQM of the headline PPO's
training seeds (:func:`experiments.stats.iqm_with_ci`), and the validation-tuned operating
points per target and at equal reward (:mod:`experiments.tuned_targets`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from experiments.hindsight_frontier import frontier_points, hindsight_frontier
from experiments.matched_ci import Frontier, matched_with_ci
from experiments.stats import draw_resamples, iqm_with_ci
from experiments.tuned_targets import tuned_comparisons
from experiments.units import COLUMNS, UnitTable, unit_table

#: The trade-off-conditioned PPO's name in the test batch and results (``ppo_frontier.NAME``
#: is this; defined here so the statistics do not import the training stack).
CONDITIONED = "ppo_conditioned"

#: Seed of the benchmark's bootstrap resamples (recorded in results.json).
BOOTSTRAP_SEED = 0
#: Policies whose tuned point and the two extremes join their frontier (as in the benchmark).
WITH_EXTREMES: tuple[str, ...] = ("semantic_threshold", "analytic")


def table_of(results: Sequence[Any]) -> UnitTable:
    """The table of one policy's runs (one per evaluation seed, no training seeds)."""
    return unit_table([[r.log for r in results]])


def trained_table(results: Sequence[Any]) -> UnitTable:
    """The table of a learned policy evaluated per training seed (runs grouped by model)."""
    by_model: dict[str, list[Any]] = {}
    for r in results:
        by_model.setdefault(str(r.spec.policy_kwargs.get("model_dir")), []).append(r.log)
    return unit_table(list(by_model.values()))


#: ``hindsight_key`` of a world the actions change (issue 10's stateful worlds): no bound.
NO_HINDSIGHT = "no hindsight bound"


def paired_section(
    done: Mapping[Hashable, Sequence[Any]],
    sweep_sizes: Mapping[str, int],
    hindsight_key: Hashable | None,
    n_hindsight: int,
    levels: Sequence[float],
    reps: int,
    choices: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``matched_with_ci``'s entries plus ``ppo_seeds_iqm`` and the ``hindsight`` frontier.

    ``done``: the test batch results (fixed policies by name, sweeps by ``(family, i)``,
    ``sweep_sizes[family]`` points each); ``hindsight_key``: the key of the multi-turn
    hindsight sweep (``n_hindsight`` points), None for single-turn (the exact frontier), or
    :data:`NO_HINDSIGHT` where the world depends on the actions (no hindsight frontier: its
    gap entries are None).
    """
    fixed = {n: table_of(done[n]) for n in ("always_device", "always_edge", *WITH_EXTREMES)}
    families: dict[str, Frontier] = {}
    sweeps: dict[str, list[UnitTable]] = {}
    for name in WITH_EXTREMES:
        sweeps[name] = [table_of(done[(name, i)]) for i in range(sweep_sizes[name])]
        families[name] = sweeps[name] + [fixed[name], fixed["always_device"], fixed["always_edge"]]
    ppo = trained_table(done["ppo"])
    families["ppo"] = [ppo] + [table_of(done[k]) for k in ppo_frontier_keys(sweep_sizes)]
    if hindsight_key == NO_HINDSIGHT:
        hindsight_points: list[Any] = []
        hindsight_note = (
            "not defined: the world depends on the actions (a shared edge, issue 10), so no "
            "fixed realisation exists to plan on"
        )
    elif hindsight_key is None:
        front = hindsight_frontier(fixed["always_device"], fixed["always_edge"])
        families["hindsight"] = front
        hindsight_points = frontier_points(front)
        hindsight_note = "exact: best action per query in hindsight over the whole trade-off"
    else:
        tables = [table_of(done["hindsight_optimal"])]
        tables += [table_of(done[(hindsight_key, i)]) for i in range(n_hindsight)]
        families["hindsight"] = tables
        hindsight_points = [
            dict(zip(COLUMNS[:3], per_seed_means(t)[0, :3].tolist(), strict=True)) for t in tables
        ]
        hindsight_note = (
            "hindsight_optimal planned per dialogue at each latency weight, on the same "
            "episodes; points between them are mixtures (an achievable, not a tight, bound)"
        )
    res = draw_resamples(len(ppo.units), reps, BOOTSTRAP_SEED)
    out = matched_with_ci(families, fixed["always_device"], fixed["always_edge"], levels, res)
    per_seed = per_seed_means(ppo)
    out["ppo_seeds_iqm"] = {
        name: iqm_with_ci(per_seed[:, [c]], reps, BOOTSTRAP_SEED)
        for c, name in enumerate(("latency_mean_s", "quality", "edge_rate", "reward_mean"))
    }
    out["hindsight"] = {"note": hindsight_note, "points": hindsight_points}
    if choices is not None:
        out.update(
            tuned_comparisons(
                choices, sweeps, ppo, fixed["always_edge"], fixed["always_device"], res
            )
        )
    return out


def ppo_frontier_keys(sweep_sizes: Mapping[str, int]) -> list[Hashable]:
    """The test-batch keys of PPO's frontier besides the headline seeds: the reward-weight
    variants and, where the profile trains one, the trade-off-conditioned PPO's sweep and its
    own-prices point. The same points as ``benchmark._conditioned`` adds to the point
    comparison, so the CI comparison reads the same frontier as the point estimate."""
    keys: list[Hashable] = [("ppo", i) for i in range(sweep_sizes["ppo"])]
    n_cond = sweep_sizes.get(CONDITIONED, 0)
    if n_cond:
        keys += [(CONDITIONED, i) for i in range(n_cond)] + [CONDITIONED]
    return keys


def per_seed_means(table: UnitTable) -> np.ndarray:
    """(training seeds, columns) means of each training seed over its evaluation seeds."""
    return table.sums.sum(axis=(1, 2)) / (table.sums.shape[1] * table.steps.sum())
