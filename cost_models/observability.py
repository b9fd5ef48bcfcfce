"""What a phone can know of the edge server's load and of its own link, and how old it is.

OUR model of partial observability (modelled; every parameter is configuration):

* **Load report with each answer.** The server attaches its state to every response (as a
  vLLM server exposes ``num_requests_running``, ``num_requests_waiting`` and
  ``kv_cache_usage_perc`` on ``/metrics``; an API gateway can copy them into a response
  header). The device holds the last one it received: the value at the moment the answer left
  the server, whose age grows until the next answer.
* **Periodic beacon.** Every ``period_s`` (phase ``phase_s``) the server samples its state and
  publishes it; a sample taken at ``k period + phase`` reaches the device ``delay_s`` later
  (push latency, or the scrape interval of a pull). Optional Gaussian noise of standard
  deviation ``noise_std`` on the reported fractions (clipped to [0, 1]), one draw per sample.
* The device uses the NEWEST of the two (by the time the value was sampled); its age is
  ``now - sample time``.
* **Channel estimate.** The device's estimate of the coming transfer's rate is its last
  measurement (the throughput its last transfer achieved, or a periodic probe), with its
  age: never the realised rate of the transfer it is deciding about.

Laws here are pure functions of times (vectorised where a whole episode is evaluated at once)
plus :class:`LoadObserver`, a small holder the environments keep per user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cost_models.errors import require


def newest_sample_index(
    t_s: object, period_s: float, delay_s: float = 0.0, phase_s: float = 0.0
) -> np.ndarray | int:
    """Index ``k`` of the newest periodic sample (taken at ``k period + phase``) that has
    reached the device by ``t_s`` (received at ``k period + phase + delay``); -1 if none yet.
    Vectorised over ``t_s``."""
    require(period_s > 0 and math.isfinite(period_s), f"period_s must be > 0, got {period_s!r}")
    require(delay_s >= 0 and math.isfinite(delay_s), f"delay_s must be >= 0, got {delay_s!r}")
    if isinstance(t_s, (int, float)):
        k = math.floor((t_s - delay_s - phase_s) / period_s)
        return k if k >= 0 else -1
    k = np.floor((np.asarray(t_s, dtype=np.float64) - delay_s - phase_s) / period_s)
    return np.where(k >= 0, k, -1).astype(np.int64)


def sample_time_s(index: object, period_s: float, phase_s: float = 0.0) -> np.ndarray | float:
    """When sample ``index`` was taken (``-inf`` for index -1: nothing received)."""
    if isinstance(index, (int, np.integer)):
        return -math.inf if index < 0 else index * period_s + phase_s
    i = np.asarray(index)
    return np.where(i >= 0, i * period_s + phase_s, -np.inf)


def delayed_series(
    times_s: object, values: object, query_s: object, period_s: float, delay_s: float,
    phase_s: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """What a beacon receiver sees at ``query_s`` of a piecewise-constant series
    (``values[i]`` holds on ``[times_s[i], times_s[i + 1])``): the series' value at the newest
    received sample time; NaN before the first sample arrives. Vectorised over ``query_s``."""
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    k = np.asarray(newest_sample_index(np.asarray(query_s, dtype=np.float64), period_s,
                                       delay_s, phase_s))  # fmt: skip
    ts = np.asarray(sample_time_s(k, period_s, phase_s), dtype=np.float64)
    pos = np.searchsorted(t, ts, side="right") - 1
    ok = (k >= 0) & (pos >= 0)
    return np.where(ok, v[np.clip(pos, 0, len(v) - 1)], np.nan)


@dataclass(frozen=True)
class Observed:
    """One observed value and when it was sampled (the device computes the age)."""

    value: object
    sampled_s: float

    def age_s(self, now_s: float) -> float:
        return now_s - self.sampled_s


def newest(*observations: Observed | None) -> Observed | None:
    """The observation sampled most recently (None if there is none)."""
    best: Observed | None = None
    for obs in observations:
        if obs is not None and (best is None or obs.sampled_s > best.sampled_s):
            best = obs
    return best


@dataclass(frozen=True)
class BeaconConfig:
    """The beacon law (module docstring). ``period_s = inf`` turns beacons off (reports with
    answers only); ``with_answers`` False drops the per-answer reports."""

    period_s: float = math.inf
    delay_s: float = 0.0
    noise_std: float = 0.0
    phase_s: float = 0.0
    with_answers: bool = True

    def __post_init__(self) -> None:
        require(self.period_s > 0, f"beacon period_s must be > 0 (inf = off), got "
                f"{self.period_s!r}")
        require(self.delay_s >= 0 and math.isfinite(self.delay_s),
                f"beacon delay_s must be finite and >= 0, got {self.delay_s!r}")
        require(self.noise_std >= 0 and math.isfinite(self.noise_std),
                f"beacon noise_std must be finite and >= 0, got {self.noise_std!r}")

    @property
    def beacons_on(self) -> bool:
        return math.isfinite(self.period_s)


#: Noise draws per chunk of the beacon noise stream.
_NOISE_CHUNK = 1024


class LoadObserver:
    """One device's view of the server load: last answer report and last beacon.

    ``samples``: a callable ``k -> value`` giving beacon sample ``k`` (the simulator's
    periodic samples), values being dicts of fractions and counts; ``noise_keys`` the keys
    whose values are fractions that get the beacon noise. Noise draw ``k`` comes from chunk
    ``k // 1024`` of ``default_rng([seed, chunk])``: the same for every policy.
    """

    def __init__(self, config: BeaconConfig, seed: int = 0,
                 noise_keys: tuple[str, ...] = ("kv_usage", "batch_fill")) -> None:  # fmt: skip
        self.config = config
        self.seed = int(seed)
        self.noise_keys = noise_keys
        self._report: Observed | None = None
        self._noise: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        self._report = None

    def on_answer(self, value: dict[str, float], sampled_s: float) -> None:
        """An answer arrived carrying the server's state at ``sampled_s`` (when it left)."""
        if self.config.with_answers:
            self._report = Observed(value, sampled_s)

    def _noisy(self, k: int, value: dict[str, float]) -> dict[str, float]:
        sd = self.config.noise_std
        if sd <= 0.0:
            return value
        chunk = self._noise.get(k // _NOISE_CHUNK)
        if chunk is None:
            rng = np.random.default_rng([self.seed, k // _NOISE_CHUNK])
            chunk = self._noise[k // _NOISE_CHUNK] = rng.standard_normal(
                (_NOISE_CHUNK, len(self.noise_keys))
            )
        z = chunk[k % _NOISE_CHUNK]
        out = dict(value)
        for j, key in enumerate(self.noise_keys):
            if key in out:
                out[key] = min(1.0, max(0.0, out[key] + sd * float(z[j])))
        return out

    def observe(self, now_s: float, sample: callable) -> Observed | None:
        """The newest observation at ``now_s``; ``sample(k)`` returns beacon sample ``k``."""
        cfg = self.config
        beacon = None
        if cfg.beacons_on:
            k = newest_sample_index(now_s, cfg.period_s, cfg.delay_s, cfg.phase_s)
            if k >= 0:
                beacon = Observed(self._noisy(k, sample(k)),
                                  float(sample_time_s(k, cfg.period_s, cfg.phase_s)))  # fmt: skip
        return newest(self._report, beacon)


class LastMeasurement:
    """A device's last measurement of a quantity (e.g. its link rate), with when it was made.

    The estimate of the coming transfer is this value; :meth:`measure` replaces it after a
    transfer (or a probe). ``initial`` is what the device assumes before any measurement
    (e.g. the scenario's median rate), sampled at ``-inf`` (infinitely old)."""

    def __init__(self, initial: float) -> None:
        self.initial = float(initial)
        self.value, self.measured_s = self.initial, -math.inf

    def reset(self) -> None:
        self.value, self.measured_s = self.initial, -math.inf

    def measure(self, value: float, at_s: float) -> None:
        self.value, self.measured_s = float(value), float(at_s)

    def age_s(self, now_s: float) -> float:
        return now_s - self.measured_s
