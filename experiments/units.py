"""Per-item records of evaluation runs: the unit of the paired bootstrap.

A unit is what the test split holds once per pass (:func:`experiments.evaluate.pass_items`): a
query (single-turn) or a dialogue (multi-turn). :func:`unit_table` turns the step logs of one
policy (one log per evaluation seed, each a whole pass) into per-unit sums of latency, quality,
edge calls and reward, and the number of served steps per unit; with common random numbers every
policy's table has the same units in the same order, so two tables pair up unit by unit.
Means over a resample are ratios of weighted sums (a dialogue's turns count as its steps), so a
per-query mean stays a per-query mean when dialogues are resampled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cost_models.errors import require
from experiments.metrics import StepLog

#: The columns of :attr:`UnitTable.sums`, in order.
COLUMNS: tuple[str, ...] = ("latency_mean_s", "quality", "edge_rate", "reward_mean")


@dataclass(frozen=True)
class UnitTable:
    """Per-unit sums of one policy over its evaluation seeds (and training seeds)."""

    units: tuple[str, ...]
    """unit ids (dialogue ids; a single-turn query is its own dialogue), sorted"""
    sums: np.ndarray
    """(training seeds, evaluation seeds, units, len(COLUMNS)) per-unit sums over its steps"""
    steps: np.ndarray
    """(units,) served steps of each unit in one pass (the same for every seed and policy)"""

    @property
    def n_train(self) -> int:
        return int(self.sums.shape[0])


def _one_log(log: StepLog) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    ids = np.asarray(log.dialogue_id)
    units, inverse = np.unique(ids, return_inverse=True)
    values = np.column_stack(
        [
            np.asarray(log.latency_s, dtype=float),
            np.asarray(log.quality, dtype=float),
            np.asarray(log.edge, dtype=float),
            np.asarray(log.reward, dtype=float),
        ]
    )
    sums = np.zeros((len(units), len(COLUMNS)))
    np.add.at(sums, inverse, values)
    steps = np.bincount(inverse, minlength=len(units)).astype(float)
    return tuple(str(u) for u in units), sums, steps


def unit_table(logs_by_train_seed: Sequence[Sequence[StepLog]]) -> UnitTable:
    """The :class:`UnitTable` of one policy: ``logs_by_train_seed[k][s]`` is the log of
    training seed ``k`` (one entry for a policy without training) on evaluation seed ``s``.
    Every log must cover the same units with the same steps (a pass under common random
    numbers); otherwise the pairing is undefined and :class:`EdgeRouteError` says so."""
    require(len(logs_by_train_seed) > 0, "unit_table needs at least one training seed")
    n_eval = len(logs_by_train_seed[0])
    require(n_eval > 0, "unit_table needs at least one evaluation log")
    ref_units: tuple[str, ...] | None = None
    ref_steps: np.ndarray | None = None
    blocks = []
    for logs in logs_by_train_seed:
        require(len(logs) == n_eval, "every training seed needs the same evaluation seeds")
        per_seed = []
        for log in logs:
            units, sums, steps = _one_log(log)
            if ref_units is None:
                ref_units, ref_steps = units, steps
            require(
                units == ref_units and np.array_equal(steps, ref_steps),
                "evaluation logs cover different items: the paired bootstrap needs every run "
                "to pass once over the same split (profile full_pass: true)",
            )
            per_seed.append(sums)
        blocks.append(np.stack(per_seed))
    assert ref_units is not None and ref_steps is not None
    return UnitTable(ref_units, np.stack(blocks), ref_steps)


def column(name: str) -> int:
    """Index of metric ``name`` in :data:`COLUMNS`."""
    return COLUMNS.index(name)


def same_units(tables: Sequence[UnitTable]) -> None:
    """Raise unless every table has the same units and steps (they pair up)."""
    first = tables[0]
    for t in tables[1:]:
        require(
            t.units == first.units and np.array_equal(t.steps, first.steps),
            "policies were evaluated on different items: no paired comparison possible",
        )
