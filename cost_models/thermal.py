"""Device heat: sustained on-device generation throttles the device; idle time cools it.

OUR first-order model (modelled), calibrated to published phone measurements. A normalised
heat state ``h`` in [0, 1] (0 cold, 1 the steady state of continuous generation; Android's
``PowerManager.getThermalHeadroom()`` reports the same kind of normalised value, 1.0 meaning
severe throttling) follows a first-order lag, as the lumped RC thermal model of a package::

    dh/dt = (a - h) / tau,    a = 1 while computing, 0 while idle
    speed(h) = 1 - (1 - s_min) h          (fraction of the cold, full-clock speed)

So continuous generation from cold runs at ``1 - (1 - s_min) (1 - exp(-t / tau))`` of its
peak, and an idle gap of ``dt`` multiplies ``h`` by ``exp(-dt / tau_cool)`` (``tau_cool =
tau``, the same RC constant, unless configured: cooling was not measured in the source).

Calibration (:data:`PUBLISHED_THROTTLING`): decode rate over 10 minutes of continuous
generation from a cold start, Gemma-4-E2B 4-bit on an iPhone 17 Pro (A19 Pro), from the
measurements of "iPhone on-device LLM: the GPU wins the sprint, the Neural Engine wins the
marathon" (dev.to/john-rocky, 2025): the Neural Engine (CoreML) keeps 67% of its peak after
10 minutes and loses 10% by 93 s, 25% by 390 s; the GPU runtimes fall to 38% (MLX; -10% at
5 s, -25% at 35 s) and 48% (LiteRT-LM; 13 s, 40 s). :func:`fit_profile` fits ``(s_min,
tau)`` to each runtime's three points by least squares. The default profile ``npu`` is used
for the phone NPU of ``catalogue.HARDWARE_SPECS["phone_npu"]`` (a Snapdragon Hexagon NPU, not
Apple's: a modelled transfer of the NPU's thermal behaviour).

The throttle scales the device's whole compute time (prefill and decode: DVFS lowers the
clocks and the memory controller's with them). Time to finish ``W`` seconds of full-speed
work from heat ``h0`` solves ``W = integral_0^T speed(h(t)) dt`` in closed form plus a few
Newton steps (:func:`throttled_time_s`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cost_models.errors import require

#: (seconds of continuous generation, fraction of peak decode rate) per runtime, from the
#: dev.to/john-rocky iPhone 17 Pro measurements (module docstring): -10%, -25%, 10 minutes.
PUBLISHED_THROTTLING: dict[str, tuple[tuple[float, float], ...]] = {
    "npu": ((93.0, 0.90), (390.0, 0.75), (600.0, 0.67)),  # CoreML / Apple Neural Engine
    "gpu_mlx": ((5.0, 0.90), (35.0, 0.75), (600.0, 0.38)),  # MLX on the GPU
    "gpu_litert": ((13.0, 0.90), (40.0, 0.75), (600.0, 0.48)),  # LiteRT-LM on the GPU
}


@dataclass(frozen=True)
class ThermalProfile:
    """``s_min``: steady-state speed fraction; ``tau_s``: heating time constant;
    ``tau_cool_s``: cooling time constant (default ``tau_s``)."""

    name: str
    s_min: float
    tau_s: float
    tau_cool_s: float
    source: str = ""

    def __post_init__(self) -> None:
        require(0.0 < self.s_min <= 1.0, f"s_min must be in (0, 1], got {self.s_min!r}")
        require(self.tau_s > 0 and self.tau_cool_s > 0, "thermal time constants must be > 0")


def fit_profile(points: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    """Least-squares ``(s_min, tau_s)`` of ``speed(t) = 1 - (1 - s_min)(1 - exp(-t/tau))``
    through the given (time, speed fraction) points."""
    from scipy.optimize import least_squares

    t = np.array([p[0] for p in points], dtype=np.float64)
    s = np.array([p[1] for p in points], dtype=np.float64)

    def residual(theta: np.ndarray) -> np.ndarray:
        return 1.0 - (1.0 - theta[0]) * (1.0 - np.exp(-t / theta[1])) - s

    fit = least_squares(residual, x0=[0.5, 100.0], bounds=([1e-3, 1e-3], [1.0, 1e5]))
    return float(fit.x[0]), float(fit.x[1])


@lru_cache(maxsize=8)
def _fitted(name: str) -> ThermalProfile:
    s_min, tau = fit_profile(PUBLISHED_THROTTLING[name])
    return ThermalProfile(name, s_min, tau, tau,
                          f"fit to dev.to/john-rocky iPhone 17 Pro measurements ({name})")


#: Profile names (fitted lazily from :data:`PUBLISHED_THROTTLING`).
THERMAL_PROFILE_NAMES: tuple[str, ...] = tuple(PUBLISHED_THROTTLING)


def get_thermal_profile(name: str | ThermalProfile) -> ThermalProfile:
    """The fitted profile called ``name``; :class:`EdgeRouteError` listing the allowed."""
    if isinstance(name, ThermalProfile):
        return name
    require(
        name in THERMAL_PROFILE_NAMES,
        f"unknown thermal profile {name!r}; allowed: {', '.join(THERMAL_PROFILE_NAMES)}",
    )
    return _fitted(name)


def speed_fraction(profile: ThermalProfile, heat: object) -> np.ndarray | float:
    """``1 - (1 - s_min) h``: the device's speed as a fraction of its cold peak."""
    if isinstance(heat, (int, float)):
        return 1.0 - (1.0 - profile.s_min) * min(max(float(heat), 0.0), 1.0)
    h = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    return 1.0 - (1.0 - profile.s_min) * h


