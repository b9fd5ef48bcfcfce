"""One iteration of a continuous-batching LLM server, by roofline: its time and its limits.

OUR model (modelled, not measured): the batched form of the roofline in
:mod:`cost_models.roofline`. A continuous-batching engine (Orca, Yu et al., OSDI 2022:
iteration-level scheduling; vLLM, Kwon et al., SOSP 2023) runs one forward pass per iteration
over every scheduled sequence: each decoding sequence contributes one token after its context
``c_i``, each prefilling sequence a chunk of ``L_j`` new tokens after ``P_j`` already in its
cache (chunked prefill, Agrawal et al., "Sarathi-Serve", OSDI 2024). With the per-token
coefficients ``a0 = 2 N / (F eta_f)``, ``a1 = 4 n_layers n_heads head_dim / (F eta_f)``,
``b0 = W / (B eta_m)``, ``b1 = kv_bytes_per_token / (B eta_m)`` of
:class:`cost_models.roofline.RooflineCoefficients`::

    tokens  = n_decode + sum_j L_j
    attn    = sum_i c_i + sum_j (L_j P_j + L_j (L_j + 1) / 2)
    kv_read = sum_i c_i + sum_j (P_j + L_j)
    t_iter  = max(a0 tokens + a1 attn, b0 + b1 kv_read) + overhead

The weights are read once per iteration for the whole batch (that is why batching pays), the
KV cache of every scheduled sequence is read once, and the matmul FLOPs grow with the tokens.
A batch of one decoding sequence is exactly the batch-1 decode step of ``compute``, one
prefill chunk alone exactly ``roofline.prefill_time_s``. So the per-token decode time grows with
the number of concurrent sequences (their KV reads, then their FLOPs once compute-bound).

A run of ``n`` pure-decode iterations of a fixed batch of ``B`` sequences whose contexts sum
to ``S`` has, at iteration ``k``, ``attn = kv_read = S + B k``: both arguments of the max are
affine in ``k``, so the sum over the run has the closed form of :func:`decode_run_s` (the
event-driven simulator :mod:`cost_models.edge_server` jumps over such runs instead of
stepping them).

Limits of the engine (:class:`ServerSpec`): at most ``max_num_seqs`` sequences, at most
``max_num_batched_tokens`` tokens per iteration, and a KV pool of
``kv_cache_fraction x (memory - weights)`` bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cost_models.catalogue import (
    check_fits,
    get_hardware,
    get_model,
    get_precision,
    kv_bytes_per_token,
    weight_bytes,
)
from cost_models.errors import require
from cost_models.roofline import RooflineCoefficients, roofline_coefficients

#: vLLM's defaults for the OpenAI-compatible server on a >= 70 GiB GPU other than A100 (H100,
#: MI300X): ``max_num_seqs = 1024``, ``max_num_batched_tokens = 8192``
#: (vllm/engine/arg_utils.py, ``EngineArgs.get_batch_defaults``; A100 and smaller GPUs get
#: 256 and 2048). TensorRT-LLM's default ``max_num_tokens`` is also 8192.
VLLM_MAX_NUM_SEQS = 1024
VLLM_MAX_NUM_BATCHED_TOKENS = 8192
#: Share of the GPU memory left after the weights that the engine gives to the KV pool:
#: TensorRT-LLM ``kv_cache_free_gpu_mem_fraction`` default 0.90 (its perf-overview raises it to
#: 0.95 for the published tables); vLLM's ``gpu_memory_utilization`` default is also 0.9 (of
#: the whole memory). Activation workspace is not modelled separately.
KV_CACHE_FRACTION = 0.9


@dataclass(frozen=True)
class ServerSpec:
    """A continuous-batching engine on one accelerator (our model; defaults cited above).

    Scheduling (what :mod:`cost_models.edge_server` simulates): decode-first chunked prefill,
    the vLLM V1 scheduler's order (``vllm/v1/core/sched/scheduler.py``: running requests are
    scheduled first, then waiting ones with the remaining token budget) and Sarathi-Serve's
    "stall-free batching": ongoing decodes are never paused for a prefill, prefills fill the
    rest of the ``max_num_batched_tokens`` budget in chunks. Admission is TensorRT-LLM's
    default capacity policy ``GUARANTEED_NO_EVICT``: a request is admitted (first come, first
    served) only if the KV pool can hold its whole context plus all its output tokens and
    fewer than ``max_num_seqs`` sequences run, so an admitted request is never preempted;
    otherwise it queues.

    ``iteration_overhead_s``: fixed CPU time per iteration (scheduling, sampling) not hidden
    behind the GPU; 0 by default (vLLM v0.6 overlaps it with the GPU by multi-step scheduling
    and asynchronous output processing, blog.vllm.ai 2024-09-05).
    """

    model: str
    hardware: str
    precision: str = "fp16"
    max_num_seqs: int = VLLM_MAX_NUM_SEQS
    max_num_batched_tokens: int = VLLM_MAX_NUM_BATCHED_TOKENS
    kv_cache_fraction: float = KV_CACHE_FRACTION
    iteration_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        m, h = get_model(self.model), get_hardware(self.hardware)
        get_precision(self.precision)
        check_fits(m, h, self.precision)
        require(
            isinstance(self.max_num_seqs, int) and self.max_num_seqs >= 1,
            f"max_num_seqs must be an integer >= 1, got {self.max_num_seqs!r}",
        )
        require(
            isinstance(self.max_num_batched_tokens, int) and self.max_num_batched_tokens >= 1,
            f"max_num_batched_tokens must be an integer >= 1, got "
            f"{self.max_num_batched_tokens!r}",
        )
        require(
            self.max_num_batched_tokens >= self.max_num_seqs,
            f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be >= max_num_seqs "
            f"({self.max_num_seqs}) so that every running sequence can decode each iteration "
            "(vLLM rejects such a config too)",
        )
        require(
            0.0 < self.kv_cache_fraction <= 1.0,
            f"kv_cache_fraction must be in (0, 1], got {self.kv_cache_fraction!r}",
        )
        require(
            math.isfinite(self.iteration_overhead_s) and self.iteration_overhead_s >= 0.0,
            f"iteration_overhead_s must be finite and >= 0, got {self.iteration_overhead_s!r}",
        )
        require(
            self.kv_capacity_tokens >= 1,
            f"{self.model} in {self.precision} on {self.hardware} leaves no KV memory",
        )

    @cached_property
    def coefficients(self) -> RooflineCoefficients:
        """The per-token roofline coefficients of (model, hardware, precision)."""
        return roofline_coefficients(self.model, self.hardware, self.precision)

    @cached_property
    def kv_bytes_per_token(self) -> int:
        return kv_bytes_per_token(self.model, self.precision)

    @cached_property
    def kv_capacity_tokens(self) -> int:
        """Tokens the KV pool holds: ``fraction x (memory - stored weights) / bytes per token``."""
        free = get_hardware(self.hardware).memory_bytes - weight_bytes(
            get_model(self.model), self.precision, active=False
        )
        return int(self.kv_cache_fraction * free // self.kv_bytes_per_token)


def iteration_time_s(
    coef: RooflineCoefficients,
    tokens: object,
    attention_context: object,
    kv_read_tokens: object,
    overhead_s: float = 0.0,
) -> np.ndarray | float:
    """Seconds of one engine iteration (module docstring), vectorised over the three sums.

    ``tokens``: tokens processed (one per decoding sequence plus every prefill chunk);
    ``attention_context``: sum over those tokens of the context each attends to;
    ``kv_read_tokens``: KV-cache tokens read. Scalars take :func:`iteration_time_float_s`.
    """
    if all(isinstance(x, (int, float)) for x in (tokens, attention_context, kv_read_tokens)):
        return iteration_time_float_s(
            coef, float(tokens), float(attention_context), float(kv_read_tokens), overhead_s
        )
    n = np.asarray(tokens, dtype=np.float64)
    a = np.asarray(attention_context, dtype=np.float64)
    r = np.asarray(kv_read_tokens, dtype=np.float64)
    t = np.maximum(coef.a0 * n + coef.a1 * a, coef.b0 + coef.b1 * r) + overhead_s
    return float(t) if t.ndim == 0 else t


def iteration_time_float_s(
    coef: RooflineCoefficients,
    tokens: float,
    attention_context: float,
    kv_read_tokens: float,
    overhead_s: float = 0.0,
) -> float:
    """:func:`iteration_time_s` on floats without checks (the simulator's inner loop)."""
    t_c = coef.a0 * tokens + coef.a1 * attention_context
    t_m = coef.b0 + coef.b1 * kv_read_tokens
    return (t_c if t_c > t_m else t_m) + overhead_s


def decode_step_s(
    coef: RooflineCoefficients, batch: object, context_sum: object, overhead_s: float = 0.0
) -> np.ndarray | float:
    """One pure-decode iteration of ``batch`` sequences whose contexts sum to ``context_sum``
    (the inter-token latency every one of them sees); vectorised."""
    return iteration_time_s(coef, batch, context_sum, context_sum, overhead_s)


def _affine_sum(n: float, k0: float, k1: float) -> float:
    """sum_{k=0}^{n-1} (k0 + k1 k)."""
    return n * k0 + k1 * n * (n - 1.0) / 2.0


def decode_run_s(
    coef: RooflineCoefficients,
    batch: float,
    context_sum: float,
    iterations: float,
    overhead_s: float = 0.0,
) -> float:
    """Seconds of ``iterations`` pure-decode iterations of a fixed batch, in closed form.

    Iteration ``k`` costs ``max(a0 B + a1 (S + B k), b0 + b1 (S + B k)) + overhead``; the two
    lines cross at most once, so the sum splits there into two arithmetic series. Floats only
    (the event-driven simulator's hot path); ``iterations >= 0``.
    """
    n = iterations
    if n <= 0:
        return 0.0
    B, S = batch, context_sum
    # compute line c0 + c1 k, memory line m0 + m1 k
    c0, c1 = coef.a0 * B + coef.a1 * S, coef.a1 * B
    m0, m1 = coef.b0 + coef.b1 * S, coef.b1 * B
    d0, d1 = c0 - m0, c1 - m1  # compute minus memory: d0 + d1 k
    if d1 == 0.0:
        split, compute_first = n, d0 >= 0.0
    else:
        # first integer k at which the sign of d0 + d1 k changes (as roofline._sum_max_affine)
        split = min(max(float(math.ceil(-d0 / d1)), 0.0), n)
        compute_first = d1 < 0.0  # decreasing difference: compute dominates first
    if compute_first:
        head = _affine_sum(split, c0, c1)
        tail = _affine_sum(n - split, m0 + m1 * split, m1)
    else:
        head = _affine_sum(split, m0, m1)
        tail = _affine_sum(n - split, c0 + c1 * split, c1)
    return head + tail + n * overhead_s


def decode_iterations_within(
    coef: RooflineCoefficients,
    batch: float,
    context_sum: float,
    horizon_s: float,
    max_iterations: int,
    overhead_s: float = 0.0,
) -> int:
    """The smallest ``n`` in ``[1, max_iterations]`` whose run ends at or after ``horizon_s``
    (``max_iterations`` if even that run ends earlier): the iteration boundary at which an
    event at ``horizon_s`` is first seen. Bisection on :func:`decode_run_s` (monotone in n)."""
    if max_iterations <= 1 or decode_run_s(coef, batch, context_sum, 1, overhead_s) >= horizon_s:
        return 1 if max_iterations >= 1 else 0
    if decode_run_s(coef, batch, context_sum, max_iterations, overhead_s) < horizon_s:
        return max_iterations
    lo, hi = 1, max_iterations  # run(lo) < horizon <= run(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if decode_run_s(coef, batch, context_sum, mid, overhead_s) >= horizon_s:
            hi = mid
        else:
            lo = mid
    return hi
