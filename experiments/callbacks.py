"""stable-baselines3 callbacks: reward terms and routing metrics to TensorBoard, atomic saves,
and a progress bar that counts the steps PPO will really run.

- :class:`RoutingLogCallback` records, per rollout, the mean of every named reward term the
  environment reports in ``info["rewards"]``, the realised latency, quality and edge-call rate
  of the training queries, the steps per second (CleanRL's ``charts/SPS``), and writes the
  hyperparameters to TensorBoard's HPARAMS tab once (CleanRL writes them as a text table).
- :class:`RoutingEvalCallback` is SB3's ``EvalCallback`` that also logs the latency, quality
  and edge rate of the evaluation episodes (``eval/latency_mean_s``, ``eval/quality``,
  ``eval/edge_rate``) next to ``eval/mean_reward``, and publishes ``best/best_model.zip`` and
  ``evaluations.npz`` atomically (SB3 writes them in place).
- :class:`AtomicCheckpointCallback` is SB3's ``CheckpointCallback`` with atomic writes.
- :class:`StepsProgressBar` shows the steps PPO will run: PPO only stops after whole rollouts
  of ``n_steps x n_envs`` steps, so SB3's own bar (total = the requested steps) overshoots,
  e.g. 100,352/100,000.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import HParam, TensorBoardOutputFormat

from cost_models.errors import EdgeRouteError
from envs.traces.atomic import os_error_text
from experiments.run_dir import EVALUATIONS_FILE, save_checkpoint

_NOT_TEXT = ("stdout", "log", "json", "csv")


def flat_hparams(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into ``a/b`` keys with bool/int/float/str values (TensorBoard)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_hparams(value, prefix=f"{name}/"))
        elif isinstance(value, (bool, int, float, str)) or value is None:
            out[name] = value
        else:
            out[name] = str(value)
    return out


class _InfoAccumulator:
    """Running sums of reward terms and outcomes over the ``info`` dicts of served queries."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.terms: dict[str, float] = defaultdict(float)
        self.latency_s: list[float] = []
        self.n = 0
        self.latency_sum_s = 0.0
        self.quality_sum = 0.0
        self.edge_sum = 0.0

    def add(self, info: Mapping[str, Any]) -> None:
        if "latency_s" not in info:
            return  # a reset info, not a served query
        for term, value in (info.get("rewards") or {}).items():
            self.terms[term] += float(value)
        latency = float(info["latency_s"])
        self.latency_s.append(latency)
        self.n += 1
        self.latency_sum_s += latency
        self.quality_sum += float(info.get("quality", 0.0))
        self.edge_sum += 1.0 if info.get("model") == "edge" else 0.0

    def record(self, logger: Any, prefix: str, percentiles: bool = True) -> None:
        if self.n == 0:
            return
        for term, total in self.terms.items():
            logger.record(f"{prefix}/reward_{term}", total / self.n)
        logger.record(f"{prefix}/latency_mean_s", self.latency_sum_s / self.n)
        if percentiles:
            logger.record(f"{prefix}/latency_p95_s", float(np.percentile(self.latency_s, 95)))
        logger.record(f"{prefix}/quality", self.quality_sum / self.n)
        logger.record(f"{prefix}/edge_rate", self.edge_sum / self.n)


class RoutingLogCallback(BaseCallback):
    """Per-rollout reward terms, latency/quality/edge rate, steps/s; hyperparameters once."""

    def __init__(self, hparams: Mapping[str, Any], verbose: int = 0) -> None:
        super().__init__(verbose)
        self.hparams = flat_hparams(hparams)
        self._acc = _InfoAccumulator()
        self._t0 = 0.0
        self._steps0 = 0

    def _on_training_start(self) -> None:
        self.logger.record(
            "hparams",
            HParam(self.hparams, {"eval/mean_reward": 0.0, "rollout/ep_rew_mean": 0.0}),
            exclude=_NOT_TEXT,
        )
        # CleanRL writes the hyperparameters as a Markdown table in the TEXT tab as well.
        table = "|param|value|\n|-|-|\n" + "\n".join(
            f"|{k}|{v}|" for k, v in sorted(self.hparams.items())
        )
        for fmt in self.logger.output_formats:
            if isinstance(fmt, TensorBoardOutputFormat):
                fmt.writer.add_text("hyperparameters", table, self.num_timesteps)
        self._t0 = time.perf_counter()
        self._steps0 = self.num_timesteps

    def _on_rollout_start(self) -> None:
        self._acc.reset()

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            self._acc.add(info)
        return True

    def _on_rollout_end(self) -> None:
        self._acc.record(self.logger, "rollout")
        elapsed = time.perf_counter() - self._t0
        if elapsed > 0:
            self.logger.record("time/steps_per_s", (self.num_timesteps - self._steps0) / elapsed)


