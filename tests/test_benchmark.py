"""The benchmark's --quick path end to end (synthetic subset; real traces in the slow test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from experiments import paired
from experiments.cli import main as cli_main

SINGLE = "EdgeRoute/SingleTurn-v0"
MULTI = "EdgeRoute/MultiTurn-v0"
#: The keys the issue fixes for every benchmark section of results.json.
SECTION_KEYS = {
    "policies",
    "matched_quality",
    "analytic_vs_static",
    "ppo_vs_analytic",
    "gap_closed_pct",
    "quality_source",
    "routellm_metrics",
}
POLICIES = {
    "always_device",
    "always_edge",
    "random",
    "semantic_threshold",
    "latency_greedy",
    "analytic",
    "analytic_load_blind",
    "load_aware_semantic_blind",
    "myopic_oracle",
    "ppo",
}


def write_configs(
    tmp_path: Path, benchmarks: list, ppo_timesteps: int = 1024, factors: list | None = None
) -> tuple[Path, Path]:
    """A tiny budget profile (as `quick`) and a tiny PPO config; ``factors``: PPO's
    reward-weight variants (default [1.0, 0.2])."""
    profile = {
        "benchmarks": benchmarks,
        "seeds": [0, 1],
        "tune_seeds": [0],
        "episodes_per_seed": 1,
        "max_steps_per_episode": None,
        "sweep_points": 4,
        "alpha_grid": [0.05, 0.3],
        "ppo_timesteps": ppo_timesteps,
        "ppo_seeds": [0],
        "ppo_latency_weight_factors": factors or [1.0, 0.2],
        "ppo_conditioned_timesteps": ppo_timesteps,
        "env_config": {SINGLE: {"episode_queries": 60}, MULTI: {"dialogues_per_episode": 8}},
        "ablation": {"benchmarks": benchmarks, "ppo_timesteps": ppo_timesteps},
    }
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump({"quick": profile, "full": profile}))
    ppo = {
        "n_envs": 2,
        "eval_freq": 512,
        "n_eval_episodes": 1,
        "checkpoint_freq": 512,
        "normalize_reward": True,
        "ppo": {
            "n_steps": 128,
            "batch_size": 64,
            "n_epochs": 2,
            "gamma": 0.5,
            "policy_kwargs": {"net_arch": [16]},
        },
    }
    ppo_path = tmp_path / "ppo.yaml"
    ppo_path.write_text(yaml.safe_dump({SINGLE: ppo, MULTI: ppo}))
    return bench, ppo_path


SYNTHETIC = [
    {
        "key": "synthetic",
        "env_id": SINGLE,
        "env_config": {"benchmark": "synthetic", "synthetic_size": 200},
    },
    {
        "key": "synthetic_multi",
        "env_id": MULTI,
        "env_config": {"benchmark": "synthetic", "synthetic_size": 100},
    },
]


def reduction_pct(mq: dict, base: str, new: str) -> float | None:
    """``new``'s latency reduction against ``base`` at always-edge quality, from the point
    comparison ``matched_quality``."""
    b, n = mq[base].get("latency_mean_s"), mq[new].get("latency_mean_s")
    return None if b is None or n is None else 100.0 * (b - n) / b


def check_results(out: Path, keys: list[str], quick: bool = True) -> dict:
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["quick"] is quick
    for key in keys:
        sec = results[key]
        assert set(sec) >= SECTION_KEYS, SECTION_KEYS - set(sec)
        multi = sec["env_id"] == MULTI
        assert set(sec["policies"]) == POLICIES | ({"hindsight_optimal"} if multi else set())
        if multi:  # the bound and what planning over a dialogue gains over the myopic oracle
            gap = sec["nonmyopic_gap"]
            assert gap["min_gain"] >= -1e-9 and gap["reward_per_dialogue"] >= 0.0
            assert 0.0 <= gap["share_of_dialogues_improved"] <= 1.0
            # on one-dialogue episodes the bound earns at least the myopic oracle (in the main
            # table's episodes of several dialogues a policy's clock moves the next dialogue's
            # world, so per-step means there need not be ordered)
            assert gap["hindsight_optimal"]["reward_mean"] >= gap["myopic_oracle"]["reward_mean"]
        for metrics in sec["policies"].values():
            for k in (
                "latency_mean_s",
                "quality",
                "edge_rate",
                "latency_p50_s",
                "latency_p95_s",
                "latency_mean_s_std",
            ):
                assert isinstance(metrics[k], float), k
        assert sec["policies"]["always_edge"]["edge_rate"] == 1.0
        assert sec["policies"]["always_device"]["edge_rate"] == 0.0
        mq = sec["matched_quality"]
        assert mq["target_quality"] == sec["policies"]["always_edge"]["quality"]
        for name in ("semantic_threshold", "analytic", "random", "ppo"):
            assert {"latency_mean_s", "edge_rate"} <= set(mq[name])
        # Random's frontier runs from always-device to always-edge: at always-edge quality it
        # is always-edge's latency (same seeds, common random numbers).
        assert mq["random"]["latency_mean_s"] == pytest.approx(
            sec["policies"]["always_edge"]["latency_mean_s"]
        )
        ci_keys = {
            "latency_reduction_pct",
            "latency_reduction_ci95",
            "edge_call_reduction_pct",
            "edge_call_reduction_ci95",
        }
        for cmp in ("analytic_vs_static", "ppo_vs_analytic"):
            assert ci_keys <= set(sec[cmp])
            # Every matched-quality level: always-edge quality ("1") and each gap fraction.
            assert set(sec[cmp]["levels"]) == {"1", "0.8", "0.9", "0.95"}
            for e in sec[cmp]["levels"].values():
                ci = e["latency_reduction_ci95"]
                if e["latency_reduction_pct"] is not None and ci is not None:
                    assert ci[0] <= ci[1]
        # The CI comparisons read the same frontiers as the point comparison: where the point
        # estimate is defined, so is the CI one, and they agree (PPO's frontier includes the
        # trade-off-conditioned PPO's points in both).
        pairs = {"analytic_vs_static": ("semantic_threshold", "analytic"),
                 "ppo_vs_analytic": ("analytic", "ppo")}  # fmt: skip
        for level in sec["analytic_vs_static"]["levels"]:
            for cmp, (base, new) in pairs.items():
                if level == "1":
                    want = reduction_pct(mq, base, new)
                else:
                    entry = sec["matched_quality_gap_recovered"][level][cmp] or {}
                    want = entry.get("latency_reduction_pct")
                got = sec[cmp]["levels"][level]["latency_reduction_pct"]
                assert (want is None) == (got is None), (key, level, cmp, want, got)
                if want is not None:
                    assert got == pytest.approx(want, abs=1e-6), (key, level, cmp)
        # A full pass: every test item once per seed, the same count for every policy.
        counts = {m["n_queries"] for m in sec["policies"].values()}
        assert len(counts) == 1
        assert sec["n_train_seeds"] == 1 and sec["bootstrap"]["resamples"] >= 100
        assert sec["hindsight"]["note"]
        assert len(sec["paper_claim"]["readings"]) == 4
        assert set(sec["tuned_per_target"]) == {"1", "0.8", "0.9", "0.95"}
        assert "ppo_minus_analytic_reward" in sec["equal_reward"]
        # the load baselines are read on their frontiers exactly as Analytic is
        at_target = sec["load_baselines"]["vs_static"]["1"]
        for k in ("latency_reduction_pct", "edge_call_reduction_pct"):
            got, want = at_target["analytic_vs_static"][k], sec["analytic_vs_static"][k]
            assert (got is None and want is None) or got == pytest.approx(want)
        for name in ("analytic_load_blind", "load_aware_semantic_blind"):
            assert set(at_target[f"{name}_vs_static"]) == {
                "latency_reduction_pct", "edge_call_reduction_pct"}
            assert len(sec["frontiers"][name]) >= 3
        # RouteLLM's metrics per tunable policy; Random's sweep mixes the two extremes, so its
        # APGR is one half up to evaluation noise (the exact statistical check of Random is in
        # test_routellm_metrics).
        rl = sec["routellm_metrics"]
        assert set(rl) == {"semantic_threshold", "analytic", "random", "ppo"}
        for m in rl.values():
            assert set(m) == {"apgr", "cpt50", "cpt80"}
        if sec["env_id"] == SINGLE:  # 120 queries; the 64 multi-turn rows are too few
            assert abs(rl["random"]["apgr"] - 0.5) < 0.1, rl["random"]
        # Both readings of edge calls at matched quality; the minimum is never above the
        # edge share of the lowest-latency point that reaches the same quality.
        for name in ("semantic_threshold", "analytic", "random"):
            lo, at = mq[name]["min_edge_rate"], mq[name]["edge_rate"]
            if lo is not None and at is not None:
                assert lo <= at + 1e-9, (name, lo, at)
        assert sec["quality_source"] in ("measured", "modelled")
        assert (out / f"frontier_{key}.png").stat().st_size > 1000
        assert (out / f"latency_{key}.png").stat().st_size > 1000
        # Issue 14: the conditioned PPO's frontier on the analytic grid, and learning curves.
        cond = sec["ppo_conditioned"]
        alphas = {float(a) for a in sec["tuning"]["alpha_grid"]}
        assert {p["alpha"] for p in cond["frontier"] if "alpha" in p} == alphas  # the whole grid
        assert len(cond["frontier"]) > len(alphas)  # and its thetas
        for level in cond["vs_analytic_at_matched_quality"].values():
            assert {"latency_reduction_pct", "edge_call_reduction_pct"} <= set(level)
        assert (out / f"learning_{key}.png").stat().st_size > 1000
    md = (out / "results.md").read_text()
    assert ("QUICK" in md) is quick
    assert "reconstruction" in md
    return results


def test_benchmark_quick_end_to_end_on_synthetic(tmp_path, capsys, monkeypatch):
    # The multi-turn workload has its own evaluation seeds and alpha grid (a workload's
    # ``profile`` key); the single-turn one keeps the profile's.
    own = {"seeds": [3], "alpha_grid": [0.1]}
    # No reward-weight variants, as the full profile: PPO's frontier beyond its headline point
    # is the trade-off-conditioned PPO's, in the point and in the CI comparison alike.
    workloads = [SYNTHETIC[0], {**SYNTHETIC[1], "profile": own}]
    bench, ppo = write_configs(tmp_path, workloads, factors=[1.0])
    ppo_family_sizes: list[int] = []
    real = paired.matched_with_ci

    def spy(families, *args, **kwargs):
        ppo_family_sizes.append(len(families["ppo"]))
        return real(families, *args, **kwargs)

    monkeypatch.setattr(paired, "matched_with_ci", spy)
    out = tmp_path / "out"
    code = cli_main(
        [
            "benchmark",
            "--quick",
            "--out",
            str(out),
            "--config",
            str(bench),
            "--ppo-config",
            str(ppo),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "QUICK" in printed and "matched quality" in printed
    results = check_results(out, ["synthetic", "synthetic_multi"])
    # PPO's frontier in the CI comparison: the headline seeds, then every point of the
    # conditioned PPO's sweep and its own-prices point, as in the point comparison.
    keys = ("synthetic", "synthetic_multi")
    assert ppo_family_sizes == [1 + len(results[k]["frontiers"]["ppo_conditioned"]) for k in keys]
    assert results["synthetic"]["seeds"] == [0, 1]
    assert results["synthetic_multi"]["seeds"] == [3]
    assert results["synthetic_multi"]["tuning"]["alpha_grid"] == [0.1]
    assert len(results["synthetic"]["tuning"]["alpha_grid"]) == 2
    assert "modelled quality" in (out / "results.md").read_text()
    multi = results["synthetic_multi"]["policies"]["always_edge"]
    assert "switches_per_dialogue" in multi and "recomputed_tokens_per_dialogue" in multi
    # TensorBoard logs of the PPO runs it trained.
    assert list((out / "ppo").rglob("events.out.tfevents.*"))
    # Reusing the trained models gives the same PPO numbers without training.
    out2 = tmp_path / "out2"
    assert (
        cli_main(
            [
                "benchmark",
                "--quick",
                "--out",
                str(out2),
                "--config",
                str(bench),
                "--models",
                str(out / "ppo"),
                "--benchmarks",
                "synthetic",
            ]
        )
        == 0
    )
    again = json.loads((out2 / "results.json").read_text())
    assert again["synthetic"]["policies"]["ppo"] == results["synthetic"]["policies"]["ppo"]
    assert not (out2 / "ppo").exists()


def test_benchmark_bad_input_exits_2(tmp_path, capsys):
    bench, _ = write_configs(tmp_path, ["no_such_benchmark"])
    code = cli_main(["benchmark", "--quick", "--out", str(tmp_path / "o"), "--config", str(bench)])
    assert code == 2
    assert "unknown benchmark 'no_such_benchmark'" in capsys.readouterr().err
    missing = tmp_path / "nope.yaml"
    assert cli_main(["benchmark", "--out", str(tmp_path / "o"), "--config", str(missing)]) == 2


@pytest.mark.slow
def test_benchmark_quick_on_real_traces(tmp_path):
    """The shipped --quick profile on prepared MMLU/GSM8K/MT-Bench-101 traces (CI: slow)."""
    from envs.traces.store import available_benchmarks

    have = set(available_benchmarks())
    needed = {"mmlu", "gsm8k", "mt_bench_101"}
    if not needed <= have:
        pytest.skip(f"prepared traces missing: {sorted(needed - have)} (edgeroute data prepare)")
    out = tmp_path / "real"
    assert cli_main(["benchmark", "--quick", "--out", str(out), "--no-progress"]) == 0
    results = check_results(out, ["mmlu", "gsm8k", "mt_bench_101"])
    if {"mt_eval", "long_sessions"} <= have:  # the long-dialogue workloads of the profile
        check_results(out, ["mt_eval", "long_sessions"])
        assert results["mt_eval"]["quality_source"] == "modelled"
    assert results["mt_bench_101"]["quality_source"] == "modelled"
    assert results["mmlu"]["quality_source"] == "measured"


def test_results_do_not_depend_on_the_order_of_independent_runs(tmp_path):
    """The executor seam: within a phase runs are independent, so an executor that runs them in
    another order (as a parallel one would) gives the same numbers."""
    from experiments.benchmark import run_benchmark
    from experiments.compare import diff
    from experiments.run_profile import RunOptions, load_run_profile
    from experiments.runs import InProcessExecutor

    class ReversedExecutor(InProcessExecutor):
        def map(self, specs):
            return list(reversed(super().map(list(reversed(specs)))))

    bench, ppo = write_configs(tmp_path, SYNTHETIC[1:])
    profile = load_run_profile(bench, "quick")
    opts = RunOptions(tmp_path / "a", profile, True, ppo, progress_bar=False, log=lambda s: None)
    first = run_benchmark(opts)
    reuse = RunOptions(tmp_path / "b", profile, True, ppo, tmp_path / "a" / "ppo", False, opts.log)
    executor = ReversedExecutor()
    try:
        second = run_benchmark(reuse, executor)
    finally:
        executor.close()
    a, b = first["synthetic_multi"], second["synthetic_multi"]
    assert a["ppo_training"]["runs"].keys() == b["ppo_training"]["runs"].keys()
    a.pop("ppo_training"), b.pop("ppo_training")  # trained vs reused: different info
    assert list(diff(a, b)) == []
    assert a["policies"]["ppo"]["n_seeds"] == 2.0
