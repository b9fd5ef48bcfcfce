"""The typed config of ``edgeroute sweep``: a grid of workloads x environment overrides x
policies x training seeds x PPO hyperparameters, each cell evaluated on every evaluation seed.

A sweep file (``experiments/configs/sweep_example.yaml``) is one mapping; :class:`SweepConfig`
has one documented field per key (CleanRL ``Args`` style, as :class:`experiments.run_profile.
RunProfile`), and the same validators: unknown keys are listed with the allowed ones, every value
is checked when the config is built, so a typo stops the sweep before Ray starts or any trial
runs. :meth:`SweepConfig.trials` expands the grid into :class:`Trial` s, one Ray Tune trial each:

- one trial per (workload, env variant, policy entry) for policies that need no training;
- for ``ppo``, one trial per (workload, env variant, PPO hyperparameter variant, training seed):
  it trains on the train split and evaluates the trained model.

Evaluation seeds are not separate trials: every trial runs each evaluation seed (common random
numbers: the same reset seeds for every policy), so a trained model is never trained twice, and
records the metrics of each (trial, seed) run, the unit the benchmark reports too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cost_models.errors import EdgeRouteError, require
from experiments.config import read_yaml
from experiments.config_checks import _floats, _from_mapping, _int, _ints, _set
from experiments.run_profile import (
    BenchmarkEntry,
    BenchmarkSpec,
    EvalBudget,
    _entries,
    _env_config,
    benchmark_specs,
    fields_dict,
)

#: Policies a sweep entry may tune on validation (``tune: true``), as the benchmark does.
TUNABLE_POLICIES: tuple[str, ...] = ("semantic_threshold", "analytic")
#: Arguments of an ``analytic`` entry that tuning leaves fixed (its cost-term flags and form).
ANALYTIC_FIXED_ARGS: tuple[str, ...] = (
    "semantic",
    "communication",
    "computation",
    "switching",
    "form",
)
#: Arguments of a ``ppo`` entry (the model is trained in the trial, so no ``model_dir``).
PPO_ENTRY_ARGS: tuple[str, ...] = ("deterministic",)
#: PPO constructor arguments a sweep cannot vary (the trial sets them; see
#: ``experiments.ppo_checks.SET_BY_EDGEROUTE``).
PPO_FIXED_ARGS: tuple[str, ...] = ("policy",)
#: Name of the only variant of an empty grid.
DEFAULT_VARIANT = "default"
_SAFE = re.compile(r"[^A-Za-z0-9_.=,+()-]")
_LABEL = re.compile(r"^[A-Za-z0-9_.=+-]+$")
#: Longest trial key kept verbatim (a directory name; longer ones end in a hash).
MAX_KEY_CHARS = 120


@dataclass(frozen=True)
class PolicyEntry:
    """One policy of the sweep: a registry name, its arguments, how it is labelled."""

    policy: str
    """registry name (agents.registry.POLICY_REGISTRY)"""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """arguments of make_policy (ppo: only `deterministic`; tuned analytic: cost-term flags)"""
    label: str | None = None
    """name in results and trial directories (default: the policy name, `_tuned` if tuned)"""
    tune: bool = False
    """semantic_threshold / analytic: tune the knob on validation to the cheapest point at
    always-edge's validation quality (the benchmark's rule, experiments.tuning)"""

    def __post_init__(self) -> None:
        from agents.registry import POLICY_REGISTRY, make_policy

        require(
            self.policy in POLICY_REGISTRY,
            f"unknown policy {self.policy!r}; allowed: {list(POLICY_REGISTRY)}",
        )
        require(
            isinstance(self.kwargs, Mapping),
            f"policy {self.policy!r}: kwargs = {self.kwargs!r} must be a mapping",
        )
        _set(self, "kwargs", dict(self.kwargs))
        require(isinstance(self.tune, bool), f"policy {self.policy!r}: tune must be true/false")
        if self.tune:
            require(
                self.policy in TUNABLE_POLICIES,
                f"policy {self.policy!r}: tune: true is for {list(TUNABLE_POLICIES)} only",
            )
            fixed = ANALYTIC_FIXED_ARGS if self.policy == "analytic" else ()
            bad = sorted(set(self.kwargs) - set(fixed))
            require(
                not bad,
                f"policy {self.policy!r} with tune: true: kwargs {bad} are tuned, not given; "
                f"allowed: {list(fixed)}",
            )
        if self.policy == "ppo":
            bad = sorted(set(self.kwargs) - set(PPO_ENTRY_ARGS))
            require(
                not bad,
                f"policy 'ppo': kwargs {bad} not allowed (each trial trains its model); "
                f"allowed: {list(PPO_ENTRY_ARGS)}",
            )
        else:
            make_policy(self.policy, **self.kwargs)  # unknown arguments, bad values raise
        if self.label is None:
            _set(self, "label", self.policy + ("_tuned" if self.tune else ""))
        require(
            isinstance(self.label, str) and bool(_LABEL.match(self.label)),
            f"policy label {self.label!r} must be letters, digits and _ . = + - only",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Variant:
    """One point of a grid of overrides (env config or PPO arguments)."""

    name: str
    """`key=value,...` (or `default` for the empty grid)"""
    overrides: Mapping[str, Any]
    """the overrides of this point"""


@dataclass(frozen=True)
class Trial:
    """One Ray Tune trial: one cell of the grid (and, for PPO, one training seed)."""

    key: str
    """unique, filesystem-safe name (its directory under DIR/trials)"""
    workload: BenchmarkSpec
    """the workload, its env_config holding the env variant's overrides"""
    env_variant: str
    """name of the env variant"""
    policy: PolicyEntry
    """what runs"""
    ppo_variant: str | None = None
    """name of the PPO hyperparameter variant (ppo only)"""
    ppo_overrides: Mapping[str, Any] = field(default_factory=dict)
    """PPO constructor arguments of the variant (ppo only)"""
    train_seed: int | None = None
    """training seed (ppo only)"""

    @property
    def cell(self) -> tuple[str, str, str, str | None]:
        """What the trial measures, training seed aside (PPO seeds pool into one cell)."""
        return (self.workload.key, self.env_variant, self.policy.label, self.ppo_variant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "workload": self.workload.to_dict(),
            "env_variant": self.env_variant,
            "policy": self.policy.to_dict(),
            "ppo_variant": self.ppo_variant,
            "ppo_overrides": dict(self.ppo_overrides),
            "train_seed": self.train_seed,
        }


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: the grid and the evaluation budget of every trial."""

    workloads: tuple[BenchmarkEntry, ...]
    """benchmark names, or {key, env_id, env_config} mappings (as in benchmark.yaml)"""
    policies: tuple[PolicyEntry, ...]
    """registry names, or {policy, kwargs, label, tune} mappings"""
    evaluation_seeds: tuple[int, ...]
    """every trial runs each on the test split (common random numbers across policies)"""
    episodes_per_seed: int
    """episodes per evaluation run (at most evaluate.SEED_STRIDE)"""
    max_steps_per_episode: int | None = None
    """cap on steps per episode (None: whole episode)"""
    env_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """environment config overrides per env id, for every trial (as in benchmark.yaml)"""
    env_grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """env config key -> values; the sweep runs every combination (empty: defaults only)"""
    training_seeds: tuple[int, ...] = (0,)
    """PPO training seeds: one trial each, pooled in the results as the benchmark pools them"""
    ppo_grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """PPO constructor argument -> values (on top of ppo_config); every combination"""
    ppo_timesteps: int | None = None
    """PPO training steps per trial (None: the ppo_config's n_timesteps)"""
    ppo_config: str | None = None
    """PPO YAML keyed by env id, relative to the sweep file (None: experiments/configs/ppo.yaml)"""
    tune_seeds: tuple[int, ...] | None = None
    """validation seeds of tuned entries (None: the first evaluation seed)"""
    sweep_points: int | None = None
    """edge shares of the validation grid of tuned entries (required if any entry is tuned)"""
    alpha_grid: tuple[float, ...] | None = None
    """alpha values (1/s) tried for tuned analytic entries (required if one is tuned)"""

    def __post_init__(self) -> None:
        _set(self, "workloads", _entries("workloads", self.workloads))
        require(len(self.workloads) > 0, "workloads: empty grid (list at least one workload)")
        _set(self, "policies", _policies(self.policies))
        _set(self, "evaluation_seeds", _ints("evaluation_seeds", self.evaluation_seeds, low=0))
        from experiments.evaluate import SEED_STRIDE

        _int("episodes_per_seed", self.episodes_per_seed, low=1, high=SEED_STRIDE)
        if self.max_steps_per_episode is not None:
            _int("max_steps_per_episode", self.max_steps_per_episode, low=1)
        _set(self, "env_config", _env_config(self.env_config))
        _set(self, "env_grid", _grid("env_grid", self.env_grid))
        require("split" not in self.env_grid, "env_grid: 'split' is set by the sweep (test)")
        _set(self, "training_seeds", _ints("training_seeds", self.training_seeds, low=0))
        _set(self, "ppo_grid", _ppo_grid(self.ppo_grid))
        has_ppo = any(p.policy == "ppo" for p in self.policies)
        require(
            has_ppo or not self.ppo_grid,
            "ppo_grid is set but no policy entry is 'ppo'; add ppo to policies or drop ppo_grid",
        )
        if self.ppo_timesteps is not None:
            _int("ppo_timesteps", self.ppo_timesteps, low=1)
        require(
            self.ppo_config is None or isinstance(self.ppo_config, str),
            f"ppo_config = {self.ppo_config!r} must be a path (string) or null",
        )
        if self.tune_seeds is None:
            _set(self, "tune_seeds", self.evaluation_seeds[:1])
        _set(self, "tune_seeds", _ints("tune_seeds", self.tune_seeds, low=0))
        tuned = {p.policy for p in self.policies if p.tune}
        if tuned:
            require(
                self.sweep_points is not None,
                f"sweep_points is required: entries of {sorted(tuned)} have tune: true",
            )
        if self.sweep_points is not None:
            _int("sweep_points", self.sweep_points, low=2)
        if "analytic" in tuned:
            require(
                self.alpha_grid is not None,
                "alpha_grid is required: an analytic entry has tune: true",
            )
        if self.alpha_grid is not None:
            _set(self, "alpha_grid", _floats("alpha_grid", self.alpha_grid, low=0.0))

    @property
    def budget(self) -> EvalBudget:
        return EvalBudget(self.episodes_per_seed, self.max_steps_per_episode)

    def env_variants(self) -> list[Variant]:
        return _variants(self.env_grid)

    def ppo_variants(self) -> list[Variant]:
        return _variants(self.ppo_grid)

    def trials(self) -> list[Trial]:
        """Every trial of the grid, PPO trials first (the longest first, so that the last
        trials to run on a busy cluster are short ones)."""
        trained: list[Trial] = []
        fixed: list[Trial] = []
        for bench in benchmark_specs(self.workloads, self.env_config):
            for ev in self.env_variants():
                spec = dataclasses.replace(bench, env_config={**bench.env_config, **ev.overrides})
                for entry in self.policies:
                    base = f"{bench.key}__{ev.name}__{entry.label}"
                    if entry.policy != "ppo":
                        fixed.append(Trial(_key(base), spec, ev.name, entry))
                        continue
                    for pv in self.ppo_variants():
                        for seed in self.training_seeds:
                            key = _key(f"{base}__{pv.name}__seed{seed}")
                            trained.append(
                                Trial(key, spec, ev.name, entry, pv.name, pv.overrides, seed)
                            )
        out = trained + fixed
        keys = [t.key for t in out]
        require(
            len(set(keys)) == len(keys),
            "two trials got the same directory name; give the policies distinct labels",
        )
        return out

    def check_ppo(self) -> None:
        """Every PPO variant on top of ``ppo_config``, for each env id of a workload, checked
        as training will check it (:func:`experiments.ppo_checks.check_ppo_kwargs`), so that
        a bad value stops the sweep before any trial runs."""
        from experiments.config import load_ppo_config
        from experiments.ppo_checks import check_ppo_kwargs

        if not any(p.policy == "ppo" for p in self.policies):
            return
        for env_id in sorted({b.env_id for b in benchmark_specs(self.workloads, {})}):
            cfg = load_ppo_config(self.ppo_config, env_id)
            for v in self.ppo_variants():
                where = f"ppo_grid variant {v.name!r} on {self.ppo_config or 'ppo.yaml'} [{env_id}]"
                check_ppo_kwargs({**cfg.ppo, **v.overrides}, cfg.n_envs, where)

    def to_dict(self) -> dict[str, Any]:
        """Plain values of every field (recorded in sweep.json and checked by --resume)."""
        return fields_dict(self)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "sweep config") -> SweepConfig:
        return _from_mapping(cls, data, source)


