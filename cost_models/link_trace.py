"""Replaying a measured link: a time-varying rate and what it delivers between two instants.

A link trace is a piecewise-constant rate ``r_k`` (bit/s) on intervals
``[k dt, (k + 1) dt)``: per second for 5Gophers throughput logs, per millisecond for
Mahimahi delivery opportunities (12,000 bits each: one 1500-byte packet; Winstein et al.,
NSDI 2013, ``traces/README`` of ravinet/mahimahi). The law (no modelling beyond the trace):

    bits delivered in [t0, t1) = integral_{t0}^{t1} r(t) dt

with the cumulative sum ``C_k = sum_{i<k} r_i dt`` interpolated linearly inside an interval.
A transfer of ``D`` bits starting at ``t0`` ends at the first ``t1`` with
``bits(t0, t1) = D``; intervals at 0 bit/s are real outages that the transfer waits through.
At the end of the trace it either loops (``loop=True``, as Mahimahi's ``mm-link`` replays a
file) or stops: the link is down afterwards, and a transfer that cannot finish costs the time
to the end plus the finite ``outage_penalty_s`` (a time-out and retry, as in
:mod:`cost_models.link`), never an infinity.

The round trip of a message (request, grant, core network, server) is added by the caller
(``access + delivery``, as ``channel.transmit_time_s``); traces that carry no delay take it
from measured RTT samples (see ``envs/traces/links.py``).
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from cost_models.errors import require
from cost_models.link import DEFAULT_OUTAGE_PENALTY_S

#: Bits per Mahimahi delivery opportunity: one MTU-sized packet of 1500 bytes.
MAHIMAHI_BITS_PER_OPPORTUNITY = 1500 * 8


class LinkTrace:
    """One direction of a replayed link (module docstring).

    ``rates_bps``: the per-interval rates (>= 0, finite); ``step_s``: the interval length;
    ``name``/``source``: for output tables.
    """

    def __init__(
        self,
        rates_bps: object,
        step_s: float,
        loop: bool = True,
        outage_penalty_s: float = DEFAULT_OUTAGE_PENALTY_S,
        name: str = "trace",
        source: str = "",
    ) -> None:
        r = np.asarray(rates_bps, dtype=np.float64)
        require(r.ndim == 1 and r.size >= 1, f"link trace {name!r}: rates must be a non-empty "
                "1-D array")
        require(bool(np.all(np.isfinite(r))) and bool(np.all(r >= 0)),
                f"link trace {name!r}: rates must be finite and >= 0 bit/s")
        require(step_s > 0 and math.isfinite(step_s), f"step_s must be > 0, got {step_s!r}")
        require(outage_penalty_s >= 0, f"outage_penalty_s must be >= 0, got {outage_penalty_s!r}")
        self.rates_bps = r
        self.step_s = float(step_s)
        self.loop = bool(loop)
        self.outage_penalty_s = float(outage_penalty_s)
        self.name, self.source = name, source
        self.cumulative_bits = np.concatenate(([0.0], np.cumsum(r * self.step_s)))
        self.period_s = r.size * self.step_s
        self.period_bits = float(self.cumulative_bits[-1])
        self._cum_list = self.cumulative_bits.tolist()
        self._rates_list = r.tolist()

    # ------------------------------------------------------------------ the law

    def bits_by(self, t_s: object) -> np.ndarray | float:
        """Bits delivered on ``[0, t_s)`` (``t_s >= 0``); vectorised."""
        if isinstance(t_s, (int, float)):
            return self._bits_by_float(float(t_s))
        t = np.asarray(t_s, dtype=np.float64)
        require(bool(np.all(t >= 0)), "times must be >= 0")
        if self.loop:
            q, t_in = np.floor(t / self.period_s), np.mod(t, self.period_s)
        else:
            q, t_in = np.zeros_like(t), np.minimum(t, self.period_s)
        k = np.minimum((t_in / self.step_s).astype(np.int64), self.rates_bps.size - 1)
        part = self.cumulative_bits[k] + self.rates_bps[k] * (t_in - k * self.step_s)
        return q * self.period_bits + part

    def _bits_by_float(self, t: float) -> float:
        if self.loop:
            q = math.floor(t / self.period_s)
            t_in = t - q * self.period_s
        else:
            q, t_in = 0, min(t, self.period_s)
        k = min(int(t_in / self.step_s), len(self._rates_list) - 1)
        return q * self.period_bits + self._cum_list[k] + self._rates_list[k] * (
            t_in - k * self.step_s
        )

    def delivered_bits(self, t0_s: object, t1_s: object) -> np.ndarray | float:
        """Bits delivered on ``[t0_s, t1_s)`` (the integral of the rate)."""
        return self.bits_by(t1_s) - self.bits_by(t0_s)

    def rate_at(self, t_s: float) -> float:
        """The trace's rate (bit/s) at ``t_s`` (0 after the end of a non-looping trace)."""
        if not self.loop and t_s >= self.period_s:
            return 0.0
        t_in = math.fmod(t_s, self.period_s)
        return self._rates_list[min(int(t_in / self.step_s), len(self._rates_list) - 1)]

    def mean_rate_bps(self, t0_s: float, t1_s: float) -> float:
        """Average rate over ``[t0_s, t1_s)`` (what a throughput measurement reports)."""
        require(t1_s > t0_s, f"need t1_s > t0_s, got {t0_s!r}, {t1_s!r}")
        return float(self.delivered_bits(t0_s, t1_s)) / (t1_s - t0_s)

    def _time_of_bits(self, target: float) -> float:
        """Earliest time by which ``target`` bits have been delivered (inf if never)."""
        if target <= 0.0:
            return 0.0
        if self.loop:
            if self.period_bits <= 0.0:
                return math.inf
            q = math.floor(target / self.period_bits)
            x = target - q * self.period_bits
            if x <= 0.0:  # exactly at a period boundary: the end of period q - 1
                q, x = q - 1, self.period_bits
        else:
            if target > self.period_bits:
                return math.inf
            q, x = 0, target
        i = bisect.bisect_left(self._cum_list, x)  # first C_i >= x; the interval is i - 1
        k = max(i - 1, 0)
        rate = self._rates_list[k]
        within = (x - self._cum_list[k]) / rate if rate > 0 else 0.0
        return q * self.period_s + k * self.step_s + within

    def transfer_time_s(self, payload_bits: float, start_s: float) -> float:
        """Seconds to deliver ``payload_bits`` starting at ``start_s`` (outages included);
        a transfer that can never finish costs the time to the trace's end plus
        ``outage_penalty_s`` (module docstring). Floats; see :meth:`transfer_times_s`."""
        if payload_bits <= 0.0:
            return 0.0
        end = self._time_of_bits(self._bits_by_float(start_s) + payload_bits)
        if end == math.inf:
            return max(self.period_s - start_s, 0.0) + self.outage_penalty_s
        return end - start_s

    def transfer_times_s(self, payload_bits: object, start_s: object) -> np.ndarray:
        """:meth:`transfer_time_s` over aligned arrays (a loop of the scalar law: each call
        is two bisections)."""
        bits = np.broadcast_to(np.asarray(payload_bits, dtype=np.float64), np.shape(start_s))
        starts = np.asarray(start_s, dtype=np.float64)
        require(bool(np.all(bits >= 0)), "payload_bits must be >= 0")
        pairs = zip(bits.tolist(), starts.tolist(), strict=True)
        return np.array([self.transfer_time_s(b, s) for b, s in pairs])

    def per_second_rates_bps(self, t0_s: float = 0.0, seconds: int | None = None) -> np.ndarray:
        """Mean rate of each whole second from ``t0_s`` (what a 1-s throughput log shows)."""
        n = int(self.period_s) if seconds is None else int(seconds)
        edges = t0_s + np.arange(n + 1, dtype=np.float64)
        return np.diff(np.asarray(self.bits_by(edges), dtype=np.float64))

    def scaled(self, factor: float, name: str | None = None, source: str = "") -> LinkTrace:
        """This trace with every rate multiplied by ``factor`` (a modelled other direction)."""
        require(factor > 0 and math.isfinite(factor), f"factor must be > 0, got {factor!r}")
        return LinkTrace(self.rates_bps * factor, self.step_s, self.loop, self.outage_penalty_s,
                         name or self.name, source or self.source)  # fmt: skip

    def outage_fraction(self) -> float:
        """Share of the trace's intervals at 0 bit/s."""
        return float(np.mean(self.rates_bps == 0.0))


