"""One trial of ``edgeroute sweep``: what it runs, the files it leaves, and reading them back.

:func:`run_trial` is the whole job of a trial (Ray Tune calls it on a worker; tests call it in
process: same function, same numbers). It plans its runs as the benchmark does and runs them
through an :class:`experiments.runs.InProcessExecutor` (so :func:`experiments.runs.execute` is
still the one function that runs a spec): tuning on validation for ``tune: true`` entries
(:mod:`experiments.tuning`), PPO training on train (:func:`experiments.runs.train_or_reuse`),
then one evaluation run per evaluation seed on test.

A trial directory ``DIR/trials/<key>/`` (shared with Ray Tune's own files for the trial)::

    trial.json   the trial, its per-run metrics (compute_metrics, as the benchmark's runs) and
                 their mean/std over seeds; tuning and training info; written last, atomically:
                 its presence means the trial is complete
    logs.npz     each run's per-step log (latency, quality, edge, reward, switched,
                 recomputed tokens, dialogue id): per-item outcomes for statistics
    ppo/         PPO trials: the run directory of experiments.train (model, TensorBoard
                 under ppo/tb/, checkpoints)

A complete trial is never run again (a resumed sweep, or Tune re-running a trial it had not
recorded as finished before an interruption, reads ``trial.json`` back); an incomplete one is
run from scratch (a partial PPO run is removed first, so results never depend on where an
interruption happened).
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.traces.atomic import atomic_write_bytes
from experiments.files import write_json
from experiments.metrics import StepLog
from experiments.runs import (
    EnvRef,
    EvalResult,
    EvalSpec,
    InProcessExecutor,
    TrainSpec,
    policy_runs,
    split_runs,
)
from experiments.sweep_config import SweepConfig, Trial

TRIAL_FILE = "trial.json"
LOGS_FILE = "logs.npz"
PPO_DIR = "ppo"
#: StepLog fields stored in logs.npz (all of them; dialogue ids as strings).
LOG_FIELDS: tuple[str, ...] = tuple(StepLog.__dataclass_fields__)


def _plain(value: Any) -> Any:
    """JSON round trip: what a trial record holds after being written and read back."""
    return json.loads(json.dumps(value, sort_keys=True))


def read_trial(trial_dir: Path) -> dict[str, Any] | None:
    """The record of a complete trial, or None (not run, or interrupted)."""
    path = Path(trial_dir) / TRIAL_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def run_trial(trial: Trial, sweep: SweepConfig, trial_dir: Path, attempt: str) -> dict[str, Any]:
    """Run ``trial`` (or read it back if complete); returns its record (see module docs).

    ``attempt`` names the sweep invocation that ran it (recorded; a resumed sweep keeps the
    attempt of the trials it did not need to run).
    """
    trial_dir = Path(trial_dir)
    done = read_trial(trial_dir)
    if done is not None and done["trial"] == _plain(trial.to_dict()):
        return {**done, "reused": True}
    trial_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(trial_dir / PPO_DIR, ignore_errors=True)
    t0 = time.perf_counter()
    bench, entry = trial.workload, trial.policy
    val = split_runs(bench, bench.env_config, "validation", sweep.tune_seeds, sweep.budget)
    test = split_runs(bench, bench.env_config, "test", sweep.evaluation_seeds, sweep.budget)
    record: dict[str, Any] = {"trial": trial.to_dict(), "attempt": attempt}
    kwargs = dict(entry.kwargs)
    executor = InProcessExecutor()
    try:
        if entry.tune:
            tuned, record["tuning"] = tune_entry(executor, trial, sweep, val)
            kwargs.update(tuned)
        if entry.policy == "ppo":
            [outcome] = executor.map([train_spec(trial, sweep, trial_dir)])
            kwargs["model_dir"] = str(outcome.model_dir)
            record["training"] = outcome.info
        results = executor.map(test.specs(entry.policy, kwargs, keep_log=True))
    finally:
        executor.close()
    runs = policy_runs(results)
    record.update(
        label=runs.label,
        policy_kwargs=kwargs,
        metrics=runs.metrics,
        runs=[{"seed": r.spec.seed, "metrics": r.metrics} for r in results],
        wall_s=round(time.perf_counter() - t0, 2),
    )
    write_logs(trial_dir / LOGS_FILE, [r.log for r in results])
    write_json(trial_dir / TRIAL_FILE, record)  # last: the trial is complete
    return {**_plain(record), "reused": False}


def train_spec(trial: Trial, sweep: SweepConfig, trial_dir: Path) -> TrainSpec:
    """The PPO training run of a ``ppo`` trial, into ``<trial>/ppo`` (TensorBoard there)."""
    from experiments.train import TrainSettings

    settings = TrainSettings(
        env_id=trial.workload.env_id,
        out_dir=Path(trial_dir) / PPO_DIR,
        seed=int(trial.train_seed or 0),
        config_path=None if sweep.ppo_config is None else Path(sweep.ppo_config),
        timesteps=sweep.ppo_timesteps,
        env_overrides=dict(trial.workload.env_config),
        progress_bar=False,
        ppo_overrides=dict(trial.ppo_overrides),
    )
    return TrainSpec(f"ppo_{trial.ppo_variant}", settings)


def tune_entry(
    executor: InProcessExecutor, trial: Trial, sweep: SweepConfig, val: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune a ``tune: true`` entry on validation (the benchmark's rule): its tuned arguments,
    and what to record about the tuning."""
    from experiments.tuning import (
        analytic_candidates,
        record_validation,
        semantic_candidates,
        semantic_thresholds,
        theta_grids,
        tune,
    )

    entry = trial.policy
    rec = record_validation(executor, val)
    if entry.policy == "semantic_threshold":
        cand = semantic_candidates(semantic_thresholds(rec, int(sweep.sweep_points or 2)))
    else:
        grids = theta_grids(rec, sweep.alpha_grid or (), int(sweep.sweep_points or 2), entry.kwargs)
        cand = analytic_candidates(grids, entry.kwargs)
    best = tune(executor, val, rec.target_quality, {entry.label: cand})[entry.label]
    info = {
        "validation_target_quality": rec.target_quality,
        "best": best.best,
        "best_validation_metrics": best.best_metrics,
        "grid_points": len(cand.grid),
        "seeds": list(sweep.tune_seeds or ()),
    }
    return dict(best.best), info


