"""The router's estimate of the shared edge from a load report, against the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.batching import ServerSpec
from cost_models.edge_estimate import long_run_mean_report, shared_edge_estimate
from cost_models.edge_server import EdgeServer
from cost_models.edge_traffic import BackgroundTraffic
from cost_models.roofline import decode_time_s, prefill_time_s

SPEC = ServerSpec("llama-3.1-70b", "h100_sxm", "fp8")
RNG = np.random.default_rng(0)
PROMPTS, OUTPUTS = RNG.integers(40, 300, 2000), RNG.integers(20, 120, 2000)


def test_idle_server_estimate_is_the_roofline() -> None:
    e = shared_edge_estimate(SPEC, 0, 0, 0, 150, 60, cached_tokens=20)
    assert e["prefill_s"] == pytest.approx(prefill_time_s("llama-3.1-70b", "h100_sxm", 150, 20,
                                                          "fp8"))  # fmt: skip
    assert e["decode_s"] == pytest.approx(decode_time_s("llama-3.1-70b", "h100_sxm", 170, 60,
                                                        "fp8"))  # fmt: skip
    assert e["total_s"] == pytest.approx(e["queue_s"] + e["prefill_s"] + e["decode_s"])


@pytest.mark.parametrize("rate_hz, tol", [(10.0, 0.05), (25.0, 0.08), (32.0, 0.1),
                                          (40.0, 0.1)])  # fmt: skip
def test_estimate_from_the_true_report_tracks_the_simulator(rate_hz: float, tol: float) -> None:
    bg = BackgroundTraffic(PROMPTS, OUTPUTS, seed=3, rate_hz=rate_hz)
    sim = EdgeServer(SPEC, bg)
    real, est = [], []
    for t in np.arange(30.0, 330.0, 3.0):
        sim.advance_to(float(t))
        s = sim.load_sample()
        real.append(sim.what_if(float(t), 150, 60).total_s)
        est.append(shared_edge_estimate(SPEC, s.running, s.waiting, s.kv_used_tokens, 150, 60,
                                        0, OUTPUTS.mean(), PROMPTS.mean())["total_s"])
    # mean latency within a few percent from a light load (1.8 s) to an overload (33 s)
    assert np.mean(est) == pytest.approx(np.mean(real), rel=tol)


def test_long_run_mean_report() -> None:
    bg = BackgroundTraffic(PROMPTS, OUTPUTS, seed=3, rate_hz=25.0)
    sim = EdgeServer(SPEC, bg, sample_period_s=1.0)
    sim.advance_to(200.0)
    mean = long_run_mean_report(sim.samples)
    assert mean["running"] == pytest.approx(np.mean([s.running for s in sim.samples]))
    assert 30 < mean["running"] < 120 and mean["waiting"] < 1.0
