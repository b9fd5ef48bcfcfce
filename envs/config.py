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

import numpy as np

from cost_models import catalogue, channel, deployment
from cost_models.errors import EdgeRouteError
from envs.outcome import DEFAULT_REWARD_WEIGHTS, REWARD_TERMS
from envs.tradeoff import check_conditioning

#: Longest episode a config may ask for: the ``max_episode_steps`` both ids are registered with.
MAX_EPISODE_STEPS = 1000
#: Deployment preset used when neither the config nor the trace meta names one.
DEFAULT_DEPLOYMENT = "phone_3b__edge_70b"
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


#: ``config["output_length"]``: the per-query length predictor, or one train mean per side.
OUTPUT_LENGTH_MODES: tuple[str, ...] = ("predicted", "train_mean")


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


def _optional_name(options: Mapping[str, Any], what: str) -> Validator:
    def check(key: str, value: Any) -> None:
        if value is not None and value not in options:
            raise EdgeRouteError(
                f"config[{key!r}] = {value!r} is not a known {what}; allowed: None or one of "
                f"{sorted(options)}"
            )

    return check


def _optional_positive(key: str, value: Any) -> None:
    if value is not None:
        positive_number(key, value)


def _optional_non_negative(key: str, value: Any) -> None:
    if value is not None:
        non_negative_number(key, value)


#: Validators of the keys every environment shares (a subclass adds its episode keys).
COMMON_VALIDATORS: dict[str, Validator] = {
    "benchmark": benchmark_name,
    "trace": trace_object,
    "pair": optional_str,
    "split": one_of(SPLIT_NAMES),
    "output_length": one_of(OUTPUT_LENGTH_MODES),
    "deployment": _optional_name(deployment.SCENARIO_PRESETS, "deployment scenario"),
    "device_model": _optional_name(catalogue.MODEL_SPECS, "model"),
    "edge_model": _optional_name(catalogue.MODEL_SPECS, "model"),
    "device_hardware": _optional_name(catalogue.HARDWARE_SPECS, "hardware"),
    "edge_hardware": _optional_name(catalogue.HARDWARE_SPECS, "hardware"),
    "device_precision": _optional_name(catalogue.PRECISIONS, "precision"),
    "edge_precision": _optional_name(catalogue.PRECISIONS, "precision"),
    "channel": _optional_name(channel.CHANNEL_PRESETS, "channel scenario"),
    "device_kv_budget_bytes": _optional_positive,
    "think_time_mean_s": positive_number,
    "think_time_cv": non_negative_number,
    "channel_block_s": positive_number,
    "reward_weights": reward_weights,
    "tradeoff_conditioning": check_conditioning,
    "observation": observation_options,
    "common_random_numbers": boolean,
    "synthetic_size": positive_int,
    "document_tokens_mean": _optional_non_negative,
    "history_authors": boolean,
}


