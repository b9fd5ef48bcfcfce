"""Device energy: computing on the phone, and sending and receiving over the cellular radio.

OUR model (modelled; each constant cited):

* **Compute.** While the phone runs the small model its power is ``DEVICE_ACTIVE_POWER_W``
  above idle; a job of ``W`` full-speed seconds costs ``P W`` joules whatever the thermal
  throttling (throttling lowers the clocks and the power with them: DVFS keeps the energy of
  the work roughly constant; modelled). So the energy per token is ``P x`` the roofline time
  per token of the device's (model, hardware, precision).
  ``DEVICE_ACTIVE_POWER_W = 7.0 W``: Nexa AI's 10-minute stress test on a Samsung Galaxy S25
  Ultra's Hexagon NPU (LFM2-1.2B 4-bit, r/LocalLLM, Nov 2025): ~54k tokens for 6% of the
  battery; with the S25 Ultra's 5,000 mAh at 3.88 V nominal that is
  ``0.06 x 5.0 Ah x 3.88 V x 3600 / 600 s = 7.0 W`` (whole phone, screen on).
* **Radio** (Huang et al., "A Close Examination of Performance and Power Characteristics of
  4G LTE Networks", MobiSys 2012, power model fitted on a commercial LTE phone, Tables 3-4):
  while transferring, ``P = alpha_u R_u + alpha_d R_d + beta`` with ``alpha_u = 438.39 mW per
  Mbit/s``, ``alpha_d = 51.97 mW per Mbit/s``, ``beta = 1288.04 mW``; after the last packet
  the radio stays in the high-power DRX tail for ``11.576 s`` at ``1060.0 mW`` (RRC
  inactivity timer); waiting for the server's answer keeps it in that connected state. The
  constants are the paper's LTE values; they are applied to the 5G traces too (5G NSA
  radios draw more: optimistic for 5G).

A transfer of ``D`` bits at rate ``R`` lasting ``T = D / R`` costs
``alpha D / 1e6 + beta T`` (``alpha`` in J per Mbit once ``mW x s`` is read as mJ).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models.catalogue import get_hardware, get_model
from cost_models.errors import require
from cost_models.roofline import roofline_coefficients

#: Phone power while generating (W above idle); derivation in the module docstring.
DEVICE_ACTIVE_POWER_W = 7.0
#: Galaxy S25 Ultra battery: 5,000 mAh (Samsung spec) at 3.88 V nominal (Li-ion) = 69.8 kJ.
BATTERY_CAPACITY_J = 5.0 * 3.88 * 3600.0

#: Huang et al. 2012 LTE power model (Table 4): mW per Mbit/s up, down, and base mW.
LTE_ALPHA_UP_MW_PER_MBPS = 438.39
LTE_ALPHA_DOWN_MW_PER_MBPS = 51.97
LTE_BETA_MW = 1288.04
#: Huang et al. 2012 (Table 3): LTE DRX tail after the last packet, duration and power.
LTE_TAIL_S = 11.576
LTE_TAIL_POWER_MW = 1060.0


def _nonnegative(**values: Any) -> None:
    """EdgeRouteError unless every value (a float or an array) is >= 0 (NaN is rejected)."""
    for name, value in values.items():
        ok = value >= 0 if value.__class__ is float or value.__class__ is int else bool(
            np.all(np.asarray(value) >= 0))
        require(ok, f"{name} must be >= 0, got {value!r}")


def compute_energy_j(work_s: Any, power_w: float = DEVICE_ACTIVE_POWER_W) -> Any:
    """Joules of ``work_s`` full-speed seconds of on-device compute (floats or arrays)."""
    _nonnegative(work_s=work_s)
    return power_w * work_s


def device_energy_per_token_j(
    model: str, hardware: str, precision: str, context_tokens: int = 128,
    power_w: float = DEVICE_ACTIVE_POWER_W,
) -> float:  # fmt: skip
    """Joules per decoded token at ``context_tokens`` (power x batch-1 roofline step)."""
    get_model(model), get_hardware(hardware)
    k = roofline_coefficients(model, hardware, precision)
    return power_w * k.decode_s(float(context_tokens), 1.0)


def transfer_energy_j(payload_bits: Any, duration_s: Any, uplink: bool) -> Any:
    """Joules of the radio while sending (``uplink``) or receiving ``payload_bits`` over
    ``duration_s`` seconds on air: ``alpha D / 1e6 + beta T`` (module docstring)."""
    _nonnegative(payload_bits=payload_bits, duration_s=duration_s)
    alpha = LTE_ALPHA_UP_MW_PER_MBPS if uplink else LTE_ALPHA_DOWN_MW_PER_MBPS
    return 1e-3 * (alpha * payload_bits / 1e6 + LTE_BETA_MW * duration_s)


def connected_wait_energy_j(wait_s: Any) -> Any:
    """Joules of keeping the radio connected (DRX tail power) while waiting ``wait_s``."""
    _nonnegative(wait_s=wait_s)
    return 1e-3 * LTE_TAIL_POWER_MW * wait_s


def tail_energy_j(gap_s: float) -> float:
    """Joules of the radio tail after a transfer when the next one starts ``gap_s`` later
    (the tail is cut short by the next transfer)."""
    require(gap_s >= 0, f"gap_s must be >= 0, got {gap_s!r}")
    return 1e-3 * LTE_TAIL_POWER_MW * min(gap_s, LTE_TAIL_S)


def edge_request_energy_j(
    up_bits: Any, up_s: Any, down_bits: Any, down_s: Any, wait_s: Any, tail: bool = True,
) -> Any:  # fmt: skip
    """Device joules of one offloaded request: uplink, connected wait for the server, downlink,
    and (``tail``) the full DRX tail after it (a caller that knows the next transfer's time
    uses :func:`tail_energy_j` instead). Floats or numpy arrays elementwise."""
    e = transfer_energy_j(up_bits, up_s, True) + connected_wait_energy_j(wait_s)
    e += transfer_energy_j(down_bits, down_s, False)
    return e + (tail_energy_j(LTE_TAIL_S) if tail else 0.0)


def battery_fraction(used_j: float, capacity_j: float = BATTERY_CAPACITY_J,
                     start_fraction: float = 1.0) -> float:  # fmt: skip
    """Battery level (fraction) after ``used_j`` joules from ``start_fraction``."""
    return max(0.0, start_fraction - used_j / capacity_j)
