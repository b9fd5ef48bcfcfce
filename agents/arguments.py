"""Check a policy's constructor arguments against its type hints before it is built.

The same policy arguments arrive from Python (``make_policy("analytic", semantic=False)``), from
the CLI's ``--param key=value`` (values parsed as YAML) and from sweep YAML files. Python's
``bool("no")`` is True, ``float("nan")`` passes ``>= 0`` checks written as ``not x < 0``, and a
string alpha fails deep inside numpy with a ``TypeError``. :func:`check_policy_kwargs` reads the
constructor's annotations (the one statement of what each argument is) and turns every argument
into its declared type or raises :class:`~cost_models.errors.EdgeRouteError` naming the policy,
the argument, the value and what is allowed. Ranges (alpha >= 0, p in [0, 1]) stay in the
constructors, next to the arguments they constrain.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cost_models.errors import EdgeRouteError

#: Strings accepted as booleans: YAML 1.1's (what PyYAML's ``safe_load`` reads as booleans)
#: and YAML 1.2's ``true`` / ``false``, case-insensitive. Anything else is an error, never truthy.
TRUE_WORDS = frozenset({"true", "yes", "on", "y"})
FALSE_WORDS = frozenset({"false", "no", "off", "n"})


def strict_bool(value: Any, what: str) -> bool:
    """``value`` as a bool: a bool, a numpy bool, or one of :data:`TRUE_WORDS` /
    :data:`FALSE_WORDS`; anything else (``"nein"``, ``2``, ``None``) raises naming ``what``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise EdgeRouteError(f"{what} = {value!r} is not a boolean; allowed: true or false")


def _float(value: Any, what: str) -> float | int:
    # Numeric strings are accepted because PyYAML reads ``1e-3`` (no dot) as a string.
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if (
        isinstance(number, (int, float, np.integer, np.floating))
        and not isinstance(number, (bool, np.bool_))
        and math.isfinite(float(number))
    ):
        # An int is a valid float argument (PEP 484); kept as int so messages show what was given.
        return int(number) if isinstance(number, (int, np.integer)) else float(number)
    raise EdgeRouteError(f"{what} = {value!r} is not allowed; use a finite number")


def _int(value: Any, what: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise EdgeRouteError(f"{what} = {value!r} is not allowed; use an integer")


def _str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise EdgeRouteError(f"{what} = {value!r} is not allowed; use a string")


def _path(value: Any, what: str) -> str | Path:
    if isinstance(value, (str, Path)):
        return value
    raise EdgeRouteError(f"{what} = {value!r} is not allowed; use a directory path")


#: Annotation -> the converter of a value of that type.
CONVERTERS: dict[Any, Callable[[Any, str], Any]] = {
    bool: strict_bool,
    float: _float,
    int: _int,
    str: _str,
    Path: _path,
}


def _convert(annotation: Any, value: Any, what: str) -> Any:
    """``value`` as ``annotation`` (``X | None`` allows None; ``str | Path`` either)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    if not options:
        converter = CONVERTERS.get(annotation)
        return value if converter is None else converter(value, what)
    if value is None:
        if type(None) in options:
            return None
        raise EdgeRouteError(f"{what} = None is not allowed")
    if str in options and Path in options:
        return _path(value, what)
    (kind,) = [o for o in options if o is not type(None)]
    return _convert(kind, value, what)


def check_policy_kwargs(name: str, cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` checked against ``cls.__init__``: every name a parameter (else the allowed
    list), every value of its annotated type (converted: ``"false"`` -> False, ``np.float64``
    -> float). Raises :class:`EdgeRouteError` naming the policy, the argument and the value."""
    signature = inspect.signature(cls.__init__)
    allowed = [p for p in signature.parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise EdgeRouteError(
            f"policy {name!r} got unknown argument(s) {unknown}; allowed: {sorted(allowed)}"
        )
    hints = typing.get_type_hints(cls.__init__)
    return {
        key: _convert(hints.get(key, inspect.Parameter.empty), value, f"policy {name!r}: {key}")
        for key, value in kwargs.items()
    }
