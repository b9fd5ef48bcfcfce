"""Partial observability laws: beacons lag the truth by their delay, reports age, noise is
seeded and clipped, channel estimates are the last measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cost_models.batching import ServerSpec
from cost_models.edge_server import EdgeServer
from cost_models.edge_traffic import BackgroundTraffic
from cost_models.errors import EdgeRouteError
from cost_models.observability import (
    BeaconConfig,
    LastMeasurement,
    LoadObserver,
    Observed,
    delayed_series,
    newest,
    newest_sample_index,
)


def test_sample_index_counts_received_beacons() -> None:
    # samples at 0, 2, 4, ... arrive 0.5 s later
    assert newest_sample_index(0.4, 2.0, 0.5) == -1
    assert newest_sample_index(0.5, 2.0, 0.5) == 0
    assert newest_sample_index(4.49, 2.0, 0.5) == 1
    assert newest_sample_index(4.5, 2.0, 0.5) == 2
    np.testing.assert_array_equal(newest_sample_index(np.array([0.0, 2.5, 9.0]), 2.0, 0.5),
                                  [-1, 1, 4])  # fmt: skip
    with pytest.raises(EdgeRouteError, match="period_s"):
        newest_sample_index(1.0, 0.0)


@pytest.mark.parametrize("delay_s", [0.0, 1.0, 5.0, 30.0])
def test_observed_load_lags_the_true_load_by_the_delay(delay_s: float) -> None:
    # a true load that changes every 0.37 s (piecewise constant), beacons every 10 ms
    rng = np.random.default_rng(0)
    times = np.arange(0.0, 200.0, 0.37)
    values = rng.random(times.size)
    query = np.linspace(40.0, 190.0, 500)
    seen = delayed_series(times, values, query, period_s=0.01, delay_s=delay_s)
    truth_then = values[np.searchsorted(times, query - delay_s, side="right") - 1]
    # equal except where a change of the truth falls inside the last 10 ms sampling window
    agree = np.isclose(seen, truth_then)
    assert agree.mean() > 0.95
    if delay_s > 0:
        truth_now = values[np.searchsorted(times, query, side="right") - 1]
        assert np.mean(np.isclose(seen, truth_now)) < 0.2  # it is not the current load


def test_observer_reads_the_simulated_server_with_delay() -> None:
    rng = np.random.default_rng(1)
    bg = BackgroundTraffic(rng.integers(40, 300, 500), rng.integers(20, 120, 500), seed=4,
                           rate_hz=40.0)  # fmt: skip
    sim = EdgeServer(ServerSpec("llama-3.1-70b", "h100_sxm", "fp8"), bg, sample_period_s=1.0)
    sim.advance_to(120.0)
    obs = LoadObserver(BeaconConfig(period_s=1.0, delay_s=5.0, with_answers=False))
    for now in (20.2, 57.9, 110.0):
        got = obs.observe(now, lambda k: sim.samples[k].as_dict())
        # the newest beacon received at `now` was sampled at floor(now - 5)
        assert got.sampled_s == math.floor(now - 5.0)
        assert got.age_s(now) == pytest.approx(now - math.floor(now - 5.0))
        assert got.value["running"] == sim.samples[math.floor(now - 5.0)].running


def test_answer_report_and_beacon_newest_wins() -> None:
    samples = {k: {"kv_usage": 0.1 * (k % 10), "batch_fill": 0.5, "waiting": 0.0}
               for k in range(100)}  # fmt: skip
    obs = LoadObserver(BeaconConfig(period_s=10.0, delay_s=2.0))
    obs.on_answer({"kv_usage": 0.9, "batch_fill": 0.9, "waiting": 3.0}, sampled_s=25.0)
    # at t = 31 the beacon of t = 20 (received at 22) is older than the report of t = 25
    assert obs.observe(31.0, samples.__getitem__).value["kv_usage"] == 0.9
    # at t = 33 the beacon of t = 30 is newer
    got = obs.observe(33.0, samples.__getitem__)
    assert got.sampled_s == 30.0 and got.value["kv_usage"] == pytest.approx(0.3)
    # reports only: no beacon, the report ages
    only = LoadObserver(BeaconConfig())
    assert only.observe(5.0, samples.__getitem__) is None
    only.on_answer({"kv_usage": 0.2}, 4.0)
    assert only.observe(64.0, samples.__getitem__).age_s(64.0) == 60.0


def test_beacon_noise_is_seeded_clipped_and_zero_mean() -> None:
    samples = {k: {"kv_usage": 0.5, "batch_fill": 0.98} for k in range(5000)}
    a = LoadObserver(BeaconConfig(period_s=1.0, noise_std=0.1), seed=9)
    b = LoadObserver(BeaconConfig(period_s=1.0, noise_std=0.1), seed=9)
    seen_a = [a.observe(t + 0.5, samples.__getitem__).value for t in range(3000)]
    seen_b = [b.observe(t + 0.5, samples.__getitem__).value for t in range(3000)]
    assert seen_a == seen_b
    kv = np.array([v["kv_usage"] for v in seen_a])
    assert kv.mean() == pytest.approx(0.5, abs=0.01) and kv.std() == pytest.approx(0.1, rel=0.1)
    assert max(v["batch_fill"] for v in seen_a) == 1.0  # clipped to [0, 1]


def test_channel_estimate_is_the_last_measurement() -> None:
    est = LastMeasurement(initial=20e6)
    assert est.value == 20e6 and est.age_s(3.0) == math.inf
    est.measure(4e6, at_s=10.0)
    assert est.value == 4e6 and est.age_s(12.5) == 2.5
    assert newest(None, Observed(1, 3.0), Observed(2, 5.0)).value == 2
