"""The wireless link between the device and the edge server's base station: scenarios and fading.

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
  The laws themselves (path loss, noise, SNR, rate, payload, transfer time) are in
  :mod:`cost_models.link`; this module holds the scenarios and the time-varying process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.special import j0

from cost_models.errors import EdgeRouteError, lookup, require
from cost_models.link import (
    DEFAULT_OUTAGE_PENALTY_S,
    fading_snr_float_db,
    link_rate_bps,
    link_rate_float_bps,
    noise_power_dbm,
    path_loss_db,
)
from cost_models.numeric import SCALARS, as_output

#: Speed of light in vacuum (m/s).
SPEED_OF_LIGHT_MPS = 299_792_458.0


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
        pl = np.asarray(path_loss_db(d)) + self.penetration_loss_db
        b = self.link_bandwidth_hz
        ul = (self.uplink_tx_power_dbm + self.bs_antenna_gain_db - pl
              - np.asarray(noise_power_dbm(b, self.bs_noise_figure_db)))
        # the base station spreads its power over the whole band: per-user PSD is unchanged
        dl = (self.downlink_tx_power_dbm + self.bs_antenna_gain_db - pl
              - np.asarray(noise_power_dbm(self.bandwidth_hz, self.noise_figure_db)))
        return as_output(ul), as_output(dl)

    def rate_bps(self, snr_db: object) -> np.ndarray | float:
        """Each user's Shannon rate at ``snr_db``; 0 in outage (``snr_db < min_snr_db``):
        :func:`cost_models.link.link_rate_bps` on this scenario's band share and floor."""
        if isinstance(snr_db, SCALARS):
            return link_rate_float_bps(self.link_bandwidth_hz, float(snr_db), self.min_snr_db)
        return link_rate_bps(self.link_bandwidth_hz, snr_db, self.min_snr_db)

    def correlations(self, dt_s: float) -> tuple[float, float]:
        """(shadowing, fading) correlation coefficients over ``dt_s``: Gudmundson
        ``exp(-v dt / d_corr)`` and Jakes ``J0(2 pi f_D dt)``."""
        a = float(np.exp(-self.speed_mps * dt_s / self.shadowing_decorrelation_m))
        rho = float(j0(2.0 * np.pi * self.doppler_hz * dt_s))
        return a, rho


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

    def advance(self, dt_s: float) -> ChannelState:
        """Let ``dt_s`` seconds pass and return the new state."""
        require(np.isfinite(dt_s) and dt_s >= 0, f"dt_s must be finite and >= 0, got {dt_s!r}")
        a, rho = self.scenario.correlations(dt_s)
        sd = self.scenario.shadowing_std_db
        self._shadow_db = a * self._shadow_db + np.sqrt(max(0.0, 1 - a * a)) * float(
            self.rng.normal(0.0, sd)
        )
        self._h = rho * self._h + np.sqrt(max(0.0, 1 - rho * rho)) * self._cn(2)
        self.time_s += float(dt_s)
        return self.state

    @property
    def state(self) -> ChannelState:
        ul_h, dl_h = self._h.tolist()
        g_ul = fading_snr_float_db(0.0, 0.0, ul_h.real, ul_h.imag)
        g_dl = fading_snr_float_db(0.0, 0.0, dl_h.real, dl_h.imag)
        shadow = float(self._shadow_db)
        ul = fading_snr_float_db(self._mean_ul, shadow, ul_h.real, ul_h.imag)
        dl = fading_snr_float_db(self._mean_dl, shadow, dl_h.real, dl_h.imag)
        sc = self.scenario
        return ChannelState(
            uplink_snr_db=ul,
            downlink_snr_db=dl,
            uplink_bps=float(sc.rate_bps(ul)),
            downlink_bps=float(sc.rate_bps(dl)),
            shadowing_db=shadow,
            uplink_fading_db=g_ul,
            downlink_fading_db=g_dl,
        )
