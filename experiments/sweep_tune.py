"""The Ray Tune side of ``edgeroute sweep``: the trainable, the progress lines, fit and restore.

Imported only after :func:`experiments.ray_backend.require_ray` (it imports ``ray.tune``).
Every trial of the plan is one point of a ``grid_search`` over trial keys; the trainable looks
its :class:`experiments.sweep_config.Trial` up in the plan (shipped to workers once with
``tune.with_parameters``) and calls :func:`experiments.sweep_trial.run_trial`. Tune keeps the
experiment state under ``DIR/trials`` (the trial directories are ``DIR/trials/<key>``, named
by the trial key), so ``Tuner.restore`` after an interruption re-runs only unfinished trials.
Tune's own console output is off (``verbose=0``); :class:`SweepProgress` prints one line per
trial start, completion and error, with counts.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from ray import tune

from experiments.ray_backend import RaySettings
from experiments.sweep_trial import run_trial

#: Metrics each trial reports to Tune (its progress table, result.json and TensorBoard).
REPORTED: tuple[str, ...] = ("latency_mean_s", "latency_p95_s", "quality", "edge_rate")


def trainable(config: dict[str, Any], plan: Any, attempt: str) -> None:
    """One Tune trial: run (or read back) the trial named ``config["trial"]``."""
    key = config["trial"]
    trial = plan.trial(key)
    record = run_trial(trial, plan.config, plan.trial_dir(key), attempt)
    metrics = {k: float(record["metrics"][k]) for k in REPORTED}
    tune.report({**metrics, "reused": bool(record["reused"]), "run_wall_s": record["wall_s"]})


class SweepProgress(tune.Callback):
    """One progress line per trial event: ``[sweep 3/12 done, 2 running] ...``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    @staticmethod
    def _counts(trials: list[Any], this: Any, status: str) -> str:
        """Counts with ``this`` trial already in ``status`` (Tune calls before updating it)."""
        c = Counter(status if t is this else t.status for t in trials)
        done = c.get("TERMINATED", 0)
        extra = [f"{c[s]} {s.lower()}" for s in ("RUNNING", "PENDING", "ERROR") if c.get(s)]
        return f"[sweep {done}/{len(trials)} done" + "".join(f", {e}" for e in extra) + "]"

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log(f"{self._counts(trials, trial, 'RUNNING')} started {trial.config['trial']}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        r = trial.last_result or {}
        how = (
            "read back (complete earlier)" if r.get("reused") else f"{r.get('run_wall_s', 0):.0f} s"
        )
        numbers = ", ".join(f"{k} {r[k]:.3f}" for k in ("latency_mean_s", "quality", "edge_rate"))
        head = self._counts(trials, trial, "TERMINATED")
        self.log(f"{head} finished {trial.config['trial']}: {numbers} ({how})")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        head = self._counts(trials, trial, "ERROR")
        self.log(f"{head} FAILED {trial.config['trial']} (see sweep.json and sweep.md)")


def fit(
    plan: Any, settings: RaySettings, resume: bool, attempt: str, log: Callable[[str], None]
) -> dict[str, str]:
    """Run (or, with ``resume``, restore and finish) the plan's trials; returns the error of
    each trial that failed, by key."""
    fn = tune.with_resources(
        tune.with_parameters(trainable, plan=plan, attempt=attempt), {"cpu": 1}
    )
    path = str(plan.tune_dir)
    # Tune's console output is off (verbose=0); its newer output engine still prints a header
    # and a TensorBoard hint that points into Ray's session directory, not at DIR/trials.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    log(f"[sweep] per-trial TensorBoard logs: tensorboard --logdir {path}")
    if resume and tune.Tuner.can_restore(path):
        log(f"[sweep] restoring the Tune experiment in {path}: unfinished trials run again")
        # Tune warns that it finds no results of the trials that had not started: expected.
        logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
        tuner = tune.Tuner.restore(
            path, fn, resume_unfinished=True, resume_errored=False, restart_errored=True
        )
    else:
        tuner = tune.Tuner(
            fn,
            param_space={"trial": tune.grid_search([t.key for t in plan.trials])},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=settings.max_in_flight,
                trial_name_creator=_trial_name,
                trial_dirname_creator=_trial_name,
            ),
            run_config=tune.RunConfig(
                name=plan.tune_dir.name,
                storage_path=str(plan.tune_dir.parent),
                verbose=0,
                callbacks=[SweepProgress(log)],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
    grid = tuner.fit()
    errors: dict[str, str] = {}
    for result in grid:
        if result.error is not None and result.config:
            errors[result.config["trial"]] = _error_text(result.error)
    return errors


def _trial_name(trial: Any) -> str:
    return str(trial.config["trial"])


def _error_text(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    text = str(cause if cause is not None else error).strip().splitlines()
    return text[-1] if text else type(error).__name__
