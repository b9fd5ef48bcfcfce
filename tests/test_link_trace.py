"""Link-trace replay: the integral law, outages, loop/stop, and the real 5Gophers and
Mahimahi files reproduced second by second."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.link_trace import (
    MAHIMAHI_BITS_PER_OPPORTUNITY,
    UPLINK_TO_DOWNLINK_RATIO,
    LinkTrace,
    mahimahi_rates_bps,
)
from envs.traces.links import LINK_PRESETS, load_link, read_mahimahi_ms

RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])  # conftest.py sets a default
GOPHERS = RAW / "jhzuo__Offloading-FL/trace_data/5Gophers-v1.0/All-Carriers"
MAHIMAHI = RAW / "ravinet__mahimahi/traces"
needs_raw = pytest.mark.skipif(not GOPHERS.is_dir() or not MAHIMAHI.is_dir(),
                               reason="shared raw mirror absent")  # fmt: skip


def test_bits_are_the_integral_of_the_rate() -> None:
    tr = LinkTrace([10e6, 0.0, 20e6], 1.0, loop=True)
    assert tr.delivered_bits(0.0, 1.0) == 10e6
    assert tr.delivered_bits(0.5, 2.5) == pytest.approx(5e6 + 0 + 10e6)
    assert tr.delivered_bits(2.0, 4.0) == pytest.approx(20e6 + 10e6)  # loops after 3 s
    np.testing.assert_allclose(tr.bits_by(np.array([0.0, 1.5, 3.0, 6.5])),
                               [0.0, 10e6, 30e6, 65e6])  # fmt: skip


def test_a_transfer_waits_through_an_outage() -> None:
    tr = LinkTrace([10e6, 0.0, 0.0, 10e6], 1.0, loop=True)
    # 8 Mbit from t = 0.5: 5 Mbit in the first second, 2 s of outage, 3 Mbit more: 3.3 s
    assert tr.transfer_time_s(8e6, 0.5) == pytest.approx(0.5 + 2.0 + 0.3)
    assert tr.transfer_time_s(0.0, 1.2) == 0.0
    # starting inside the outage
    assert tr.transfer_time_s(1e6, 1.5) == pytest.approx(1.5 + 0.1)
    np.testing.assert_allclose(tr.transfer_times_s([8e6, 1e6], [0.5, 1.5]), [2.8, 1.6])


def test_stop_mode_ends_in_an_outage_with_a_finite_penalty() -> None:
    tr = LinkTrace([10e6, 10e6], 1.0, loop=False, outage_penalty_s=3.0)
    assert tr.transfer_time_s(5e6, 1.0) == pytest.approx(0.5)
    # 25 Mbit cannot be delivered before the end at 2 s: the rest of the trace + penalty
    assert tr.transfer_time_s(25e6, 0.0) == pytest.approx(2.0 + 3.0)
    assert tr.rate_at(5.0) == 0.0
    looped = LinkTrace([10e6, 10e6], 1.0, loop=True)
    assert looped.transfer_time_s(25e6, 0.0) == pytest.approx(2.5)
    all_out = LinkTrace([0.0, 0.0], 1.0, loop=True, outage_penalty_s=3.0)
    assert all_out.transfer_time_s(1.0, 0.0) == pytest.approx(2.0 + 3.0)


def test_bad_traces_are_rejected() -> None:
    with pytest.raises(EdgeRouteError, match="rates"):
        LinkTrace([1.0, -1.0], 1.0)
    with pytest.raises(EdgeRouteError, match="step_s"):
        LinkTrace([1.0], 0.0)
    with pytest.raises(EdgeRouteError, match="non-decreasing"):
        mahimahi_rates_bps([5, 3])


def test_mahimahi_rate_is_packets_per_millisecond() -> None:
    # stamps 1, 1, 3: two packets in ms 0, none in ms 1, one in ms 2 (period 3 ms)
    rates = mahimahi_rates_bps([1, 1, 3])
    np.testing.assert_allclose(rates, np.array([2, 0, 1]) * MAHIMAHI_BITS_PER_OPPORTUNITY / 1e-3)
    # the README's example: a file with "1" is one packet per ms = 12 Mbit/s
    assert LinkTrace(mahimahi_rates_bps([1]), 1e-3).mean_rate_bps(0.0, 5.0) == 12e6


@needs_raw
@pytest.mark.parametrize("name, column, rows", [
    ("5gophers-driving-1-verizon", "Verizon_throughput_mbps", "car-driving-trace-1.csv"),
    ("5gophers-driving-2-tmobile", "TMobile_throughput_mbps", "car-driving-trace-2.csv"),
    ("5gophers-walking", "throughput_mbps", "walking-trace.csv"),
])  # fmt: skip
def test_replaying_5gophers_reproduces_its_per_second_rates(name, column, rows) -> None:
    link = load_link(name)
    logged = pd.read_csv(GOPHERS / "03-User-Mobility" / rows).sort_values("seq_num")[column]
    np.testing.assert_allclose(link.downlink.per_second_rates_bps() / 1e6, logged.to_numpy(),
                               rtol=1e-12, atol=1e-9)  # fmt: skip
    # the uplink is the modelled scaled copy; seconds at 0 are outages both ways
    assert link.uplink_modelled
    np.testing.assert_allclose(link.uplink.rates_bps, link.downlink.rates_bps
                               * UPLINK_TO_DOWNLINK_RATIO)  # fmt: skip


@needs_raw
def test_replaying_5gophers_runs_concatenates_them_in_order() -> None:
    link = load_link("5gophers-sprint-1conn-east")
    df = pd.read_csv(GOPHERS / "01-Throughput/data.csv")
    rows = df[(df.carrier == "SPRINT") & (df.num_tcp_conn == 1) & (df.server_location
                                                                    == "US-East")]  # fmt: skip
    want = rows.sort_values(["run_num", "seq_num"])["throughput_mbps"].to_numpy()
    np.testing.assert_allclose(link.downlink.per_second_rates_bps() / 1e6, want, atol=1e-9)
    assert link.downlink.outage_fraction() == pytest.approx(20 / 600)
    rtt = pd.read_csv(GOPHERS / "02-Round-Trip-Times/data.csv")
    sprint_east = rtt[(rtt.carrier == "SPRINT") & (rtt.server_location == "US-East")].rtt_ms
    assert link.median_rtt_s == pytest.approx(sprint_east.median() / 1e3)


@needs_raw
@pytest.mark.parametrize("name, stem", [("att-lte-driving", "ATT-LTE-driving"),
                                        ("verizon-lte-short", "Verizon-LTE-short")])
def test_replaying_mahimahi_reproduces_its_per_second_rates(name: str, stem: str) -> None:
    link = load_link(name)
    for direction, trace in (("down", link.downlink), ("up", link.uplink)):
        stamps = read_mahimahi_ms(MAHIMAHI / f"{stem}.{direction}")
        # second s holds the stamps in (1000 s, 1000 (s + 1)] (ms m + 1 -> interval m; a
        # stamp of 0 counts in ms 0)
        counts = np.bincount(np.maximum(stamps - 1, 0) // 1000)
        got = trace.per_second_rates_bps(0.0, len(counts) - 1)
        np.testing.assert_allclose(got, counts[:-1] * MAHIMAHI_BITS_PER_OPPORTUNITY)
    assert not link.uplink_modelled


@needs_raw
def test_mahimahi_att_uplink_has_its_94_silent_seconds() -> None:
    up = load_link("att-lte-driving").uplink
    assert int(np.sum(up.per_second_rates_bps() == 0)) == 94  # shared data README
    # a 2 kB prompt sent at the start of a silent second waits for the link to come back
    silent = int(np.flatnonzero(up.per_second_rates_bps() == 0)[0])
    assert up.transfer_time_s(16_000, float(silent)) >= 1.0


@needs_raw
def test_every_preset_loads_with_rtts() -> None:
    for name in LINK_PRESETS:
        link = load_link(name)
        assert link.downlink.period_s >= 100 and 0.03 < link.median_rtt_s < 0.2
    # TMobile-LTE-driving has no uplink file: modelled
    assert load_link("tmobile-lte-driving").uplink_modelled


@needs_raw
def test_a_tampered_trace_fails_its_hash_check(tmp_path: Path) -> None:
    name = "ravinet__mahimahi/traces/Verizon-LTE-short.down"
    for file in (name, "ravinet__mahimahi/traces/Verizon-LTE-short.up",
                 "jhzuo__Offloading-FL/trace_data/5Gophers-v1.0/All-Carriers/"
                 "02-Round-Trip-Times/data.csv"):  # fmt: skip
        (tmp_path / "mirror" / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RAW / file, tmp_path / "mirror" / file)
    target = tmp_path / "mirror" / name
    with open(target, "a", encoding="ascii") as fh:
        fh.write("1\n")
    with pytest.raises(EdgeRouteError, match="truncated or altered|hash"):
        load_link("verizon-lte-short", raw_dir=tmp_path / "mirror", cache_dir=tmp_path / "c")
