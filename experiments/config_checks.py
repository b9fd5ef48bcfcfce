"""Checks of config values that name the bad value and what is allowed (one home for them).

The typed configs (``experiments.run_profile``, ``experiments.sweep_config``) validate every
field on construction with these, so a typo or a negative seed fails before any run starts,
with an :class:`~cost_models.errors.EdgeRouteError` that the CLI turns into exit status 2.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from cost_models.errors import EdgeRouteError, require
from experiments.ppo_checks import MAX_SEED


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass in __post_init__


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _from_mapping(cls: type, data: Any, source: str) -> Any:
    allowed = _names(cls)
    require(isinstance(data, Mapping), f"{source} must be a mapping with keys {allowed}")
    unknown = sorted(set(data) - set(allowed))
    require(not unknown, f"{source}: unknown key(s) {unknown}; allowed: {allowed}")
    required = [f.name for f in dataclasses.fields(cls) if _is_required(f)]
    missing = sorted(set(required) - set(data))
    require(not missing, f"{source} is missing key(s) {missing}")
    try:
        return cls(**data)
    except EdgeRouteError as exc:
        raise EdgeRouteError(f"{source}: {exc}") from None


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    bound = f">= {low}" if high is None else f"in [{low}, {high}]"
    ok = _is_int(value) and value >= low and (high is None or value <= high)
    require(ok, f"{name} = {value!r} must be an integer {bound}")
    return value


def _sequence(name: str, value: Any, what: str) -> tuple[Any, ...]:
    require(
        isinstance(value, Sequence) and not isinstance(value, str),
        f"{name} = {value!r} must be a list of {what}",
    )
    return tuple(value)


def _ints(name: str, value: Any, low: int, high: int = MAX_SEED) -> tuple[int, ...]:
    items = _sequence(name, value, f"integers in [{low}, {high}]")
    ok = len(items) > 0 and all(_is_int(v) and low <= v <= high for v in items)
    require(ok, f"{name} = {value!r} must be a non-empty list of integers in [{low}, {high}]")
    require(len(set(items)) == len(items), f"{name} = {value!r} repeats a value")
    return items


def _floats(
    name: str, value: Any, low: float, high: float = math.inf, empty_ok: bool = False
) -> tuple[float, ...]:
    what = f"numbers in [{low:g}, {high:g}]"
    items = _sequence(name, value, what)
    ok = (empty_ok or len(items) > 0) and all(
        (_is_int(v) or isinstance(v, float)) and math.isfinite(v) and low <= v <= high
        for v in items
    )
    require(ok, f"{name} = {value!r} must be a {'' if empty_ok else 'non-empty '}list of {what}")
    out = tuple(float(v) for v in items)
    require(len(set(out)) == len(out), f"{name} = {value!r} repeats a value")
    return out
