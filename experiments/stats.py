"""The statistics of the benchmark: paired bootstrap over test items and training seeds, IQM.

One home for every confidence interval the benchmark reports.

- **Paired bootstrap over items** (Efron and Tibshirani, 1993, ch. 13; the percentile
  interval). Every policy passes once over the same test items under common random numbers
  (:func:`experiments.evaluate.pass_items`), so one resample of the items (queries or
  dialogues, drawn with replacement) is applied to every policy at once: a difference between
  two policies is resampled as a difference, and whatever is computed from the policies (a
  frontier, its interpolation at a target quality, a reduction) is recomputed inside each
  resample. :class:`Resamples` row 0 is the sample itself (every unit weight 1), rows 1..R the
  resamples.
- **Training seeds** (Agarwal et al., NeurIPS 2021, "Deep RL at the edge of the statistical
  precipice", the stratified bootstrap of ``rliable``): a learned policy with K training seeds
  has its seeds resampled (K draws with replacement) in each resample, independently of the
  items, so its CI covers training variance as well as the test sample.
- **IQM** (interquartile mean) over training seeds with a stratified bootstrap CI: the IQM is
  ``rliable.metrics.aggregate_iqm``; the bootstrap is written here with a numpy ``Generator``
  because ``rliable.library``'s needs the ``arch`` package, whose 7.x does not import with
  pandas 3 and whose 8.x rejects the ``random_state`` rliable passes (checked with rliable
  1.2.0, arch 7.2.0 / 8.0.0, pandas 3.1.1). Same scheme: runs resampled within each task.

Everything is seeded: the same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rliable.metrics import aggregate_iqm

from cost_models.errors import require
from experiments.units import UnitTable, column

#: Two-sided coverage of every reported interval.
CI_LEVEL = 0.95
#: Largest share of resamples in which a statistic may be undefined (e.g. the target quality
#: out of a frontier's reach) for its percentile CI to be reported: beyond it the interval
#: would be conditional on the resamples where it happens to exist, not a 95% interval.
MAX_UNDEFINED_SHARE = 0.05


@dataclass
class Resamples:
    """Unit weights of R bootstrap resamples (row 0: the sample itself) and training-seed picks."""

    weights: np.ndarray
    """(R + 1, units) how often each unit is drawn; row 0 all ones"""
    seed: int
    """seed of every draw (picks of K training seeds use the stream [seed, K])"""
    _picks: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def reps(self) -> int:
        return int(self.weights.shape[0] - 1)

    def picks(self, k: int) -> np.ndarray:
        """(R + 1, k) training-seed indices: row 0 every seed once, then k draws with
        replacement per resample (the same for every policy with k seeds)."""
        if k not in self._picks:
            rng = np.random.default_rng([self.seed, 1, k])
            drawn = rng.integers(0, k, size=(self.reps, k))
            self._picks[k] = np.vstack([np.arange(k)[None, :], drawn])
        return self._picks[k]


def draw_resamples(n_units: int, reps: int, seed: int) -> Resamples:
    """``reps`` resamples of ``n_units`` units with replacement (row 0: the sample)."""
    require(n_units >= 1 and reps >= 1, f"bootstrap of {n_units} units x {reps} resamples")
    rng = np.random.default_rng([seed, 0, n_units])
    idx = rng.integers(0, n_units, size=(reps, n_units))
    flat = (idx + n_units * np.arange(reps)[:, None]).ravel()
    counts = np.bincount(flat, minlength=reps * n_units).reshape(reps, n_units)
    weights = np.vstack([np.ones((1, n_units)), counts.astype(float)])
    return Resamples(weights, int(seed))


def table_means(table: UnitTable, res: Resamples) -> np.ndarray:
    """(R + 1, len(COLUMNS)) per-step means of ``table`` in each resample: weighted unit sums
    over evaluation seeds, training seeds as :meth:`Resamples.picks` draws them, divided by
    the weighted step count (a ratio estimator: per-query means even when dialogues are drawn)."""
    w = res.weights
    require(w.shape[1] == table.sums.shape[2], "resamples and table have different unit counts")
    n_eval = table.sums.shape[1]
    per_train = np.einsum("ru,kuc->rkc", w, table.sums.sum(axis=1))  # (R+1, K, C)
    picks = res.picks(table.n_train)
    chosen = np.take_along_axis(per_train, picks[:, :, None], axis=1).mean(axis=1)
    return chosen / (n_eval * (w @ table.steps))[:, None]


def summarize(values: Sequence[float | None] | np.ndarray) -> dict[str, Any]:
    """Point (row 0) and percentile 95% CI over the resamples (rows 1..R) of one statistic.

    ``None``/NaN in a resample means the statistic is undefined there (e.g. the target quality
    is out of a frontier's reach); ``undefined_share`` says in how many. The CI is reported
    only where the point estimate is defined and at most :data:`MAX_UNDEFINED_SHARE` of the
    resamples are undefined (then it is over the defined ones); otherwise it is None.
    """
    arr = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    point, rest = arr[0], arr[1:]
    ok = rest[np.isfinite(rest)]
    alpha = 100.0 * (1.0 - CI_LEVEL) / 2.0
    undefined = float(1.0 - ok.size / max(rest.size, 1))
    n_undefined = rest.size - ok.size
    reported = (
        ok.size > 0 and bool(np.isfinite(point)) and n_undefined <= MAX_UNDEFINED_SHARE * rest.size
    )
    ci = None
    if reported:
        ci = [float(np.percentile(ok, alpha)), float(np.percentile(ok, 100 - alpha))]
    return {
        "point": None if not np.isfinite(point) else float(point),
        "ci95": ci,
        "undefined_share": undefined,
    }


def paired_difference(
    a: UnitTable, b: UnitTable, metric: str, res: Resamples, relative: bool = False
) -> dict[str, Any]:
    """``b - a`` of ``metric`` (or ``100 (a - b) / a``, the reduction, if ``relative``), with
    its paired bootstrap CI."""
    i = column(metric)
    ma, mb = table_means(a, res)[:, i], table_means(b, res)[:, i]
    if relative:
        with np.errstate(divide="ignore", invalid="ignore"):
            return summarize(np.where(ma != 0, 100.0 * (ma - mb) / ma, np.nan))
    return summarize(mb - ma)


def iqm_with_ci(scores: np.ndarray, reps: int, seed: int) -> dict[str, Any]:
    """IQM over runs (training seeds) of ``scores`` (runs, tasks), with a stratified bootstrap
    95% CI (runs resampled within each task), as rliable reports it."""
    s = np.asarray(scores, dtype=float)
    require(s.ndim == 2 and s.size > 0, f"scores must be (runs, tasks), got shape {s.shape}")
    rng = np.random.default_rng([seed, 2, *s.shape])
    n_runs, n_tasks = s.shape
    idx = rng.integers(0, n_runs, size=(reps, n_runs, n_tasks))
    boot = np.take_along_axis(np.broadcast_to(s, (reps, n_runs, n_tasks)), idx, axis=1)
    values = [float(aggregate_iqm(s))] + [float(aggregate_iqm(b)) for b in boot]
    out = summarize(values)
    return {"iqm": out["point"], "ci95": out["ci95"], "n_runs": n_runs, "n_tasks": n_tasks}
