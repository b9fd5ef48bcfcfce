"""The ranges of the CLI's numeric options, and argparse types that enforce them.

A typo such as ``--seeds 100000000000000000000`` or ``--bandwidth-hz 1e30`` must fail at parse
time naming the value and the allowed range (argparse exits with status 2), not start an hour of
work or print a table of a link no radio has. Each limit says where it comes from; ranges of
the models themselves (a turn longer than the model's context) are checked where the model is,
:func:`cost_models.catalogue.require_fits_context`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from cost_models.catalogue import MODEL_SPECS
from experiments.ppo_checks import MAX_SEED, MAX_TIMESTEPS

#: One NR/LTE resource block: 12 subcarriers x 15 kHz (3GPP TS 38.211 Sec. 4.4.4.1,
#: numerology 0), the least bandwidth a scheduled user gets.
RESOURCE_BLOCK_HZ = 180e3
#: Widest NR channel: 400 MHz in FR2 (3GPP TS 38.101-2 Table 5.3.5-1).
MAX_BANDWIDTH_HZ = 400e6
#: Device-base station distance cap: the TR 36.814 macro path loss is specified for its cell
#: layouts (inter-site distance 500 m / 1,732 m); 20 km is far beyond every cell edge.
MAX_DISTANCE_M = 20_000.0
#: Users sharing one carrier: each needs at least one resource block of the widest carrier.
MAX_USERS = int(MAX_BANDWIDTH_HZ // RESOURCE_BLOCK_HZ)
#: ``bench costs`` batch: the timed functions hold about 20 float64 arrays of the batch (~160
#: bytes a query), so 1e7 queries need ~1.6 GB; more would exhaust a laptop's memory.
MAX_BENCH_BATCH = 10_000_000
#: ``bench costs`` repeats: the best of 1,000 is as stable as it gets; more is a typo.
MAX_BENCH_REPEATS = 1_000
#: Longest context of any catalogued model (tokens): a history or document beyond it fits none.
MAX_CONTEXT_TOKENS = max(m.max_context_tokens for m in MODEL_SPECS.values())

__all__ = [
    "MAX_BANDWIDTH_HZ",
    "MAX_BENCH_BATCH",
    "MAX_BENCH_REPEATS",
    "MAX_CONTEXT_TOKENS",
    "MAX_DISTANCE_M",
    "MAX_SEED",
    "MAX_TIMESTEPS",
    "MAX_USERS",
    "RESOURCE_BLOCK_HZ",
    "float_in",
    "int_in",
]


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]`` (``1e3`` is accepted as 1000)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and number == int(number)):
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
            value = int(number)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} must be an integer in [{low}, {high:,}]")
        return value

    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


def _number(x: float) -> str:
    """``400000000.0`` -> ``400,000,000``; ``0.5`` -> ``0.5``."""
    return f"{x:,.0f}" if x == int(x) else f"{x:g}"


def float_in(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[low, high]`` (``(low, high]`` if
    ``low_open``); NaN and infinities are refused."""
    interval = f"{'(' if low_open else '['}{_number(low)}, {_number(high)}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        inside = (value > low if low_open else value >= low) and value <= high
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"{text!r} must be a number in {interval}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse
