"""Routing traces: one row per query or user turn, replayed by the environments.

Public API: :class:`Trace`, :func:`load_trace` (a prepared real trace from the cache built by
``edgeroute data prepare``) and :func:`make_synthetic_trace` (a small structured trace for tests).
"""

from __future__ import annotations

from envs.traces.schema import COLUMNS, SPLITS, Trace

try:
    from envs.traces.synthetic import make_synthetic_trace
except ModuleNotFoundError as _exc:  # written by another issue; absent until it lands
    if _exc.name != "envs.traces.synthetic":
        raise

try:
    from envs.traces.store import load_trace
except ModuleNotFoundError as _exc:
    if _exc.name != "envs.traces.store":
        raise

__all__ = ["COLUMNS", "SPLITS", "Trace", "load_trace", "make_synthetic_trace"]
