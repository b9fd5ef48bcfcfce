"""The wireless link between the device and the edge server's base station.

These equations are OUR reconstruction (the paper's exact channel model is not public); each
constant cites its source.

* Path loss (3GPP TR 36.814 v9.0.0, Annex A.2.1.1, macro cell, 2 GHz carrier)::

      PL(d) = 128.1 + 37.6 log10(d / 1 km)   dB,   d >= 35 m

  plus an optional building penetration loss (20 dB for indoor users in the same annex).
* Log-normal shadowing, standard deviation 8 dB (same annex), time-correlated by the
  Gudmundson model (M. Gudmundson, "Correlation model for shadow fading in mobile radio
  systems", Electronics Letters 27(23), 1991): the correlation after moving ``v dt`` metres is
  ``exp(-v dt / d_corr)`` with decorrelation distance ``d_corr = 50 m`` (the 3GPP macro value,
  TR 36.814 Annex A.2.1.1 and TR 25.996).
* Rayleigh small-scale fading with a first-order Gauss-Markov time correlation (Jakes'
  autocorrelation at lag ``dt``, W. C. Jakes, Microwave Mobile Communications, 1974)::

      h' = rho h + sqrt(1 - rho^2) w,   rho = J0(2 pi f_D dt),   f_D = v f_c / c,

  ``h, w ~ CN(0, 1)``; the channel power gain is ``|h|^2`` (unit mean, exponential).
* SNR per link in dB::

      P_tx + G_bs - PL - L_pen - S + 10 log10 |h|^2 - (N0 + 10 log10 B_link + NF)

  with thermal noise ``N0 = -174 dBm/Hz`` (kT at 290 K), the receiver's noise figure (base
  station 5 dB on the uplink, UE 9 dB on the downlink) and a base-station antenna gain of
  14 dBi (TR 36.814 Annex A.2.1.1). Uplink: the UE transmits 23 dBm (3GPP TS 36.101 Table
  6.2.2-1, power class 3) over its share ``B / n`` of the band. Downlink: the base station
  transmits 46 dBm per 10 MHz (TR 36.814; 49 dBm over 20 MHz, the same power spectral
  density), so a user's downlink SNR does not depend on how many users share the carrier.
  Interference from other cells is not modelled (an SNR, not an SINR: optimistic at the edge).
* Rate: Shannon ``R = B_link log2(1 + SNR)`` with ``B_link = B / n`` when ``n`` users share the
  band (round-robin scheduling). Below ``min_snr_db`` the link is in outage: the rate is 0 and
  a transfer costs the configured finite ``outage_penalty_s`` (a time-out and retry).
* A payload of ``D`` bits takes ``D / R + access_latency_s`` (scheduling request, grant, core
  network and edge round trip; ITU-R M.2410-0 sets a 4 ms user-plane minimum for eMBB, real LTE
  and 5G NSA round trips are 10-50 ms, so presets use 10-60 ms).
* Text is ~4 bytes per token (UTF-8 English averages ~4 characters per BPE token; OpenAI
  tokenizer guide "one token ~ 4 characters") plus protocol framing (HTTP/2 + TLS + TCP/IP).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.special import j0

from cost_models.errors import EdgeRouteError, lookup, require

#: Speed of light in vacuum (m/s).
SPEED_OF_LIGHT_MPS = 299_792_458.0
#: Thermal noise power spectral density at 290 K, kT = -174 dBm/Hz.
THERMAL_NOISE_DBM_HZ = -174.0
#: UTF-8 bytes per token of English text (OpenAI tokenizer guide: 1 token ~ 4 characters).
BYTES_PER_TOKEN = 4.0
#: Fixed framing per message: HTTP/2 HEADERS (~100 B with HPACK), a JSON envelope (~150 B),
#: TLS 1.3 record header + AEAD tag (5 + 16 B) and TCP/IP headers (40 B): ~300 bytes. Modelled.
FRAMING_BYTES = 300.0
#: Extra TCP/IP + TLS overhead per full segment (1460-byte MSS on a 1500-byte MTU): 40 + 21 B.
PER_SEGMENT_OVERHEAD_BYTES = 61.0
MSS_BYTES = 1460.0


# --------------------------------------------------------------------------------------------
# Vectorised link-budget functions
# --------------------------------------------------------------------------------------------


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _out(x: np.ndarray) -> np.ndarray | float:
    return float(x) if np.ndim(x) == 0 else x


_SCALARS = (int, float, np.integer, np.floating)


def _require_positive(x: np.ndarray, name: str, raw: object, allow_zero: bool = False) -> None:
    if x.size == 0:
        return
    bad = (x < 0) if allow_zero else (x <= 0)
    if not np.all(np.isfinite(x)) or np.any(bad):
        rel = ">= 0" if allow_zero else "> 0"
        raise EdgeRouteError(f"{name} must be finite and {rel}, got {raw!r}")


#: Distances below this are clipped: the 36.814 formula is used beyond the minimum UE-eNB
#: distance of 35 m of the macro scenario (TR 36.814 Annex A.2.1.1).
MIN_DISTANCE_M = 35.0


def path_loss_db(distance_m: object) -> np.ndarray | float:
    """Macro-cell path loss ``128.1 + 37.6 log10(d_km)`` in dB (TR 36.814), d >= 35 m."""
    d = _arr(distance_m)
    _require_positive(d, "distance_m", distance_m)
    return _out(128.1 + 37.6 * np.log10(np.maximum(d, MIN_DISTANCE_M) / 1000.0))


def noise_power_dbm(bandwidth_hz: object, noise_figure_db: object) -> np.ndarray | float:
    """Receiver noise ``-174 dBm/Hz + 10 log10 B + NF`` in dBm."""
    b = _arr(bandwidth_hz)
    _require_positive(b, "bandwidth_hz", bandwidth_hz)
    return _out(THERMAL_NOISE_DBM_HZ + 10.0 * np.log10(b) + _arr(noise_figure_db))


def shannon_rate_bps(bandwidth_hz: object, snr_db: object) -> np.ndarray | float:
    """Shannon capacity ``B log2(1 + 10^(snr_db / 10))`` in bits per second."""
    b = _arr(bandwidth_hz)
    _require_positive(b, "bandwidth_hz", bandwidth_hz)
    return _out(b * np.log2(1.0 + 10.0 ** (_arr(snr_db) / 10.0)))


def text_payload_bits_float(tokens: float) -> float:
    """:func:`text_payload_bits` of one token count without argument checks (the caller
    knows ``tokens`` finite and >= 0): the law itself, evaluated per multi-turn environment
    step; the scalar branch of :func:`text_payload_bits` calls it after its checks."""
    body_b = BYTES_PER_TOKEN * tokens
    seg = math.ceil((body_b + FRAMING_BYTES) / MSS_BYTES)
    return 8.0 * (body_b + FRAMING_BYTES + PER_SEGMENT_OVERHEAD_BYTES * seg)


def text_payload_bits(tokens: object) -> np.ndarray | float:
    """Bits on the wire to send ``tokens`` tokens of text in one message.

    ``8 * (4 B/token * tokens + 300 B framing + 61 B per 1460-byte segment)`` (module doc).
    Zero tokens still cost the framing of an (empty) message.
    """
    if isinstance(tokens, _SCALARS):
        tf = float(tokens)
        if not (tf >= 0 and math.isfinite(tf)):
            raise EdgeRouteError(f"tokens must be finite and >= 0, got {tokens!r}")
        return text_payload_bits_float(tf)
    t = _arr(tokens)
    if t.size and (not np.all(np.isfinite(t)) or np.min(t) < 0):
        raise EdgeRouteError(f"tokens must be finite and >= 0, got {tokens!r}")
    body = BYTES_PER_TOKEN * t
    segments = np.ceil((body + FRAMING_BYTES) / MSS_BYTES)
    return _out(8.0 * (body + FRAMING_BYTES + PER_SEGMENT_OVERHEAD_BYTES * segments))


#: Default finite penalty for a transfer attempted in outage: two TCP retransmission time-outs,
#: the initial RTO of 1 s then the doubled 2 s (RFC 6298, Sec. 2.1 and 5.5), before a retry gets
#: through. Modelled; configurable per scenario (``outage_penalty_s``).
DEFAULT_OUTAGE_PENALTY_S = 3.0


def transmit_time_float_s(
    payload_bits: float, rate_bps: float, access_latency_s: float, outage_penalty_s: float
) -> float:
    """:func:`transmit_time_s` on Python floats without argument checks: the law itself, for
    callers that evaluate it several times per environment step on values they already know
    valid (``payload_bits >= 0``, ``access_latency_s >= 0``); the scalar branch of
    :func:`transmit_time_s` calls it after its checks."""
    if rate_bps > 0:
        return payload_bits / rate_bps + access_latency_s
    return outage_penalty_s + access_latency_s


def transmit_time_s(
    payload_bits: object,
    rate_bps: object,
    access_latency_s: object,
    outage_penalty_s: object = DEFAULT_OUTAGE_PENALTY_S,
) -> np.ndarray | float:
    """``payload_bits / rate_bps + access_latency_s``; a rate <= 0 (outage) costs
    ``access_latency_s + outage_penalty_s`` instead (finite, never infinity)."""
    if all(isinstance(x, _SCALARS) for x in (payload_bits, rate_bps, access_latency_s,
                                             outage_penalty_s)):
        require(payload_bits >= 0, f"payload_bits must be >= 0, got {payload_bits!r}")
        require(access_latency_s >= 0, f"access_latency_s must be >= 0, got {access_latency_s!r}")
        return transmit_time_float_s(
            float(payload_bits), float(rate_bps), float(access_latency_s), float(outage_penalty_s)
        )
    bits, rate = _arr(payload_bits), _arr(rate_bps)
    lat, pen = _arr(access_latency_s), _arr(outage_penalty_s)
    if bits.size and np.min(bits) < 0:
        raise EdgeRouteError(f"payload_bits must be >= 0, got {payload_bits!r}")
    if lat.size and np.min(lat) < 0:
        raise EdgeRouteError(f"access_latency_s must be >= 0, got {access_latency_s!r}")
    ok = rate > 0
    t = np.where(ok, bits / np.where(ok, rate, 1.0), pen)
    return _out(t + lat)


# --------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelScenario:
    """Everything that fixes the statistics of the link; validated on construction."""

    name: str = "custom"
    distance_m: float = 300.0
    bandwidth_hz: float = 20e6
    carrier_hz: float = 2.0e9
    speed_mps: float = 1.0
    shadowing_std_db: float = 8.0
    shadowing_decorrelation_m: float = 50.0
    uplink_tx_power_dbm: float = 23.0
    downlink_tx_power_dbm: float = 49.0
    bs_antenna_gain_db: float = 14.0
    penetration_loss_db: float = 0.0
    noise_figure_db: float = 9.0
    bs_noise_figure_db: float = 5.0
    access_latency_s: float = 0.02
    min_snr_db: float = -5.0
    outage_penalty_s: float = DEFAULT_OUTAGE_PENALTY_S
    n_users_sharing: int = 1
    source: str = ""

    def __post_init__(self) -> None:
        checks = {
            "distance_m": self.distance_m > 0,
            "bandwidth_hz": self.bandwidth_hz > 0,
            "carrier_hz": self.carrier_hz > 0,
            "speed_mps": self.speed_mps >= 0,
            "shadowing_std_db": self.shadowing_std_db >= 0,
            "shadowing_decorrelation_m": self.shadowing_decorrelation_m > 0,
            "access_latency_s": self.access_latency_s >= 0,
            "outage_penalty_s": self.outage_penalty_s >= 0,
            "penetration_loss_db": self.penetration_loss_db >= 0,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not (ok and np.isfinite(value)):
                raise EdgeRouteError(
                    f"channel {self.name!r}: {name}={value!r} is not allowed "
                    f"(must be finite and {'> 0' if name in _STRICT else '>= 0'})"
                )
        require(
            isinstance(self.n_users_sharing, (int, np.integer)) and self.n_users_sharing >= 1,
            f"channel {self.name!r}: n_users_sharing must be an integer >= 1, "
            f"got {self.n_users_sharing!r}",
        )
        for name in ("uplink_tx_power_dbm", "downlink_tx_power_dbm", "min_snr_db"):
            require(np.isfinite(getattr(self, name)), f"{name} must be finite")

    def with_overrides(self, **changes: object) -> ChannelScenario:
        """A copy with some fields replaced (validated again); ``None`` values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - set(asdict(self))
        require(not unknown, f"unknown channel fields {sorted(unknown)}; allowed: "
                f"{', '.join(asdict(self))}")
        return replace(self, **changes)

    @property
    def link_bandwidth_hz(self) -> float:
        """Each user's share of the band under round-robin sharing."""
        return self.bandwidth_hz / self.n_users_sharing

    @property
    def doppler_hz(self) -> float:
        """Maximum Doppler shift ``v f_c / c``."""
        return self.speed_mps * self.carrier_hz / SPEED_OF_LIGHT_MPS

    def mean_snr_db(self, distance_m: object | None = None) -> tuple[object, object]:
        """(uplink, downlink) SNR in dB without shadowing and fading (their median, in dB)."""
        d = self.distance_m if distance_m is None else distance_m
        pl = _arr(path_loss_db(d)) + self.penetration_loss_db
        b = self.link_bandwidth_hz
        ul = (self.uplink_tx_power_dbm + self.bs_antenna_gain_db - pl
              - _arr(noise_power_dbm(b, self.bs_noise_figure_db)))
        # the base station spreads its power over the whole band: per-user PSD is unchanged
        dl = (self.downlink_tx_power_dbm + self.bs_antenna_gain_db - pl
              - _arr(noise_power_dbm(self.bandwidth_hz, self.noise_figure_db)))
        return _out(ul), _out(dl)

    def rate_bps(self, snr_db: object) -> np.ndarray | float:
        """Each user's Shannon rate at ``snr_db``; 0 in outage (``snr_db < min_snr_db``)."""
        if isinstance(snr_db, _SCALARS):
            if not snr_db >= self.min_snr_db:
                return 0.0
            return self.link_bandwidth_hz * math.log2(1.0 + 10.0 ** (float(snr_db) / 10.0))
        s = _arr(snr_db)
        r = _arr(shannon_rate_bps(self.link_bandwidth_hz, s))
        return _out(np.where(s >= self.min_snr_db, r, 0.0))


