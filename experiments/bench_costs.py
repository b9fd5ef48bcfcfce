"""How many latency evaluations per second the vectorised cost functions do.

One "evaluation" is the full breakdown of ONE query on BOTH sides (device prefill + decode;
edge uplink + queue + prefill + decode + downlink) including the link rates from a distance
(path loss -> SNR -> Shannon rate), i.e. what an environment or a batch planner needs per query.
Inputs are drawn once (seeded) outside the timed region; the timed region is the numpy work.
"""

from __future__ import annotations

import platform
import time

import numpy as np

from cost_models.channel import get_channel_scenario
from cost_models.deployment import get_scenario
from cost_models.router_cost import device_latency, edge_latency


def _inputs(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "prompt": rng.integers(1, 2048, n).astype(np.float64),
        "history": rng.integers(0, 4096, n).astype(np.float64),
        "output": rng.integers(1, 1024, n).astype(np.float64),
        "distance_m": rng.uniform(35.0, 2000.0, n),
        "utilisation": rng.uniform(0.0, 0.95, n),
    }


def evaluate_batch(scenario: str, x: dict[str, np.ndarray]) -> np.ndarray:
    """Both sides' totals for every query in ``x`` (history uncached on both sides)."""
    sc = get_scenario(scenario)
    ch = get_channel_scenario(sc.channel)
    ul_snr, dl_snr = ch.mean_snr_db(x["distance_m"])
    up_bps, down_bps = ch.rate_bps(ul_snr), ch.rate_bps(dl_snr)
    new = x["history"] + x["prompt"]
    dev = device_latency(sc, new, x["output"])
    edge = edge_latency(sc, new, x["output"], up_bps, down_bps, x["utilisation"])
    return np.stack([dev["total_s"], edge["total_s"]])


def run_cost_benchmark(
    n: int = 1_000_000, repeats: int = 5, scenario: str = "phone_3b__edge_70b", seed: int = 0
) -> dict[str, object]:
    """Best-of-``repeats`` wall time for ``n`` queries; returns figures as a dict."""
    x = _inputs(n, seed)
    evaluate_batch(scenario, {k: v[:1000] for k, v in x.items()})  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = evaluate_batch(scenario, x)
        times.append(time.perf_counter() - t0)
    best = min(times)
    assert np.all(np.isfinite(out))
    return {
        "benchmark": "costs",
        "scenario": scenario,
        "queries_per_batch": n,
        "repeats": repeats,
        "best_s": best,
        "median_s": float(np.median(times)),
        "evaluations_per_s": n / best,
        "side_evaluations_per_s": 2 * n / best,
        "definition": "one evaluation = one query's full latency breakdown on both sides, "
        "including path loss -> SNR -> rate",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
