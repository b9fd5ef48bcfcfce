"""The edge-load path of an episode: ``cost_models.edge_load.LoadChain`` over absolute time.

Split from :mod:`envs.world` (same common-random-numbers and two-stream rules, see its
docstring). :class:`LoadPath` samples the chain exactly by its holding times: in level ``i``
the chain stays a Geometric(1 - P_ii) number of steps, then jumps to ``j != i`` with
probability ``P_ij / (1 - P_ii)``. This is the same law as stepping the chain once per
``step_s`` (``EdgeLoadProcess``; ``tests/test_env_properties.py`` compares the two), at the
cost of one draw per jump instead of one per second. Also the stream helpers every path uses
(:func:`seed_from_uniform`, :data:`Stream`).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from cost_models.edge_load import LoadChain

Stream = np.random.Generator | int

#: Scale that turns a uniform in [0, 1) into an integer seed with its 53 random bits (2^53).
SEED_SCALE = 9007199254740992.0


def seed_from_uniform(u: float) -> int:
    """The seed of a lazily created stream, from one uniform drawn at reset (53 bits)."""
    return int(u * SEED_SCALE)


def as_generator(rng: Stream) -> np.random.Generator:
    """``rng`` itself, or a generator seeded with it (the lazily created extension stream)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def load_jumps_for(chain: LoadChain, horizon_s: float) -> int:
    """Jumps to draw at reset so that a :class:`LoadPath` usually covers ``horizon_s`` seconds
    (1.5 x the jumps of the shortest mean holding time, plus 4)."""
    return int(horizon_s / chain.min_mean_holding_s * 1.5) + 4


