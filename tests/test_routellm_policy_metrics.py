"""RouteLLM metrics of policy sweeps and the two readings of edge calls at matched quality."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.frontier import FrontierPoint
from experiments.routellm_metrics import edge_call_curve, edge_calls_at_quality, policy_metrics


def pt(q: float, lat: float, edge: float) -> FrontierPoint:
    return FrontierPoint(quality=q, latency_mean_s=lat, edge_rate=edge)


def test_random_mixture_sweep_has_apgr_one_half() -> None:
    # Random(p): quality and edge share both linear in p -> PGR(x) = x -> APGR 0.5.
    pts = [pt(0.6 + 0.2 * p, 1.0, p) for p in np.linspace(0, 1, 11)]
    m = policy_metrics(pts, 0.6, 0.8)
    assert m["apgr"] == pytest.approx(0.5)
    assert m["cpt50"] == pytest.approx(50.0) and m["cpt80"] == pytest.approx(80.0)


def test_envelope_by_hand() -> None:
    # One point at 20 % edge calls recovers 3/4 of the gap: the curve is 0->20->100 %.
    pts = [pt(0.75, 2.0, 0.2), pt(0.70, 1.0, 0.5)]  # the second is dominated
    c = edge_call_curve(pts, 0.6, 0.8)
    assert c.strong_pct.tolist() == [0.0, 20.0, 100.0]
    # AUC of PGR: 0.2 * (0 + .75) / 2 + 0.8 * (.75 + 1) / 2 = .075 + .7 = .775
    m = policy_metrics(pts, 0.6, 0.8)
    assert m["apgr"] == pytest.approx(0.775)
    assert m["cpt50"] == pytest.approx(20 * (0.5 / 0.75))


def test_two_readings_of_edge_calls_differ_when_the_edge_is_faster() -> None:
    # A: few edge calls but slow (device decodes); B: more edge calls, faster; same quality.
    a, b = pt(0.75, 3.0, 0.3), pt(0.75, 1.5, 0.7)
    out = edge_calls_at_quality([a, b], 0.75, 0.6, 0.8)
    assert out["min_edge_rate"] == pytest.approx(0.3)
    assert out["edge_rate_at_lowest_latency"] == pytest.approx(0.7)


def test_equal_extremes_give_no_metric() -> None:
    assert policy_metrics([pt(0.7, 1.0, 0.5)], 0.7, 0.7) == {
        "apgr": None,
        "cpt50": None,
        "cpt80": None,
    }