def mahimahi_rates_bps(opportunity_ms: object) -> np.ndarray:
    """Per-millisecond rates of a Mahimahi trace from its delivery timestamps (ms from the
    start, one line per 1500-byte opportunity, repeated for several in one ms). The trace
    period is the last timestamp (mm-link loops the file there); millisecond ``m`` holds the
    opportunities stamped ``m + 1`` (stamps count from 1 ms; a stamp of 0 counts in ms 0)."""
    ts = np.asarray(opportunity_ms, dtype=np.int64)
    require(ts.ndim == 1 and ts.size >= 1 and bool(np.all(ts >= 0))
            and bool(np.all(np.diff(ts) >= 0)),
            "Mahimahi timestamps must be a non-empty non-decreasing list of ms >= 0")
    period_ms = max(int(ts[-1]), 1)
    counts = np.bincount(np.clip(ts - 1, 0, period_ms - 1), minlength=period_ms)
    return counts.astype(np.float64) * MAHIMAHI_BITS_PER_OPPORTUNITY / 1e-3


#: Uplink / downlink rate ratio used where a trace has no uplink (5Gophers logs, Mahimahi's
#: TMobile-LTE-driving): the medians of Huang et al. (MobiSys 2012) over 3,000+ LTE users of
#: their 4GTest app, 6 Mbit/s up and 13 Mbit/s down. Modelled: a scaled copy of the downlink.
UPLINK_TO_DOWNLINK_RATIO = 6.0 / 13.0


