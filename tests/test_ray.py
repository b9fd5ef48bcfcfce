"""Ray: a tiny sweep on Ray Tune equals the in-process runs; the benchmark through the Ray
executor equals the in-process benchmark; a sweep whose driver is killed (SIGKILL) resumes and
runs only the missing trials. Local Ray with 2 CPUs, one session shared by the tests of this
module (the killed sweep runs in a subprocess with its own). Slow: CI runs them with
`pytest -m slow` (the `ray` extra installed)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ray")

from experiments.compare import diff  # noqa: E402
from experiments.ray_backend import RayExecutor, RaySettings, ray_session  # noqa: E402
from experiments.runs import policy_runs  # noqa: E402
from experiments.sweep import SweepPlan, run_sweep  # noqa: E402
from experiments.sweep_config import load_sweep_config  # noqa: E402
from experiments.sweep_trial import TRIAL_FILE, read_trial, run_trial, trial_results  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SINGLE = "EdgeRoute/SingleTurn-v0"
MULTI = "EdgeRoute/MultiTurn-v0"
PPO = {
    "n_envs": 2,
    "eval_freq": 256,
    "n_eval_episodes": 1,
    "checkpoint_freq": 256,
    "normalize_reward": True,
    "ppo": {"n_steps": 128, "batch_size": 64, "n_epochs": 2, "policy_kwargs": {"net_arch": [16]}},
}
SYNTHETIC = {"benchmark": "synthetic", "synthetic_size": 150}


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    """One local Ray with 2 CPUs for the module (run_sweep and RayExecutor reuse it)."""
    with ray_session(RaySettings(num_cpus=2), tmp_path_factory.mktemp("ray"), lambda s: None):
        yield


def write_sweep(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "ppo.yaml").write_text(yaml.safe_dump({SINGLE: PPO, MULTI: PPO}))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"ppo_config": "ppo.yaml", **data}))
    return path


TINY = {
    "workloads": [
        {"key": "syn", "env_id": SINGLE, "env_config": SYNTHETIC},
        {"key": "syn_multi", "env_id": MULTI, "env_config": {"benchmark": "synthetic"}},
    ],
    "env_config": {SINGLE: {"episode_queries": 30}, MULTI: {"dialogues_per_episode": 4}},
    "policies": [
        "always_edge",
        {"policy": "analytic", "kwargs": {"alpha": 0.2, "theta": 0.1}},
        {"policy": "analytic", "tune": True},
        "ppo",
    ],
    "evaluation_seeds": [0, 1],
    "episodes_per_seed": 1,
    "training_seeds": [0],
    "ppo_timesteps": 512,
    "ppo_grid": {"gamma": [0.5, 0.9]},
    "sweep_points": 3,
    "alpha_grid": [0.1, 0.3],
}


def test_tiny_sweep_on_ray_tune_gives_the_in_process_metrics(ray_local, tmp_path):
    config_path = write_sweep(tmp_path, TINY)
    out = tmp_path / "sweep"
    lines: list[str] = []
    results = run_sweep(config_path, out, RaySettings(num_cpus=2), log=lines.append)
    plan = SweepPlan.of(load_sweep_config(config_path), out)
    assert results["meta"]["trials"]["complete"] == len(plan.trials) == 2 * (3 + 2)
    assert any(re.match(r"\[sweep \d+/10 done.*\] finished syn__default__ppo", s) for s in lines)
    # Every trial again in this process, from scratch: the same numbers, run by run.
    local = tmp_path / "local"
    for t in plan.trials:
        mine = run_trial(t, plan.config, local / t.key, attempt="local")
        theirs = read_trial(plan.trial_dir(t.key))
        assert mine["runs"] == theirs["runs"], t.key
        assert mine["metrics"] == theirs["metrics"]
        assert mine["policy_kwargs"].keys() == theirs["policy_kwargs"].keys()
        if t.policy.policy == "ppo":
            # Trained on a Ray worker, TensorBoard logs in the trial directory.
            assert list((plan.trial_dir(t.key) / "ppo" / "tb").rglob("events.out.tfevents.*"))
            assert theirs["training"]["timesteps"] == 512
    # sweep.json pools each cell with policy_runs; the same from the in-process trials.
    for cell in results["cells"]:
        pooled = [
            r
            for key in cell["trials"]
            for r in trial_results(read_trial(local / key), plan.config, local / key)
        ]
        assert cell["metrics"] == policy_runs(pooled).metrics
    assert (out / "sweep.md").read_text().count("## syn") == 2
    # Ray's session files stayed out of the repo.
    assert not (REPO / ".ray").exists()


def tiny_profile(tmp_path: Path) -> tuple[Path, Path]:
    profile = {
        "benchmarks": [
            {"key": "syn_multi", "env_id": MULTI, "env_config": {"benchmark": "synthetic"}}
        ],
        "seeds": [0, 1],
        "episodes_per_seed": 1,
        "sweep_points": 3,
        "alpha_grid": [0.05, 0.3],
        "ppo_timesteps": 512,
        "ppo_seeds": [0, 1],
        "ppo_latency_weight_factors": [1.0, 0.2],
        "env_config": {MULTI: {"dialogues_per_episode": 4}},
    }
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump({"quick": profile, "full": profile}))
    ppo = tmp_path / "ppo.yaml"
    ppo.write_text(yaml.safe_dump({SINGLE: PPO, MULTI: PPO}))
    return bench, ppo


def test_benchmark_through_the_ray_executor_equals_the_in_process_benchmark(ray_local, tmp_path):
    """Same specs, same seeds: identical results.json (PPO trained on Ray workers too)."""
    from experiments.benchmark import run_benchmark
    from experiments.run_profile import RunOptions, load_run_profile

    bench, ppo = tiny_profile(tmp_path)
    profile = load_run_profile(bench, "quick")
    quiet = {"progress_bar": False, "log": lambda s: None}
    local = run_benchmark(RunOptions(tmp_path / "local", profile, True, ppo, **quiet))
    remote = run_benchmark(
        RunOptions(tmp_path / "ray", profile, True, ppo, **quiet), RayExecutor(None, lambda s: None)
    )
    assert list(diff(local, remote)) == []
    assert remote["syn_multi"]["policies"]["ppo"]["n_seeds"] == 4.0  # 2 training x 2 eval seeds


KILLED = {
    "workloads": [{"key": "syn", "env_id": SINGLE, "env_config": SYNTHETIC}],
    "env_config": {SINGLE: {"episode_queries": 40}},
    "env_grid": {"channel": ["near", "urban", "cell_edge", "congested"]},
    "policies": ["always_edge", {"policy": "random", "kwargs": {"p": 0.3}}],
    "evaluation_seeds": [0, 1],
    "episodes_per_seed": 3,
}


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), to see that a killed driver's Ray exits."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_sweep_resumes_and_runs_only_the_missing_trials(ray_local, tmp_path):
    config_path = write_sweep(tmp_path, KILLED)
    out = tmp_path / "sweep"
    plan = SweepPlan.of(load_sweep_config(config_path), out)
    log_path = tmp_path / "killed.log"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(config_path), "--out", str(out)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*cmd, "--num-cpus", "2"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    ray_procs: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            ray_procs |= _descendants(proc.pid)
            if any((plan.trial_dir(t.key) / TRIAL_FILE).exists() for t in plan.trials):
                break
            time.sleep(0.2)
        assert proc.poll() is None, log_path.read_text()[-3000:]
        ray_procs |= _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Ray's processes follow their driver; wait for them (the killed worker may still
        # finish the trial it was running), then see what was complete.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and any(_alive(p) for p in ray_procs):
            time.sleep(1)
        assert not [p for p in ray_procs if _alive(p)], "Ray processes outlived their driver"
    finally:
        for pid in [proc.pid, *ray_procs]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        match = re.search(r"session files in (\S+)", log_path.read_text())
        if match and "edgeroute-ray-" in match.group(1):
            shutil.rmtree(match.group(1), ignore_errors=True)
    files = {t.key: plan.trial_dir(t.key) / TRIAL_FILE for t in plan.trials}
    before = {k: p.read_bytes() for k, p in files.items() if p.exists()}
    missing = set(files) - set(before)
    assert before and missing, "the kill must land mid-sweep"
    first_attempt = {read_trial(p.parent)["attempt"] for k, p in files.items() if k in before}
    assert len(first_attempt) == 1
    # Without --resume the sweep refuses to touch the directory.
    from experiments.cli import main as cli_main

    assert cli_main(["sweep", str(config_path), "--out", str(out)]) == 2
    # --resume: Tune restores the experiment; complete trials are not run again.
    results = run_sweep(config_path, out, RaySettings(num_cpus=2), resume=True, log=print)
    attempt = results["meta"]["attempt"]
    assert results["meta"]["trials"] == {
        "total": len(files),
        "complete": len(files),
        "ran": len(missing),
        "reused": len(before),
        "errored": 0,
        "unfinished": 0,
    }
    for key, path in files.items():
        record = read_trial(path.parent)
        if key in before:
            assert path.read_bytes() == before[key], key  # untouched
            assert record["attempt"] in first_attempt
        else:
            assert record["attempt"] == attempt, key
        assert results["trials"][key]["ran_in_attempt"] == record["attempt"]


def test_a_failing_trial_is_reported_and_resume_retries_only_it(ray_local, tmp_path):
    """A trial that raises (here torch's optimizer rejects an argument, which only building
    the model finds) does not stop the others; it is listed in sweep.json / sweep.md, and
    --resume runs it again, not the complete ones."""
    config = {
        "workloads": [{"key": "syn", "env_id": SINGLE, "env_config": SYNTHETIC}],
        "env_config": {SINGLE: {"episode_queries": 20}},
        "policies": ["always_edge", "ppo"],
        "evaluation_seeds": [0],
        "episodes_per_seed": 1,
        "ppo_timesteps": 256,
        "ppo_grid": {"policy_kwargs": [{"optimizer_kwargs": {"bogus": 1}}]},
    }
    path, out = write_sweep(tmp_path, config), tmp_path / "sweep"
    first = run_sweep(path, out, RaySettings(num_cpus=2), log=lambda s: None)
    bad = "syn__default__ppo__policy_kwargs=(optimizer_kwargs=(bogus=1))__seed0"
    assert first["trials"][bad]["status"] == "errored"
    assert "bogus" in first["trials"][bad]["error"]
    assert first["trials"]["syn__default__always_edge"]["status"] == "complete"
    assert f"`{bad}`: errored (" in (out / "sweep.md").read_text()
    again = run_sweep(path, out, RaySettings(num_cpus=2), resume=True, log=lambda s: None)
    counts = again["meta"]["trials"]
    assert (counts["ran"], counts["reused"], counts["errored"]) == (0, 1, 1)


def test_ray_workers_compute_the_observations_of_this_process_bit_for_bit(ray_local):
    """Float32 matmuls round differently with another number of BLAS threads, and Ray sets
    OMP_NUM_THREADS=1 in its workers (OpenBLAS follows it): the session hands workers this
    process's OpenBLAS thread count, so a PPO trained on a worker sees the observations, and
    learns the weights, it would here."""
    import ray

    def projection(seed: int) -> bytes:
        """A float32 matmul of the shape of the observation's PCA projection of the
        embeddings (envs/observation.py: [rows, 384] x [384, 16]); nested, so that Ray ships
        it by value."""
        import numpy as np

        rng = np.random.default_rng(seed)
        x = rng.standard_normal((4000, 384)).astype(np.float32)
        components = rng.standard_normal((16, 384)).astype(np.float32)
        return (x @ components.T).tobytes()

    remote = ray.get(ray.remote(num_cpus=1)(projection).remote(7))
    assert remote == projection(7)
