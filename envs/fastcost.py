"""A lean scalar path of the ``cost_models`` compute equations, for ``step()``.

``cost_models.compute`` is vectorised over numpy arrays: the right tool for tables and batches,
but a numpy call on a scalar costs microseconds, and a step evaluates several latencies. This
module evaluates the *same* equations on Python floats, with the coefficients taken from
``cost_models`` (never re-typed): :class:`Roofline` is built from a model, a hardware and a
precision, and ``tests/test_env_single.py`` checks it equals ``cost_models.compute`` to 1e-9
relative on random inputs. If the cost model changes, that test fails and this file follows.

Equations (cost_models.compute docstring, our reconstruction, not the paper's):
prefill of L new tokens after P cached is ``max(FLOPs / (F eta_f), (W + kv_b (P + L)) / (B
eta_m))`` with ``FLOPs = 2 N L + a (L P + L (L + 1) / 2)``; decode sums
``max(a0 + a1 c, b0 + b1 c)`` over the context c = C .. C + O - 1 in closed form.
"""

from __future__ import annotations

import math

from cost_models import channel, compute, kv_cache


class Roofline:
    """Coefficients of the prefill and decode roofline for one model on one hardware."""

    __slots__ = (
        "flops_per_token", "attn_flops", "flops_per_s", "weight_bytes", "kv_bytes_per_token",
        "bytes_per_s", "a0", "a1", "b0", "b1", "cross", "d1",
    )  # fmt: skip

    def __init__(
        self,
        flops_per_token: float,
        attn_flops: float,
        flops_per_s: float,
        weight_bytes: float,
        kv_bytes_per_token: float,
        bytes_per_s: float,
    ) -> None:
        self.flops_per_token = flops_per_token  # 2 N (active parameters)
        self.attn_flops = attn_flops  # FLOPs per query token per context token
        self.flops_per_s = flops_per_s  # F eta_f
        self.weight_bytes = weight_bytes  # bytes read per pass (active parameters)
        self.kv_bytes_per_token = kv_bytes_per_token
        self.bytes_per_s = bytes_per_s  # B eta_m
        # Decode: per-token time max(a0 + a1 c, b0 + b1 c); the lines cross at c = cross.
        self.a0 = flops_per_token / flops_per_s
        self.a1 = attn_flops / flops_per_s
        self.b0 = weight_bytes / bytes_per_s
        self.b1 = kv_bytes_per_token / bytes_per_s
        d0 = self.a0 - self.b0
        self.d1 = self.a1 - self.b1
        self.cross = float(math.ceil(-d0 / self.d1)) if self.d1 != 0.0 else 0.0
        if self.d1 == 0.0:  # parallel lines: one dominates everywhere ("before" is line a)
            self.cross = math.inf if d0 >= 0 else -math.inf

    @classmethod
    def build(cls, model: str, hardware: str, precision: str) -> Roofline:
        m, h = compute.get_model(model), compute.get_hardware(hardware)
        return cls(
            flops_per_token=2.0 * m.active_params,
            attn_flops=compute.attention_flops_per_token_per_context(m),
            flops_per_s=h.peak_flops(precision) * h.eta_f,
            weight_bytes=compute.weight_bytes(m, precision),
            kv_bytes_per_token=float(kv_cache.kv_bytes_per_token(m, precision)),
            bytes_per_s=h.memory_bandwidth_bytes_s * h.eta_m,
        )

    def prefill_s(self, new_tokens: float, cached_tokens: float) -> float:
        """Seconds to prefill ``new_tokens`` after ``cached_tokens`` (0 if nothing is new)."""
        L, P = new_tokens, cached_tokens
        if L <= 0:
            return 0.0
        t_c = (self.flops_per_token * L + self.attn_flops * (L * P + L * (L + 1.0) / 2.0)) / (
            self.flops_per_s
        )
        t_m = (self.weight_bytes + self.kv_bytes_per_token * (P + L)) / self.bytes_per_s
        return t_c if t_c > t_m else t_m

    def decode_s(self, context_tokens: float, output_tokens: float) -> float:
        """Seconds to generate ``output_tokens`` after ``context_tokens`` (batch 1)."""
        C = context_tokens
        end = C + output_tokens
        split = self.cross
        if split < C:
            split = C
        elif split > end:
            split = end
        n1 = split - C  # tokens before the crossover
        n2 = end - split
        if self.d1 > 0:  # memory line first, compute line after
            k0, k1, m0, m1 = self.b0, self.b1, self.a0, self.a1
        else:
            k0, k1, m0, m1 = self.a0, self.a1, self.b0, self.b1
        return (
            n1 * k0
            + k1 * (n1 * C + n1 * (n1 - 1.0) / 2.0)
            + n2 * m0
            + m1 * (n2 * split + n2 * (n2 - 1.0) / 2.0)
        )


def _series(c0: float, n: float, k0: float, k1: float) -> float:
    return n * k0 + k1 * (n * c0 + n * (n - 1.0) / 2.0)


def decode_slowdown(utilisation: float) -> float:
    """Scalar ``cost_models.compute.decode_slowdown`` (same constants)."""
    u = min(max(utilisation, 0.0), compute.MAX_UTILISATION)
    return 1.0 + compute.DECODE_LOAD_FACTOR * u


def queue_factor(utilisation: float) -> float:
    """``u / (1 - u)``: ``cost_models.compute.queue_delay_s(u, s) == queue_factor(u) * s``."""
    u = min(max(utilisation, 0.0), compute.MAX_UTILISATION)
    return u / (1.0 - u)


def text_payload_bits(tokens: float) -> float:
    """Scalar ``cost_models.channel.text_payload_bits`` (same constants)."""
    body = channel.BYTES_PER_TOKEN * tokens
    segments = math.ceil((body + channel.FRAMING_BYTES) / channel.MSS_BYTES)
    return 8.0 * (body + channel.FRAMING_BYTES + channel.PER_SEGMENT_OVERHEAD_BYTES * segments)


def transmit_time_s(
    payload_bits: float, rate_bps: float, access_latency_s: float, outage_penalty_s: float
) -> float:
    """Scalar ``cost_models.channel.transmit_time_s``: a rate <= 0 (outage) costs the penalty."""
    if rate_bps > 0:
        return payload_bits / rate_bps + access_latency_s
    return outage_penalty_s + access_latency_s


def edge_retention_probability(idle_s: float, utilisation: float) -> float:
    """Scalar ``cost_models.kv_cache.edge_retention_probability`` (same constants)."""
    u = min(max(utilisation, 0.0), 0.99)
    return math.exp(-idle_s / (kv_cache.EDGE_RETENTION_TAU_S * (1.0 - u)))
