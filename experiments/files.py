"""Atomic file writes for every output of a run (temporary file, then rename).

An interrupted or concurrent run never leaves half a ``results.json`` or ``run.yaml`` behind:
readers see the old file or the new one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envs.traces.atomic import atomic_write_text


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (temporary file, fsync, rename): readers never see half a
    file; a failure (e.g. a full disk) raises ``EdgeRouteError`` naming the path, removes the
    temporary file and leaves the old file (one home: :mod:`envs.traces.atomic`)."""
    return atomic_write_text(path, text)


def write_json(path: Path, data: Any) -> Path:
    """``data`` as indented JSON (non-finite floats as null, numpy scalars as numbers), atomic."""

    def default(o: Any) -> Any:
        if hasattr(o, "item"):
            return o.item()
        return str(o)

    def clean(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, Mapping):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return write_text(path, json.dumps(clean(data), indent=2, default=default))
