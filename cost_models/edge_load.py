"""Edge-server load: the utilisation Markov chain, and what utilisation costs a request.

These rules are OUR reconstruction (the paper does not publish its load model); each constant
says whether it is modelled or cited.

* The utilisation ``u`` of the edge server follows a discrete-time Markov chain over a few
  levels (:class:`LoadChain`, one transition per ``step_s`` seconds). :class:`EdgeLoadProcess`
  steps it; ``envs.load_path.LoadPath`` samples the same law by its holding times.
* Under load a decode step shares the GPU with other sequences of the continuous batch
  (:func:`decode_slowdown`) and a new request waits for admission (:func:`queue_delay_s`,
  M/M/1). Both are vectorised over numpy arrays with a plain-float fast path.
"""

from __future__ import annotations

import math

import numpy as np

from cost_models.errors import EdgeRouteError, require
from cost_models.numeric import SCALARS, as_output

#: Decode slow-down relative to an idle server: ``1 + DECODE_LOAD_FACTOR * u``. Modelled (an
#: assumption, not fitted): under continuous batching (Orca, OSDI 2022; vLLM, SOSP 2023) a decode
#: step reads the weights once for the whole batch, but attention over every sequence's cache
#: and the larger GEMMs make each step longer as the batch fills; we take the inter-token
#: latency to double between an idle and a fully loaded server.
DECODE_LOAD_FACTOR = 1.0

#: Utilisation is clipped below this so that M/M/1 waiting times stay finite.
MAX_UTILISATION = 0.98


def decode_slowdown(utilisation: object) -> np.ndarray | float:
    """Multiplier (>= 1) on decode time when the edge runs at ``utilisation`` in [0, 1)."""
    if isinstance(utilisation, SCALARS):
        return 1.0 + DECODE_LOAD_FACTOR * min(max(float(utilisation), 0.0), MAX_UTILISATION)
    u = np.clip(np.asarray(utilisation, dtype=np.float64), 0.0, MAX_UTILISATION)
    return as_output(1.0 + DECODE_LOAD_FACTOR * u)


def queue_delay_s(utilisation: object, service_time_s: object) -> np.ndarray | float:
    """Mean wait before admission: M/M/1 ``W_q = u / (1 - u) * service_time_s``.

    Modelled with the M/M/1 mean waiting time (Kleinrock 1975, Queueing Systems vol. 1): the
    request waits behind ``u / (1 - u)`` requests on average, each taking ``service_time_s``
    to admit.
    """
    if isinstance(utilisation, SCALARS) and isinstance(service_time_s, SCALARS):
        if not service_time_s >= 0:  # (message built only on failure: a hot scalar path)
            raise EdgeRouteError(f"service_time_s must be >= 0, got {service_time_s!r}")
        u_f = min(max(float(utilisation), 0.0), MAX_UTILISATION)
        return u_f / (1.0 - u_f) * float(service_time_s)
    u = np.clip(np.asarray(utilisation, dtype=np.float64), 0.0, MAX_UTILISATION)
    s = np.asarray(service_time_s, dtype=np.float64)
    if s.size and np.min(s) < 0:
        raise EdgeRouteError(f"service_time_s must be >= 0, got {service_time_s!r}")
    return as_output(u / (1.0 - u) * s)


#: Default utilisation levels and one-second transition matrix of the edge load chain:
#: idle, light, busy, saturated. Modelled: sticky (mean holding time ~20-50 s) so that a burst
#: of load lasts several queries; the stationary mean utilisation is about 0.45.
DEFAULT_LOAD_LEVELS: tuple[float, ...] = (0.1, 0.35, 0.65, 0.9)
DEFAULT_LOAD_TRANSITIONS: tuple[tuple[float, ...], ...] = (
    (0.97, 0.03, 0.00, 0.00),
    (0.02, 0.96, 0.02, 0.00),
    (0.00, 0.025, 0.95, 0.025),
    (0.00, 0.00, 0.05, 0.95),
)

#: Named fixed utilisations (the levels of the default chain), e.g. ``edgeroute costs
#: --edge-load busy``.
LOAD_PRESETS: dict[str, float] = dict(
    zip(("idle", "light", "busy", "saturated"), DEFAULT_LOAD_LEVELS, strict=True)
)

#: Largest ``n`` for which :meth:`LoadChain.transition_power` tabulates ``P^n`` by iterated
#: products (beyond: repeated squaring). 4096 one-second steps are far past the default
#: chain's mixing time (~100 steps), where every row of ``P^n`` is the stationary law.
MAX_TABULATED_STEPS = 4096


