"""The other users of a shared edge server: when their requests arrive, how large, where routed.

Modelled, not measured. Background users send requests as a Poisson process (the
superposition of ``n_users`` independent users, each at ``rate_per_user_hz``, is Poisson at
``n_users x rate_per_user_hz``; open loop: a user's next request does not wait for the
previous answer), or at given arrival times (trace-driven, e.g. a production arrival log).
Each request's size is resampled from given (prompt, output) token arrays (the replayed
benchmark's own rows), and a routing policy decides whether it goes to the edge at all (the
rest are served on the users' own devices and never load the server).

Common random numbers: arrivals, sizes and routing uniforms come in chunks, chunk ``k``
drawn from ``numpy.random.default_rng([seed, k])``, so the stream is a function of the seed
alone, whatever the caller's look-ahead, forks or slicing of time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cost_models.errors import lookup, require

#: Requests drawn per chunk of the background stream.
CHUNK_REQUESTS = 512


@dataclass(frozen=True)
class RoutingPolicy:
    """How a background user decides to offload a request (our model; all configurable).

    ``kind``:
      * ``"always"``: every request goes to the edge;
      * ``"share"``: each request goes to the edge with probability ``edge_share``;
      * ``"load_aware"``: with probability ``edge_share``, and only if the server's waiting
        queue holds at most ``max_waiting`` requests when the request arrives (other users'
        apps reading the server's load; they see it at the simulator's last iteration
        boundary, a modelling shortcut).
    """

    kind: str = "share"
    edge_share: float = 0.5
    max_waiting: int = 0

    def __post_init__(self) -> None:
        require(
            self.kind in ROUTING_KINDS,
            f"routing policy {self.kind!r} is unknown; allowed: {', '.join(ROUTING_KINDS)}",
        )
        require(
            0.0 <= self.edge_share <= 1.0, f"edge_share must be in [0, 1], got {self.edge_share!r}"
        )
        require(self.max_waiting >= 0, f"max_waiting must be >= 0, got {self.max_waiting!r}")

    def routes_to_edge(self, uniform: float, waiting: int) -> bool:
        """Whether a request with routing uniform ``uniform`` goes to the edge."""
        if self.kind == "always":
            return True
        if uniform >= self.edge_share:
            return False
        return self.kind == "share" or waiting <= self.max_waiting


ROUTING_KINDS: tuple[str, ...] = ("always", "share", "load_aware")

#: Named policies for configs and the CLI.
ROUTING_PRESETS: dict[str, RoutingPolicy] = {
    "always": RoutingPolicy("always", 1.0),
    "half": RoutingPolicy("share", 0.5),
    "load_aware": RoutingPolicy("load_aware", 0.5, 0),
}


def get_routing_policy(name: str | RoutingPolicy) -> RoutingPolicy:
    """The preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(ROUTING_PRESETS, name, "background routing policy")


