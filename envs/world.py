"""The exogenous world of an episode: think times, edge load path and channel path.

Common random numbers (docs/architecture.md, "Environments"). The time at which
the user sends the next query depends on the actions (it follows the answer, which takes
longer on a slow side), so a process advanced "at each query" would give every policy a
different realisation. Instead each process here is a *path over absolute time*, drawn from its
own generator on a fixed grid and extended lazily in fixed-size chunks: whatever the actions,
the state at time ``t`` is the same, and the query order and think times (drawn at reset) are
too. Only the *times at which* the environment looks at the paths depend on the policy.

* :class:`envs.load_path.LoadPath` (its own module): the edge-load path
  (``cost_models.edge_load.LoadChain`` sampled by its holding times).
* :class:`ChannelPath`: ``cost_models.channel`` block fading, see its docstring; the SNR and
  rate of a block are the ``cost_models.link`` laws.
* :func:`think_times_s`: the user's think times (lognormal, :func:`lognormal_params`).

A new exogenous dynamic (a link trace, device heat, ...) is a path class here with the same
two-stream rule (first draws from the reset, the rest from a seeded stream of its own), drawn
in the environment's ``_begin_episode`` and looked up in its ``_pending_query``.

Streams. Each path takes its first draws from the caller (drawn at ``reset`` from the
environment's ``np_random``, in fixed counts that do not depend on the actions) and any later
draws from its own generator, given as a seed and created only if the path has to be extended
(most episodes never need it). So the world of an episode, however far a policy looks into it,
is a function of the reset seed alone, and a reset costs a handful of numpy calls.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from cost_models.channel import get_channel_scenario
from cost_models.link import (
    fading_snr_db,
    fading_snr_float_db,
    link_rate_array_bps,
    link_rate_float_bps,
)
from envs.load_path import Stream, as_generator


def lognormal_params(mean_s: float, cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with mean ``mean_s`` and coefficient of variation
    ``cv``: ``sigma^2 = log(1 + cv^2)``, ``mu = log(mean_s) - sigma^2 / 2`` (``cv = 0``:
    sigma 0, a constant ``exp(mu) = mean_s`` up to rounding; callers use ``mean_s`` itself)."""
    sigma2 = math.log1p(cv * cv) if cv > 0 else 0.0
    return math.log(mean_s) - sigma2 / 2.0, math.sqrt(sigma2)


