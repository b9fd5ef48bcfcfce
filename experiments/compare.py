"""Recursive diff of two results files (``results.json``, ``ablation.json``).

Used to check that a refactor leaves the numbers alone: every value must match exactly (or
within ``rtol``), except keys that are timings, paths or run identities by nature
(:data:`VOLATILE_KEYS`). Run as ``python -m experiments.compare OLD.json NEW.json``; exit
status 0 when they match, 1 otherwise, printing one line per difference.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

#: Keys whose values legitimately differ between two runs of the same numbers: wall-clock
#: timings, where files were written, the command line (it names the output directory), the
#: machine.
VOLATILE_KEYS: frozenset[str] = frozenset(
    {"wall_s", "steps_per_s", "model_dir", "reused", "command", "host", "run_id"}
)


def diff(
    old: Any,
    new: Any,
    path: str = "",
    rtol: float = 0.0,
    ignore: frozenset[str] = VOLATILE_KEYS,
) -> Iterator[str]:
    """Yield one ``path: what differs`` line per difference between ``old`` and ``new``."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            if key in ignore:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield f"{sub}: only in old"
            elif key not in old:
                yield f"{sub}: only in new"
            else:
                yield from diff(old[key], new[key], sub, rtol, ignore)
        return
    if _is_list(old) and _is_list(new):
        if len(old) != len(new):
            yield f"{path}: length {len(old)} != {len(new)}"
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from diff(a, b, f"{path}[{i}]", rtol, ignore)
        return
    if _is_number(old) and _is_number(new):
        if not math.isclose(old, new, rel_tol=rtol, abs_tol=0.0):
            yield f"{path}: {old!r} != {new!r}"
        return
    if old != new or type(old) is not type(new):
        yield f"{path}: {old!r} != {new!r}"


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the differences of two JSON files; exit 1 if there are any."""
    parser = argparse.ArgumentParser(prog="python -m experiments.compare", description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0)")
    args = parser.parse_args(argv)
    old = json.loads(args.old.read_text())
    new = json.loads(args.new.read_text())
    lines = list(diff(old, new, rtol=args.rtol))
    for line in lines:
        print(line)
    print(f"{len(lines)} difference(s) between {args.old} and {args.new}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
