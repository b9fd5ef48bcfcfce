"""The typed run profile of ``edgeroute benchmark`` and ``edgeroute ablate``, and their options.

A profile is one entry (``quick``, ``full``) of ``experiments/configs/benchmark.yaml``. As in
CleanRL's ``ppo.py`` ``Args``, :class:`RunProfile` is one dataclass with a one-line docstring
per field, and the defaults live here and nowhere else: code reads ``profile.ppo_seeds``, never
``prof.get("ppo_seeds", [0])``. Unknown keys are rejected with the allowed list, and every value
is checked on construction (also after ``dataclasses.replace``, which is how the CLI applies
``--seeds`` and friends), so a typo or a negative seed fails before any run starts.

:class:`RunOptions` is the one options type of both jobs: the profile plus where outputs go,
which PPO hyperparameters, which trained models to reuse, and how to log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cost_models.errors import require
from experiments.config import DEFAULT_BENCHMARK_CONFIG, read_yaml
from experiments.config_checks import (
    _floats,
    _from_mapping,
    _int,
    _ints,
    _names,
    _sequence,
    _set,
)
from experiments.envfactory import env_id_for, registered_env_ids
from experiments.evaluate import SEED_STRIDE
from experiments.ppo_checks import MAX_TIMESTEPS


@dataclass(frozen=True)
class EvalBudget:
    """How long one evaluation run is (the same for every policy of a benchmark)."""

    episodes: int
    """episodes per run (each draws its queries from the split without replacement)"""
    max_steps: int | None = None
    """cap on steps per episode (None: whole episode)"""
    full_pass: bool = False
    """one pass over the whole split instead (every item once, evaluate.pass_items; then
    ``episodes`` is ignored and ``max_steps`` must be None)"""
    pass_items: int | None = None
    """with ``full_pass``: the pass covers this many items of the split, a fixed seeded subset
    that is the same for every run seed and policy (so runs still pair item by item); None:
    every item"""

    def __post_init__(self) -> None:
        require(
            not (self.full_pass and self.max_steps is not None),
            f"max_steps={self.max_steps!r} with a full pass: a step cap would skip items",
        )


@dataclass(frozen=True)
class BenchmarkSpec:
    """One workload: its key in results, the env id that replays it, env config overrides."""

    key: str
    """name in results.json, tables and plot file names"""
    env_id: str
    """Gymnasium id of the environment"""
    env_config: Mapping[str, Any] = field(default_factory=dict)
    """environment config overrides (a bare benchmark name gets {benchmark: name})"""
    pass_items: int | None = None
    """this workload's evaluation runs pass over only this many items of the split (a fixed
    seeded subset, the same for every seed and policy, so the runs still pair), for a workload
    whose steps are costly such as the shared edge's event simulator; None:
    the profile's budget"""
    ppo_timesteps: int | None = None
    """this workload's PPO steps per training run, every PPO variant included, at most the
    profile's (None: the profile's)"""
    profile: Mapping[str, Any] = field(default_factory=dict)
    """this workload's own values of profile fields (e.g. fewer evaluation seeds or a coarser
    sweep where the simulator is costly), checked as the profile's own; the rest as the profile"""

    def profile_for(self, profile: RunProfile) -> RunProfile:
        """``profile`` with this workload's own field values in place."""
        if not self.profile:
            return profile
        fixed = ("benchmarks", "ablation", "env_config")
        allowed = [n for n in _names(RunProfile) if n not in fixed]
        unknown = sorted(set(self.profile) - set(allowed))
        where = f"benchmark {self.key!r}: profile"
        require(not unknown, f"{where}: unknown key(s) {unknown}; allowed: {allowed}")
        return _from_mapping(RunProfile, {**_fields(profile), **self.profile}, where)

    def budget(self, profile_budget: EvalBudget) -> EvalBudget:
        """The evaluation budget of this workload's runs."""
        if self.pass_items is None:
            return profile_budget
        return EvalBudget(profile_budget.episodes, None, full_pass=True, pass_items=self.pass_items)

    def timesteps(self, profile_timesteps: int) -> int:
        """PPO steps of this workload's training runs."""
        own = self.ppo_timesteps
        return profile_timesteps if own is None else min(own, profile_timesteps)

    def to_dict(self) -> dict[str, Any]:
        out = {"key": self.key, "env_id": self.env_id, "env_config": dict(self.env_config)}
        for name in ("pass_items", "ppo_timesteps"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out | ({"profile": plain(self.profile)} if self.profile else {})


#: A profile's benchmark entry: a benchmark name (env id from ``envfactory.BENCHMARK_ENVS``)
#: or a full :class:`BenchmarkSpec` (custom key, env id, env config).
BenchmarkEntry = str | BenchmarkSpec


@dataclass(frozen=True)
class AblationProfile:
    """What ``edgeroute ablate`` runs differently from the benchmark (None: as the benchmark)."""

    benchmarks: tuple[BenchmarkEntry, ...] | None = None
    """benchmarks to ablate (None: the profile's benchmarks)"""
    ppo_timesteps: int | None = None
    """PPO training steps per ablation variant (None: the profile's ppo_timesteps)"""

    def __post_init__(self) -> None:
        if self.benchmarks is not None:
            _set(self, "benchmarks", _entries("ablation.benchmarks", self.benchmarks))
            require(len(self.benchmarks) > 0, "ablation.benchmarks: empty (omit it to ablate all)")
        if self.ppo_timesteps is not None:
            _int("ablation.ppo_timesteps", self.ppo_timesteps, low=1, high=MAX_TIMESTEPS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmarks": None if self.benchmarks is None else _entries_dict(self.benchmarks),
            "ppo_timesteps": self.ppo_timesteps,
        }


@dataclass(frozen=True)
class RunProfile:
    """Budgets of a benchmark or ablation run (one profile of ``configs/benchmark.yaml``)."""

    benchmarks: tuple[BenchmarkEntry, ...]
    """benchmark names, or {key, env_id, env_config} mappings"""
    seeds: tuple[int, ...]
    """evaluation runs on test; every policy gets the same reset seeds (common random numbers)"""
    episodes_per_seed: int
    """episodes per evaluation run (at most evaluate.SEED_STRIDE)"""
    sweep_points: int
    """evenly spaced edge shares of each threshold sweep (frontier resolution, >= 2)"""
    alpha_grid: tuple[float, ...]
    """analytic alpha values (1/s, >= 0) tried on validation"""
    ppo_timesteps: int
    """PPO training steps per benchmark and variant (train split)"""
    tune_seeds: tuple[int, ...] | None = None
    """validation runs used to tune thresholds, alpha and theta (None: the first seed)"""
    max_steps_per_episode: int | None = None
    """cap on steps per episode (None: whole episode)"""
    ppo_seeds: tuple[int, ...] = (0,)
    """training seeds of the headline PPO (each evaluated on every evaluation seed)"""
    ppo_latency_weight_factors: tuple[float, ...] = (1.0,)
    """PPO reward-weight sweep (x the env's latency weight); must hold 1.0, the headline PPO"""
    ppo_conditioned_timesteps: int | None = None
    """steps of the trade-off-conditioned PPO (experiments.ppo_frontier; None: not trained)"""
    env_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """environment config overrides per env id (episode length keys differ between envs)"""
    pgr_levels: tuple[float, ...] = (0.8, 0.9, 0.95)
    """extra matched-quality targets: fractions in (0, 1] of the device -> edge quality gap"""
    ablation: AblationProfile = field(default_factory=AblationProfile)
    """what edgeroute ablate runs differently"""
    full_pass: bool = True
    """every evaluation run (validation and test) passes once over the whole split, every item
    once (False: episodes_per_seed episodes drawn independently, items may repeat)"""
    bootstrap_reps: int = 1000
    """resamples of the paired bootstrap (95% CIs over items / dialogues and training seeds)"""

    def __post_init__(self) -> None:
        _set(self, "benchmarks", _entries("benchmarks", self.benchmarks))
        require(len(self.benchmarks) > 0, "benchmarks: the profile lists no benchmarks")
        _set(self, "seeds", _ints("seeds", self.seeds, low=0))
        if self.tune_seeds is None:
            _set(self, "tune_seeds", self.seeds[:1])
        _set(self, "tune_seeds", _ints("tune_seeds", self.tune_seeds, low=0))
        _int("episodes_per_seed", self.episodes_per_seed, low=1, high=SEED_STRIDE)
        if self.max_steps_per_episode is not None:
            _int("max_steps_per_episode", self.max_steps_per_episode, low=1)
        _int("sweep_points", self.sweep_points, low=2)
        require(
            isinstance(self.full_pass, bool), f"full_pass = {self.full_pass!r} must be a boolean"
        )
        _int("bootstrap_reps", self.bootstrap_reps, low=100)
        require(
            not (self.full_pass and self.max_steps_per_episode is not None),
            f"max_steps_per_episode = {self.max_steps_per_episode!r} with full_pass: a step "
            "cap would skip items of the pass (set full_pass: false to cap episodes)",
        )
        _set(self, "alpha_grid", _floats("alpha_grid", self.alpha_grid, low=0.0))
        _int("ppo_timesteps", self.ppo_timesteps, low=1, high=MAX_TIMESTEPS)
        _set(self, "ppo_seeds", _ints("ppo_seeds", self.ppo_seeds, low=0))
        factors = _floats("ppo_latency_weight_factors", self.ppo_latency_weight_factors, low=0.0)
        require(
            1.0 in factors and 0.0 not in factors,
            f"ppo_latency_weight_factors = {list(factors)} must be > 0 and hold 1.0 (the "
            "headline PPO)",
        )
        _set(self, "ppo_latency_weight_factors", factors)
        if self.ppo_conditioned_timesteps is not None:
            _int("ppo_conditioned_timesteps", self.ppo_conditioned_timesteps, low=1)
        _set(self, "env_config", _env_config(self.env_config))
        levels = _floats("pgr_levels", self.pgr_levels, low=0.0, high=1.0, empty_ok=True)
        require(0.0 not in levels, f"pgr_levels = {list(levels)} must be in (0, 1]")
        _set(self, "pgr_levels", levels)
        if isinstance(self.ablation, Mapping):
            _set(self, "ablation", _from_mapping(AblationProfile, self.ablation, "ablation"))
        require(
            isinstance(self.ablation, AblationProfile),
            f"ablation = {self.ablation!r} must be a mapping with keys {_names(AblationProfile)}",
        )

    @property
    def budget(self) -> EvalBudget:
        """The length of every evaluation run."""
        if self.full_pass:
            return EvalBudget(self.episodes_per_seed, None, full_pass=True)
        return EvalBudget(self.episodes_per_seed, self.max_steps_per_episode)

    def specs(self) -> list[BenchmarkSpec]:
        """The benchmarks as specs, with the profile's ``env_config`` for their env id merged in
        (an entry's own ``env_config`` wins)."""
        return benchmark_specs(self.benchmarks, self.env_config)

    def select(self, wanted: Sequence[str]) -> RunProfile:
        """This profile with only the benchmarks whose key is in ``wanted`` (in that order); a
        name the profile does not list is taken as a plain benchmark name."""
        by_key = {_key(e): e for e in self.benchmarks}
        return dataclasses.replace(self, benchmarks=tuple(by_key.get(n, n) for n in wanted))

    def overridden(self, **values: Any) -> RunProfile:
        """This profile with ``values`` in place, for every workload too: a command-line flag
        such as ``--seeds`` beats a workload's own value of that field."""
        def without(e: BenchmarkEntry) -> BenchmarkEntry:
            if isinstance(e, str):
                return e
            return dataclasses.replace(
                e, profile={k: v for k, v in e.profile.items() if k not in values}
            )

        entries = tuple(without(e) for e in self.benchmarks)
        return dataclasses.replace(self, benchmarks=entries, **values)

    def for_ablation(self) -> RunProfile:
        """The profile ``edgeroute ablate`` runs: its ``ablation`` entries in place."""
        abl = self.ablation
        return dataclasses.replace(
            self,
            benchmarks=self.benchmarks if abl.benchmarks is None else abl.benchmarks,
            ppo_timesteps=self.ppo_timesteps if abl.ppo_timesteps is None else abl.ppo_timesteps,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, dicts) of every field, for ``results.json``."""
        return fields_dict(self)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "profile") -> RunProfile:
        """Build from a YAML mapping; errors name ``source``, the key and what is allowed."""
        return _from_mapping(cls, data, source)


def plain(value: Any) -> Any:
    """``value`` as plain JSON-able values: ``to_dict()`` of config objects, lists for tuples,
    dicts for mappings (recursively)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any]:
    """Every field of the dataclass ``obj``, as it is (for rebuilding it with changes)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def fields_dict(obj: Any) -> dict[str, Any]:
    """Every field of the config dataclass ``obj`` as :func:`plain` values (for JSON files)."""
    return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def benchmark_specs(
    entries: Sequence[BenchmarkEntry], env_config: Mapping[str, Mapping[str, Any]]
) -> list[BenchmarkSpec]:
    """``entries`` as specs, with ``env_config[env_id]`` merged in (an entry's own
    ``env_config`` wins); shared by :class:`RunProfile` and the sweep config."""
    out = []
    for entry in entries:
        if isinstance(entry, str):
            entry = BenchmarkSpec(entry, env_id_for(entry), {"benchmark": entry})
        common = dict(env_config.get(entry.env_id) or {})
        out.append(dataclasses.replace(entry, env_config={**common, **entry.env_config}))
    return out


def load_run_profile(path: str | Path | None, name: str) -> RunProfile:
    """The profile ``name`` (``quick`` or ``full``) of the budget YAML at ``path`` (default:
    the shipped ``experiments/configs/benchmark.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_BENCHMARK_CONFIG
    data = read_yaml(p)
    require(isinstance(data, Mapping), f"config file {str(p)!r} must be a mapping of profiles")
    require(name in data, f"config file {str(p)!r} has no profile {name!r}; has {sorted(data)}")
    return RunProfile.from_mapping(data[name], f"{p}: profile {name!r}")


@dataclass(frozen=True)
class RunOptions:
    """Everything a benchmark or ablation run takes besides the code (one type for both)."""

    out_dir: Path
    """output directory: results, tables, plots and trained models (ppo/)"""
    profile: RunProfile
    """budgets (for ablate: RunProfile.for_ablation())"""
    quick: bool = False
    """a quick profile: every output says so"""
    ppo_config: Path | None = None
    """PPO YAML keyed by env id (None: experiments/configs/ppo.yaml)"""
    models_dir: Path | None = None
    """reuse trained models laid out <models>/<benchmark>/<variant>_seed<seed>/ instead"""
    progress_bar: bool = True
    """show SB3's training progress bars"""
    log: Callable[[str], None] = print
    """where progress lines and tables go"""
    extra_env_config: Mapping[str, Any] = field(default_factory=dict)
    """environment config overrides for every benchmark (--env-config)"""
    command: str | None = None
    """the command line recorded in the outputs (None: edgeroute <job>)"""
    out_mode: str = "new"
    """an out_dir holding a run: refused (new), completed (resume) or replaced (overwrite);
    see experiments.run_out"""

    def for_workload(self, bench: BenchmarkSpec) -> RunOptions:
        """These options with ``bench``'s own profile values in place (its ``profile`` key)."""
        return dataclasses.replace(self, profile=bench.profile_for(self.profile))


# ----------------------------------------------------------------------------- validation


def _entries(name: str, value: Any) -> tuple[BenchmarkEntry, ...]:
    items = _sequence(name, value, "benchmark names or {key, env_id, env_config} mappings")
    out: list[BenchmarkEntry] = []
    for item in items:
        if isinstance(item, str):
            env_id_for(item)  # an unknown name raises, listing the known ones
            out.append(item)
        elif isinstance(item, BenchmarkSpec):
            out.append(item)
        else:
            spec = _from_mapping(BenchmarkSpec, item, f"{name} entry {item!r}")
            require(
                isinstance(spec.key, str) and isinstance(spec.env_id, str),
                f"{name} entry {item!r}: key and env_id must be strings",
            )
            require(
                isinstance(spec.env_config, Mapping),
                f"{name} entry {item!r}: env_config must be a mapping",
            )
            if spec.pass_items is not None:
                _int(f"{name} entry {spec.key!r}: pass_items", spec.pass_items, low=1)
            require(
                isinstance(spec.profile, Mapping),
                f"{name} entry {spec.key!r}: profile = {spec.profile!r} must be a mapping",
            )
            if spec.ppo_timesteps is not None:
                _int(f"{name} entry {spec.key!r}: ppo_timesteps", spec.ppo_timesteps, low=1,
                     high=MAX_TIMESTEPS)  # fmt: skip
            out.append(
                BenchmarkSpec(
                    spec.key,
                    spec.env_id,
                    dict(spec.env_config),
                    spec.pass_items,
                    spec.ppo_timesteps,
                    dict(spec.profile),
                )  # fmt: skip
            )
    keys = [_key(e) for e in out]
    require(len(set(keys)) == len(keys), f"{name} = {keys} repeats a benchmark key")
    return tuple(out)


def _key(entry: BenchmarkEntry) -> str:
    return entry if isinstance(entry, str) else entry.key


def _entries_dict(entries: Sequence[BenchmarkEntry]) -> list[Any]:
    return [e if isinstance(e, str) else e.to_dict() for e in entries]


def _env_config(value: Any) -> dict[str, dict[str, Any]]:
    known = registered_env_ids()
    require(
        isinstance(value, Mapping),
        f"env_config = {value!r} must map env ids to config overrides; env ids: {known}",
    )
    out: dict[str, dict[str, Any]] = {}
    for env_id, overrides in value.items():
        require(env_id in known, f"env_config: unknown env id {env_id!r}; allowed: {known}")
        require(
            isinstance(overrides, Mapping),
            f"env_config.{env_id} = {overrides!r} must be a mapping of config overrides",
        )
        out[env_id] = dict(overrides)
    return out