class LoadPath:
    """Edge utilisation as a function of absolute time.

    Jump ``i`` uses uniforms ``2 i + 1`` and ``2 i + 2`` of the path's sequence (uniform 0 is
    the starting level): first the ``first_uniforms`` given (drawn at reset; a list for a path
    looked up jump by jump, an array for one extended vectorised), then draws from ``rng`` (a
    generator, or the seed of one created on first need).
    """

    #: Jumps drawn per lazy extension.
    CHUNK_JUMPS = 64

    def __init__(
        self,
        chain: LoadChain,
        rng: Stream,
        first_uniforms: list[float] | np.ndarray | None = None,
    ) -> None:
        self.chain = chain
        self.rng = rng
        if first_uniforms is None:
            self.rng = as_generator(rng)
            first_uniforms = self.rng.random(2 * 8 + 1).tolist()
        k = len(chain.levels)
        self._state = min(bisect.bisect_right(chain.initial_cum, float(first_uniforms[0])), k - 1)
        # The unused uniforms, as a list (scalar walk) and/or an array (vectorised walk);
        # either is derived from the other when first needed.
        is_list = isinstance(first_uniforms, list)
        self._u_list: list[float] | None = first_uniforms if is_list else None
        self._u_array: np.ndarray | None = None if is_list else np.asarray(first_uniforms)
        self._next_u = 1
        # Path: level index on [switch_s[n], switch_s[n + 1]).
        self.switch_s: list[float] = [0.0]
        self.level_at_switch: list[int] = [self._state]

    def _uniforms(self, n_jumps: int, as_array: bool) -> tuple[Any, int, int]:
        """(uniforms, first index, jumps available <= n_jumps), drawing more if none are left;
        the uniforms as an array if ``as_array``, else as a list."""
        u = self._u_array if self._u_list is None else self._u_list
        i = self._next_u
        if i + 1 >= len(u):
            # Out of reset-time uniforms: continue from the path's own stream.
            self.rng = as_generator(self.rng)
            more = self.rng.random(2 * self.CHUNK_JUMPS)
            self._u_array = np.concatenate((np.asarray(u[i:], dtype=np.float64), more))
            self._u_list = None
            i = self._next_u = 0
        if as_array:
            if self._u_array is None:
                self._u_array = np.asarray(self._u_list)
            u = self._u_array
        else:
            if self._u_list is None:
                self._u_list = self._u_array.tolist()
            u = self._u_list
        return u, i, min(n_jumps, (len(u) - i) // 2)

    def _extend(self, n_jumps: int = 4) -> None:
        """Up to ``n_jumps`` more jumps, one Python iteration each (scalar look-ups). The
        chunking does not change the path (jump ``i`` always uses the same uniforms); 4 covers
        the ~3.4 jumps a default multi-turn episode looks up in one call."""
        ch = self.chain
        u, i, n = self._uniforms(n_jumps, as_array=False)
        t = self.switch_s[-1]
        s = self._state
        last = len(ch.levels) - 1
        log1p, floor, bisect_right = math.log1p, math.floor, bisect.bisect_right
        switch_s, levels_at = self.switch_s, self.level_at_switch
        for _ in range(n):
            cum = ch.jump_cum[s]
            stay = ch.stay[s]
            if cum is None or stay >= 1.0:  # absorbing level: it never leaves
                switch_s.append(math.inf)
                levels_at.append(s)
                break
            # Steps spent in s (>= 1): Geometric(1 - stay) by inversion.
            steps = 1.0 if stay <= 0.0 else 1.0 + floor(log1p(-u[i]) / ch.log_stay[s])
            t += steps * ch.step_s
            s = min(bisect_right(cum, u[i + 1]), last)
            i += 2
            switch_s.append(t)
            levels_at.append(s)
        self._next_u = i
        self._state = s

    def _extend_vectorised(self, n_jumps: int = CHUNK_JUMPS) -> None:
        """Up to ``n_jumps`` jumps at once: the destinations of each jump from every level
        are one numpy comparison, so the walk is a list look-up per jump, and the holding
        times are vectorised. Same uniforms, same law and same path as :meth:`_extend`, however
        the jumps are chunked (up to float rounding of the accumulated time; exact for the
        whole-second times of an integer ``step_s``)."""
        ch = self.chain
        u, i, n = self._uniforms(n_jumps, as_array=True)
        if ch.absorbing:
            return self._extend(n)
        pairs = u[i : i + 2 * n].reshape(n, 2)
        k = len(ch.levels)
        # dest[j, s] = bisect_right(jump_cum[s], u) for every level s (clipped to the last),
        # flattened: the level after jump j from level s is dest[j * k + s].
        dest = (ch.jump_cum_matrix[None, :, :] <= pairs[:, 1, None, None]).sum(axis=2)
        np.minimum(dest, k - 1, out=dest)
        dest = dest.ravel().tolist()
        s = self._state
        states = [s]
        for base in range(0, n * k, k):
            s = dest[base + s]
            states.append(s)
        log_stay = ch.log_stay_array[states[:-1]]
        steps = np.where(
            log_stay < 0.0,
            1.0 + np.floor(np.log1p(-pairs[:, 0]) / np.minimum(log_stay, -1e-300)),
            1.0,
        )
        times = self.switch_s[-1] + np.cumsum(steps * ch.step_s)
        self.switch_s.extend(times.tolist())
        self.level_at_switch.extend(states[1:])
        self._next_u = i + 2 * n
        self._state = s
        return None

    def level(self, t_s: float) -> int:
        """Index (into ``chain.levels``) of the load level at absolute time ``t_s`` >= 0."""
        while self.switch_s[-1] <= t_s:
            self._extend()
        return self.level_at_switch[bisect.bisect_right(self.switch_s, t_s) - 1]

    def utilisation(self, t_s: float) -> float:
        """Edge utilisation at absolute time ``t_s`` >= 0."""
        return self.chain.levels[self.level(t_s)]

    def levels_at(self, times_s: np.ndarray) -> np.ndarray:
        """Level indices at each of ``times_s`` (vectorised :meth:`level`)."""
        if len(times_s):
            t_max = float(np.max(times_s))
            # One chunk sized to cover t_max at the shortest mean holding time (more jumps
            # than needed, rarely fewer), so that the per-chunk numpy work is paid once.
            jumps = int((t_max - self.switch_s[-1]) / self.chain.min_mean_holding_s) + 8
            while self.switch_s[-1] <= t_max:
                self._extend_vectorised(max(jumps, self.CHUNK_JUMPS))
                jumps = self.CHUNK_JUMPS
        idx = np.searchsorted(np.asarray(self.switch_s), times_s, side="right") - 1
        return np.asarray(self.level_at_switch, dtype=np.int64)[idx]