def heat_after_busy(profile: ThermalProfile, heat: float, busy_s: float) -> float:
    """Heat after ``busy_s`` seconds of computing: ``1 + (h - 1) exp(-busy / tau)``."""
    return 1.0 + (heat - 1.0) * math.exp(-busy_s / profile.tau_s)


def heat_after_idle(profile: ThermalProfile, heat: float, idle_s: float) -> float:
    """Heat after ``idle_s`` idle seconds: ``h exp(-idle / tau_cool)``."""
    return heat * math.exp(-idle_s / profile.tau_cool_s)


def work_done_s(profile: ThermalProfile, heat: float, busy_s: float) -> float:
    """Full-speed seconds of work done in ``busy_s`` seconds from heat ``h0``:
    ``s_min T + (1 - s_min)(1 - h0) tau (1 - exp(-T / tau))``."""
    g = 1.0 - profile.s_min
    return profile.s_min * busy_s + g * (1.0 - heat) * profile.tau_s * (
        1.0 - math.exp(-busy_s / profile.tau_s)
    )


def throttled_time_s(profile: ThermalProfile, heat: float, work_s: float) -> float:
    """Wall seconds to finish ``work_s`` seconds of full-speed compute from heat ``heat``.

    ``work_done_s`` is concave and increasing in T, so Newton's method started at the lower
    bound ``W / speed(h0)`` climbs monotonically to the root (8 steps reach 1e-12 relative
    in practice; a bisection guard is not needed)."""
    if work_s <= 0.0:
        return 0.0
    h0 = min(max(heat, 0.0), 1.0)
    T = work_s / (1.0 - (1.0 - profile.s_min) * h0)
    g, tau = 1.0 - profile.s_min, profile.tau_s
    for _ in range(30):
        e = math.exp(-T / tau)
        f = profile.s_min * T + g * (1.0 - h0) * tau * (1.0 - e) - work_s
        df = profile.s_min + g * (1.0 - h0) * e
        step = f / df
        T -= step
        if abs(step) <= 1e-12 * T:
            break
    return T


class DeviceThermalState:
    """One device's heat over time (mutable; the environment owns one per user).

    :meth:`run` accounts a compute job starting at ``start_s`` (cooling since the last job
    first) and returns its throttled wall time; :meth:`heat_at` / :meth:`speed_at` are what
    the phone reads before deciding.
    """

    def __init__(self, profile: ThermalProfile | str = "npu", heat: float = 0.0) -> None:
        self.profile = get_thermal_profile(profile)
        self.initial_heat = float(heat)
        self.heat, self.time_s = self.initial_heat, 0.0

    def reset(self) -> None:
        self.heat, self.time_s = self.initial_heat, 0.0

    def heat_at(self, t_s: float) -> float:
        return heat_after_idle(self.profile, self.heat, max(t_s - self.time_s, 0.0))

    def speed_at(self, t_s: float) -> float:
        return float(speed_fraction(self.profile, self.heat_at(t_s)))

    def run(self, start_s: float, work_s: float) -> float:
        """Compute ``work_s`` full-speed seconds from ``start_s``; returns the wall time."""
        h = self.heat_at(start_s)
        wall = throttled_time_s(self.profile, h, work_s)
        self.heat = heat_after_busy(self.profile, h, wall)
        self.time_s = max(start_s, self.time_s) + wall
        return wall
