"""The project's error type for bad input.

Every invalid config value, unknown preset name, corrupt or missing data file raises
:class:`EdgeRouteError` (a ``ValueError``) whose message names the bad value and what is
allowed. The CLI catches it and exits non-zero with the message and no traceback. It lives in
``cost_models`` because that package imports nothing else from the project, so every other
package may import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class EdgeRouteError(ValueError):
    """Bad input to edgeroute: the message says which value and what is allowed."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`EdgeRouteError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise EdgeRouteError(message)


def lookup(registry: Mapping[str, T], name: str | T, kind: str, sort: bool = False) -> T:
    """``registry[name]``, or ``name`` itself when it is already of the registry's value type
    (e.g. a custom spec). An unknown name raises :class:`EdgeRouteError` listing the allowed
    names, sorted if ``sort``, else in the registry's order (presets keep their own order)."""
    value_type = type(next(iter(registry.values())))
    if isinstance(name, value_type):
        return name
    if not isinstance(name, str) or name not in registry:
        allowed = sorted(registry) if sort else list(registry)
        raise EdgeRouteError(f"unknown {kind} {name!r}; allowed: {', '.join(allowed)}")
    return registry[name]
