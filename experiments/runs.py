"""Independent runs and the executor that runs them: the seam between planning and running.

``edgeroute benchmark`` and ``edgeroute ablate`` plan their work as lists of run specs. A spec
is one independent unit of work, a frozen dataclass of plain values (strings, numbers, paths,
mappings), so it pickles and can run anywhere:

- :class:`EvalSpec`: one policy (a registry name and its arguments, built with
  :func:`agents.registry.make_policy`) on one workload's split for one evaluation seed;
- :class:`TrainSpec`: one PPO training run (one variant, one seed), or the reuse of a model
  trained earlier (``--models``).

An :class:`Executor` maps a list of specs to the list of their results, in order; the jobs
aggregate the results (metrics over seeds, frontiers, matched quality) into ``results.json``.
A job calls the executor once per phase (validation record -> validation grids -> training ->
test), because a phase's specs depend on earlier results (tuned thresholds, trained models);
within one call the specs may run in any order or in parallel. :func:`execute` is the one
function that runs a spec; :class:`InProcessExecutor`, the default, calls it for each spec in
turn and keeps one environment per (env id, config) for the whole job;
:class:`experiments.ray_backend.RayExecutor` (``--ray``) implements ``map`` by calling
:func:`execute` on Ray workers, each with its own :class:`EnvCache`; nothing else changes.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import gymnasium as gym
import numpy as np

from agents.base import Policy
from agents.ppo import MODEL_FILE
from agents.registry import make_policy
from cost_models.errors import require
from experiments.envfactory import make_env
from experiments.evaluate import PolicyRuns, pass_items, run_policy
from experiments.metrics import StepLog, compute_metrics
from experiments.run_profile import BenchmarkSpec, EvalBudget, RunOptions

if TYPE_CHECKING:  # experiments.train imports stable-baselines3: only where training runs
    from experiments.train import TrainSettings


@dataclass(frozen=True)
class EnvRef:
    """An environment to build: env id and config (including ``split``)."""

    env_id: str
    config: Mapping[str, Any]

    def cache_key(self) -> str:
        """Equal for equal (env id, config); objects in the config (a Trace) by identity."""
        return json.dumps([self.env_id, self.config], sort_keys=True, default=_identity)


def _identity(obj: Any) -> str:
    return f"<{type(obj).__qualname__} at {id(obj):#x}>"


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation run: a registry policy on a workload's split, one seed."""

    env: EnvRef
    """where it runs (env id and config, the split included)"""
    policy: str
    """registry name (agents.registry.POLICY_REGISTRY)"""
    policy_kwargs: Mapping[str, Any]
    """arguments of make_policy"""
    seed: int
    """evaluation seed (reset seeds seed * SEED_STRIDE + episode: common random numbers)"""
    budget: EvalBudget
    """episodes and step cap"""
    keep_log: bool = False
    """return the per-step log (latency distributions; later, bootstrap over items)"""
    record_inputs: bool = False
    """return the router inputs seen (semantic_p, estimate), for calibration on validation"""


@dataclass(frozen=True)
class EvalResult:
    """What an evaluation run gives back."""

    spec: EvalSpec
    """the run"""
    metrics: dict[str, float]
    """compute_metrics of the run"""
    label: str
    """the policy's label"""
    log: StepLog | None = None
    """the per-step log (if spec.keep_log)"""
    router_inputs: list[dict[str, Any]] | None = None
    """semantic_p and estimate of every step (if spec.record_inputs)"""


@dataclass(frozen=True)
class TrainSpec:
    """One PPO training run (or the reuse of a model trained earlier)."""

    variant: str
    """what the run varies: ppo, ppo_latency_x0.3, an ablation's slug"""
    settings: TrainSettings
    """the arguments of train_ppo (env, config, seed, steps, output directory, ...)"""
    reuse_dir: Path | None = None
    """a trained model to reuse instead of training (its model.zip exists)"""

    @property
    def name(self) -> str:
        return f"{self.variant}_seed{self.settings.seed}"


@dataclass(frozen=True)
class TrainOutcome:
    """A trained (or reused) model and what to report about its training."""

    spec: TrainSpec
    """the run"""
    model_dir: Path
    """the run directory holding model.zip"""
    info: dict[str, Any]
    """steps, wall time and steps/s of the training, or where the model was reused from"""


RunSpec = EvalSpec | TrainSpec
RunResult = EvalResult | TrainOutcome


class EnvCache:
    """One environment per (env id, config), built on first use, closed with :meth:`close`."""

    def __init__(self) -> None:
        self._envs: dict[str, gym.Env] = {}

    def get(self, ref: EnvRef) -> gym.Env:
        key = ref.cache_key()
        if key not in self._envs:
            self._envs[key] = make_env(ref.env_id, ref.config)
        return self._envs[key]

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def execute(spec: RunSpec, envs: EnvCache) -> RunResult:
    """Run one spec (the function every executor calls)."""
    if isinstance(spec, TrainSpec):
        return train_or_reuse(spec)
    policy = make_policy(spec.policy, **spec.policy_kwargs)
    recorder = InfoRecorder(policy) if spec.record_inputs else None
    b = spec.budget
    env = envs.get(spec.env)
    items = None
    if b.full_pass:
        base = env.unwrapped
        items = pass_items(base.n_items, base.items_per_episode, spec.seed, b.pass_items)
    log = run_policy(env, recorder or policy, spec.seed, b.episodes, b.max_steps, items)
    return EvalResult(
        spec=spec,
        metrics=compute_metrics(log),
        label=policy.label(),
        log=log if spec.keep_log else None,
        router_inputs=None if recorder is None else recorder.records,
    )


