"""The exogenous world of an episode: think times, edge load path and channel path.

Common random numbers (DESIGN.md "Evaluation uses common random numbers"). The time at which
the user sends the next query depends on the actions (it follows the answer, which takes
longer on a slow side), so a process advanced "at each query" would give every policy a
different realisation. Instead each process here is a *path over absolute time*, drawn from its
own generator on a fixed grid and extended lazily in fixed-size chunks: whatever the actions,
the state at time ``t`` is the same, and the query order and think times (drawn at reset) are
too. Only the *times at which* the environment looks at the paths depend on the policy.

* :class:`LoadPath`: the ``cost_models.compute.EdgeLoadProcess`` chain (one transition per
  ``step_s``), sampled exactly by its holding times: in level ``i`` the chain stays a
  Geometric(1 - P_ii) number of steps, then jumps to ``j != i`` with probability
  ``P_ij / (1 - P_ii)``. This is the same law as stepping the chain once per ``step_s`` (and
  ``tests/test_env_properties.py`` compares the two), at the cost of one draw per jump
  instead of one per second.
* :class:`ChannelPath`: ``cost_models.channel`` block fading, see its docstring.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from scipy.signal import lfilter

from cost_models import compute


class LoadChain:
    """The static part of the edge load chain (validated once, shared by every episode)."""

    def __init__(
        self,
        levels: tuple[float, ...] = compute.DEFAULT_LOAD_LEVELS,
        transitions: tuple[tuple[float, ...], ...] = compute.DEFAULT_LOAD_TRANSITIONS,
        step_s: float = 1.0,
    ) -> None:
        # Validate through the cost model's own constructor (same checks, same messages).
        proc = compute.EdgeLoadProcess(
            levels, transitions, rng=np.random.default_rng(0), step_s=step_s
        )
        self.levels = [float(x) for x in proc.levels]
        self.step_s = float(proc.step_s)
        P = proc.P
        self.transitions = P.copy()
        k = len(self.levels)
        self.stay = [float(P[i, i]) for i in range(k)]
        self.log_stay = [math.log(p) if 0.0 < p < 1.0 else 0.0 for p in self.stay]
        self.jump_cum: list[list[float] | None] = []
        for i in range(k):
            off = P[i].copy()
            off[i] = 0.0
            total = off.sum()
            self.jump_cum.append((np.cumsum(off / total)).tolist() if total > 0 else None)
        pi = np.clip(proc.stationary_distribution(), 0.0, None)
        self.initial_cum = np.cumsum(pi / pi.sum()).tolist()


class LoadPath:
    """Edge utilisation as a function of absolute time, drawn from its own generator."""

    #: Jumps drawn per lazy extension.
    CHUNK_JUMPS = 64

    def __init__(self, chain: LoadChain, rng: np.random.Generator) -> None:
        self.chain = chain
        self.rng = rng
        k = len(chain.levels)
        self._state = min(bisect.bisect_right(chain.initial_cum, float(rng.random())), k - 1)
        # Path: level index on [switch_s[n], switch_s[n + 1]).
        self.switch_s: list[float] = [0.0]
        self.utilisation_at_switch: list[float] = [chain.levels[self._state]]

    def _extend(self) -> None:
        ch = self.chain
        # Chunks grow 8, 16, ... up to CHUNK_JUMPS; jump i always uses uniforms 2i, 2i + 1.
        n = min(self.CHUNK_JUMPS, max(8, len(self.switch_s) - 1))
        u = self.rng.random(2 * n).tolist()
        t = self.switch_s[-1]
        s = self._state
        last = len(ch.levels) - 1
        log1p, floor, bisect_right = math.log1p, math.floor, bisect.bisect_right
        for i in range(n):
            cum = ch.jump_cum[s]
            stay = ch.stay[s]
            if cum is None or stay >= 1.0:  # absorbing level: it never leaves
                self.switch_s.append(math.inf)
                self.utilisation_at_switch.append(ch.levels[s])
                break
            # Steps spent in s (>= 1): Geometric(1 - stay) by inversion.
            steps = 1.0 if stay <= 0.0 else 1.0 + floor(log1p(-u[2 * i]) / ch.log_stay[s])
            t += steps * ch.step_s
            s = min(bisect_right(cum, u[2 * i + 1]), last)
            self.switch_s.append(t)
            self.utilisation_at_switch.append(ch.levels[s])
        self._state = s

    def utilisation(self, t_s: float) -> float:
        """Edge utilisation at absolute time ``t_s`` >= 0."""
        while self.switch_s[-1] <= t_s:
            self._extend()
        return self.utilisation_at_switch[bisect.bisect_right(self.switch_s, t_s) - 1]


def think_times_s(rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
    """``n`` user think times (seconds between an answer and the next query), lognormal.

    Modelled, not measured: a lognormal (positive, right-skewed) with mean ``mean_s`` and
    coefficient of variation ``cv`` (``cv = 0`` gives a constant); both are config. The
    defaults (30 s single-turn, 20 s between turns) are our assumption, of the order of reading
    a 100-200-token answer at ~240 words/min (Brysbaert 2019, "How many words do we read per
    minute?", J. Memory and Language 109: 238 wpm silent reading of non-fiction) before typing.
    """
    if cv <= 0:
        return np.full(n, float(mean_s))
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean_s) - sigma2 / 2.0
    return rng.lognormal(mu, math.sqrt(sigma2), n)


def ar1_filter(x: np.ndarray, coef: np.ndarray, y_prev: np.ndarray) -> np.ndarray:
    """``y[n] = coef * y[n-1] + x[n]`` down the rows of ``x`` from ``y_prev``.

    Column 0 (shadowing) has its own coefficient; columns 1-4 (fading) share one. Runs the
    recursion in C (``scipy.signal.lfilter``); equal to the sequential Python recursion of
    ``ChannelProcess.advance`` up to float rounding (``tests/test_env_properties.py``: 1e-9).
    """
    y = np.empty_like(x)
    y[:, 0] = lfilter(_ONE, [1.0, -coef[0]], x[:, 0], zi=[coef[0] * y_prev[0]])[0]
    y[:, 1:] = lfilter(
        _ONE, [1.0, -coef[1]], x[:, 1:], axis=0, zi=(coef[1] * y_prev[1:])[None, :]
    )[0]
    return y


_ONE = np.ones(1)


def _ar1_matrix(coef: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(F, p)`` with ``F[i, k] = coef^(i-k)`` (k <= i, else 0) and ``p[i] = coef^(i+1)``."""
    i = np.arange(n)
    lag = i[:, None] - i[None, :]
    with np.errstate(invalid="ignore"):
        F = np.where(lag >= 0, float(coef) ** np.maximum(lag, 0).astype(float), 0.0)
    return F, float(coef) ** (i + 1.0)


class ChannelModel:
    """The static part of the block-fading channel (built once per scenario and block)."""

    def __init__(self, scenario: object, block_s: float) -> None:
        from cost_models.channel import ChannelProcess, get_channel_scenario

        sc = get_channel_scenario(scenario)
        self.scenario = sc
        self.block_s = float(block_s)
        self.mean_ul_db, self.mean_dl_db = (float(x) for x in sc.mean_snr_db())
        self.link_bandwidth_hz = float(sc.link_bandwidth_hz)
        self.min_snr_db = float(sc.min_snr_db)
        self.access_latency_s = float(sc.access_latency_s)
        self.outage_penalty_s = float(sc.outage_penalty_s)
        # Correlations over one block, from the process itself.
        proto = ChannelProcess.__new__(ChannelProcess)
        proto.scenario = sc
        self.shadow_corr, self.fading_corr = ChannelProcess.correlations(proto, self.block_s)
        self.shadow_std_db = float(sc.shadowing_std_db)
        # The first chunk of every episode (short episodes need no more) is filtered by a
        # matrix product: y = F x + c^(k+1) y_prev with F[i, k] = c^(i-k) for k <= i.
        self.first_chunk = 64
        self.filter_shadow, self.powers_shadow = _ar1_matrix(self.shadow_corr, self.first_chunk)
        self.filter_fading, self.powers_fading = _ar1_matrix(self.fading_corr, self.first_chunk)

    def rate_bps(self, snr_db: float) -> float:
        """The scenario's per-user Shannon rate at ``snr_db``; 0 in outage (scalar path of
        ``ChannelScenario.rate_bps``)."""
        if snr_db < self.min_snr_db:
            return 0.0
        return self.link_bandwidth_hz * math.log2(1.0 + 10.0 ** (snr_db / 10.0))


class ChannelPath:
    """The ``cost_models.channel.ChannelProcess`` law on a grid of blocks of ``block_s``.

    Block fading: the link is constant within a block ``[j block_s, (j + 1) block_s)`` and
    moves from block to block exactly as ``ChannelProcess.advance(block_s)`` would (Gudmundson
    shadowing, Gauss-Markov Rayleigh fading with ``rho = J0(2 pi f_D block_s)``). The draws are
    made in the same order as ``ChannelProcess(scenario, rng)`` followed by repeated
    ``advance(block_s)``, so for the same generator the SNR path is the process's own
    (``tests/test_env_properties.py`` checks it to 1e-9), but generated a chunk at a time with a
    linear filter (:func:`ar1_filter`; a matrix product for the first, short chunk) instead
    of one Python call per block.
    """

    #: Blocks drawn per lazy extension.
    CHUNK_BLOCKS = 1024

    def __init__(self, model: ChannelModel, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.block_s = model.block_s
        a, rho = model.shadow_corr, model.fading_corr
        # Per column (shadow, ul re, dl re, ul im, dl im): AR(1) coefficient, innovation scale
        # in steady state, and the scale of the stationary draw of block 0.
        self._coef = np.array([a, rho, rho, rho, rho])
        inv_sqrt2 = 1.0 / math.sqrt(2.0)
        self._scale = np.array(
            [model.shadow_std_db * math.sqrt(max(0.0, 1.0 - a * a))]
            + [math.sqrt(max(0.0, 1.0 - rho * rho)) * inv_sqrt2] * 4
        )
        self._scale0 = np.array([model.shadow_std_db] + [inv_sqrt2] * 4)
        self._state = np.zeros(5)
        self._shadow_db: list[float] = []
        self._ul: list[float] = []  # uplink fading power gain |h|^2 per block
        self._dl: list[float] = []  # downlink fading power gain |h|^2 per block
        self._first = True

    def _extend(self) -> None:
        m = self.model
        # A short first chunk (enough for a dialogue), then CHUNK_BLOCKS at a time. Block j
        # always gets normals 5j .. 5j + 4 of the stream, whatever the chunking.
        n = m.first_chunk if self._first else self.CHUNK_BLOCKS
        z = self.rng.standard_normal((n, 5))
        # Innovations: shadowing (dB) and the real/imaginary parts of the uplink and downlink
        # fading, columns (ul re, dl re, ul im, dl im) as ChannelProcess._cn draws them.
        x = z * self._scale
        if self._first:
            # Block 0 is the reset draw: stationary shadowing and fading, no memory.
            x[0] = z[0] * self._scale0
            self._first = False
        if n == m.first_chunk:
            # Short chunk: the recursion as one lower-triangular (Toeplitz) matrix product.
            y = np.empty_like(x)
            y[:, 0] = m.filter_shadow @ x[:, 0] + m.powers_shadow * self._state[0]
            y[:, 1:5] = m.filter_fading @ x[:, 1:5] + m.powers_fading[:, None] * self._state[1:5]
        else:
            y = ar1_filter(x, self._coef, self._state)
        self._state = y[-1].copy()
        h2 = y[:, 1:5] * y[:, 1:5]
        # Only shadowing and the fading power gains |h|^2 are stored: the SNR (a log), the
        # rates and the observation slots are computed at the few blocks the environment
        # looks at, which is cheaper than for every block.
        self._shadow_db.extend(y[:, 0].tolist())
        self._ul.extend((h2[:, 0] + h2[:, 2]).tolist())
        self._dl.extend((h2[:, 1] + h2[:, 3]).tolist())

    def block(self, t_s: float) -> int:
        """Index of the block containing time ``t_s`` (drawing more blocks if needed)."""
        j = int(t_s / self.block_s)
        while j >= len(self._ul):
            self._extend()
        return j

    def snr_db(self, t_s: float) -> tuple[float, float]:
        """(uplink, downlink) SNR in dB at absolute time ``t_s``: mean SNR - shadowing +
        10 log10 |h|^2 (the gain floored at 1e-30 as in ``ChannelProcess.state``)."""
        j = self.block(t_s)
        m = self.model
        s = self._shadow_db[j]
        return (
            m.mean_ul_db - s + 10.0 * math.log10(max(self._ul[j], 1e-30)),
            m.mean_dl_db - s + 10.0 * math.log10(max(self._dl[j], 1e-30)),
        )