# ----------------------------------------------------------------------------- logs


def write_logs(path: Path, logs: Sequence[StepLog | None]) -> Path:
    """Every run's StepLog in one compressed npz (``<field>`` concatenated, ``lengths``),
    written atomically."""
    present = [log for log in logs if log is not None]
    arrays: dict[str, np.ndarray] = {"lengths": np.asarray([len(x) for x in present], dtype=int)}
    for name in LOG_FIELDS:
        values = [v for log in present for v in getattr(log, name)]
        arrays[name] = np.asarray(values, dtype=str if name == "dialogue_id" else float)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def read_logs(path: Path) -> list[StepLog]:
    """The StepLogs of :func:`write_logs`, in run order."""
    with np.load(path) as data:
        bounds = np.r_[0, np.cumsum(data["lengths"])]
        columns = {name: data[name] for name in LOG_FIELDS}
    logs = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        kw: dict[str, list[Any]] = {}
        for name, col in columns.items():
            part = col[lo:hi]
            if name in ("edge", "switched"):
                kw[name] = [bool(v) for v in part]
            elif name == "dialogue_id":
                kw[name] = [str(v) for v in part]
            else:
                kw[name] = [float(v) for v in part]
        logs.append(StepLog(**kw))
    return logs


def trial_results(
    record: Mapping[str, Any], sweep: SweepConfig, trial_dir: Path
) -> list[EvalResult]:
    """The evaluation runs of a complete trial as :class:`EvalResult` s (with their logs), so
    the sweep aggregates them with the benchmark's own :func:`experiments.runs.policy_runs`."""
    trial = record["trial"]
    workload = trial["workload"]
    env = EnvRef(workload["env_id"], {**workload["env_config"], "split": "test"})
    logs = read_logs(Path(trial_dir) / LOGS_FILE)
    out = []
    for run, log in zip(record["runs"], logs, strict=True):
        spec = EvalSpec(
            env, trial["policy"]["policy"], record["policy_kwargs"], run["seed"], sweep.budget, True
        )
        out.append(EvalResult(spec, run["metrics"], record["label"], log))
    return out
