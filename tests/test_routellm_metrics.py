"""APGR / CPT exactly as RouteLLM's evaluate.py: hand-computed values, Random ~ 0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.semantic.routellm_metrics import (
    CallPerformanceCurve,
    apgr,
    cpt,
    min_share_reaching,
    random_router_curve,
    routellm_curve,
    score_summary,
)

# 4 queries; the weak model gets only the first right, the strong model all of them.
SCORES = np.array([0.1, 0.4, 0.6, 0.9])
QW = np.array([1.0, 0.0, 0.0, 0.0])
QS = np.array([1.0, 1.0, 1.0, 1.0])


def test_curve_by_hand() -> None:
    # num_results=2: thresholds = 0/50/100 % quantiles = 0.1, 0.5, 0.9.
    c = routellm_curve(SCORES, QW, QS, num_results=2)
    # >= 0.1: all strong (100 %, quality 1); >= 0.5: the two top (50 %, [1,0,1,1] -> 0.75);
    # last edge uses > 0.9: nobody (0 %, weak quality 0.25).
    assert c.strong_pct.tolist() == [100.0, 50.0, 0.0]
    assert c.quality.tolist() == [1.0, 0.75, 0.25]


def test_apgr_and_cpt_by_hand() -> None:
    c = routellm_curve(SCORES, QW, QS, num_results=2)
    # trapz over x = 0, .5, 1 of y = .25, .75, 1: .25 + .4375 = .6875; weak .25, strong 1.
    assert apgr(c, 0.25, 1.0) == pytest.approx((0.6875 - 0.25) / 0.75)
    # CPT(50 %): target .625 lies 3/4 of the way from .25 (0 %) to .75 (50 %) -> 37.5 %.
    assert cpt(c, 0.5, 0.25, 1.0) == pytest.approx(37.5)
    # CPT(80 %): target .85 lies .4 of the way from .75 (50 %) to 1 (100 %) -> 70 %.
    assert cpt(c, 0.8, 0.25, 1.0) == pytest.approx(70.0)
    s = score_summary(SCORES, QW, QS, num_results=2)
    assert s["apgr"] == pytest.approx(0.583333, abs=1e-6) and s["cpt50"] == pytest.approx(37.5)


def test_thresholds_are_pandas_qcut_edges() -> None:
    rng = np.random.default_rng(0)
    s = rng.random(500)
    _, edges = pd.qcut(s, 10, retbins=True)
    c = routellm_curve(s, np.zeros(500), np.ones(500))
    # quality = strong share here, so the curve's y reproduces the edges' selections.
    for i, t in enumerate(edges):
        sel = s >= t if i != len(edges) - 1 else s > t
        assert c.strong_pct[i] == pytest.approx(100 * sel.mean())
    assert c.strong_pct[0] == 100.0 and c.strong_pct[-1] == 0.0


def test_perfect_router_beats_random_and_inverted_loses() -> None:
    rng = np.random.default_rng(1)
    qw = (rng.random(2000) < 0.6).astype(float)
    qs = np.maximum(qw, (rng.random(2000) < 0.5).astype(float))
    gain = qs - qw
    perfect = score_summary(gain + 1e-3 * rng.random(2000), qw, qs)["apgr"]
    inverted = score_summary(-gain + 1e-3 * rng.random(2000), qw, qs)["apgr"]
    assert perfect > 0.8 and inverted < 0.2


def test_random_router_apgr_is_one_half() -> None:
    rng = np.random.default_rng(2)
    n = 1500
    qw = (rng.random(n) < 0.65).astype(float)
    qs = np.where(rng.random(n) < 0.3, 1.0, qw)
    wq, sq = qw.mean(), qs.mean()
    values = [apgr(random_router_curve(qw, qs, rng), wq, sq) for _ in range(30)]
    assert abs(np.mean(values) - 0.5) < 0.02
    assert all(abs(v - 0.5) < 0.05 for v in values)
    c = random_router_curve(qw, qs, rng)
    assert abs(cpt(c, 0.5, wq, sq) - 50.0) < 5.0 and abs(cpt(c, 0.8, wq, sq) - 80.0) < 5.0


def test_min_share_reaching_reads_the_envelope() -> None:
    c = CallPerformanceCurve(np.array([0.0, 50.0, 100.0]), np.array([0.2, 0.9, 0.8]))
    # envelope 0 % -> 50 % reaches .85 at (.85 - .2) / .7 of the way: 46.43 %.
    assert min_share_reaching(c, 0.85) == pytest.approx(50 * 0.65 / 0.7)
    assert min_share_reaching(c, 0.1) == 0.0
    assert min_share_reaching(c, 0.95) is None
    # On an increasing curve it equals CPT.
    inc = routellm_curve(SCORES, QW, QS, num_results=2)
    assert min_share_reaching(inc, 0.625) == pytest.approx(cpt(inc, 0.5, 0.25, 1.0))


def test_bad_inputs() -> None:
    with pytest.raises(EdgeRouteError, match="one value per query"):
        routellm_curve(SCORES, QW[:3], QS)
    with pytest.raises(EdgeRouteError, match="undefined"):
        apgr(routellm_curve(SCORES, QW, QS), 0.5, 0.5)
    with pytest.raises(EdgeRouteError, match="percentages"):
        CallPerformanceCurve(np.array([0.0, 120.0]), np.array([0.1, 0.2]))
    with pytest.raises(EdgeRouteError, match="finite"):
        routellm_curve([0.1, np.nan], [0, 1], [1, 1])