class RoutingEvalCallback(EvalCallback):
    """``EvalCallback`` that also logs the evaluation episodes' latency, quality, edge rate,
    and never leaves a half-written ``best_model.zip`` or ``evaluations.npz``.

    SB3 writes both files in place; here it writes them into a hidden staging directory and
    each is renamed over its final name only after SB3's write returned, so a full disk or a
    signal mid-write leaves the previous file.
    """

    STAGING = ".eval-staging"

    def __init__(
        self,
        *args: Any,
        best_model_save_path: str | None = None,
        log_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        root = Path(log_path or best_model_save_path or ".")
        self._staging = root / self.STAGING
        self._publish_to = {}
        if best_model_save_path is not None:
            self._publish_to["best_model.zip"] = Path(best_model_save_path) / "best_model.zip"
        if log_path is not None:
            self._publish_to[EVALUATIONS_FILE] = Path(log_path) / EVALUATIONS_FILE
        staging = str(self._staging)
        super().__init__(
            *args,
            best_model_save_path=staging if best_model_save_path is not None else None,
            log_path=staging if log_path is not None else None,
            **kwargs,
        )
        self._acc = _InfoAccumulator()

    def _log_success_callback(self, locals_: dict[str, Any], globals_: dict[str, Any]) -> None:
        super()._log_success_callback(locals_, globals_)
        self._acc.add(locals_["info"])
        # Recorded on every step so the values present when EvalCallback dumps are the means
        # over all evaluation episodes (the logger keeps the last value per key).
        self._acc.record(self.logger, "eval", percentiles=False)

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self._acc.reset()
        try:
            keep_going = super()._on_step()
            self._publish()
        except OSError as exc:
            raise EdgeRouteError(
                f"could not write the evaluation results under {self._staging.parent}: "
                f"{os_error_text(exc)}; the previous best model and evaluations.npz are intact"
            ) from exc
        return keep_going

    def continue_history(self, path: Path, up_to_steps: int) -> str | None:
        """On resume: start from the evaluations in ``path`` up to the resumed checkpoint
        (later ones belong to the discarded part of the run), and from their best mean
        reward, so the history is extended, not replaced. Returns a warning if unreadable."""
        try:
            with np.load(path) as z:
                keep = z["timesteps"] <= up_to_steps
                timesteps, results = z["timesteps"][keep], z["results"][keep]
                lengths = z["ep_lengths"][keep]
        except Exception as exc:  # a corrupt history must not stop the resumed run
            return f"{path} cannot be read ({type(exc).__name__}: {exc}); its history restarts"
        self.evaluations_timesteps = [int(t) for t in timesteps]
        self.evaluations_results = results.tolist()
        self.evaluations_length = lengths.tolist()
        if len(results):
            self.best_mean_reward = float(np.max(np.mean(results, axis=1)))
        return None

    def _publish(self) -> None:
        for name, final in self._publish_to.items():
            staged = self._staging / name
            if staged.exists():
                with open(staged, "rb") as fh:
                    os.fsync(fh.fileno())
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)

    def _on_training_end(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)


class AtomicCheckpointCallback(BaseCallback):
    """Save ``checkpoints/ppo_<steps>_steps.zip`` (and VecNormalize statistics) every
    ``save_freq`` calls, each through a temporary file and a rename."""

    def __init__(self, save_freq: int, out_dir: str | Path, save_vecnormalize: bool) -> None:
        super().__init__()
        self.save_freq = int(save_freq)
        self.out_dir = Path(out_dir)
        self.save_vecnormalize = bool(save_vecnormalize)

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            venv = self.model.get_vec_normalize_env() if self.save_vecnormalize else None
            save_checkpoint(self.model, self.out_dir, venv)
        return True


class StepsProgressBar(BaseCallback):
    """A tqdm bar whose total is the number of steps PPO will run in this ``learn`` call:
    the remaining steps rounded up to whole rollouts (see the module docstring)."""

    def __init__(self, planned_steps: int) -> None:
        super().__init__()
        self.planned_steps = int(planned_steps)
        self._bar = None

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.planned_steps, unit="step", desc="PPO", dynamic_ncols=True)

    def _on_step(self) -> bool:
        if self._bar is not None:
            self._bar.update(min(self.training_env.num_envs, self._bar.total - self._bar.n))
        return True

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()


def planned_steps(remaining: int, n_steps: int, n_envs: int) -> int:
    """Steps PPO runs to cover ``remaining``: whole rollouts of ``n_steps * n_envs``."""
    rollout = n_steps * n_envs
    return math.ceil(max(remaining, 0) / rollout) * rollout