class LoadChain:
    """The law of the edge-load chain: levels, one-step matrix ``P`` over ``step_s`` seconds.

    Validated once, shared by every sampler of it. Besides ``P`` and its stationary law it holds
    the holding-time form of the same chain: in level ``i`` the chain stays a
    Geometric(1 - P_ii) number of steps, then jumps to ``j != i`` with probability
    ``P_ij / (1 - P_ii)`` (``stay``, ``log_stay``, ``jump_cum``), which is how
    ``envs.load_path.LoadPath`` samples it with one draw per jump instead of one per step.
    """

    def __init__(
        self,
        levels: object = DEFAULT_LOAD_LEVELS,
        transition_matrix: object = DEFAULT_LOAD_TRANSITIONS,
        step_s: float = 1.0,
    ) -> None:
        lv = np.asarray(levels, dtype=np.float64)
        P = np.asarray(transition_matrix, dtype=np.float64)
        require(lv.ndim == 1 and lv.size >= 1, f"levels must be a 1-D list, got {levels!r}")
        require(
            bool(np.all((lv >= 0) & (lv < 1))), f"levels must be in [0, 1), got {levels!r}"
        )
        require(
            P.shape == (lv.size, lv.size),
            f"transition_matrix must be {lv.size}x{lv.size}, got shape {P.shape}",
        )
        require(
            bool(np.all(P >= 0)) and np.allclose(P.sum(axis=1), 1.0),
            "transition_matrix rows must be probabilities summing to 1",
        )
        require(step_s > 0, f"step_s must be > 0, got {step_s!r}")
        #: Utilisation of each level, as an array and as Python floats (scalar look-ups).
        self.levels_array = lv
        self.levels: list[float] = [float(x) for x in lv]
        self.P = P
        self.step_s = float(step_s)
        #: Cumulative rows of P (one transition: a uniform against a row).
        self.cum = np.cumsum(P, axis=1)
        k = lv.size
        self.stay = [float(P[i, i]) for i in range(k)]
        self.log_stay = [math.log(p) if 0.0 < p < 1.0 else 0.0 for p in self.stay]
        self.jump_cum: list[list[float] | None] = []
        for i in range(k):
            off = P[i].copy()
            off[i] = 0.0
            total = off.sum()
            self.jump_cum.append((np.cumsum(off / total)).tolist() if total > 0 else None)
        #: Whether some level never leaves (a jump-by-jump sampler must stop there).
        self.absorbing = any(
            c is None or p >= 1.0 for c, p in zip(self.jump_cum, self.stay, strict=True)
        )
        #: jump_cum as a matrix (rows of an absorbing level are 2: never <= a uniform).
        self.jump_cum_matrix = np.array(
            [c if c is not None else [2.0] * k for c in self.jump_cum], dtype=np.float64
        )
        #: log P_ii per level (0 where P_ii is 0 or 1), as an array.
        self.log_stay_array = np.asarray(self.log_stay, dtype=np.float64)
        pi = np.clip(self.stationary_distribution(), 0.0, None)
        #: Cumulative stationary law (the starting level is drawn from it).
        self.initial_cum = np.cumsum(pi / pi.sum()).tolist()
        #: Shortest mean holding time of a level (s).
        self.min_mean_holding_s = min(self.step_s / max(1.0 - p, 1e-12) for p in self.stay)
        self._powers = np.eye(k)[None, :, :]

    def stationary_distribution(self) -> np.ndarray:
        """The chain's stationary distribution (left eigenvector of eigenvalue 1)."""
        w, v = np.linalg.eig(self.P.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
        return pi / pi.sum()

    def transition_powers(self, max_steps: int) -> np.ndarray:
        """``P^0 .. P^max_steps`` as one ``[max_steps + 1, k, k]`` array, by iterated products
        ``P^n = P^(n-1) P`` (cached: a sampler that jumps ``n`` steps at once draws one
        uniform against a row of ``P^n``)."""
        have = len(self._powers) - 1
        if max_steps > have:
            more = np.empty((max_steps - have, *self.P.shape))
            prev = self._powers[-1]
            for i in range(len(more)):
                prev = more[i] = prev @ self.P
            self._powers = np.concatenate((self._powers, more))
        return self._powers[: max_steps + 1]

    def transition_power(self, n: int) -> np.ndarray:
        """``P^n``: tabulated up to :data:`MAX_TABULATED_STEPS`, by repeated squaring beyond."""
        if n <= MAX_TABULATED_STEPS:
            return self.transition_powers(n)[n]
        return np.linalg.matrix_power(self.P, n)


class EdgeLoadProcess:
    """Edge-server utilisation as the :class:`LoadChain` stepped once per ``step_s``.

    ``advance(dt_s)`` accumulates time and makes one chain transition per whole ``step_s``
    elapsed (the remainder carries over), so the law of the path does not depend on how the
    caller slices time. Every draw comes from ``rng``.
    """

    def __init__(
        self,
        levels: object = DEFAULT_LOAD_LEVELS,
        transition_matrix: object = DEFAULT_LOAD_TRANSITIONS,
        rng: np.random.Generator | None = None,
        step_s: float = 1.0,
        initial: object | None = None,
    ) -> None:
        self.chain = LoadChain(levels, transition_matrix, step_s)
        self.levels, self.P, self.step_s = self.chain.levels_array, self.chain.P, self.chain.step_s
        self.rng = rng if rng is not None else np.random.default_rng()
        self._initial = None if initial is None else np.asarray(initial, dtype=np.float64)
        self.index = 0
        self._carry_s = 0.0
        self.reset()

    def stationary_distribution(self) -> np.ndarray:
        """The chain's stationary distribution (:meth:`LoadChain.stationary_distribution`)."""
        return self.chain.stationary_distribution()

    def reset(self) -> float:
        """Draw the starting level from ``initial`` (default: stationary law)."""
        p = self._initial if self._initial is not None else self.stationary_distribution()
        self.index = int(self.rng.choice(self.levels.size, p=np.clip(p, 0, None) / p.sum()))
        self._carry_s = 0.0
        return self.utilisation

    def advance(self, dt_s: float) -> float:
        """Let ``dt_s`` seconds pass; returns the new utilisation."""
        require(dt_s >= 0 and np.isfinite(dt_s), f"dt_s must be finite and >= 0, got {dt_s!r}")
        self._carry_s += float(dt_s)
        n = int(self._carry_s // self.step_s)
        self._carry_s -= n * self.step_s
        if n > 0:
            # n steps at once: one draw from row ``index`` of P^n (same law as n single steps)
            cum = self.chain.cum[self.index] if n == 1 else np.cumsum(
                self.chain.transition_power(n)[self.index]
            )
            self.index = int(np.searchsorted(cum, self.rng.random() * cum[-1], "right"))
            self.index = min(self.index, self.levels.size - 1)
        return self.utilisation

    @property
    def utilisation(self) -> float:
        return float(self.levels[self.index])