_STRICT = {"distance_m", "bandwidth_hz", "carrier_hz", "shadowing_decorrelation_m"}

_MACRO = (
    "3GPP TR 36.814 v9.0.0 Annex A.2.1.1 (macro: PL 128.1+37.6log10(d_km), 8 dB shadowing, "
    "2 GHz, BS 46 dBm/10 MHz, 14 dBi, NF 5/9 dB), TS 36.101 power class 3 (23 dBm), "
    "Gudmundson 1991 (50 m decorrelation)"
)

CHANNEL_PRESETS: dict[str, ChannelScenario] = {
    s.name: s
    for s in (
        ChannelScenario(
            name="near",
            distance_m=100.0,
            speed_mps=1.0,
            access_latency_s=0.010,
            source=_MACRO + "; pedestrian 3.6 km/h near the site, 10 ms access+edge RTT "
            "(5G NR user plane 4 ms target, ITU-R M.2410-0, plus edge hop)",
        ),
        ChannelScenario(
            name="urban",
            distance_m=300.0,
            speed_mps=8.33,
            access_latency_s=0.020,
            n_users_sharing=4,
            source=_MACRO + "; TR 36.814 case 1 (ISD 500 m), vehicle 30 km/h, 4 active users "
            "share the carrier, 20 ms access+edge RTT (typical LTE/5G NSA)",
        ),
        ChannelScenario(
            name="cell_edge",
            distance_m=1000.0,
            speed_mps=1.0,
            penetration_loss_db=20.0,
            access_latency_s=0.030,
            n_users_sharing=4,
            source=_MACRO + "; indoor user (20 dB penetration loss, TR 36.814 Annex "
            "A.2.1.1) at the cell edge of case 3 (ISD 1732 m -> ~1 km), pedestrian, 30 ms "
            "access RTT (HARQ retransmissions): the median uplink is in outage",
        ),
        ChannelScenario(
            name="congested",
            distance_m=300.0,
            bandwidth_hz=10e6,
            downlink_tx_power_dbm=46.0,
            speed_mps=1.0,
            access_latency_s=0.060,
            n_users_sharing=20,
            source=_MACRO + "; 10 MHz carrier (TR 36.814 baseline), 20 active users, 60 ms "
            "access RTT under scheduling contention (modelled)",
        ),
    )
}


