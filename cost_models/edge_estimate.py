"""The device's estimate of a shared edge server's latency from an observed load report.

OUR estimator (modelled): what a router on the phone can compute from the last load report
(``running`` sequences, ``waiting`` requests, ``kv_used_tokens`` of the KV pool; see
:mod:`cost_models.observability`) and the server's published configuration
(:class:`cost_models.batching.ServerSpec`), with the same batched roofline the simulator
uses, but not its hidden future:

* decode: ``output_tokens`` iterations at the inter-token latency of a batch of
  ``running + 1`` sequences whose contexts sum to the reserved KV (an upper bound of the
  context: reservations include future output) plus its own context;
* prefill: its chunks, each sharing an iteration with the ``running`` decodes;
* other users' prefills: arriving at ``running / service`` (Little's law), a Poisson
  number of prompts joins each iteration; the mean iteration over that number is the
  inter-token latency;
* queue: half an iteration if it is admitted at the next boundary; otherwise it waits for
  ``waiting`` (+1 if it does not fit now) finishes, which come at ``running`` per mean
  service time (``mean_output_tokens`` iterations): ``(waiting + 1) x service / running``.

It is exact for an idle server (the batch-1 roofline) and a heuristic under load;
``tests/test_edge_estimate.py`` measures how well it tracks the simulator.
"""

from __future__ import annotations

import math

from cost_models.batching import ServerSpec, decode_run_s, iteration_time_float_s
from cost_models.errors import require


def shared_edge_estimate(
    spec: ServerSpec,
    running: float,
    waiting: float,
    kv_used_tokens: float,
    new_tokens: float,
    output_tokens: float,
    cached_tokens: float = 0.0,
    mean_output_tokens: float | None = None,
    mean_prompt_tokens: float | None = None,
) -> dict[str, float]:
    """``{queue_s, prefill_s, decode_s, total_s}`` of one request given a load report."""
    require(running >= 0 and waiting >= 0 and kv_used_tokens >= 0,
            "running, waiting and kv_used_tokens must be >= 0")  # fmt: skip
    require(new_tokens >= 0 and output_tokens >= 1 and cached_tokens >= 0,
            "new_tokens and cached_tokens must be >= 0 and output_tokens >= 1")  # fmt: skip
    coef, ov = spec.coefficients, spec.iteration_overhead_s
    n_run = float(min(running, spec.max_num_seqs))
    S_others = float(kv_used_tokens)
    # prefill: chunks of at most (budget - running decodes) tokens, each with the decodes
    budget = max(spec.max_num_batched_tokens - n_run, 1.0)
    prefill, done = 0.0, 0.0
    ctx = float(cached_tokens)
    while done < new_tokens:
        L = min(budget, new_tokens - done)
        prefill += iteration_time_float_s(
            coef, n_run + L, S_others + L * ctx + L * (L + 1) / 2.0, S_others + ctx + L, ov
        )
        done += L
        ctx += L
    B = min(n_run + 1.0, float(spec.max_num_seqs))
    # Other users' prefills join the iterations: arrivals come at lambda = running / service
    # (Little's law), so an iteration of length t carries K ~ Poisson(lambda t) prompts of
    # mean_prompt_tokens; the mean iteration is E_K[t(K)] (the roofline's max is convex in
    # K: the mean of the max exceeds the max at the mean number).
    mean_out = output_tokens if mean_output_tokens is None else mean_output_tokens
    Lp = float(new_tokens if mean_prompt_tokens is None else mean_prompt_tokens)
    S = S_others + ctx
    itl0 = decode_run_s(coef, B, S, 1, ov)
    lam_t = n_run / max(mean_out, 1.0)  # arrivals per iteration: lambda x itl, itl cancels
    p_k, itl = math.exp(-lam_t), 0.0
    for k in range(12):
        L = k * Lp
        itl += p_k * iteration_time_float_s(coef, B + L, S + k * Lp * (Lp + 1) / 2.0, S + L, ov)
        p_k *= lam_t / (k + 1)
    itl += p_k * itl0  # the tail beyond 11 prompts (negligible at these rates)
    slow = itl / itl0
    decode = decode_run_s(coef, B, S, output_tokens, ov) * slow
    reserve = cached_tokens + new_tokens + output_tokens
    fits = n_run < spec.max_num_seqs and kv_used_tokens + reserve <= spec.kv_capacity_tokens
    queue = 0.5 * itl
    if waiting > 0 or not fits:
        service = mean_out * itl
        queue += (waiting + (0.0 if fits else 1.0)) * service / max(n_run, 1.0)
    total = queue + prefill + decode
    return {"queue_s": queue, "prefill_s": prefill, "decode_s": decode, "total_s": total}


def long_run_mean_report(samples: list) -> dict[str, float]:
    """The mean of load samples (``running``, ``waiting``, ``kv_used_tokens``): the
    load-blind estimate's input (one number per quantity for the whole run)."""
    require(len(samples) > 0, "need at least one load sample")
    n = float(len(samples))
    return {
        "running": sum(s.running for s in samples) / n,
        "waiting": sum(s.waiting for s in samples) / n,
        "kv_used_tokens": sum(s.kv_used_tokens for s in samples) / n,
    }


def report_from_fractions(spec: ServerSpec, batch_fill: float, waiting: float,
                          kv_usage: float) -> dict[str, float]:  # fmt: skip
    """A report's counts back from the normalised slots an observation carries."""
    return {
        "running": batch_fill * spec.max_num_seqs,
        "waiting": waiting,
        "kv_used_tokens": kv_usage * spec.kv_capacity_tokens,
    }