class Executor(Protocol):
    """Runs independent specs; results in the order of the specs."""

    def map(self, specs: Sequence[RunSpec]) -> list[RunResult]: ...


@dataclass
class InProcessExecutor:
    """The default executor: every spec in turn, in this process, environments kept."""

    envs: EnvCache = field(default_factory=EnvCache)

    def map(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        return [execute(spec, self.envs) for spec in specs]

    def close(self) -> None:
        self.envs.close()


class RunBatch:
    """Specs gathered under keys, run in one executor call, results handed back by key."""

    def __init__(self) -> None:
        self._items: list[tuple[Hashable, RunSpec]] = []

    def add(self, key: Hashable, specs: Iterable[RunSpec]) -> None:
        self._items += [(key, spec) for spec in specs]

    def run(self, executor: Executor) -> dict[Hashable, list[Any]]:
        results = executor.map([spec for _, spec in self._items])
        out: dict[Hashable, list[Any]] = {}
        for (key, _), result in zip(self._items, results, strict=True):
            out.setdefault(key, []).append(result)
        return out


@dataclass(frozen=True)
class SplitRuns:
    """Evaluation runs of one workload on one split: where, which seeds, how long."""

    env: EnvRef
    """the split's environment"""
    seeds: tuple[int, ...]
    """one run per seed"""
    budget: EvalBudget
    """episodes and step cap of each run"""

    def specs(
        self,
        policy: str,
        policy_kwargs: Mapping[str, Any],
        keep_log: bool = False,
        record_inputs: bool = False,
    ) -> list[EvalSpec]:
        """One :class:`EvalSpec` of ``policy`` per seed."""
        kwargs = dict(policy_kwargs)
        return [
            EvalSpec(self.env, policy, kwargs, s, self.budget, keep_log, record_inputs)
            for s in self.seeds
        ]


def split_runs(
    bench: BenchmarkSpec,
    env_config: Mapping[str, Any],
    split: str,
    seeds: Sequence[int],
    budget: EvalBudget,
) -> SplitRuns:
    """The :class:`SplitRuns` of ``bench`` on ``split`` with ``env_config``."""
    env = EnvRef(bench.env_id, {**env_config, "split": split})
    return SplitRuns(env, tuple(int(s) for s in seeds), budget)


def policy_runs(results: Sequence[EvalResult]) -> PolicyRuns:
    """Aggregate runs of one policy (or pooled models): metrics over seeds, logs kept."""
    require(len(results) > 0, "no evaluation results to aggregate")
    logs = [r.log for r in results if r.log is not None]
    return PolicyRuns.aggregate(results[0].label, [r.metrics for r in results], logs)


class InfoRecorder(Policy):
    """Acts like ``inner`` and records the router inputs (``semantic_p``, ``estimate``,
    ``estimate_load_blind``)."""

    name = "info_recorder"

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.records: list[dict[str, Any]] = []

    def bind(self, observation_names: Sequence[str]) -> None:
        self.inner.bind(observation_names)

    def reset(self, seed: int | None = None) -> None:
        self.inner.reset(seed)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        self.records.append({"semantic_p": info["semantic_p"], "estimate": info["estimate"],
                             "estimate_load_blind": info["estimate_load_blind"]})  # fmt: skip
        return self.inner.act(obs, info)


def train_spec(
    opts: RunOptions,
    bench: BenchmarkSpec,
    variant: str,
    env_config: Mapping[str, Any],
    seed: int,
    timesteps: int,
    drop_groups: Sequence[str] = (),
) -> TrainSpec:
    """The training run of ``variant``/``seed`` on ``bench`` under ``opts``: it writes
    ``<out>/ppo/<benchmark>/<variant>_seed<seed>``, or reuses that layout under ``--models``
    (checked now, before any run starts)."""
    from experiments.run_out import check_reused_model, train_flags
    from experiments.train import TrainSettings

    name = f"{variant}_seed{seed}"
    out_dir = Path(opts.out_dir) / "ppo" / bench.key / name
    settings = TrainSettings(
        env_id=bench.env_id,
        out_dir=out_dir,
        seed=int(seed),
        config_path=opts.ppo_config,
        timesteps=int(timesteps),
        env_overrides=dict(env_config),
        drop_groups=tuple(drop_groups),
        progress_bar=opts.progress_bar,
        **train_flags(out_dir, opts.out_mode),  # --resume continues the finished pieces
    )
    if opts.models_dir is None:
        return TrainSpec(variant, settings)
    reuse = Path(opts.models_dir) / bench.key / name
    require(
        (reuse / MODEL_FILE).exists(),
        f"--models {opts.models_dir}: no {MODEL_FILE} in {reuse} (expected layout "
        "<models>/<benchmark>/<variant>_seed<seed>/model.zip, as a benchmark run writes)",
    )
    check_reused_model(reuse, bench.env_id, env_config, drop_groups, opts.models_dir)
    return TrainSpec(variant, settings, reuse_dir=reuse)


def train_or_reuse(spec: TrainSpec) -> TrainOutcome:
    """Train the model of ``spec`` (or take the reused one); report steps and speed."""
    from experiments.train import train_ppo

    if spec.reuse_dir is not None:
        return TrainOutcome(spec, spec.reuse_dir, {"reused": str(spec.reuse_dir)})
    result = train_ppo(spec.settings)
    return TrainOutcome(
        spec,
        result.out_dir,
        {
            "model_dir": str(result.out_dir),
            "timesteps": result.num_timesteps,
            "wall_s": round(result.wall_s, 2),
            "steps_per_s": round(result.steps_per_s, 1),
        },
    )