def load_sweep_config(path: str | Path) -> SweepConfig:
    """The sweep at ``path``; ``ppo_config`` is resolved relative to the file's directory."""
    p = Path(path)
    data = read_yaml(p)
    require(isinstance(data, Mapping), f"sweep config {str(p)!r} must be a mapping")
    config = SweepConfig.from_mapping(data, f"sweep config {str(p)!r}")
    if config.ppo_config is not None:
        ppo = (p.parent / config.ppo_config).resolve()
        require(ppo.is_file(), f"sweep config {str(p)!r}: ppo_config {str(ppo)!r} does not exist")
        config = dataclasses.replace(config, ppo_config=str(ppo))
    try:
        config.check_ppo()
    except EdgeRouteError as exc:
        raise EdgeRouteError(f"sweep config {str(p)!r}: {exc}") from None
    return config


# ----------------------------------------------------------------------------- validation


def _policies(value: Any) -> tuple[PolicyEntry, ...]:
    require(
        isinstance(value, Sequence) and not isinstance(value, str),
        f"policies = {value!r} must be a list of policy names or {{policy, kwargs, label, tune}}",
    )
    out = []
    for item in value:
        if isinstance(item, PolicyEntry):
            out.append(item)
        elif isinstance(item, str):
            out.append(PolicyEntry(item))
        else:
            out.append(_from_mapping(PolicyEntry, item, f"policies entry {item!r}"))
    require(len(out) > 0, "policies: empty grid (list at least one policy)")
    labels = [p.label for p in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    require(not dup, f"policies: label(s) {dup} repeat; give each entry a distinct label")
    return tuple(out)


def _grid(name: str, value: Any) -> dict[str, tuple[Any, ...]]:
    require(
        isinstance(value, Mapping),
        f"{name} = {value!r} must map keys to non-empty lists of values",
    )
    out: dict[str, tuple[Any, ...]] = {}
    for key, values in value.items():
        ok = isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0
        require(ok, f"{name}.{key} = {values!r} must be a non-empty list of values")
        texts = [json.dumps(v, sort_keys=True) for v in values]
        require(len(set(texts)) == len(texts), f"{name}.{key} = {values!r} repeats a value")
        out[str(key)] = tuple(values)
    return out


def _ppo_grid(value: Any) -> dict[str, tuple[Any, ...]]:
    from experiments.config import _ppo_arg_names
    from experiments.ppo_checks import SET_BY_EDGEROUTE

    grid = _grid("ppo_grid", value)
    allowed = sorted(_ppo_arg_names() - SET_BY_EDGEROUTE - set(PPO_FIXED_ARGS))
    for key in grid:
        require(key in allowed, f"ppo_grid: unknown PPO argument {key!r}; allowed: {allowed}")
    return grid


def _variants(grid: Mapping[str, Sequence[Any]]) -> list[Variant]:
    if not grid:
        return [Variant(DEFAULT_VARIANT, {})]
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        name = ",".join(f"{k}={_text(v)}" for k, v in zip(keys, combo, strict=True))
        out.append(Variant(name, dict(zip(keys, combo, strict=True))))
    return out


def _text(value: Any) -> str:
    """A value in a variant name: ``0.001``, ``urban``, ``(net_arch=(64,64))``."""
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True, separators=(",", ":")).replace('"', "")
    return text.translate(str.maketrans("{}[]:", "()()="))


def _key(name: str) -> str:
    """A directory-safe trial key; long names keep a prefix and a hash of the whole."""
    safe = _SAFE.sub("-", name)
    if len(safe) <= MAX_KEY_CHARS:
        return safe
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{safe[: MAX_KEY_CHARS - 11]}~{digest}"
