"""stable-baselines3 callbacks: reward terms and routing metrics to TensorBoard.

- :class:`RoutingLogCallback` records, per rollout, the mean of every named reward term the
  environment reports in ``info["rewards"]``, the realised latency, quality and edge-call rate
  of the training queries, the steps per second (CleanRL's ``charts/SPS``), and writes the
  hyperparameters to TensorBoard's HPARAMS tab once (CleanRL writes them as a text table).
- :class:`RoutingEvalCallback` is SB3's ``EvalCallback`` that also logs the latency, quality
  and edge rate of the evaluation episodes (``eval/latency_mean_s``, ``eval/quality``,
  ``eval/edge_rate``) next to ``eval/mean_reward``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import HParam, TensorBoardOutputFormat

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
    """``EvalCallback`` that also logs the evaluation episodes' latency, quality, edge rate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
        return super()._on_step()
