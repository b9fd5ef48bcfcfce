"""Channel: 3GPP link budget, Shannon rate, payloads, outage, fading/shadowing processes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import j0

from cost_models.channel import (
    CHANNEL_PRESETS,
    ChannelProcess,
    ChannelScenario,
    get_channel_scenario,
    mean_channel_state,
)
from cost_models.errors import EdgeRouteError
from cost_models.link import (
    noise_power_dbm,
    path_loss_db,
    shannon_rate_bps,
    text_payload_bits,
    transmit_time_s,
)


def test_path_loss_hand_values() -> None:
    # TR 36.814 macro: 128.1 dB at 1 km, +37.6 dB per decade of distance
    assert path_loss_db(1000.0) == pytest.approx(128.1)
    assert path_loss_db(100.0) == pytest.approx(128.1 - 37.6)
    assert path_loss_db(10_000.0) == pytest.approx(128.1 + 37.6)


def test_path_loss_vectorised_and_monotonic() -> None:
    d = np.array([50.0, 100.0, 300.0, 1000.0, 3000.0])
    pl = path_loss_db(d)
    assert pl.shape == d.shape
    assert np.all(np.diff(pl) > 0)


def test_noise_power_hand_value() -> None:
    # -174 dBm/Hz + 10 log10(10 MHz) = -104 dBm, + 9 dB NF = -95 dBm
    assert noise_power_dbm(10e6, 9.0) == pytest.approx(-95.0)


def test_shannon_rate_hand_values() -> None:
    # SNR = 3 (4.771 dB) -> log2(4) = 2 bit/s/Hz; SNR = 0 dB -> 1 bit/s/Hz
    assert shannon_rate_bps(1e6, 10 * math.log10(3.0)) == pytest.approx(2e6)
    assert shannon_rate_bps(20e6, 0.0) == pytest.approx(20e6)
    rates = shannon_rate_bps(np.array([1e6, 2e6]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(rates, [1e6, 2e6])


def test_text_payload_hand_value() -> None:
    # 100 tokens x 4 B + 300 B framing + one 61-byte segment overhead = 761 B
    assert text_payload_bits(100) == pytest.approx(8 * 761)
    # 1000 tokens: 4300 B -> 3 segments
    assert text_payload_bits(1000) == pytest.approx(8 * (4000 + 300 + 3 * 61))
    assert np.all(np.diff(text_payload_bits(np.arange(0, 5000, 100))) > 0)


def test_transmit_time_and_finite_outage_penalty() -> None:
    assert transmit_time_s(1e6, 1e6, 0.01) == pytest.approx(1.01)
    t = transmit_time_s(np.array([1e6, 1e6]), np.array([2e6, 0.0]), 0.02, outage_penalty_s=3.0)
    np.testing.assert_allclose(t, [0.52, 3.02])
    assert np.all(np.isfinite(t))


def test_presets_exist_and_cite() -> None:
    assert {"near", "urban", "cell_edge", "congested"} <= set(CHANNEL_PRESETS)
    for sc in CHANNEL_PRESETS.values():
        assert "36.814" in sc.source
    with pytest.raises(EdgeRouteError, match="allowed: near"):
        get_channel_scenario("moon")


def test_farther_means_slower_link() -> None:
    sc = get_channel_scenario("urban")
    d = np.array([100.0, 200.0, 400.0, 800.0])
    ul, dl = sc.mean_snr_db(d)
    assert np.all(np.diff(sc.rate_bps(ul)) < 0)
    assert np.all(np.diff(sc.rate_bps(dl)) < 0)


def test_uplink_budget_hand_value() -> None:
    # 23 dBm + 14 dBi - 128.1 dB - (-174 + 10 log10(20e6 / 4) + 5) dB at 1 km, 4 users sharing
    sc = ChannelScenario(distance_m=1000.0, bandwidth_hz=20e6, n_users_sharing=4)
    ul, dl = sc.mean_snr_db()
    assert ul == pytest.approx(23 + 14 - 128.1 - (-174 + 10 * math.log10(5e6) + 5))
    # downlink: BS power over the whole band, UE noise figure 9 dB
    assert dl == pytest.approx(49 + 14 - 128.1 - (-174 + 10 * math.log10(20e6) + 9))


def test_sharing_reduces_uplink_rate() -> None:
    alone = mean_channel_state(ChannelScenario(n_users_sharing=1))
    shared = mean_channel_state(ChannelScenario(n_users_sharing=10))
    assert shared.uplink_bps < alone.uplink_bps
    assert shared.downlink_bps == pytest.approx(alone.downlink_bps / 10)


def test_cell_edge_median_uplink_is_in_outage() -> None:
    st = mean_channel_state("cell_edge")
    assert st.uplink_snr_db < CHANNEL_PRESETS["cell_edge"].min_snr_db
    assert st.uplink_bps == 0.0 and st.uplink_outage
    assert st.downlink_bps > 0


@pytest.mark.parametrize(
    "field,value",
    [("distance_m", -5.0), ("distance_m", 0.0), ("bandwidth_hz", -1e6), ("speed_mps", -1.0),
     ("access_latency_s", -0.1), ("n_users_sharing", 0), ("distance_m", float("nan"))],
)  # fmt: skip
def test_invalid_scenario_values_raise(field: str, value: float) -> None:
    with pytest.raises(EdgeRouteError, match=field):
        ChannelScenario(**{field: value})


def test_invalid_function_inputs_raise() -> None:
    with pytest.raises(EdgeRouteError, match="distance_m"):
        path_loss_db(np.array([100.0, -1.0]))
    with pytest.raises(EdgeRouteError, match="bandwidth_hz"):
        shannon_rate_bps(-1.0, 10.0)
    with pytest.raises(EdgeRouteError, match="tokens"):
        text_payload_bits(-3)


def _trajectory(seed: int, n: int = 50, dt: float = 0.5) -> np.ndarray:
    proc = ChannelProcess("urban", np.random.default_rng(seed))
    return np.array([[proc.advance(dt).uplink_snr_db, proc.state.downlink_snr_db]
                     for _ in range(n)])  # fmt: skip


def test_same_seed_same_trajectory_different_seed_different() -> None:
    a, b, c = _trajectory(7), _trajectory(7), _trajectory(8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fading_correlation_is_jakes() -> None:
    sc = get_channel_scenario("urban")
    proc = ChannelProcess(sc, np.random.default_rng(0))
    f_d = sc.speed_mps * sc.carrier_hz / 299_792_458.0
    assert sc.doppler_hz == pytest.approx(f_d)
    a, rho = proc.scenario.correlations(0.001)
    assert rho == pytest.approx(float(j0(2 * np.pi * f_d * 0.001)))
    assert a == pytest.approx(math.exp(-sc.speed_mps * 0.001 / 50.0))
    # dt = 0 leaves the state unchanged
    before = proc.state
    assert proc.advance(0.0) == before


def test_fading_and_shadowing_have_their_stationary_laws() -> None:
    # long run with decorrelated steps: mean |h|^2 = 1 (Rayleigh), shadowing std = 8 dB
    sc = get_channel_scenario("urban").with_overrides(speed_mps=30.0)
    proc = ChannelProcess(sc, np.random.default_rng(1))
    gains, shadows = [], []
    for _ in range(4000):
        st = proc.advance(10.0)
        gains.append(10 ** (st.uplink_fading_db / 10))
        shadows.append(st.shadowing_db)
    assert np.mean(gains) == pytest.approx(1.0, abs=0.08)
    assert np.std(shadows) == pytest.approx(8.0, abs=0.5)


def test_process_rejects_bad_rng_and_dt() -> None:
    with pytest.raises(EdgeRouteError, match="Generator"):
        ChannelProcess("urban", 42)  # type: ignore[arg-type]
    proc = ChannelProcess("urban", np.random.default_rng(0))
    with pytest.raises(EdgeRouteError, match="dt_s"):
        proc.advance(-1.0)
