"""An event-driven simulator of one edge server shared by many users (continuous batching).

OUR model, modelled, not measured (its iteration law and limits are
:mod:`cost_models.batching`, its parameters cited there; checked against TensorRT-LLM's
published throughput in ``tests/test_edge_server.py``). What it simulates, per
:class:`cost_models.batching.ServerSpec`:

* requests arrive (the agent's, via :meth:`EdgeServer.submit`, and other users', from a
  :class:`cost_models.edge_traffic.BackgroundTraffic` stream) and queue first come, first
  served;
* at each iteration boundary the head of the queue is admitted while fewer than
  ``max_num_seqs`` sequences run and the KV pool can hold its whole context and output
  (TensorRT-LLM ``GUARANTEED_NO_EVICT``: never preempted once admitted);
* each iteration schedules every decoding sequence first (one token each), then prefill
  chunks of admitted requests in admission order with the rest of the
  ``max_num_batched_tokens`` budget (vLLM V1 / Sarathi-Serve stall-free chunked prefill);
  its time is the batched roofline ``batching.iteration_time_s``;
* a request prefills its ``new_tokens`` after its ``cached_tokens`` (prefix cache), then
  decodes ``output_tokens`` tokens, one per iteration (the batch-1 convention of
  ``cost_models.router_cost``: alone on the server, a request takes exactly
  ``prefill_time_s + decode_time_s``), then leaves and frees its KV.

Runs of pure-decode iterations with a fixed batch are jumped in closed form
(``batching.decode_run_s``) up to the next event (a sequence finishing, or an arrival that
could be admitted), so the cost is a few events per request, not one per token.

Time. The committed state advances with :meth:`EdgeServer.advance_to`. The latency of a
request is found by :meth:`EdgeServer.lookahead` (or :meth:`EdgeServer.what_if`): a copy of
the server runs forward, with the background requests that will arrive, until it finishes.
Agent requests submitted LATER are not in that copy: their arrival can still slow an earlier
request's remaining decode iterations (never its admission: FCFS). With one agent request in
flight at a time (multi-turn: the next turn follows the answer) the look-ahead is exact.
"""

from __future__ import annotations

import bisect
import heapq
import math

from cost_models.batching import (
    ServerSpec,
    decode_iterations_within,
    decode_run_s,
    iteration_time_float_s,
)
from cost_models.edge_records import LoadSample, RequestTiming
from cost_models.edge_records import Request as _Request
from cost_models.edge_traffic import BackgroundTraffic
from cost_models.errors import EdgeRouteError, require

#: User id of background requests (the agent's users are 0, 1, ...).
BACKGROUND_USER = -1