class TraceLink:
    """Both directions of a replayed link and the round-trip times to pair with it.

    ``rtt_samples_s``: measured round trips (s); the access latency of a message is one of
    them (:meth:`rtt_s`, by a uniform the caller draws) or their median. ``uplink_modelled``
    says the uplink is a scaled copy of the downlink (:data:`UPLINK_TO_DOWNLINK_RATIO`).
    """

    def __init__(self, name: str, uplink: LinkTrace, downlink: LinkTrace,
                 rtt_samples_s: object, uplink_modelled: bool, source: str) -> None:  # fmt: skip
        rtt = np.sort(np.asarray(rtt_samples_s, dtype=np.float64))
        require(rtt.ndim == 1 and rtt.size >= 1 and bool(np.all(rtt >= 0)),
                f"link {name!r}: rtt_samples_s must be a non-empty array of seconds >= 0")
        self.name, self.uplink, self.downlink = name, uplink, downlink
        self.rtt_samples_s = rtt
        self._rtt_list = rtt.tolist()
        self.uplink_modelled, self.source = bool(uplink_modelled), source

    @property
    def median_rtt_s(self) -> float:
        return float(np.median(self.rtt_samples_s))

    def rtt_s(self, uniform: float) -> float:
        """The RTT sample at quantile ``uniform`` in [0, 1) (an empirical-inverse draw)."""
        rtts = self._rtt_list
        return rtts[min(int(uniform * len(rtts)), len(rtts) - 1)]

    def transmit_s(self, payload_bits: float, start_s: float, uplink: bool,
                   rtt_s: float | None = None) -> float:  # fmt: skip
        """One message: half a round trip of propagation (request and response of one
        exchange together pay one RTT, as Mahimahi's ``mm-delay`` adds a one-way delay to
        each direction), plus the message's delivery on the trace from ``start_s``."""
        rtt = self.median_rtt_s if rtt_s is None else rtt_s
        trace = self.uplink if uplink else self.downlink
        return 0.5 * rtt + trace.transfer_time_s(payload_bits, start_s)
