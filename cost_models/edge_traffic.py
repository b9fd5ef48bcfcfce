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


class BackgroundTraffic:
    """Other users' requests as a deterministic stream (see the module docstring).

    ``rate_hz``: total arrival rate of all background users (Poisson); or ``arrival_times_s``
    (sorted, >= 0) for trace-driven arrivals, looped with the trace's span if ``loop``.
    ``prompt_tokens`` / ``output_tokens``: aligned arrays the sizes are resampled from
    (prompt = everything the server must prefill; output >= 1).
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
        self._chunks: dict[int, tuple[list[float], list[int], list[int], list[float]]] = {}

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
        if self._trace is None:
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
