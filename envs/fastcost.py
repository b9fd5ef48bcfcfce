"""Scalar glue for the multi-turn ``step()``: two one-line link and cache laws on Python floats.

The compute model has its own scalar path in ``cost_models.compute``
(:class:`~cost_models.compute.RooflineCoefficients`, ``decode_slowdown``, ``queue_delay_s``),
which the environments call directly. What remains here are the scalar forms of two
``cost_models`` functions that only have a numpy (or validating, ~1 us) path there and that a
multi-turn step evaluates several times; each is a transcription of one line of the cost model
with its constants imported, never re-typed, and ``tests/test_env_properties.py`` checks both
equal to the ``cost_models`` function on random inputs.
"""

from __future__ import annotations

import math

from cost_models import kv_cache


def transmit_time_s(
    payload_bits: float, rate_bps: float, access_latency_s: float, outage_penalty_s: float
) -> float:
    """``cost_models.channel.transmit_time_s`` on floats: a rate <= 0 (outage) costs the
    penalty."""
    if rate_bps > 0:
        return payload_bits / rate_bps + access_latency_s
    return outage_penalty_s + access_latency_s


def edge_retention_probability(idle_s: float, utilisation: float) -> float:
    """``cost_models.kv_cache.edge_retention_probability`` on floats (same constants)."""
    u = min(max(utilisation, 0.0), 0.99)
    return math.exp(-idle_s / (kv_cache.EDGE_RETENTION_TAU_S * (1.0 - u)))