class EdgeServer:
    """The shared server's state and its event loop (see the module docstring).

    ``background``: other users' traffic (None: only submitted requests). ``sample_period_s``:
    if set, the state is sampled at every multiple of it (what a periodic load beacon reads),
    into :attr:`samples`. ``record``: keep every finished request's timing in
    :attr:`completed` (statistics; off in environments).
    """

    def __init__(
        self,
        spec: ServerSpec,
        background: BackgroundTraffic | None = None,
        sample_period_s: float | None = None,
        record: bool = False,
    ) -> None:
        require(sample_period_s is None or sample_period_s > 0,
                f"sample_period_s must be > 0, got {sample_period_s!r}")
        self.spec = spec
        self.coef = spec.coefficients
        self.kv_capacity = spec.kv_capacity_tokens
        self.background = None if background is None or background.empty else background
        self.now_s = 0.0
        self.waiting: list[_Request] = []  # ordered by arrival
        self.prefilling: list[_Request] = []  # admitted, prefilling, in admission order
        self._decoding: list[tuple[int, int, _Request]] = []  # heap of (finish_clock, seq, r)
        self.clock = 0  # decode iterations run so far
        self.n_decoding = 0
        self._base_sum = 0  # sum of r.base over decoding requests: contexts = it + n x clock
        self._seq = 0
        self.kv_reserved = 0
        self._pending: list[_Request] = []  # submitted, arriving later (ordered by arrival)
        self._bg_chunk, self._bg_index = 0, 0
        self._next_bg_s = self._bg_head_s()
        self._next_rid = 0
        self.timings: dict[int, RequestTiming] = {}  # finished submitted requests
        self.record = record
        self.completed: list[RequestTiming] = []
        self.sample_period_s = sample_period_s
        self.samples: list[LoadSample] = []
        self._next_sample_s = 0.0 if sample_period_s else math.inf
        self._forked = False

    # ------------------------------------------------------------------ state

    def load_sample(self) -> LoadSample:
        """The state now (at the last iteration boundary)."""
        return LoadSample(self.now_s, self.n_running, len(self.waiting) + self._arrived(),
                          self.kv_reserved, self.kv_capacity, self.spec.max_num_seqs)  # fmt: skip

    @property
    def n_running(self) -> int:
        """Admitted sequences: prefilling or decoding."""
        return len(self.prefilling) + self.n_decoding

    def _arrived(self) -> int:
        """Submitted requests whose arrival time has passed but not yet enqueued."""
        return sum(1 for r in self._pending if r.arrival_s <= self.now_s)

    # ------------------------------------------------------------------ requests

    def submit(
        self,
        arrival_s: float,
        new_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        user: int = 0,
    ) -> int:
        """Queue a request reaching the server at ``arrival_s``; returns its id.

        A request arriving before the current boundary arrived during the running iteration
        and is considered at this boundary (exact: the iteration began before it arrived).
        """
        require(math.isfinite(arrival_s) and arrival_s >= 0,
                f"arrival_s must be finite and >= 0, got {arrival_s!r}")
        require(int(new_tokens) >= 0 and int(cached_tokens) >= 0,
                "new_tokens and cached_tokens must be >= 0")
        require(int(output_tokens) >= 1, f"output_tokens must be >= 1, got {output_tokens!r}")
        req = _Request(self._next_rid, int(user), float(arrival_s), int(new_tokens),
                       int(cached_tokens), int(output_tokens))  # fmt: skip
        if req.reserve > self.kv_capacity:
            raise EdgeRouteError(
                f"a request of {req.reserve} tokens (context + output) can never fit the KV "
                f"pool of {self.kv_capacity} tokens of {self.spec.model} on {self.spec.hardware}"
            )
        self._next_rid += 1
        arrivals = [r.arrival_s for r in self._pending]
        self._pending.insert(bisect.bisect_right(arrivals, req.arrival_s), req)
        return req.rid

    def advance_to(self, t_s: float) -> None:
        """Run the server until the first iteration boundary at or after ``t_s``."""
        require(math.isfinite(t_s), f"t_s must be finite, got {t_s!r}")
        self._run(t_s, None)

    def lookahead(self, rid: int) -> RequestTiming:
        """Timing of submitted request ``rid``: from a copy run until it finishes (module
        docstring: later submissions are not in the copy). The committed state is unchanged."""
        if rid in self.timings:
            return self.timings[rid]
        if not any(r.rid == rid for r in self._all_requests()):
            raise EdgeRouteError(f"no submitted request with id {rid!r}")
        sim = self._fork()
        sim._run(math.inf, rid)
        return sim.timings[rid]

    def lookahead_many(self, rids: list[int]) -> dict[int, RequestTiming]:
        """Timings of several submitted requests from ONE copy run until all have finished."""
        out = {rid: self.timings[rid] for rid in rids if rid in self.timings}
        rest = [rid for rid in rids if rid not in out]
        if rest:
            sim = self._fork()
            for rid in rest:
                if rid not in sim.timings:
                    sim._run(math.inf, rid)
                out[rid] = sim.timings[rid]
        return out

    def what_if(
        self, arrival_s: float, new_tokens: int, output_tokens: int, cached_tokens: int = 0,
        user: int = 0,
    ) -> RequestTiming:  # fmt: skip
        """Timing a request would have if submitted now (the committed state is unchanged)."""
        sim = self._fork()
        rid = sim.submit(arrival_s, new_tokens, output_tokens, cached_tokens, user)
        sim._run(math.inf, rid)
        return sim.timings[rid]

    # ------------------------------------------------------------------ internals

    def _all_requests(self) -> list[_Request]:
        return (self.prefilling + [e[2] for e in self._decoding] + self.waiting
                + self._pending)  # fmt: skip

    def _fork(self) -> EdgeServer:
        """A copy to run ahead. Prefilling requests are copied (each chunk mutates them);
        decoding ones are never written again and queued ones are copied only when the copy
        admits them (copy on write: a long queue or a large batch costs little to fork)."""
        sim = EdgeServer.__new__(EdgeServer)
        sim.__dict__.update(self.__dict__)
        sim.prefilling = [r.copy() for r in self.prefilling]
        sim._decoding = list(self._decoding)
        sim.waiting = list(self.waiting)
        sim._pending = list(self._pending)
        sim.timings = dict(self.timings)
        sim.record, sim.completed = False, []
        sim._next_sample_s, sim.samples = math.inf, []
        sim._forked = True
        return sim

    def _next_arrival_s(self) -> float:
        nxt = self._pending[0].arrival_s if self._pending else math.inf
        bg = self._next_bg_s
        return bg if bg < nxt else nxt

    def _bg_head_s(self) -> float:
        """Arrival time of the next background request (inf when the stream has ended)."""
        bg = self.background
        if bg is None:
            return math.inf
        while True:
            times = bg.chunk(self._bg_chunk)[0]
            if self._bg_index < len(times):
                return times[self._bg_index]
            if not times:
                return math.inf  # a non-looping trace is exhausted
            self._bg_chunk, self._bg_index = self._bg_chunk + 1, 0

    def _enqueue_arrivals(self) -> None:
        """Move every request that has arrived by now into the waiting queue, in arrival order
        (background requests are routed here: only those sent to the edge are queued)."""
        now = self.now_s
        if self._next_bg_s > now and not (self._pending and self._pending[0].arrival_s <= now):
            return  # nothing has arrived since the last boundary (the common case)
        arrived: list[_Request] = []
        while self._pending and self._pending[0].arrival_s <= now:
            arrived.append(self._pending.pop(0))
        bg = self.background
        if bg is not None and self._next_bg_s <= now:
            routing = bg.routing
            while True:
                times, prompts, outputs, uniforms = bg.chunk(self._bg_chunk)
                i = self._bg_index
                if i >= len(times):
                    if not times:
                        break  # a non-looping trace is exhausted
                    self._bg_chunk, self._bg_index = self._bg_chunk + 1, 0
                    continue
                if times[i] > now:
                    break
                self._bg_index = i + 1
                if routing.routes_to_edge(uniforms[i], len(self.waiting)):
                    req = _Request(-1, BACKGROUND_USER, times[i], prompts[i], 0, outputs[i])
                    if req.reserve <= self.kv_capacity:
                        arrived.append(req)
            self._next_bg_s = self._bg_head_s()
        if arrived:
            arrived.sort(key=lambda r: r.arrival_s)
            if self.waiting and arrived[0].arrival_s < self.waiting[-1].arrival_s:
                merged = self.waiting + arrived
                merged.sort(key=lambda r: r.arrival_s)
                self.waiting = merged
            else:
                self.waiting.extend(arrived)

    def _admit(self) -> bool:
        """Admit from the head of the queue (FCFS); True if a request is left waiting."""
        waiting = self.waiting
        if not waiting:
            return False
        max_seqs, cap = self.spec.max_num_seqs, self.kv_capacity
        forked = self._forked
        n = 0
        while n < len(waiting):
            req = waiting[n]
            if self.n_running >= max_seqs or self.kv_reserved + req.reserve > cap:
                break
            if forked:
                req = req.copy()  # shared with the committed state: copy on write
            req.admit_s = self.now_s
            self.kv_reserved += req.reserve
            if req.prefill_left == 0:  # everything cached: decodes from the next iteration
                req.prefill_done_s = self.now_s
                self._join(req)
            else:
                self.prefilling.append(req)
            n += 1
        if n:
            del waiting[:n]
        return bool(waiting)

    def _join(self, req: _Request) -> None:
        """``req`` starts decoding at the next iteration (its context now is ``req.ctx``)."""
        req.base = req.ctx - self.clock
        req.finish_clock = self.clock + req.output
        heapq.heappush(self._decoding, (req.finish_clock, self._seq, req))
        self._seq += 1
        self.n_decoding += 1
        self._base_sum += req.base

    def _retire(self) -> None:
        """Remove the sequences whose last token came out of this iteration."""
        heap, clock = self._decoding, self.clock
        if not heap or heap[0][0] > clock:
            return
        while heap and heap[0][0] <= clock:
            r = heapq.heappop(heap)[2]
            self.n_decoding -= 1
            self._base_sum -= r.base
            self.kv_reserved -= r.reserve
            if r.user != BACKGROUND_USER or self.record:
                timing = RequestTiming(r.rid, r.arrival_s, r.admit_s, r.prefill_done_s,
                                       self.now_s, self.load_sample())  # fmt: skip
                if r.user != BACKGROUND_USER:
                    self.timings[r.rid] = timing
                if self.record:
                    self.completed.append(timing)

    def _sample(self) -> None:
        """Record the state held since the last boundary at every sample time passed."""
        if self._next_sample_s >= self.now_s:
            return
        state = (self.n_running, len(self.waiting), self.kv_reserved)
        period = self.sample_period_s
        while self._next_sample_s < self.now_s:
            t = self._next_sample_s
            self.samples.append(LoadSample(t, *state, self.kv_capacity, self.spec.max_num_seqs))
            self._next_sample_s = t + period

    def _run(self, until_s: float, target: int | None) -> None:
        """Advance to the first boundary at or after ``until_s`` or, with a ``target`` id,
        until that submitted request has finished."""
        coef, ov = self.coef, self.spec.iteration_overhead_s
        budget = self.spec.max_num_batched_tokens
        timings = self.timings
        while True:
            if target is not None:
                if target in timings:
                    return
            elif self.now_s >= until_s:
                return
            self._enqueue_arrivals()
            blocked = self._admit()
            n_dec = self.n_decoding
            prefilling = self.prefilling
            if not n_dec and not prefilling:
                nxt = self._next_arrival_s()
                if target is None:
                    nxt = min(nxt, until_s)
                if nxt == math.inf:
                    raise EdgeRouteError("the server is idle and nothing more will arrive")
                self.now_s = max(self.now_s, nxt)
                self._sample()
                continue
            ctx_sum = self._base_sum + n_dec * self.clock
            if prefilling:
                # One mixed iteration: decodes first, then prefill chunks within the budget.
                left = budget - n_dec
                attn = kv = float(ctx_sum)
                tokens = n_dec
                chunks: list[tuple[_Request, int]] = []
                for r in prefilling:
                    if left <= 0:
                        break
                    L = r.prefill_left if r.prefill_left < left else left
                    left -= L
                    attn += L * r.ctx + L * (L + 1) / 2.0
                    kv += r.ctx + L
                    tokens += L
                    chunks.append((r, L))
                self.now_s += iteration_time_float_s(coef, tokens, attn, kv, ov)
                self.clock += 1
                done = False
                for r, L in chunks:
                    r.ctx += L
                    r.prefill_left -= L
                    if r.prefill_left == 0:
                        r.prefill_done_s = self.now_s
                        done = True
                if done:
                    self.prefilling = [r for r in prefilling if r.prefill_left > 0]
                    for r, _ in chunks:
                        if r.prefill_left == 0:
                            self._join(r)
            else:
                # A run of pure-decode iterations up to the next event, in closed form.
                n_max = self._decoding[0][0] - self.clock
                horizon = math.inf if blocked else self._next_arrival_s() - self.now_s
                if target is None:
                    horizon = min(horizon, until_s - self.now_s)
                n = n_max
                if horizon < math.inf:
                    n = decode_iterations_within(coef, n_dec, ctx_sum, horizon, n_max, ov)
                self.now_s += decode_run_s(coef, n_dec, ctx_sum, n, ov)
                self.clock += n
            self._sample()
            self._retire()
