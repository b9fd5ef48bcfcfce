"""Router cost: latency breakdowns, term estimates, analytic score, scenario trade-offs."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.channel import CHANNEL_PRESETS, get_channel_scenario, mean_channel_state
from cost_models.deployment import SCENARIO_PRESETS, get_scenario
from cost_models.edge_load import LOAD_PRESETS
from cost_models.errors import EdgeRouteError
from cost_models.router_cost import (
    CostTerms,
    analytic_score,
    device_latency,
    edge_latency,
    estimate_terms,
    latency_report,
)

SCENARIOS = ["phone_3b__edge_70b", "laptop_8b__edge_70b", "jetson_7b__edge_14b",
             "phone_1p5b__edge_7b"]  # fmt: skip


def test_scenario_names_are_exact() -> None:
    assert set(SCENARIOS) <= set(SCENARIO_PRESETS)
    with pytest.raises(EdgeRouteError, match="allowed: phone_3b__edge_70b"):
        get_scenario("phone")


def test_totals_are_sums_of_parts_vectorised() -> None:
    sc = get_scenario("phone_3b__edge_70b")
    new = np.array([10, 200, 3000])
    out = np.array([5, 200, 800])
    dev = device_latency(sc, new, out, cached_tokens=np.array([0, 100, 0]))
    np.testing.assert_allclose(dev["total_s"], dev["prefill_s"] + dev["decode_s"])
    edge = edge_latency(sc, new, out, np.array([5e7, 1e6, 0.0]), 8e7, np.array([0.1, 0.5, 0.9]))
    parts = sum(edge[k] for k in ("uplink_s", "queue_s", "prefill_s", "decode_s", "downlink_s"))
    np.testing.assert_allclose(edge["total_s"], parts)
    assert np.all(np.isfinite(edge["total_s"]))
    # the third query is in uplink outage: it pays the finite penalty
    ch = get_channel_scenario(sc.channel)
    assert edge["uplink_s"][2] == pytest.approx(ch.access_latency_s + ch.outage_penalty_s)


def test_scalar_inputs_give_floats() -> None:
    dev = device_latency("jetson_7b__edge_14b", 100, 50)
    assert all(isinstance(v, float) for v in dev.values())


def test_farther_and_loaded_edge_is_slower() -> None:
    sc = get_scenario("phone_1p5b__edge_7b")
    ch = get_channel_scenario("urban")
    ul, dl = ch.mean_snr_db(np.array([100.0, 300.0, 600.0]))
    e = edge_latency(sc, 2000, 100, ch.rate_bps(ul), ch.rate_bps(dl), 0.3)
    assert np.all(np.diff(e["uplink_s"]) > 0) and np.all(np.diff(e["total_s"]) > 0)
    loads = np.array([0.1, 0.5, 0.9])
    e2 = edge_latency(sc, 200, 100, 5e7, 8e7, loads)
    assert np.all(np.diff(e2["queue_s"]) > 0) and np.all(np.diff(e2["decode_s"]) > 0)


def test_terms_sum_to_totals_and_match_breakdowns() -> None:
    sc = get_scenario("laptop_8b__edge_70b")
    terms = estimate_terms(sc, 120, 300, 4e7, 6e7, 0.4, history_tokens=900,
                           device_cached_tokens=900, edge_cached_tokens=300)  # fmt: skip
    for side in ("device", "edge"):
        t = terms[side]
        assert t["communication_s"] + t["computation_s"] + t["switching_s"] == pytest.approx(
            t["total_s"])  # fmt: skip
    assert terms["device"]["switching_s"] == 0.0  # device holds the whole history
    assert terms["device"]["communication_s"] == 0.0
    edge = edge_latency(sc, 900 - 300 + 120, 300, 4e7, 6e7, 0.4, cached_tokens=300)
    assert terms["edge"]["total_s"] == pytest.approx(edge["total_s"])
    assert terms["edge"]["switching_s"] > 0


def test_more_uncached_history_after_switch_costs_more() -> None:
    sc = get_scenario("phone_3b__edge_70b")
    hist = np.array([0, 500, 1000, 2000, 4000])
    dev = device_latency(sc, hist + 100, 100)  # nothing cached on the device
    assert np.all(np.diff(dev["prefill_s"]) > 0)
    terms = estimate_terms(sc, 100, 100, 5e7, 8e7, 0.3, history_tokens=hist)
    assert terms["device"]["switching_s"][0] == 0.0
    assert np.all(np.diff(terms["device"]["switching_s"]) > 0)
    assert np.all(np.diff(terms["edge"]["switching_s"]) > 0)


def test_analytic_score_hand_values() -> None:
    dev = {"communication_s": 0.0, "computation_s": 2.0, "switching_s": 0.5}
    edge = {"communication_s": 0.3, "computation_s": 1.0, "switching_s": 1.2}
    # T_edge = 2.5, T_device = 2.5 -> S = p
    assert analytic_score(0.7, dev, edge, alpha=0.2) == pytest.approx(0.7)
    # without switching: T_edge = 1.3, T_device = 2.0 -> S = 0.7 + 0.2 * 0.7
    no_switch = CostTerms(switching=False)
    assert analytic_score(0.7, dev, edge, 0.2, no_switch) == pytest.approx(0.84)
    # without semantic: p -> 0.5
    assert analytic_score(0.9, dev, edge, 0.2, CostTerms(semantic=False)) == pytest.approx(0.5)
    # only communication: T_edge = 0.3, T_device = 0
    only_comm = CostTerms(computation=False, switching=False)
    assert analytic_score(0.6, dev, edge, 1.0, only_comm) == pytest.approx(0.3)
    # vectorised over p
    s = analytic_score(np.array([0.1, 0.9]), dev, edge, 0.2)
    np.testing.assert_allclose(s, [0.1, 0.9])
    with pytest.raises(EdgeRouteError, match="p must be"):
        analytic_score(1.5, dev, edge, 0.2)
    with pytest.raises(EdgeRouteError, match="alpha"):
        analytic_score(0.5, dev, edge, -1.0)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_default_scenario_holds_a_real_tradeoff(name: str) -> None:
    """Neither side wins on latency under every channel preset and edge load (median link)."""
    winners = set()
    for ch in CHANNEL_PRESETS:
        for u in LOAD_PRESETS.values():
            r = latency_report(name, 200, 200, 0, "none", utilisation=u, channel=ch)
            winners.add(r["faster"])
    assert winners == {"device", "edge"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_idle_near_edge_wins_and_bad_link_device_wins(name: str) -> None:
    near = latency_report(name, 200, 200, utilisation=LOAD_PRESETS["idle"], channel="near")
    assert near["faster"] == "edge"
    bad = latency_report(name, 200, 200, utilisation=LOAD_PRESETS["saturated"],
                         channel="cell_edge")  # fmt: skip
    assert bad["faster"] == "device"


def test_report_uses_given_channel_state() -> None:
    st = mean_channel_state("near")
    r = latency_report("phone_1p5b__edge_7b", 50, 20, channel_state=st, channel="near")
    assert r["uplink_bps"] == st.uplink_bps
    with pytest.raises(EdgeRouteError, match="prompt_tokens"):
        latency_report("phone_1p5b__edge_7b", 0, 20)
    with pytest.raises(EdgeRouteError, match="cached"):
        latency_report("phone_1p5b__edge_7b", 10, 20, cached="cloud")


def test_scenario_validation() -> None:
    sc = get_scenario("jetson_7b__edge_14b")
    with pytest.raises(EdgeRouteError, match="unknown hardware"):
        sc.with_overrides(edge_hw="tpu_v9")
    with pytest.raises(EdgeRouteError, match="needs"):
        sc.with_overrides(edge_model="llama-3.1-70b")  # 141 GB fp16 on an 80 GB A100
    with pytest.raises(EdgeRouteError, match="uplink_bps"):
        edge_latency(sc, 10, 10, -1.0, 1e6)


def test_side_latency_from_a_turn_plan_matches_the_estimate() -> None:
    from cost_models.kv_cache import DialogueKVState
    from cost_models.router_cost import side_latency

    sc = get_scenario("phone_1p5b__edge_7b")
    st = mean_channel_state("urban")
    kv = DialogueKVState(device_capacity_tokens=sc.device_kv_capacity_tokens)
    kv.commit_turn("device", 80, 150)
    kv.commit_turn("edge", 40, 200)
    terms = estimate_terms(sc, 60, 120, st.uplink_bps, st.downlink_bps, 0.35,
                           history_tokens=kv.total_tokens,
                           device_cached_tokens=kv.cached_tokens["device"],
                           edge_cached_tokens=kv.cached_tokens["edge"])  # fmt: skip
    for side in ("device", "edge"):
        realised = side_latency(sc, side, kv.plan_turn(side, 60), 120, st, 0.35)
        assert realised["total_s"] == pytest.approx(terms[side]["total_s"])
    assert terms["device"]["switching_s"] > 0 and terms["edge"]["switching_s"] == 0.0
