"""The records of the shared edge-server simulator (:mod:`cost_models.edge_server`): what a
load report says (:class:`LoadSample`), when a request's phases ended (:class:`RequestTiming`),
and a request's progress inside the simulator (:class:`Request`). Kept apart so the
simulator module holds only the event loop."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadSample:
    """The server's state as its metrics endpoint reports it (vLLM ``/metrics``:
    ``num_requests_running``, ``num_requests_waiting``, ``kv_cache_usage_perc``)."""

    time_s: float
    running: int
    waiting: int
    kv_used_tokens: int
    kv_capacity_tokens: int
    max_num_seqs: int

    @property
    def kv_usage(self) -> float:
        """Fraction of the KV pool reserved, in [0, 1]."""
        return self.kv_used_tokens / self.kv_capacity_tokens

    @property
    def batch_fill(self) -> float:
        """Running sequences over ``max_num_seqs``, in [0, 1]."""
        return self.running / self.max_num_seqs

    def as_dict(self) -> dict[str, float]:
        return {"time_s": self.time_s, "running": float(self.running),
                "waiting": float(self.waiting), "kv_usage": self.kv_usage,
                "batch_fill": self.batch_fill}  # fmt: skip


@dataclass(frozen=True)
class RequestTiming:
    """When one request arrived, was admitted, finished its prefill and its last token."""

    rid: int
    arrival_s: float
    admit_s: float
    prefill_done_s: float
    finish_s: float
    report: LoadSample  # the server's state when the answer left (sent with it)

    @property
    def queue_s(self) -> float:
        return self.admit_s - self.arrival_s

    @property
    def prefill_s(self) -> float:
        return self.prefill_done_s - self.admit_s

    @property
    def decode_s(self) -> float:
        return self.finish_s - self.prefill_done_s

    @property
    def total_s(self) -> float:
        return self.finish_s - self.arrival_s


class Request:
    """One request's progress (slotted: the simulator's inner loop touches it).

    While prefilling, ``ctx`` counts the tokens in its KV cache so far. Once decoding, its
    context is implicit: ``base + clock`` at the server's decode clock (one tick per
    iteration), and it finishes when the clock reaches ``finish_clock``; a decoding request is
    never written again, so forks may share it.
    """

    __slots__ = ("rid", "user", "arrival_s", "prefill_left", "ctx", "output", "reserve",
                 "admit_s", "prefill_done_s", "base", "finish_clock")  # fmt: skip

    def __init__(self, rid: int, user: int, arrival_s: float, new_tokens: int,
                 cached_tokens: int, output_tokens: int) -> None:  # fmt: skip
        self.rid, self.user, self.arrival_s = rid, user, arrival_s
        self.prefill_left = new_tokens
        self.ctx = cached_tokens
        self.output = output_tokens
        self.reserve = cached_tokens + new_tokens + output_tokens
        self.admit_s = math.nan
        self.prefill_done_s = math.nan
        self.base = 0
        self.finish_clock = 0

    def copy(self) -> Request:
        r = Request.__new__(Request)
        for name in Request.__slots__:
            setattr(r, name, getattr(self, name))
        return r
