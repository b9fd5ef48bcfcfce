"""Validate PPO hyperparameters and seeds before any environment is built or step is taken.

stable-baselines3 checks few of its arguments, and late: a learning rate of ``'fast'`` fails
inside the first gradient step, ``n_steps: 0`` in an assertion, ``net_arch: big`` deep in the
policy constructor, a seed of ``-1`` in numpy after the environments are built, and
``gamma: 2.0`` is accepted (returns then grow without bound). :func:`check_ppo_kwargs` turns
every such value into an :class:`~cost_models.errors.EdgeRouteError` naming the key, the value
and what is allowed, and returns the keyword arguments ready for ``PPO(...)`` (numeric strings
such as YAML's ``1e-3``, which PyYAML reads as a string, become numbers; activation names
become ``torch.nn`` classes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from cost_models.errors import EdgeRouteError

#: PPO arguments that ``edgeroute train`` sets itself; a config must not set them.
SET_BY_EDGEROUTE = frozenset(
    {"env", "seed", "device", "tensorboard_log", "verbose", "_init_setup_model"}
)
#: Largest seed: numpy and torch seeds must fit in 32 bits and the vectorised environments use
#: ``seed + i`` and the validation env ``seed + 10,000``; 2**31 - 1 leaves room for both.
MAX_SEED = 2**31 - 1
#: Activation names accepted in ``policy_kwargs.activation_fn`` -> ``torch.nn`` class name.
ACTIVATIONS = {
    "tanh": "Tanh",
    "relu": "ReLU",
    "elu": "ELU",
    "leaky_relu": "LeakyReLU",
    "gelu": "GELU",
    "silu": "SiLU",
}
#: Arguments SB3 also accepts as a schedule (a callable of the remaining progress).
SCHEDULES = ("learning_rate", "clip_range", "clip_range_vf")
_POLICY_KWARGS = (
    "net_arch",
    "activation_fn",
    "ortho_init",
    "log_std_init",
    "share_features_extractor",
    "optimizer_kwargs",
)


def _as_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (bools are not numbers; numeric strings are)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) or hasattr(value, "__float__"):
        x = float(value)
        return x if math.isfinite(x) else None
    return None


def _number(low: float, high: float = math.inf, low_open: bool = False) -> tuple[str, Callable]:
    lo = "(" if low_open else "["
    hi = "]" if math.isfinite(high) else ")"
    text = f"a number in {lo}{low:g}, {high:g}{hi}"

    def check(value: Any) -> float | None:
        x = _as_number(value)
        if x is None or x < low or (low_open and x == low) or x > high:
            return None
        return x

    return text, check


def _integer(low: int) -> tuple[str, Callable]:
    def check(value: Any) -> int | None:
        x = _as_number(value)
        if x is None or x != int(x) or x < low:
            return None
        return int(x)

    return f"an integer >= {low}", check


def _optional(rule: tuple[str, Callable]) -> tuple[str, Callable]:
    text, check = rule

    def optional(value: Any):
        return None if value is None else check(value)

    return f"null or {text}", optional


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


#: key -> (what is allowed, check returning the clean value or None if invalid).
RULES: dict[str, tuple[str, Callable]] = {
    "learning_rate": _number(0.0, low_open=True),
    "n_steps": _integer(1),
    "batch_size": _integer(2),
    "n_epochs": _integer(1),
    "gamma": _number(0.0, 1.0),
    "gae_lambda": _number(0.0, 1.0),
    "clip_range": _number(0.0, low_open=True),
    "clip_range_vf": _optional(_number(0.0, low_open=True)),
    "normalize_advantage": ("true or false", _boolean),
    "ent_coef": _number(0.0),
    "vf_coef": _number(0.0),
    "max_grad_norm": _number(0.0, low_open=True),
    "target_kl": _optional(_number(0.0, low_open=True)),
    "stats_window_size": _integer(1),
    "sde_sample_freq": _integer(-1),
}


def check_seed(seed: Any, what: str = "seed") -> int:
    """``seed`` as an int in [0, MAX_SEED], else :class:`EdgeRouteError`."""
    ok = isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED
    if not ok:
        raise EdgeRouteError(f"{what} {seed!r} is not allowed; use an integer in [0, {MAX_SEED}]")
    return int(seed)


def _net_arch(value: Any, where: str) -> Any:
    def layers(v: Any) -> list[int] | None:
        if not isinstance(v, (list, tuple)):
            return None
        out = [_integer(1)[1](x) for x in v]
        return None if any(x is None for x in out) else out

    if isinstance(value, Mapping) and set(value) <= {"pi", "vf"} and value:
        clean = {k: layers(v) for k, v in value.items()}
        if all(v is not None for v in clean.values()):
            return clean
    elif (clean_list := layers(value)) is not None:
        return clean_list
    raise EdgeRouteError(
        f"{where}.net_arch = {value!r} is not allowed; use a list of layer widths (integers "
        ">= 1), e.g. [64, 64], or {pi: [64, 64], vf: [64, 64]}"
    )


def _policy_kwargs(value: Any, where: str) -> dict[str, Any]:
    import torch

    if not isinstance(value, Mapping):
        raise EdgeRouteError(f"{where} = {value!r} must be a mapping")
    unknown = sorted(set(value) - set(_POLICY_KWARGS))
    if unknown:
        raise EdgeRouteError(
            f"{where} has unknown key(s) {unknown}; allowed: {list(_POLICY_KWARGS)}"
        )
    out = dict(value)
    if "net_arch" in out:
        out["net_arch"] = _net_arch(out["net_arch"], where)
    if "activation_fn" in out:
        name = out["activation_fn"]
        key = str(name).lower().removeprefix("nn.").removeprefix("torch.nn.")
        key = {v.lower(): k for k, v in ACTIVATIONS.items()}.get(key, key)
        if key not in ACTIVATIONS:
            raise EdgeRouteError(
                f"{where}.activation_fn = {name!r} is not allowed; use one of "
                f"{', '.join(ACTIVATIONS)}"
            )
        out["activation_fn"] = getattr(torch.nn, ACTIVATIONS[key])
    for key in ("ortho_init", "share_features_extractor"):
        if key in out and not isinstance(out[key], bool):
            raise EdgeRouteError(f"{where}.{key} = {out[key]!r} must be true or false")
    if "log_std_init" in out and _as_number(out["log_std_init"]) is None:
        raise EdgeRouteError(f"{where}.log_std_init = {out['log_std_init']!r} must be a number")
    if "optimizer_kwargs" in out and not isinstance(out["optimizer_kwargs"], Mapping):
        raise EdgeRouteError(f"{where}.optimizer_kwargs must be a mapping")
    return out


def check_ppo_kwargs(kwargs: Mapping[str, Any], n_envs: int, source: str) -> dict[str, Any]:
    """Validated ``PPO(...)`` keyword arguments (see the module docstring).

    ``source`` names where they came from (the YAML file and env id) in messages.
    """
    where = f"{source}: ppo"
    reserved = sorted(set(kwargs) & SET_BY_EDGEROUTE)
    if reserved:
        raise EdgeRouteError(
            f"{where} sets {reserved}, which edgeroute train sets itself (seed: --seed; the "
            "rest are fixed); remove them"
        )
    out = dict(kwargs)
    for key, (allowed, check) in RULES.items():
        if key in SCHEDULES and callable(out.get(key)):
            continue  # a schedule (progress remaining -> value), from the Python API
        if key in out:
            clean = check(out[key])
            if clean is None and not (out[key] is None and allowed.startswith("null")):
                raise EdgeRouteError(f"{where}.{key} = {out[key]!r} is not allowed; use {allowed}")
            out[key] = clean
    if out.get("use_sde", False) is not False:
        raise EdgeRouteError(
            f"{where}.use_sde = {out['use_sde']!r}: gSDE needs a continuous action space, the "
            "routing action is Discrete(2); remove it or set false"
        )
    if "policy_kwargs" in out:
        out["policy_kwargs"] = _policy_kwargs(out["policy_kwargs"], f"{where}.policy_kwargs")
    n_steps = out.get("n_steps", 2048)
    rollout = n_steps * n_envs
    if rollout < 2:
        raise EdgeRouteError(
            f"{where}.n_steps = {n_steps} with n_envs = {n_envs} gives rollouts of {rollout} "
            "step; PPO needs at least 2 (raise n_steps)"
        )
    batch = out.get("batch_size", 64)
    if batch > rollout:
        raise EdgeRouteError(
            f"{where}.batch_size = {batch} exceeds the rollout size n_steps x n_envs = "
            f"{n_steps} x {n_envs} = {rollout}; lower batch_size or raise n_steps"
        )
    return out
