"""Batched roofline of one continuous-batching iteration: consistency with batch 1, growth with
the batch, the closed form of a decode run, and the engine limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cost_models.batching import (
    ServerSpec,
    decode_iterations_within,
    decode_run_s,
    decode_step_s,
    iteration_time_s,
)
from cost_models.errors import EdgeRouteError
from cost_models.roofline import decode_time_s, prefill_time_s, roofline_coefficients

SPEC = ServerSpec("llama-3.1-70b", "h100_sxm", "fp8")


def test_batch_of_one_is_the_batch_one_roofline() -> None:
    coef = SPEC.coefficients
    # one decoding sequence at context 500: the compute module's decode step
    assert decode_step_s(coef, 1, 500) == pytest.approx(
        decode_time_s("llama-3.1-70b", "h100_sxm", 500, 1, "fp8"), rel=1e-12
    )
    # one prefill chunk of 300 after 200 cached: the compute module's prefill
    L, P = 300, 200
    t = iteration_time_s(coef, L, L * P + L * (L + 1) / 2, P + L)
    assert t == pytest.approx(prefill_time_s("llama-3.1-70b", "h100_sxm", L, P, "fp8"), rel=1e-12)


def test_per_token_decode_time_grows_with_concurrent_sequences() -> None:
    coef = SPEC.coefficients
    ctx = 400
    itl = np.array([decode_step_s(coef, b, b * ctx) for b in (1, 16, 64, 256)])
    # 70.6 GB of FP8 weights at 0.75 x 3.35 TB/s: 28.1 ms alone
    assert itl[0] == pytest.approx(70.6e9 / (0.75 * 3.35e12), rel=0.01)
    assert np.all(np.diff(itl) > 0)
    # 256 sequences of 400 tokens: the 102,400 tokens x 160 KiB of KV are read too (memory
    # still dominates the 30.4 ms of FP8 matmuls): 34.8 ms, 1.24x, for 256x the tokens
    assert itl[3] == pytest.approx((70.6e9 + 256 * 400 * 163_840) / (0.75 * 3.35e12), rel=0.01)
    assert itl[3] / itl[0] == pytest.approx(1.24, abs=0.01)
    # at 1024 sequences the FP8 matmuls dominate: 2 x 70.6e9 x 1024 / (0.6 x 1979e12)
    assert decode_step_s(coef, 1024, 1024 * ctx) == pytest.approx(
        2 * 70.6e9 * 1024 / (0.6 * 1979e12), rel=0.02
    )
    # vectorised form equals the scalar one
    vec = decode_step_s(coef, np.array([1, 16, 64, 256]), np.array([1, 16, 64, 256]) * ctx)
    np.testing.assert_allclose(vec, itl, rtol=1e-12)


@pytest.mark.parametrize("batch", [1, 7, 64, 300, 1024])
@pytest.mark.parametrize("ctx", [0, 50, 900, 6000])
def test_decode_run_closed_form_equals_the_loop(batch: int, ctx: int) -> None:
    coef = SPEC.coefficients
    S = batch * ctx
    for n in (0, 1, 2, 17, 400):
        loop = sum(decode_step_s(coef, batch, S + batch * k, 0.001) for k in range(n))
        assert decode_run_s(coef, batch, S, n, 0.001) == pytest.approx(loop, rel=1e-10, abs=0)


def test_decode_run_crosses_from_memory_to_compute_bound() -> None:
    coef = roofline_coefficients("llama-3.1-8b", "h100_sxm", "fp8")
    # 800 sequences: the first iterations are memory-bound, the later ones (longer contexts)
    # compute-bound through the attention term; the closed form must follow the switch
    batch, S, n = 800, 800 * 10, 3000
    steps = [decode_step_s(coef, batch, S + batch * k) for k in range(n)]
    assert decode_run_s(coef, batch, S, n) == pytest.approx(sum(steps), rel=1e-10)


def test_iterations_within_is_the_first_boundary_at_or_after_the_horizon() -> None:
    coef = SPEC.coefficients
    B, S = 20, 20 * 300
    for horizon in (0.0, 0.001, 0.05, 0.5, 3.0):
        n = decode_iterations_within(coef, B, S, horizon, 1000)
        assert decode_run_s(coef, B, S, n) >= horizon or n == 1000
        assert n == 1 or decode_run_s(coef, B, S, n - 1) < horizon
    assert decode_iterations_within(coef, B, S, 1e9, 37) == 37


def test_server_spec_defaults_and_kv_capacity() -> None:
    # vLLM's H100 OpenAI-server defaults
    assert (SPEC.max_num_seqs, SPEC.max_num_batched_tokens) == (1024, 8192)
    # 0.9 x (80 GB - 70.6 GB of FP8 weights) / (2 x 80 layers x 8 heads x 128 x 1 B)
    assert SPEC.kv_capacity_tokens == math.floor(0.9 * (80e9 - 70.6e9) / 163_840)


@pytest.mark.parametrize(
    "change, word",
    [({"max_num_seqs": 0}, "max_num_seqs"), ({"max_num_batched_tokens": 8},
     "max_num_batched_tokens"), ({"kv_cache_fraction": 1.5}, "kv_cache_fraction"),
     ({"iteration_overhead_s": -1.0}, "iteration_overhead_s"), ({"hardware": "nope"}, "nope")],
)  # fmt: skip
def test_server_spec_rejects_bad_values(change: dict, word: str) -> None:
    kwargs = {"model": "llama-3.1-70b", "hardware": "h100_sxm", "precision": "fp8", **change}
    with pytest.raises(EdgeRouteError, match=word):
        ServerSpec(**kwargs)
