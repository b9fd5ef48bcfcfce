"""Environment configuration: the defaults, and validation that names every bad value.

HighwayEnv-style: each environment has a ``default_config()`` (a plain dict, one comment per
key in the environment module), which ``gym.make(id, config={...})`` and
``reset(options={"config": {...}})`` override. :func:`merge_config` checks every override and
raises :class:`~cost_models.errors.EdgeRouteError` naming the key, the bad value and what is
allowed; unknown keys are rejected too (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

from cost_models.errors import EdgeRouteError

#: The reward terms every environment computes (``_rewards()``); the weights dict has these keys.
REWARD_TERMS: tuple[str, ...] = ("quality", "latency", "edge_call", "switch")
#: Allowed embedding handling in the observation.
EMBEDDING_MODES: tuple[str, ...] = ("pca", "full", "none")
#: Allowed splits (fixed in the traces).
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")

Validator = Callable[[str, Any], None]


def _fail(key: str, value: Any, allowed: str) -> None:
    raise EdgeRouteError(f"config[{key!r}] = {value!r} is invalid; allowed: {allowed}")


def is_number(value: Any) -> bool:
    """A real, finite number (bools excluded)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def positive_number(key: str, value: Any) -> None:
    if not (is_number(value) and value > 0):
        _fail(key, value, "a finite number > 0")


def non_negative_number(key: str, value: Any) -> None:
    if not (is_number(value) and value >= 0):
        _fail(key, value, "a finite number >= 0")


def positive_int(key: str, value: Any) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        _fail(key, value, "an integer >= 1")


def boolean(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(key, value, "True or False")


def optional_str(key: str, value: Any) -> None:
    if value is not None and not (isinstance(value, str) and value):
        _fail(key, value, "None or a non-empty string")


def one_of(options: tuple[str, ...]) -> Validator:
    def check(key: str, value: Any) -> None:
        if value not in options:
            _fail(key, value, f"one of {list(options)}")

    return check


def reward_weights(key: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        _fail(key, value, f"a dict with number values for keys {list(REWARD_TERMS)}")
    unknown = sorted(set(value) - set(REWARD_TERMS))
    if unknown:
        _fail(key, value, f"keys among {list(REWARD_TERMS)} (unknown: {unknown})")
    for term, weight in value.items():
        if not is_number(weight):
            _fail(f"{key}.{term}", weight, "a finite number")


def observation_options(key: str, value: Any) -> None:
    allowed = {"embedding": "one of " + str(list(EMBEDDING_MODES)), "pca_dim": "an integer >= 1"}
    if not isinstance(value, Mapping):
        _fail(key, value, f"a dict with keys {list(allowed)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(key, value, f"keys among {list(allowed)} (unknown: {unknown})")
    if "embedding" in value and value["embedding"] not in EMBEDDING_MODES:
        _fail(f"{key}.embedding", value["embedding"], allowed["embedding"])
    if "pca_dim" in value:
        positive_int(f"{key}.pca_dim", value["pca_dim"])


def trace_object(key: str, value: Any) -> None:
    from envs.traces.schema import Trace

    if value is not None and not isinstance(value, Trace):
        _fail(key, value, "None or an envs.traces.Trace")


def benchmark_name(key: str, value: Any) -> None:
    if not (isinstance(value, str) and value):
        _fail(
            key,
            value,
            "a benchmark name: 'synthetic', 'mmlu', 'gsm8k', 'mt_bench', 'mt_bench_101'",
        )


#: Validators of the keys every environment shares.
COMMON_VALIDATORS: dict[str, Validator] = {
    "benchmark": benchmark_name,
    "trace": trace_object,
    "pair": optional_str,
    "split": one_of(SPLIT_NAMES),
    "deployment": optional_str,
    "device_model": optional_str,
    "device_hardware": optional_str,
    "edge_model": optional_str,
    "edge_hardware": optional_str,
    "channel": optional_str,
    "think_time_mean_s": positive_number,
    "think_time_cv": non_negative_number,
    "channel_block_s": positive_number,
    "reward_weights": reward_weights,
    "observation": observation_options,
    "common_random_numbers": boolean,
    "synthetic_size": positive_int,
}


def merge_config(
    base: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    validators: Mapping[str, Validator],
) -> dict[str, Any]:
    """``base`` updated with ``overrides`` (nested dicts merged one level), every key validated.

    Raises:
        EdgeRouteError: an unknown key, or a value its validator rejects.
    """
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise EdgeRouteError(f"config must be a dict, got {overrides!r}")
    unknown = sorted(k for k in overrides if k not in validators)
    if unknown:
        raise EdgeRouteError(
            f"unknown config key(s) {unknown}; allowed keys: {sorted(validators)}"
        )
    merged = {k: v for k, v in base.items() if k != "trace"}
    merged = copy.deepcopy(merged)
    merged["trace"] = base.get("trace")
    for key, value in overrides.items():
        if isinstance(merged.get(key), dict) and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    for key, check in validators.items():
        if key not in merged:
            raise EdgeRouteError(f"config is missing key {key!r}")
        if key in overrides:
            check(key, merged[key])
    return merged