def think_times_s(rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
    """``n`` user think times (seconds between an answer and the next turn in multi-turn; the
    gaps between query arrivals in the open-loop single-turn environment), lognormal.

    Modelled, not measured: a lognormal (positive, right-skewed) with mean ``mean_s`` and
    coefficient of variation ``cv`` (``cv = 0`` gives a constant); both are config. The
    defaults (30 s single-turn, 20 s between turns) are our assumption, of the order of reading
    a 100-200-token answer at ~240 words/min (Brysbaert 2019, "How many words do we read per
    minute?", J. Memory and Language 109: 238 wpm silent reading of non-fiction) before typing.
    """
    if cv <= 0:
        return np.full(n, float(mean_s))
    mu, sigma = lognormal_params(mean_s, cv)
    return rng.lognormal(mu, sigma, n)


def ar1_filter(x: np.ndarray, coef: np.ndarray, y_prev: np.ndarray) -> np.ndarray:
    """``y[n] = coef * y[n-1] + x[n]`` down the rows of ``x`` from ``y_prev``.

    Column 0 (shadowing) has its own coefficient; columns 1-4 (fading) share one. Runs the
    recursion in C (``scipy.signal.lfilter``); equal to the sequential Python recursion of
    ``ChannelProcess.advance`` up to float rounding (``tests/test_env_properties.py``: 1e-9).
    """
    y = np.empty_like(x)
    y[:, 0] = lfilter(_ONE, [1.0, -coef[0]], x[:, 0], zi=[coef[0] * y_prev[0]])[0]
    y[:, 1:] = lfilter(_ONE, [1.0, -coef[1]], x[:, 1:], axis=0, zi=(coef[1] * y_prev[1:])[None, :])[
        0
    ]
    return y


_ONE = np.ones(1)


def _ar1_matrix(coef: float, n: int) -> np.ndarray:
    """``F`` with ``F[i, k] = coef^(i-k)`` for ``k <= i``, else 0: the AR(1) recursion from a
    zero state as a lower-triangular matrix."""
    i = np.arange(n)
    lag = i[:, None] - i[None, :]
    with np.errstate(invalid="ignore"):
        return np.where(lag >= 0, float(coef) ** np.maximum(lag, 0).astype(float), 0.0)


#: Largest first chunk filtered by a matrix product (longer ones use ``lfilter``).
MATRIX_BLOCKS = 256


class ChannelModel:
    """The static part of the block-fading channel (built once per scenario and block)."""

    def __init__(self, scenario: object, block_s: float) -> None:
        sc = get_channel_scenario(scenario)
        self.scenario = sc
        self.block_s = float(block_s)
        self.mean_ul_db, self.mean_dl_db = (float(x) for x in sc.mean_snr_db())
        self.mean_snr_db_pair = np.array([self.mean_ul_db, self.mean_dl_db])
        self.link_bandwidth_hz = float(sc.link_bandwidth_hz)
        self.min_snr_db = float(sc.min_snr_db)
        self.access_latency_s = float(sc.access_latency_s)
        self.outage_penalty_s = float(sc.outage_penalty_s)
        # Correlations over one block: the scenario's Gudmundson and Jakes laws.
        self.shadow_corr, self.fading_corr = sc.correlations(self.block_s)
        self.shadow_std_db = float(sc.shadowing_std_db)
        # The first chunk of every episode (short episodes need no more) is filtered by a
        # matrix product: y = F x + c^(k+1) y_prev with F[i, k] = c^(i-k) for k <= i.
        self.first_chunk = 64
        self.filter_shadow = _ar1_matrix(self.shadow_corr, MATRIX_BLOCKS)
        self.filter_fading = _ar1_matrix(self.fading_corr, MATRIX_BLOCKS)
        a, rho = self.shadow_corr, self.fading_corr
        # Per column of a ChannelPath (shadow, ul re, dl re, ul im, dl im): AR(1) coefficient,
        # innovation scale in steady state, and the scale of the stationary draw of block 0.
        self.coef = np.array([a, rho, rho, rho, rho])
        inv_sqrt2 = 1.0 / math.sqrt(2.0)
        self.scale = np.array(
            [self.shadow_std_db * math.sqrt(max(0.0, 1.0 - a * a))]
            + [math.sqrt(max(0.0, 1.0 - rho * rho)) * inv_sqrt2] * 4
        )
        self.scale0 = np.array([self.shadow_std_db] + [inv_sqrt2] * 4)
        self.zero_state = np.zeros(5)
        self.zero_state.flags.writeable = False
        self._stacked: dict[int, np.ndarray] = {}

    def stacked_filter(self, n: int) -> np.ndarray:
        """``[F_shadow D_shadow; F_fading D_fading]`` for a first chunk of ``n <=
        MATRIX_BLOCKS`` blocks from standard normals: the two AR(1) filters with the
        innovation scales folded in (``D = diag(scale0, scale, scale, ...)``: block 0 is the
        stationary draw), one contiguous ``[2n, n]`` matrix cached per ``n``."""
        f = self._stacked.get(n)
        if f is None:
            d_shadow = np.full(n, self.scale[0])
            d_shadow[0] = self.scale0[0]
            d_fading = np.full(n, self.scale[1])
            d_fading[0] = self.scale0[1]
            f = np.ascontiguousarray(
                np.vstack(
                    (
                        self.filter_shadow[:n, :n] * d_shadow[None, :],
                        self.filter_fading[:n, :n] * d_fading[None, :],
                    )
                )
            )
            self._stacked[n] = f
        return f

    def rate_bps(self, snr_db: float) -> float:
        """The scenario's per-user Shannon rate at ``snr_db``; 0 in outage
        (``cost_models.link.link_rate_float_bps``)."""
        return link_rate_float_bps(self.link_bandwidth_hz, snr_db, self.min_snr_db)

    def rates_bps(self, snr_db: np.ndarray) -> np.ndarray:
        """:meth:`rate_bps` of an array of SNRs (``cost_models.link.link_rate_array_bps``)."""
        return link_rate_array_bps(self.link_bandwidth_hz, snr_db, self.min_snr_db)


class ChannelPath:
    """The ``cost_models.channel.ChannelProcess`` law on a grid of blocks of ``block_s``.

    Block fading: the link is constant within a block ``[j block_s, (j + 1) block_s)`` and
    moves from block to block exactly as ``ChannelProcess.advance(block_s)`` would (Gudmundson
    shadowing, Gauss-Markov Rayleigh fading with ``rho = J0(2 pi f_D block_s)``). Block ``j``
    uses standard normals ``5 j .. 5 j + 4`` of the path's sequence: the rows of
    ``first_normals`` (drawn at reset by the caller), then draws from ``rng`` (a generator, or
    the seed of one created on first need). Given a generator and no ``first_normals``, the
    draws are made in the same order as ``ChannelProcess(scenario, rng)`` followed by repeated
    ``advance(block_s)``, so the SNR path is the process's own (``tests/test_env_properties.py``
    checks it to 1e-9), but generated a chunk at a time with a linear filter
    (:func:`ar1_filter`; a matrix product for a first chunk of up to ``MATRIX_BLOCKS``).
    The SNR is computed only where it is looked up (on floats for a scalar look-up, numpy at
    the gathered blocks for a vectorised one).
    """

    #: Blocks drawn per lazy extension.
    CHUNK_BLOCKS = 1024

    def __init__(
        self, model: ChannelModel, rng: Stream, first_normals: np.ndarray | None = None
    ) -> None:
        # first_normals: float64 [n0, 5] standard normals (blocks 0 .. n0 - 1).
        self.model = model
        self.rng = rng
        self.block_s = model.block_s
        self._coef, self._scale, self._scale0 = model.coef, model.scale, model.scale0
        self._state: np.ndarray | None = model.zero_state  # None: last row of the last chunk
        self._chunks: list[np.ndarray] = []  # filtered (shadow, ul re, dl re, ul im, dl im)
        self._arrays: np.ndarray | None = None
        self._n_blocks = 0
        self._first = True
        if first_normals is not None:
            self._add(first_normals)

    def _extend(self) -> None:
        # A short first chunk (enough for a dialogue), then CHUNK_BLOCKS at a time. Block j
        # always gets normals 5j .. 5j + 4 of the sequence, whatever the chunking.
        self.rng = as_generator(self.rng)
        n = self.model.first_chunk if self._first else self.CHUNK_BLOCKS
        self._add(self.rng.standard_normal((n, 5)))

    def _add(self, z: np.ndarray) -> None:
        m = self.model
        n = len(z)
        if self._first and n <= MATRIX_BLOCKS:
            # Short first chunk from a zero state: the recursion, with the innovation scales
            # (stationary ones for block 0), as one lower-triangular matrix product per filter.
            both = m.stacked_filter(n) @ z  # [2n, 5]: shadow filter on top, fading below
            y = both[n:]
            y[:, 0] = both[:n, 0]
        else:
            # Innovations: shadowing (dB) and the real/imaginary parts of the uplink and
            # downlink fading, columns (ul re, dl re, ul im, dl im) as ChannelProcess._cn
            # draws them.
            x = z * self._scale
            if self._first:
                # Block 0 is the reset draw: stationary shadowing and fading, no memory.
                x[0] = z[0] * self._scale0
            state = self._state if self._state is not None else self._chunks[-1][-1]
            y = ar1_filter(x, self._coef, state)
        self._first = False
        self._state = None
        self._chunks.append(y)
        self._n_blocks += n
        self._arrays = None

    def _snr_of(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uplink, downlink) SNR in dB of filtered rows ``y`` (columns shadow, ul re, dl re,
        ul im, dl im): ``cost_models.link.fading_snr_db`` of both links in one call."""
        both = fading_snr_db(self.model.mean_snr_db_pair, y[:, 0:1], y[:, 1:3], y[:, 3:5])
        return both[:, 0], both[:, 1]

    def _all_blocks(self) -> np.ndarray:
        if self._arrays is None or len(self._arrays) != self._n_blocks:
            self._arrays = (
                self._chunks[0] if len(self._chunks) == 1 else np.concatenate(self._chunks)
            )
        return self._arrays

    def block(self, t_s: float) -> int:
        """Index of the block containing time ``t_s`` (drawing more blocks if needed)."""
        j = int(t_s / self.block_s)
        while j >= self._n_blocks:
            self._extend()
        return j

    def snr_db(self, t_s: float) -> tuple[float, float]:
        """(uplink, downlink) SNR in dB at absolute time ``t_s`` (the same formula as
        :meth:`_snr_of`, on floats)."""
        j = int(t_s / self.block_s)
        if j >= self._n_blocks:
            self.block(t_s)
        arrays = self._arrays
        if arrays is None or len(arrays) != self._n_blocks:
            arrays = self._all_blocks()
        s, ul_re, dl_re, ul_im, dl_im = arrays[j].tolist()
        m = self.model
        return (
            fading_snr_float_db(m.mean_ul_db, s, ul_re, ul_im),
            fading_snr_float_db(m.mean_dl_db, s, dl_re, dl_im),
        )

    def link(self, t_s: float) -> tuple[float, float, float, float]:
        """(uplink SNR dB, downlink SNR dB, uplink bit/s, downlink bit/s) at ``t_s``: one call
        for :meth:`snr_db` and ``ChannelModel.rate_bps`` of both links (the step's hot path)."""
        ul_db, dl_db = self.snr_db(t_s)
        m = self.model
        b, floor_db = m.link_bandwidth_hz, m.min_snr_db
        return (
            ul_db,
            dl_db,
            link_rate_float_bps(b, ul_db, floor_db),
            link_rate_float_bps(b, dl_db, floor_db),
        )

    def _rows_at(self, times_s: np.ndarray) -> np.ndarray:
        idx = (np.asarray(times_s, dtype=np.float64) / self.block_s).astype(np.int64)
        if len(idx):
            self.block(float(np.max(times_s)))
        return self._all_blocks()[idx]

    def snr_db_at(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uplink, downlink) SNR arrays at each of ``times_s`` (vectorised :meth:`snr_db`)."""
        return self._snr_of(self._rows_at(times_s))

    def downlink_snr_db_at(self, times_s: np.ndarray) -> np.ndarray:
        """The downlink of :meth:`snr_db_at` (the same law on one link)."""
        y = self._rows_at(times_s)
        return fading_snr_db(self.model.mean_dl_db, y[:, 0], y[:, 2], y[:, 4])
