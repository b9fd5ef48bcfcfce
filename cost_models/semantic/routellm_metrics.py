"""APGR and CPT(x%), computed exactly as RouteLLM computes them.

Source: lm-sys/RouteLLM at commit 0b64fda, ``routellm/evals/evaluate.py`` (functions
``apgr_metric``, ``pct_call_metric`` inside ``generate_results``) and
``routellm/evals/benchmarks.py`` (``MMLU.evaluate`` / ``GSM8K.evaluate``: the thresholds and
the routing rule); the metrics are defined in Ong et al., "RouteLLM: Learning to Route LLMs
with Preference Data", ICLR 2025 (arXiv:2406.18665), Eqs. 6-8.

The curve. A router gives each query a score (RouteLLM: the strong model's win rate; ours:
the scorer's P(large model needed)). RouteLLM takes the 11 edges of ``pd.qcut(scores, 10)``
(the 0, 10, ..., 100 % quantiles, linear interpolation) as thresholds; at threshold i the
strong model serves the queries with ``score >= t_i`` (``score > t_i`` at the last edge, so
that the last point has no strong calls). Each threshold gives one point
(strong-call percentage, mean quality). :func:`routellm_curve` reproduces it (with
``np.quantile``, which equals ``pd.qcut``'s edges; where quantiles tie, RouteLLM's ``qcut``
would raise and we keep the repeated points instead).

The metrics (``evaluate.py``, verbatim in numpy):

- APGR = (AUC - weak_auc) / (strong_auc - weak_auc), with the points sorted by strong
  percentage, ``AUC = np.trapz(quality, strong_pct / 100)`` and ``weak_auc`` /
  ``strong_auc`` the same integral of the constant weak / strong quality over the same x.
  It is the mean performance gap recovered (PGR) over the call range; random routing gives
  0.5 in expectation.
- CPT(x%) = ``np.interp(x (q_strong - q_weak) + q_weak, quality, strong_pct)`` over the same
  sorted points: the strong-call percentage at which the curve recovers x of the gap.
  Like RouteLLM we hand ``np.interp`` the qualities in strong-call order even where they are
  not increasing (``np.interp`` then reads a non-monotone table as RouteLLM's run does);
  :func:`min_share_reaching` is the monotone "smallest share that reaches it" reading.

Random routing (``evaluate.py``'s ``random`` router): the scores are i.i.d. uniform, the curve
is averaged over ``random_iters`` (10) runs grouped by strong percentage
(:func:`random_router_curve`).

Units: strong-call shares are **percent** (0-100), as RouteLLM prints them; quality is the
benchmark's mean score in any unit (RouteLLM: percent correct, or the 1-10 judge score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cost_models.errors import EdgeRouteError, require

#: RouteLLM's ``--num-results`` default: 10 quantile bins, so 11 thresholds.
NUM_RESULTS = 10
#: RouteLLM's ``--random-iters`` default.
RANDOM_ITERS = 10
#: The PGR levels of RouteLLM's CPT columns (it prints 20 %, 50 % and 80 %).
CPT_LEVELS: tuple[float, ...] = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class CallPerformanceCurve:
    """Points (strong-call percent, mean quality), in the order they were produced."""

    strong_pct: np.ndarray
    quality: np.ndarray

    def __post_init__(self) -> None:
        require(
            self.strong_pct.shape == self.quality.shape and self.strong_pct.ndim == 1,
            "a call-performance curve needs one quality per strong-call share",
        )
        require(len(self.strong_pct) >= 2, "a call-performance curve needs at least 2 points")
        require(
            bool(np.isfinite(self.strong_pct).all() and np.isfinite(self.quality).all()),
            "call-performance curve values must be finite",
        )
        require(
            bool(((self.strong_pct >= 0) & (self.strong_pct <= 100)).all()),
            "strong-call shares are percentages in [0, 100]",
        )

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The points sorted by strong percentage (stable, as ``DataFrame.sort_values``)."""
        order = np.argsort(self.strong_pct, kind="stable")
        return self.strong_pct[order], self.quality[order]


