"""How much of the analytic router's gain comes from knowing the edge load, and how fresh.

The study behind ``edgeroute load-delay`` (issue 10): on one workload, the analytic rule
(``S = p - alpha (T_edge - T_device) > theta``) is compared with the static semantic threshold
at matched quality (RouteLLM's "performance gap recovered": fractions 0.8 / 0.9 / 0.95 of the
always-device -> always-edge quality gap), once per way of knowing the load:

* ``exact``: the hidden current state, instantly (the legacy observation);
* ``delay <d> s``: beacons only, one load sample per second arriving ``d`` s later (no report
  with answers, so the delay is the only knob);
* ``load-blind``: the long-run mean load (``analytic_load_blind``).

Protocol (no tuning on test): the static thresholds are calibrated to evenly spaced edge-call
shares of the validation scores; for each mode and each ``alpha`` of the grid, the thetas are
calibrated to edge shares of the validation distribution of ``S`` (recorded from always-edge's
validation runs), and the alpha whose validation frontier gains most over the static one
(mean over the levels) is kept; its theta sweep is then run on test. Every policy sees the
same worlds (common random numbers: the observation mode changes what the device sees, never
the world). Latencies are modelled (``cost_models``), qualities as the trace says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the environment ids)
from agents import make_policy
from agents.calibration import calibrate_threshold
from cost_models.errors import require
from experiments.evaluate import evaluate, reset_seed
from experiments.frontier import FrontierPoint, interpolate_at_quality, reduction_pct

#: Default delays of the study (s).
DELAYS_S: tuple[float, ...] = (0.0, 1.0, 5.0, 30.0)
#: Matched-quality levels (fractions of the device -> edge quality gap).
LEVELS: tuple[float, ...] = (0.8, 0.9, 0.95)


@dataclass(frozen=True)
class StudyBudget:
    seeds: tuple[int, ...]
    tune_seeds: tuple[int, ...]
    episodes: int
    alpha_grid: tuple[float, ...]
    points: int  # edge shares of each threshold sweep


QUICK = StudyBudget((0,), (1,), 1, (0.3, 1.0), 7)
FULL = StudyBudget((0, 1, 2), (3,), 5, (0.1, 0.3, 1.0), 11)


def mode_configs(delays_s: Sequence[float]) -> list[tuple[str, dict[str, Any], str]]:
    """(label, env config overrides, policy) of every mode of the study."""
    out = [("exact", {"load_observation": "exact"}, "analytic")]
    for d in delays_s:
        out.append((f"delay {d:g} s", {"load_observation": "reported", "load_report_period_s": 1.0,
                                       "load_report_delay_s": float(d),
                                       "load_report_with_answers": False}, "analytic"))
    out.append(("load-blind", {"load_observation": "exact"}, "analytic_load_blind"))
    return out


def _point(m: Mapping[str, float]) -> FrontierPoint:
    return FrontierPoint(quality=m["quality"], latency_mean_s=m["latency_mean_s"],
                         edge_rate=m["edge_rate"], knob=None, params=())  # fmt: skip


def _record(env: gym.Env, seeds: Sequence[int], episodes: int) -> list[dict[str, Any]]:
    """The router inputs of every query always-edge serves (for calibration)."""
    out = []
    for s in seeds:
        for e in range(episodes):
            _, info = env.reset(seed=reset_seed(s, e))
            done = False
            while not done:
                out.append({"semantic_p": info["semantic_p"], "estimate": info["estimate"],
                            "estimate_load_blind": info["estimate_load_blind"]})
                _, _, done, _, info = env.step(1)
    return out


def _shares(n: int) -> np.ndarray:
    return np.unique(np.r_[np.linspace(0.0, 1.0, n), 0.95, 0.99])


def _sweep(env: gym.Env, name: str, kwargs: list[dict[str, Any]], seeds, episodes,
           extremes: Sequence[FrontierPoint]) -> list[FrontierPoint]:  # fmt: skip
    pts = [_point(evaluate(env, make_policy(name, **kw), seeds, episodes).metrics) for kw in kwargs]
    return pts + list(extremes)


def _gains(static: Sequence[FrontierPoint], cand: Sequence[FrontierPoint], q_dev: float,
           q_edge: float, levels: Sequence[float]) -> dict[str, float | None]:  # fmt: skip
    out: dict[str, float | None] = {}
    for lv in levels:
        tq = q_dev + lv * (q_edge - q_dev)
        s = interpolate_at_quality(static, tq).latency_mean_s
        c = interpolate_at_quality(cand, tq).latency_mean_s
        out[f"{lv:g}"] = reduction_pct(s, c)
    return out


def run_load_delay_study(
    env_id: str, env_config: Mapping[str, Any], budget: StudyBudget,
    delays_s: Sequence[float] = DELAYS_S, levels: Sequence[float] = LEVELS,
    log: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """The study (module docstring) on one workload; plain values for JSON and the table."""
    log = log or (lambda *_: None)

    def make(split: str, extra: Mapping[str, Any]) -> gym.Env:
        return gym.make(env_id, config={**env_config, **extra, "split": split})

    b = budget
    val0, test0 = make("validation", {}), make("test", {})
    ext: dict[str, dict[str, list[FrontierPoint]]] = {}
    metrics: dict[str, dict[str, float]] = {}
    for split, env, seeds in (("validation", val0, b.tune_seeds), ("test", test0, b.seeds)):
        dev = evaluate(env, make_policy("always_device"), seeds, b.episodes).metrics
        edge = evaluate(env, make_policy("always_edge"), seeds, b.episodes).metrics
        metrics[split] = {"device_quality": dev["quality"], "edge_quality": edge["quality"],
                          "device_latency_mean_s": dev["latency_mean_s"],
                          "edge_latency_mean_s": edge["latency_mean_s"]}  # fmt: skip
        ext[split] = {"extremes": [_point(dev), _point(edge)]}
    rec0 = _record(val0, b.tune_seeds, b.episodes)
    thresholds = sorted({calibrate_threshold(np.array([r["semantic_p"] for r in rec0]), s)
                         for s in _shares(b.points)})  # fmt: skip
    static = {
        split: _sweep(env, "semantic_threshold", [{"threshold": t} for t in thresholds], seeds,
                      b.episodes, ext[split]["extremes"])
        for split, env, seeds in (("validation", val0, b.tune_seeds), ("test", test0, b.seeds))
    }  # fmt: skip
    log(f"static frontiers done ({len(thresholds)} thresholds)")
    rows = []
    for label, extra, policy in mode_configs(delays_s):
        val, test = make("validation", extra), make("test", extra)
        rec = _record(val, b.tune_seeds, b.episodes)
        best: tuple[float, float, list[float]] | None = None
        for alpha in b.alpha_grid:
            probe = make_policy(policy, alpha=alpha, theta=0.0)
            scores = np.array([probe.score(r) for r in rec])
            thetas = sorted({calibrate_threshold(scores, s) for s in _shares(b.points)})
            pts = _sweep(val, policy, [{"alpha": alpha, "theta": t} for t in thetas],
                         b.tune_seeds, b.episodes, ext["validation"]["extremes"])  # fmt: skip
            g = _gains(static["validation"], pts, metrics["validation"]["device_quality"],
                       metrics["validation"]["edge_quality"], levels)  # fmt: skip
            score = float(np.mean([v for v in g.values() if v is not None] or [-np.inf]))
            if best is None or score > best[0]:
                best = (score, alpha, thetas)
        assert best is not None
        _, alpha, thetas = best
        pts = _sweep(test, policy, [{"alpha": alpha, "theta": t} for t in thetas], b.seeds,
                     b.episodes, ext["test"]["extremes"])  # fmt: skip
        gains = _gains(static["test"], pts, metrics["test"]["device_quality"],
                       metrics["test"]["edge_quality"], levels)  # fmt: skip
        rows.append({"mode": label, "policy": policy, "alpha": alpha,
                     "latency_reduction_pct_vs_static": gains})  # fmt: skip
        if label == "exact":
            # The exact-load operating point nearest 90% of the gap: where its decisions come
            # from (edge share by observed load, R^2 of its estimate vs the load-blind one).
            q90 = metrics["test"]["device_quality"] + 0.9 * (
                metrics["test"]["edge_quality"] - metrics["test"]["device_quality"])
            k = int(np.argmin([abs(p.quality - q90) for p in pts[: len(thetas)]]))
            dependence = load_dependence(env_id, env_config, alpha, thetas[k], b.seeds,
                                         b.episodes)  # fmt: skip
        log(f"{label}: alpha {alpha:g}, " + ", ".join(
            f"{k}: {'-' if v is None else f'{v:+.1f}%'}" for k, v in gains.items()))
    return {"env_id": env_id, "env_config": {k: v for k, v in env_config.items()},
            "levels": list(levels), "delays_s": list(delays_s), "test": metrics["test"],
            "rows": rows, "load_dependence": dependence, "seeds": list(b.seeds),
            "tune_seeds": list(b.tune_seeds),
            "episodes": b.episodes, "alpha_grid": list(b.alpha_grid),
            "modelled": "latencies from our cost models (simulated shared edge, replayed link)"}


def format_table(result: Mapping[str, Any]) -> str:
    """The study as a plain-text table (one row per way of knowing the load)."""
    levels = [f"{lv:g}" for lv in result["levels"]]
    head = f"{'load known as':20s}{'policy':24s}{'alpha':>7s}" + "".join(
        f"{'gain @' + lv:>12s}" for lv in levels)
    lines = [f"{result['env_id']}  {result['env_config']}", head]
    for row in result["rows"]:
        g = row["latency_reduction_pct_vs_static"]
        cells = "".join(f"{'-' if g[lv] is None else f'{g[lv]:+.1f}%':>12s}" for lv in levels)
        lines.append(f"{row['mode']:20s}{row['policy']:24s}{row['alpha']:7.3g}{cells}")
    dep = result.get("load_dependence")
    if dep:
        shares = ", ".join(f"{d['load_from']:.1f}-{d['load_to']:.1f}: {d['edge_share']:.1%}"
                           for d in dep["edge_share_by_load"])  # fmt: skip
        lines.append(f"exact-load analytic (alpha {dep['alpha']:g}, theta {dep['theta']:.3g}) "
                     f"edge share by observed load {shares}; R^2 of its estimate of "
                     f"T_edge - T_device: {dep['r2_estimate']:.3f}, of the load-blind one: "
                     f"{dep['r2_load_blind_estimate']:.3f} ({dep['queries']} test queries)")
    t = result["test"]
    lines.append(
        f"test: always-device quality {t['device_quality']:.3f} at {t['device_latency_mean_s']:.2f}"
        f" s, always-edge {t['edge_quality']:.3f} at {t['edge_latency_mean_s']:.2f} s; gain = "
        "mean-latency reduction vs the static semantic threshold at matched quality (fraction "
        "of the device -> edge quality gap); modelled latencies")
    return "\n".join(lines)


#: The workloads the study runs on (the same configurations as the benchmark's entries of
#: the same names in ``experiments/configs/benchmark.yaml``).
#: The shared-edge workloads of the benchmark (experiments/configs/benchmark.yaml, quick
#: profile): one definition for both commands. The study overrides the load observation of each.
BENCHMARK_WORKLOADS: tuple[str, ...] = ("mmlu_shared_edge", "mt_bench_101_shared_edge")

WORKLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "mmlu": ("EdgeRoute/SingleTurn-v0", {"benchmark": "mmlu", "episode_queries": 100}),
    # The shared edge on the link-budget (SNR) link, the rate known exactly: isolates what
    # the load reports are worth.
    "mmlu_shared_edge_snr": ("EdgeRoute/SingleTurn-v0", {
        "benchmark": "mmlu", "episode_queries": 100, "think_time_mean_s": 10.0,
        "edge_mode": "shared", "edge_users": 900, "load_observation": "reported"}),
}  # fmt: skip


def workload(name: str) -> tuple[str, dict[str, Any]]:
    """(env id, env config) of a study workload: :data:`WORKLOADS`, or a shared-edge
    workload of the shipped benchmark profile (:data:`BENCHMARK_WORKLOADS`)."""
    if name in BENCHMARK_WORKLOADS:
        from experiments.run_profile import load_run_profile

        spec = {s.key: s for s in load_run_profile(None, "quick").specs()}[name]
        return spec.env_id, dict(spec.env_config)
    require(name in WORKLOADS, f"unknown workload {name!r}; allowed: "
            f"{sorted([*WORKLOADS, *BENCHMARK_WORKLOADS])}")  # fmt: skip
    env_id, cfg = WORKLOADS[name]
    return env_id, dict(cfg)


def load_dependence(
    env_id: str, env_config: Mapping[str, Any], alpha: float, theta: float,
    seeds: Sequence[int], episodes: int, bins: Sequence[float] = (0.0, 0.2, 0.5, 0.8, 1.01),
) -> dict[str, Any]:  # fmt: skip
    """Where the analytic router's decisions come from, on test: its edge-call share per bin
    of the load it observes (the ``edge_utilisation`` slot), and how much of the realised
    latency difference ``T_edge - T_device`` (hindsight) its estimate explains (R^2), with the
    observed load and with the long-run mean (load-blind)."""
    env = gym.make(env_id, config={**env_config, "split": "test"})
    pol = make_policy("analytic", alpha=alpha, theta=theta)
    pol.bind(list(env.unwrapped.observation_names))
    slot = env.unwrapped.observation_names.index("edge_utilisation")
    load, edge, est, blind, real = [], [], [], [], []
    for s in seeds:
        for e in range(episodes):
            obs, info = env.reset(seed=reset_seed(s, e))
            done = False
            while not done:
                a = pol.act(obs, info)
                load.append(float(obs[slot]))
                edge.append(a)
                est.append(info["estimate"]["edge"]["total_s"]
                           - info["estimate"]["device"]["total_s"])  # fmt: skip
                blind.append(info["estimate_load_blind"]["edge"]["total_s"]
                             - info["estimate_load_blind"]["device"]["total_s"])  # fmt: skip
                h = info["hindsight"]["latency_s"]
                real.append(h[1] - h[0])
                obs, _, done, _, info = env.step(a)
    load_a, edge_a = np.asarray(load), np.asarray(edge)
    real_a = np.asarray(real)

    def r2(pred: list[float]) -> float:
        res = real_a - np.asarray(pred)
        return float(1.0 - np.mean(res**2) / max(np.var(real_a), 1e-12))

    shares = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        m = (load_a >= lo) & (load_a < hi)
        if m.any():
            shares.append({"load_from": lo, "load_to": min(hi, 1.0), "queries": int(m.sum()),
                           "edge_share": float(edge_a[m].mean())})  # fmt: skip
    return {"alpha": alpha, "theta": theta, "edge_share_by_load": shares,
            "r2_estimate": r2(est), "r2_load_blind_estimate": r2(blind),
            "queries": int(len(real_a))}  # fmt: skip
