"""Helpers shared by the CLI subcommands: ``key=value`` parsing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from cost_models.errors import EdgeRouteError


def parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars/lists)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise EdgeRouteError(f"{what} {item!r} must look like key=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise EdgeRouteError(f"{what} {item!r}: value is not valid YAML ({exc})") from exc
    return out
