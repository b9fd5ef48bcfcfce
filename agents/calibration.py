"""Calibrating thresholds to a share of edge calls, and grid-tuning knobs on validation.

RouteLLM (``routers/routers.py``, ``calibrate_threshold.py``) turns a target share of
strong-model calls into a threshold by taking the matching quantile of the router's scores on a
calibration set. We do the same on the validation split: with ``threshold`` set to the
``1 - share`` quantile, ``score > threshold`` holds for about ``share`` of the queries.

Tuning never looks at the test split: the callers pass an evaluator bound to validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.errors import require


def calibrate_threshold(scores: Sequence[float] | np.ndarray, edge_share: float) -> float:
    """Threshold such that ``scores > threshold`` for ~``edge_share`` of ``scores``.

    ``edge_share`` 0 gives the maximum score (nothing strictly above it), 1 gives a value just
    below the minimum (everything above it). Ties in the scores make the realised share step.
    """
    values = np.asarray(scores, dtype=float).ravel()
    require(values.size > 0, "cannot calibrate a threshold on an empty score set")
    require(bool(np.all(np.isfinite(values))), "calibration scores must be finite")
    require(0.0 <= edge_share <= 1.0, f"edge_share={edge_share!r} must be in [0, 1]")
    if edge_share >= 1.0:
        return float(np.nextafter(values.min(), -np.inf))
    if edge_share <= 0.0:
        return float(values.max())
    # "higher" so that at most edge_share of the scores lie strictly above the threshold.
    return float(np.quantile(values, 1.0 - edge_share, method="higher"))


def threshold_grid(scores: Sequence[float] | np.ndarray, n_points: int) -> list[float]:
    """Thresholds calibrated to ``n_points`` edge shares evenly spaced in [0, 1]."""
    require(n_points >= 2, f"n_points={n_points} must be at least 2")
    return [calibrate_threshold(scores, s) for s in np.linspace(0.0, 1.0, n_points)]


@dataclass(frozen=True)
class TuningResult:
    """Outcome of a grid search: the chosen parameters and every point evaluated."""

    best: dict[str, Any]
    best_metrics: dict[str, float]
    grid: list[dict[str, Any]]  # each: params + metrics


def matched_quality_objective(
    target_quality: float, tolerance: float = 0.0
) -> Callable[[Mapping[str, float]], tuple[float, ...]]:
    """Sort key for tuning: meet ``target_quality`` (minus tolerance), then lowest latency.

    Points that reach the target rank before all that do not; among those that do, lower mean
    latency wins; among those that do not, higher quality wins. Smaller key is better.
    """

    def key(metrics: Mapping[str, float]) -> tuple[float, ...]:
        quality = float(metrics["quality"])
        latency = float(metrics["latency_mean_s"])
        if quality >= target_quality - tolerance:
            return (0.0, latency, -quality)
        return (1.0, -quality, latency)

    return key


def grid_search(
    evaluate: Callable[[dict[str, Any]], Mapping[str, float]],
    grid: Iterable[dict[str, Any]],
    objective: Callable[[Mapping[str, float]], Any],
) -> TuningResult:
    """Evaluate every parameter dict of ``grid`` and keep the one with the smallest objective."""
    points: list[dict[str, Any]] = []
    best: tuple[Any, dict[str, Any], dict[str, float]] | None = None
    for params in grid:
        metrics = {k: float(v) for k, v in evaluate(dict(params)).items()}
        points.append({**params, **metrics})
        key = objective(metrics)
        if best is None or key < best[0]:
            best = (key, dict(params), metrics)
    require(best is not None, "grid search got an empty grid")
    assert best is not None
    return TuningResult(best=best[1], best_metrics=best[2], grid=points)


def log_grid(low: float, high: float, n_points: int) -> list[float]:
    """``n_points`` values log-spaced between ``low`` and ``high`` (both > 0), inclusive."""
    require(0 < low <= high, f"log grid needs 0 < low <= high, got {low!r}, {high!r}")
    require(n_points >= 1, f"n_points={n_points} must be at least 1")
    if n_points == 1:
        return [float(low)]
    return [float(v) for v in np.exp(np.linspace(math.log(low), math.log(high), n_points))]