def common_default_config() -> dict[str, Any]:
    """The keys both environments share, with their defaults (one comment per key)."""
    return {
        # Which trace to replay: "synthetic" (built in, for tests) or a prepared benchmark
        # ("mmlu", "gsm8k", "mt_bench", "mt_bench_101"), loaded with envs.traces.load_trace.
        "benchmark": "synthetic",
        # A Trace object to replay instead of `benchmark` (tests, user traces); None = use it.
        "trace": None,
        # Label pair preset passed to load_trace (which small/large models' outcomes); None =
        # the trace's default pair.
        "pair": None,
        # Which fixed split the queries are drawn from: "train", "validation" or "test".
        "split": "train",
        # cost_models.deployment.SCENARIO_PRESETS name; None = the trace meta's
        # "deployment", else "phone_3b__edge_70b".
        "deployment": None,
        # Overrides of the deployment's device/edge model, hardware and precision (names in
        # cost_models.catalogue MODEL_SPECS / HARDWARE_SPECS / PRECISIONS); None = keep.
        "device_model": None,
        "device_hardware": None,
        "device_precision": None,
        "edge_model": None,
        "edge_hardware": None,
        "edge_precision": None,
        # cost_models.channel.CHANNEL_PRESETS name; None = the deployment's channel.
        "channel": None,
        # Device KV memory for this user's dialogue in bytes; None = the app budget of
        # cost_models.device_memory (a share of the device's RAM less the weights). Past it
        # the device keeps and recomputes a window of history (device_memory.device_turn).
        "device_kv_budget_bytes": None,
        # Mean user think time (s) between an answer and the next turn (multi-turn); in
        # single-turn, whose arrivals are open loop, the mean gap between query arrivals.
        # Modelled (lognormal, our assumption: reading the answer at ~240 words/min, see
        # envs.world.think_times_s).
        "think_time_mean_s": 30.0,
        # Coefficient of variation of the think time (0 = constant).
        "think_time_cv": 1.0,
        # Block length (s) of the block-fading channel grid (envs.world.ChannelPath): well
        # below the shadowing decorrelation time (50 m / 8.3 m/s = 6 s at 30 km/h), well above
        # the fading coherence time (< 0.2 s at 2 GHz and >= 1 m/s).
        "channel_block_s": 2.0,
        # Reward = sum of weight * term over envs.outcome.REWARD_TERMS: quality in [0, 1],
        # latency in seconds, edge_call and switch in {0, 1}. Signs are in the weights.
        "reward_weights": dict(DEFAULT_REWARD_WEIGHTS),
        # None, or ranges of the reward's latency and edge-call prices drawn per episode and
        # shown in the observation (trade-off-conditioned training, envs.tradeoff), e.g.
        # {"latency_price_per_s": [0.01, 1.0], "edge_call_price": [-0.3, 0.5]}.
        "tradeoff_conditioning": None,
        # The output length the router predicts (estimate and observation): "predicted" =
        # the trace's per-query predictor (cost_models.semantic.length; the train mean where a
        # trace has no real lengths), "train_mean" = one train-split mean per side.
        "output_length": "predicted",
        # Observation options: embedding "pca" (train-fitted, whitened), "full" (standardised)
        # or "none"; pca_dim = number of principal components kept.
        "observation": {"embedding": "pca", "pca_dim": 16},
        # True: query order, think times, channel, load and edge-retention draws are fixed
        # at reset, identical whatever the actions (common random numbers). False: retention
        # draws (multi-turn) are made lazily, only when the edge holds a cache, from a stream
        # of their own, so they differ between policies (a naive simulator).
        "common_random_numbers": True,
        # Dialogues (multi-turn) or queries (single-turn) of the synthetic trace.
        "synthetic_size": 400,
        # long_sessions only: the average document length (tokens) the sessions are scaled to
        # (envs.traces.long_sessions.with_document_tokens; None = as prepared, 1,000).
        "document_tokens_mean": None,
        # Multi-turn traces that model it (mt_eval): a turn's quality moves with the quality
        # of the answers in its history when the other side wrote them
        # (envs.traces.mt_eval_quality.HistoryAuthors); False = every turn keeps its trace
        # quality whoever served the history.
        "history_authors": True,
    }


def plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones (inside dicts too), so that a config
    built from numpy results (``np.float64(0.3)``, ``np.int64(5)``, ``np.bool_(True)``) is
    validated and stored like its plain equivalent."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping) and any(isinstance(v, np.generic) for v in value.values()):
        return {k: plain(v) for k, v in value.items()}
    return value


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
    overrides = {key: plain(value) for key, value in overrides.items()}
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


def checked_items(items: Any, n_items: int, per_episode: int, split: str) -> list[int] | None:
    """``reset(options={"items": ...})`` as a list of item indices, or None (draw them): 1 to
    ``per_episode`` distinct indices in ``[0, n_items)`` (queries or dialogues of ``split``)."""
    if items is None:
        return None
    ok = (
        isinstance(items, (list, tuple, np.ndarray))
        and 0 < len(items) <= per_episode
        and all(isinstance(i, (int, np.integer)) and 0 <= i < n_items for i in items)
        and len(set(int(i) for i in items)) == len(items)
    )
    if not ok:
        raise EdgeRouteError(
            f"reset option items={items!r}: need 1 to {per_episode} distinct item indices in "
            f"[0, {n_items}) (queries or dialogues of the {split!r} split)"
        )
    return [int(i) for i in items]