def _as_1d(name: str, x: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or len(a) == 0 or not np.isfinite(a).all():
        raise EdgeRouteError(f"{name} must be a non-empty finite 1-D array, got shape {a.shape}")
    return a


def routellm_curve(
    scores: Sequence[float] | np.ndarray,
    quality_weak: Sequence[float] | np.ndarray,
    quality_strong: Sequence[float] | np.ndarray,
    num_results: int = NUM_RESULTS,
) -> CallPerformanceCurve:
    """The curve of a scoring router, as ``MMLU.evaluate`` / ``GSM8K.evaluate`` draw it.

    ``quality_*`` are the per-query qualities of each model; the point quality is their mean
    under the routing (any scale). Strong-call share in percent.
    """
    s = _as_1d("scores", scores)
    qw = _as_1d("quality_weak", quality_weak)
    qs = _as_1d("quality_strong", quality_strong)
    require(len(s) == len(qw) == len(qs), "scores and both qualities need one value per query")
    require(int(num_results) >= 1, f"num_results must be >= 1, got {num_results}")
    thresholds = np.quantile(s, np.linspace(0.0, 1.0, int(num_results) + 1))
    pct, qual = [], []
    for i, t in enumerate(thresholds):
        strong = s >= t if i != len(thresholds) - 1 else s > t
        pct.append(100.0 * strong.mean())
        qual.append(float(np.where(strong, qs, qw).mean()))
    return CallPerformanceCurve(np.asarray(pct), np.asarray(qual))


def random_router_curve(
    quality_weak: Sequence[float] | np.ndarray,
    quality_strong: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    iters: int = RANDOM_ITERS,
    num_results: int = NUM_RESULTS,
) -> CallPerformanceCurve:
    """RouteLLM's random router: uniform scores, ``iters`` runs averaged per strong share."""
    qw = _as_1d("quality_weak", quality_weak)
    require(int(iters) >= 1, f"iters must be >= 1, got {iters}")
    rows: dict[float, list[float]] = {}
    for _ in range(int(iters)):
        c = routellm_curve(rng.random(len(qw)), qw, quality_strong, num_results)
        for p, q in zip(c.strong_pct, c.quality, strict=True):
            rows.setdefault(float(p), []).append(float(q))
    pct = np.array(sorted(rows))
    return CallPerformanceCurve(pct, np.array([np.mean(rows[p]) for p in pct]))


def apgr(curve: CallPerformanceCurve, weak_quality: float, strong_quality: float) -> float:
    """Average performance gap recovered, ``evaluate.py``'s ``apgr_metric``."""
    require(
        np.isfinite(weak_quality) and np.isfinite(strong_quality),
        "weak and strong qualities must be finite",
    )
    require(
        strong_quality != weak_quality,
        f"APGR is undefined when the strong and weak qualities are equal ({weak_quality})",
    )
    x, y = curve.sorted()
    x = x / 100.0
    auc = float(np.trapezoid(y, x))
    weak_auc = float(np.trapezoid(np.full(len(x), weak_quality), x))
    strong_auc = float(np.trapezoid(np.full(len(x), strong_quality), x))
    require(strong_auc != weak_auc, "APGR needs a curve that spans more than one strong share")
    return (auc - weak_auc) / (strong_auc - weak_auc)


def cpt(
    curve: CallPerformanceCurve, level: float, weak_quality: float, strong_quality: float
) -> float:
    """CPT(level): strong-call percent at ``level`` of the gap, ``pct_call_metric``."""
    require(0.0 <= level <= 1.0, f"CPT level must lie in [0, 1], got {level}")
    x, y = curve.sorted()
    target = level * (strong_quality - weak_quality) + weak_quality
    return float(np.interp(target, y, x))


def min_share_reaching(curve: CallPerformanceCurve, target_quality: float) -> float | None:
    """The smallest strong-call percent whose achievable quality reaches ``target_quality``.

    Achievable = the upper concave envelope of the points (any two operating points can be
    mixed query by query), read at its first crossing of the target; ``None`` if no point
    reaches it. Equals :func:`cpt` wherever the curve is increasing.
    """
    x, y = curve.sorted()
    hull = _upper_hull(x, y)
    hx, hy = x[hull], y[hull]
    if target_quality > hy.max() + 1e-12:
        return None
    if target_quality <= hy[0]:
        return float(hx[0])
    j = int(np.argmax(hy >= target_quality - 1e-12))
    lo, hi = j - 1, j
    w = (target_quality - hy[lo]) / (hy[hi] - hy[lo])
    return float(hx[lo] + w * (hx[hi] - hx[lo]))


def _upper_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the upper concave hull of points sorted by x (monotone chain), up to its
    highest point."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0 or x[b] == x[i]:
                hull.pop()
            else:
                break
        hull.append(i)
    top = int(np.argmax(y[hull]))
    return hull[: top + 1]


def routellm_summary(
    curve: CallPerformanceCurve, weak_quality: float, strong_quality: float
) -> dict[str, float]:
    """``{apgr, cpt20, cpt50, cpt80}`` (CPTs in percent of calls), RouteLLM's table columns."""
    out = {"apgr": apgr(curve, weak_quality, strong_quality)}
    for level in CPT_LEVELS:
        out[f"cpt{round(100 * level)}"] = cpt(curve, level, weak_quality, strong_quality)
    return out


def score_summary(
    scores: Sequence[float] | np.ndarray,
    quality_weak: Sequence[float] | np.ndarray,
    quality_strong: Sequence[float] | np.ndarray,
    num_results: int = NUM_RESULTS,
) -> dict[str, float]:
    """:func:`routellm_summary` of a scoring router on per-query qualities (the weak and
    strong qualities are the two models' means over these queries, as
    ``get_model_accuracy`` computes them)."""
    curve = routellm_curve(scores, quality_weak, quality_strong, num_results)
    return routellm_summary(curve, float(np.mean(quality_weak)), float(np.mean(quality_strong)))
