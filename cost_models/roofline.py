"""LLM compute time by roofline, in closed form and vectorised over numpy arrays.

These equations are OUR reconstruction (the paper's exact compute model is not public).

Model. A transformer with ``N`` active parameters, ``n_layers`` layers, ``n_heads`` query heads,
``n_kv_heads`` KV heads of size ``head_dim``. A forward pass over ``L`` new tokens after ``P``
cached ones costs (Kaplan et al. 2020, "Scaling Laws", Table 1; attention written out)::

    FLOPs(L, P) = 2 N L + 4 n_layers n_heads head_dim (L P + L (L + 1) / 2)

(2 FLOPs per multiply-accumulate; the attention term is Q K^T plus A V over the causal
context). Weights are read once per pass; the KV cache of the whole context is read once.

Hardware. Peak FLOP/s ``F`` for the precision's math, memory bandwidth ``B`` (bytes/s) and
two efficiency factors: ``eta_f`` (achieved fraction of peak math in a large GEMM) and
``eta_m`` (achieved fraction of peak bandwidth in a memory-bound GEMV).

Prefill of ``L`` new tokens after ``P`` cached (roofline, Williams et al. 2009)::

    t_prefill = max(FLOPs(L, P) / (F eta_f), (W + kv_b (P + L)) / (B eta_m))

Decode of token ``i`` at context ``c`` (batch 1, one token per step)::

    t(c) = max((2 N + 4 n_layers n_heads head_dim c) / (F eta_f), (W + kv_b c) / (B eta_m))

Both arguments of the max are affine in ``c``, so the sum over ``c = C .. C + O - 1`` splits at
the single crossover point and each piece is an arithmetic series: closed form, no loop.

``W`` is the weight bytes read per token: ACTIVE parameters times bytes per weight (a mixture of
experts reads only its routed experts at batch 1); memory capacity checks use TOTAL parameters.

The specs come from :mod:`cost_models.catalogue`; load effects (slow-down, queueing) are in
:mod:`cost_models.edge_load`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from cost_models.catalogue import (
    HardwareSpec,
    ModelSpec,
    Precision,
    get_hardware,
    get_model,
    kv_bytes_per_token,
    weight_bytes,
)
from cost_models.errors import EdgeRouteError
from cost_models.numeric import SCALARS, as_output


def _scalar_tokens(x: float, name: str, minimum: int) -> float:
    v = float(x)
    if not (v >= minimum and math.isfinite(v)):
        raise EdgeRouteError(f"{name} must be finite and >= {minimum} tokens, got {x!r}")
    return v


def _tokens(x: object, name: str, minimum: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise EdgeRouteError(f"{name} must be finite, got {x!r}")
    if arr.size and np.min(arr) < minimum:
        raise EdgeRouteError(f"{name} must be >= {minimum} tokens, got {x!r}")
    return arr


def attention_flops_per_token_per_context(model: ModelSpec) -> float:
    """FLOPs that one query token spends per context token in attention (QK^T and AV)."""
    return 4.0 * model.n_layers * model.n_heads * model.head_dim


@dataclass(frozen=True)
class RooflineCoefficients:
    """Per-token costs of one (model, hardware, precision), in seconds, and the scalar path.

    Compute line ``a0 + a1 c`` and memory line ``b0 + b1 c`` of a decode step at context ``c``;
    prefill of ``L`` after ``P`` is ``max(a0 L + a1 (L P + L (L + 1) / 2), b0 + b1 (P + L))``.

    :meth:`prefill_s` and :meth:`decode_s` evaluate these closed forms on Python floats without
    validation (the caller guarantees finite token counts >= 0): they are the scalar path of
    :func:`prefill_time_s` / :func:`decode_time_s` (which validate, then call them) and what a
    simulator's inner loop (``envs``) calls. The vectorised numpy path in those functions
    performs the same arithmetic (``tests/test_compute.py`` holds the two equal).
    """

    a0: float
    a1: float
    b0: float
    b1: float
    #: Slope of (compute line - memory line); its sign says which line dominates first.
    d1: float = field(init=False, repr=False, compare=False)
    #: First integer context at which the dominating line changes (+-inf: never).
    cross: float = field(init=False, repr=False, compare=False)
    #: ``(k0, k1, m0, m1)``: the line that dominates before the crossover, then after it.
    _lines: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d0, d1 = self.a0 - self.b0, self.a1 - self.b1
        # Parallel lines (d1 == 0): one dominates everywhere (line a "before" any crossover).
        parallel = math.inf if d0 >= 0 else -math.inf
        cross = float(math.ceil(-d0 / d1)) if d1 != 0.0 else parallel
        object.__setattr__(self, "d1", d1)
        object.__setattr__(self, "cross", cross)
        # (line before the crossover, line after it): memory first iff d1 > 0.
        a, b = (self.a0, self.a1), (self.b0, self.b1)
        object.__setattr__(self, "_lines", (*b, *a) if d1 > 0 else (*a, *b))

    def prefill_s(self, new_tokens: float, cached_tokens: float) -> float:
        """Seconds to prefill ``new_tokens`` after ``cached_tokens`` (0 if nothing is new)."""
        L, P = new_tokens, cached_tokens
        if L <= 0:
            return 0.0
        t_c = self.a0 * L + self.a1 * (L * P + L * (L + 1.0) / 2.0)
        t_m = self.b0 + self.b1 * (P + L)
        return t_c if t_c > t_m else t_m

    def decode_s(self, context_tokens: float, output_tokens: float) -> float:
        """Seconds to generate ``output_tokens`` after ``context_tokens`` (batch 1): the sum of
        ``max(a0 + a1 c, b0 + b1 c)`` over ``c = C .. C + O - 1``, split at :attr:`cross`."""
        C = context_tokens
        end = C + output_tokens
        split = self.cross
        k0, k1, m0, m1 = self._lines
        if split <= C:
            # The line after the crossover dominates the whole output (every preset: their
            # crossover is at context <= 0). The same arithmetic as below with n1 = 0, whose
            # first series is exactly 0.0.
            n2 = end - C
            return n2 * m0 + m1 * (n2 * C + n2 * (n2 - 1.0) / 2.0)
        if split > end:
            split = end
        n1 = split - C  # tokens before the crossover
        n2 = end - split
        return (n1 * k0 + k1 * (n1 * C + n1 * (n1 - 1.0) / 2.0)) + (
            n2 * m0 + m1 * (n2 * split + n2 * (n2 - 1.0) / 2.0)
        )


@lru_cache(maxsize=256)
def roofline_coefficients(
    model: ModelSpec | str, hw: HardwareSpec | str, precision: str | Precision = "fp16"
) -> RooflineCoefficients:
    """The four per-token coefficients (cached: the env calls the cost model every step)."""
    m, h = get_model(model), get_hardware(hw)
    f = h.peak_flops(precision) * h.eta_f
    bw = h.memory_bandwidth_bytes_s * h.eta_m
    return RooflineCoefficients(
        a0=2.0 * m.active_params / f,
        a1=attention_flops_per_token_per_context(m) / f,
        b0=weight_bytes(m, precision) / bw,
        b1=float(kv_bytes_per_token(m, precision)) / bw,
    )


def prefill_time_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    new_tokens: object,
    cached_tokens: object = 0,
    precision: str = "fp16",
) -> np.ndarray | float:
    """Seconds to prefill ``new_tokens`` after ``cached_tokens`` already in the KV cache.

    ``new_tokens == 0`` costs 0 (nothing to compute). Vectorised over both token arguments;
    plain Python scalars take a fast scalar path with the same arithmetic.
    FLOPs / (F eta_f) = a0 L + a1 (L P + L (L + 1) / 2); bytes / (B eta_m) = b0 + b1 (P + L).
    """
    k = roofline_coefficients(model, hw, precision)
    if isinstance(new_tokens, SCALARS) and isinstance(cached_tokens, SCALARS):
        L = _scalar_tokens(new_tokens, "new_tokens", 0)
        P = _scalar_tokens(cached_tokens, "cached_tokens", 0)
        return k.prefill_s(L, P)
    L = _tokens(new_tokens, "new_tokens", 0)
    P = _tokens(cached_tokens, "cached_tokens", 0)
    t_compute = k.a0 * L + k.a1 * (L * P + L * (L + 1.0) / 2.0)
    t_memory = k.b0 + k.b1 * (P + L)
    return as_output(np.where(L > 0, np.maximum(t_compute, t_memory), 0.0))


def decode_time_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    context_tokens: object,
    output_tokens: object,
    precision: str = "fp16",
) -> np.ndarray | float:
    """Seconds to generate ``output_tokens`` after a context of ``context_tokens`` (batch 1).

    Sum over c = C .. C+O-1 of max(a0 + a1 c, b0 + b1 c), in closed form (module docstring).
    """
    k = roofline_coefficients(model, hw, precision)
    if isinstance(context_tokens, SCALARS) and isinstance(output_tokens, SCALARS):
        C = _scalar_tokens(context_tokens, "context_tokens", 0)
        O = _scalar_tokens(output_tokens, "output_tokens", 0)  # noqa: E741
        return k.decode_s(C, O)
    C = _tokens(context_tokens, "context_tokens", 0)
    O = _tokens(output_tokens, "output_tokens", 0)  # noqa: E741
    return as_output(_sum_max_affine(k.a0, k.a1, k.b0, k.b1, C, O))


def _series(c0: np.ndarray, n: np.ndarray, k0: float, k1: float) -> np.ndarray:
    """sum_{c=c0}^{c0+n-1} (k0 + k1 c) for n >= 0."""
    return n * k0 + k1 * (n * c0 + n * (n - 1.0) / 2.0)


def _sum_max_affine(
    a0: float, a1: float, b0: float, b1: float, C: np.ndarray, O: np.ndarray,  # noqa: E741
) -> np.ndarray:  # fmt: skip
    """sum_{c=C}^{C+O-1} max(a0 + a1 c, b0 + b1 c), exactly, for integer C, O >= 0."""
    d0, d1 = a0 - b0, a1 - b1  # line a minus line b: d0 + d1 c
    end = C + O
    if d1 == 0.0:
        return _series(C, O, a0, a1) if d0 >= 0 else _series(C, O, b0, b1)
    # first integer c where the sign of (d0 + d1 c) changes
    cross = math.ceil(-d0 / d1)
    split = np.clip(cross, C, end)
    first, second = split - C, end - split
    if d1 > 0:  # b dominates before the crossover, a after
        return _series(C, first, b0, b1) + _series(split, second, a0, a1)
    return _series(C, first, a0, a1) + _series(split, second, b0, b1)


def decode_tokens_per_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    precision: str = "fp16",
    context_tokens: int = 128,
    output_tokens: int = 128,
) -> float:
    """Mean decode speed (tokens/s) over ``output_tokens`` tokens after ``context_tokens``."""
    t = decode_time_s(model, hw, context_tokens, output_tokens, precision)
    return float(output_tokens / t)