def get_channel_scenario(name: str | ChannelScenario) -> ChannelScenario:
    """The preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(CHANNEL_PRESETS, name, "channel")


# --------------------------------------------------------------------------------------------
# Time-varying process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelState:
    """The link now: SNRs (dB) and realised per-user Shannon rates (bits/s, 0 in outage)."""

    uplink_snr_db: float
    downlink_snr_db: float
    uplink_bps: float
    downlink_bps: float
    shadowing_db: float = 0.0
    uplink_fading_db: float = 0.0
    downlink_fading_db: float = 0.0

    @property
    def uplink_outage(self) -> bool:
        return self.uplink_bps <= 0.0

    @property
    def downlink_outage(self) -> bool:
        return self.downlink_bps <= 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def mean_channel_state(scenario: ChannelScenario | str) -> ChannelState:
    """The link without shadowing and with unit fading gain (the median-SNR link)."""
    sc = get_channel_scenario(scenario)
    ul, dl = sc.mean_snr_db()
    return ChannelState(float(ul), float(dl), float(sc.rate_bps(ul)), float(sc.rate_bps(dl)))


class ChannelProcess:
    """Time-correlated shadowing + Rayleigh fading for one user's uplink and downlink.

    Shadowing (large scale) is common to both directions (same path); fading is independent per
    direction (FDD carriers). All draws come from ``rng`` (a ``numpy.random.Generator``), so the
    same seed gives the same trajectory for the same sequence of ``advance`` calls.
    """

    def __init__(self, scenario: ChannelScenario | str, rng: np.random.Generator) -> None:
        require(
            isinstance(rng, np.random.Generator),
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}",
        )
        self.scenario = get_channel_scenario(scenario)
        self.rng = rng
        self.time_s = 0.0
        self._shadow_db = 0.0
        self._h = np.zeros(2, dtype=np.complex128)  # uplink, downlink
        self._mean_ul, self._mean_dl = self.scenario.mean_snr_db()
        self.reset()

    def _cn(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((2, n))
        return (z[0] + 1j * z[1]) / np.sqrt(2.0)

    def reset(self) -> ChannelState:
        """Draw shadowing and fading from their stationary laws; time restarts at 0."""
        self.time_s = 0.0
        self._shadow_db = float(self.rng.normal(0.0, self.scenario.shadowing_std_db))
        self._h = self._cn(2)
        return self.state

    def correlations(self, dt_s: float) -> tuple[float, float]:
        """(shadowing, fading) correlation coefficients over ``dt_s``: Gudmundson and J0."""
        sc = self.scenario
        a = float(np.exp(-sc.speed_mps * dt_s / sc.shadowing_decorrelation_m))
        rho = float(j0(2.0 * np.pi * sc.doppler_hz * dt_s))
        return a, rho

    def advance(self, dt_s: float) -> ChannelState:
        """Let ``dt_s`` seconds pass and return the new state."""
        require(np.isfinite(dt_s) and dt_s >= 0, f"dt_s must be finite and >= 0, got {dt_s!r}")
        a, rho = self.correlations(dt_s)
        sd = self.scenario.shadowing_std_db
        self._shadow_db = a * self._shadow_db + np.sqrt(max(0.0, 1 - a * a)) * float(
            self.rng.normal(0.0, sd)
        )
        self._h = rho * self._h + np.sqrt(max(0.0, 1 - rho * rho)) * self._cn(2)
        self.time_s += float(dt_s)
        return self.state

    @property
    def state(self) -> ChannelState:
        g_ul = 10.0 * math.log10(max(abs(self._h[0]) ** 2, 1e-30))
        g_dl = 10.0 * math.log10(max(abs(self._h[1]) ** 2, 1e-30))
        ul = float(self._mean_ul - self._shadow_db + g_ul)
        dl = float(self._mean_dl - self._shadow_db + g_dl)
        sc = self.scenario
        return ChannelState(
            uplink_snr_db=ul,
            downlink_snr_db=dl,
            uplink_bps=float(sc.rate_bps(ul)),
            downlink_bps=float(sc.rate_bps(dl)),
            shadowing_db=float(self._shadow_db),
            uplink_fading_db=float(g_ul),
            downlink_fading_db=float(g_dl),
        )