class RateModulation:
    """A Markov-modulated Poisson rate: the total rate is ``rate_hz x m(t)`` where ``m`` is a
    Markov chain on ``levels`` (relative demand, rescaled so that its stationary mean is 1)
    that makes one transition per ``step_s`` (modelled: bursty demand, busy and quiet
    periods that last tens of seconds, so that a load report says something about the next
    query's wait). Its path is drawn in blocks, block ``b`` from
    ``default_rng([seed, 1, b])`` and starting where block ``b - 1`` ended: a function of the
    seed alone. Arrivals follow by time rescaling: unit-rate Poisson points in the
    cumulative intensity ``Lambda(t) = integral rate_hz m``.
    """

    BLOCK_STEPS = 4096

    def __init__(self, levels: object, transitions: object, seed: int,
                 step_s: float = 1.0) -> None:  # fmt: skip
        lv = np.asarray(levels, dtype=np.float64)
        P = np.asarray(transitions, dtype=np.float64)
        require(lv.ndim == 1 and lv.size >= 1 and bool(np.all(lv > 0)),
                f"modulation levels must be a 1-D list of numbers > 0, got {levels!r}")
        require(P.shape == (lv.size, lv.size) and bool(np.all(P >= 0))
                and bool(np.allclose(P.sum(axis=1), 1.0)),
                "modulation transitions must be a square row-stochastic matrix")
        require(step_s > 0, f"step_s must be > 0, got {step_s!r}")
        w, v = np.linalg.eig(P.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
        pi = np.clip(pi / pi.sum(), 0.0, None)
        self.stationary = pi / pi.sum()
        self.multipliers = lv / float(self.stationary @ lv)
        self.cum_rows = np.cumsum(P, axis=1)
        self.seed, self.step_s = int(seed), float(step_s)
        self._states: list[np.ndarray] = []
        self._cum: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}

    def _block(self, b: int) -> np.ndarray:
        while len(self._states) <= b:
            k = len(self._states)
            rng = np.random.default_rng([self.seed, 1, k])
            u = rng.random(self.BLOCK_STEPS + 1)
            if k == 0:
                s = int(np.searchsorted(np.cumsum(self.stationary), u[0], "right"))
            else:
                s = int(self._states[-1][-1])
            out = np.empty(self.BLOCK_STEPS, dtype=np.int64)
            last = len(self.multipliers) - 1
            for j in range(self.BLOCK_STEPS):
                out[j] = s
                s = min(int(np.searchsorted(self.cum_rows[s], u[j + 1], "right")), last)
            self._states.append(out)
        return self._states[b]

    def multiplier_at(self, t_s: float) -> float:
        """``m(t)``: the demand multiplier at time ``t_s``."""
        j = int(t_s / self.step_s)
        return float(self.multipliers[self._block(j // self.BLOCK_STEPS)[j % self.BLOCK_STEPS]])

    def _cumulative(self, b: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """(per-step intensity, cumulative Lambda at each step's end) of block ``b``."""
        key = (b, rate_hz)
        got = self._cum.get(key)
        if got is None:
            lam0 = 0.0 if b == 0 else float(self._cumulative(b - 1, rate_hz)[1][-1])
            per_step = rate_hz * self.step_s * self.multipliers[self._block(b)]
            got = self._cum[key] = (per_step, lam0 + np.cumsum(per_step))
        return got

    def invert(self, targets: np.ndarray, rate_hz: float) -> np.ndarray:
        """Times ``t`` with ``Lambda(t) = targets`` (increasing, >= 0)."""
        out = np.empty_like(targets)
        done, b = 0, 0
        while done < targets.size:
            per_step, cum = self._cumulative(b, rate_hz)
            hi = int(np.searchsorted(targets, cum[-1], "right"))
            if hi > done:
                x = targets[done:hi]
                j = np.searchsorted(cum, x, "left")
                start = cum[j] - per_step[j]
                out[done:hi] = self.step_s * (b * self.BLOCK_STEPS + j + (x - start) / per_step[j])
                done = hi
            b += 1
        return out

class BackgroundTraffic:
    """Other users' requests as a deterministic stream (see the module docstring).

    ``rate_hz``: total arrival rate of all background users (Poisson); or ``arrival_times_s``
    (sorted, >= 0) for trace-driven arrivals, looped with the trace's span if ``loop``.
    ``prompt_tokens`` / ``output_tokens``: aligned arrays the sizes are resampled from
    (prompt = everything the server must prefill; output >= 1). ``modulation``: a
    :class:`RateModulation` of the Poisson rate (None: constant rate).
    """

    def __init__(
        self,
        prompt_tokens: object,
        output_tokens: object,
        seed: int,
        rate_hz: float | None = None,
        arrival_times_s: object | None = None,
        routing: RoutingPolicy | str = "always",
        loop: bool = True,
        modulation: RateModulation | None = None,
    ) -> None:
        p = np.asarray(prompt_tokens, dtype=np.int64)
        o = np.asarray(output_tokens, dtype=np.int64)
        require(p.ndim == 1 and p.size >= 1 and p.shape == o.shape,
                "prompt_tokens and output_tokens must be aligned non-empty 1-D arrays")
        require(bool(np.all(p >= 0)) and bool(np.all(o >= 1)),
                "background prompt tokens must be >= 0 and output tokens >= 1")
        require((rate_hz is None) != (arrival_times_s is None),
                "give exactly one of rate_hz (Poisson) and arrival_times_s (trace-driven)")
        if rate_hz is not None:
            require(math.isfinite(rate_hz) and rate_hz >= 0.0,
                    f"background rate_hz must be finite and >= 0, got {rate_hz!r}")
            self._trace = None
        else:
            t = np.asarray(arrival_times_s, dtype=np.float64)
            require(t.ndim == 1 and t.size >= 1 and bool(np.all(np.isfinite(t)))
                    and bool(np.all(t >= 0)) and bool(np.all(np.diff(t) >= 0)),
                    "arrival_times_s must be a sorted non-empty array of times >= 0")
            self._trace = t
        self.rate_hz = None if rate_hz is None else float(rate_hz)
        self.prompt_tokens, self.output_tokens = p, o
        self.seed = int(seed)
        self.routing = get_routing_policy(routing)
        self.loop = bool(loop)
        require(modulation is None or self._trace is None,
                "a rate modulation applies to Poisson arrivals (rate_hz), not to a trace")
        self.modulation = modulation
        self._chunks: dict[int, tuple[list[float], list[int], list[int], list[float]]] = {}
        self._lambda_end: dict[int, float] = {}

    @property
    def empty(self) -> bool:
        return self._trace is None and not self.rate_hz

    def chunk(self, k: int) -> tuple[list[float], list[int], list[int], list[float]]:
        """Chunk ``k``: (arrival times, prompt tokens, output tokens, routing uniforms).

        Arrival times are absolute and increase across chunks. Cached; deterministic in
        (seed, k). An exhausted non-looping trace gives an empty chunk.
        """
        got = self._chunks.get(k)
        if got is not None:
            return got
        if self._trace is None and k > 0 and (k - 1) not in self._chunks:
            for j in range(k):  # Poisson chunks start where the previous one ended
                self.chunk(j)
        rng = np.random.default_rng([self.seed, k])
        n = CHUNK_REQUESTS
        if self._trace is None and self.modulation is not None:
            # unit-rate points in Lambda, continuing from the previous chunk's last point
            start = 0.0 if k == 0 else self._lambda_end[k - 1]
            targets = start + np.cumsum(rng.exponential(1.0, n))
            self._lambda_end[k] = float(targets[-1])
            times = self.modulation.invert(targets, self.rate_hz)
        elif self._trace is None:
            start = 0.0 if k == 0 else self.chunk(k - 1)[0][-1]
            gaps = rng.exponential(1.0 / self.rate_hz, n)
            times = start + np.cumsum(gaps)
        else:
            t = self._trace
            idx = np.arange(k * n, (k + 1) * n)
            if not self.loop:
                idx = idx[idx < t.size]
            span = float(t[-1]) + (float(np.mean(np.diff(t))) if t.size > 1 else 1.0)
            times = t[idx % t.size] + (idx // t.size) * span
        pick = rng.integers(0, self.prompt_tokens.size, times.size)
        out = (
            times.tolist(), self.prompt_tokens[pick].tolist(), self.output_tokens[pick].tolist(),
            rng.random(times.size).tolist(),
        )  # fmt: skip
        self._chunks[k] = out
        return out

    def arrivals_between(self, t0_s: float, t1_s: float) -> np.ndarray:
        """Arrival times in ``[t0_s, t1_s)`` (all requests, before routing)."""
        times: list[float] = []
        k = 0
        while True:
            ts = self.chunk(k)[0]
            if not ts:
                break
            times.extend(x for x in ts if t0_s <= x < t1_s)
            if ts[-1] >= t1_s:
                break
            k += 1
        return np.asarray(times)


def poisson_rate_hz(n_users: int, mean_think_time_s: float) -> float:
    """Total rate of ``n_users`` open-loop users, each sending one request per
    ``mean_think_time_s`` on average."""
    require(n_users >= 0, f"n_users must be >= 0, got {n_users!r}")
    require(mean_think_time_s > 0, f"mean_think_time_s must be > 0, got {mean_think_time_s!r}")
    return n_users / float(mean_think_time_s)
