"""The link-budget laws: path loss, noise, SNR from the fading state, rate, payload, transfer time.

These equations are OUR reconstruction (the paper's exact channel model is not public); each
constant cites its source. Every law has one home here: a vectorised form (numpy arrays in and
out, validated) and, where an environment evaluates it per step, a ``*_float`` fast path on
Python floats without argument checks (the caller knows its inputs valid) next to it. The two
forms perform the same IEEE operations in the same order. The scenarios and the time-varying
fading process that feed these laws are in :mod:`cost_models.channel`.

* Path loss (3GPP TR 36.814 v9.0.0, Annex A.2.1.1, macro cell, 2 GHz carrier)::

      PL(d) = 128.1 + 37.6 log10(d / 1 km)   dB,   d >= 35 m

* SNR per link in dB: the median SNR of the link budget (``ChannelScenario.mean_snr_db``)
  minus the shadowing plus the fading gain ``10 log10 |h|^2``; receiver noise
  ``N0 + 10 log10 B + NF`` with ``N0 = -174 dBm/Hz`` (kT at 290 K).
* Rate: Shannon ``R = B log2(1 + SNR)`` (``B`` the user's share of the band). Below
  ``min_snr_db`` the link is in outage: the rate is 0 and a transfer costs the configured
  finite ``outage_penalty_s`` (a time-out and retry).
* A payload of ``D`` bits takes ``D / R + access_latency_s`` (scheduling request, grant, core
  network and edge round trip; ITU-R M.2410-0 sets a 4 ms user-plane minimum for eMBB, real LTE
  and 5G NSA round trips are 10-50 ms, so presets use 10-60 ms).
* Text is ~4 bytes per token (UTF-8 English averages ~4 characters per BPE token; OpenAI
  tokenizer guide "one token ~ 4 characters") plus protocol framing (HTTP/2 + TLS + TCP/IP).
"""

from __future__ import annotations

import math

import numpy as np

from cost_models.errors import EdgeRouteError, require
from cost_models.numeric import SCALARS, as_output

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
#: Distances below this are clipped: the 36.814 formula is used beyond the minimum UE-eNB
#: distance of 35 m of the macro scenario (TR 36.814 Annex A.2.1.1).
MIN_DISTANCE_M = 35.0
#: Floor of the fading power gain |h|^2 before taking its log (a deep fade stays finite).
MIN_FADING_GAIN = 1e-30
#: Default finite penalty for a transfer attempted in outage: two TCP retransmission time-outs,
#: the initial RTO of 1 s then the doubled 2 s (RFC 6298, Sec. 2.1 and 5.5), before a retry gets
#: through. Modelled; configurable per scenario (``outage_penalty_s``).
DEFAULT_OUTAGE_PENALTY_S = 3.0


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _require_positive(x: np.ndarray, name: str, raw: object, allow_zero: bool = False) -> None:
    if x.size == 0:
        return
    bad = (x < 0) if allow_zero else (x <= 0)
    if not np.all(np.isfinite(x)) or np.any(bad):
        rel = ">= 0" if allow_zero else "> 0"
        raise EdgeRouteError(f"{name} must be finite and {rel}, got {raw!r}")


def path_loss_db(distance_m: object) -> np.ndarray | float:
    """Macro-cell path loss ``128.1 + 37.6 log10(d_km)`` in dB (TR 36.814), d >= 35 m."""
    d = _arr(distance_m)
    _require_positive(d, "distance_m", distance_m)
    return as_output(128.1 + 37.6 * np.log10(np.maximum(d, MIN_DISTANCE_M) / 1000.0))


def noise_power_dbm(bandwidth_hz: object, noise_figure_db: object) -> np.ndarray | float:
    """Receiver noise ``-174 dBm/Hz + 10 log10 B + NF`` in dBm."""
    b = _arr(bandwidth_hz)
    _require_positive(b, "bandwidth_hz", bandwidth_hz)
    return as_output(THERMAL_NOISE_DBM_HZ + 10.0 * np.log10(b) + _arr(noise_figure_db))


def fading_snr_db(
    mean_snr_db: object, shadowing_db: object, fading_re: object, fading_im: object
) -> np.ndarray | float:
    """SNR in dB of a link: ``(mean_snr_db - shadowing_db) + 10 log10 |h|^2`` with
    ``h = fading_re + i fading_im`` (the gain floored at :data:`MIN_FADING_GAIN`). Vectorised."""
    re, im = _arr(fading_re), _arr(fading_im)
    gain_db = 10.0 * np.log10(np.maximum(re * re + im * im, MIN_FADING_GAIN))
    return as_output((_arr(mean_snr_db) - _arr(shadowing_db)) + gain_db)


def fading_snr_float_db(
    mean_snr_db: float, shadowing_db: float, fading_re: float, fading_im: float
) -> float:
    """:func:`fading_snr_db` on Python floats (the per-step path)."""
    gain = fading_re * fading_re + fading_im * fading_im
    return mean_snr_db - shadowing_db + 10.0 * math.log10(
        gain if gain > MIN_FADING_GAIN else MIN_FADING_GAIN
    )


def shannon_rate_bps(bandwidth_hz: object, snr_db: object) -> np.ndarray | float:
    """Shannon capacity ``B log2(1 + 10^(snr_db / 10))`` in bits per second."""
    b = _arr(bandwidth_hz)
    _require_positive(b, "bandwidth_hz", bandwidth_hz)
    return as_output(b * np.log2(1.0 + 10.0 ** (_arr(snr_db) / 10.0)))


def link_rate_bps(bandwidth_hz: float, snr_db: object, min_snr_db: float) -> np.ndarray | float:
    """The rate a link delivers: :func:`shannon_rate_bps`, or 0 in outage
    (``snr_db < min_snr_db``). Vectorised over ``snr_db``."""
    if isinstance(snr_db, SCALARS):
        b = float(bandwidth_hz)
        require(b > 0, f"bandwidth_hz must be > 0, got {bandwidth_hz!r}")
        return link_rate_float_bps(b, float(snr_db), float(min_snr_db))
    b = _arr(bandwidth_hz)
    _require_positive(b, "bandwidth_hz", bandwidth_hz)
    return as_output(link_rate_array_bps(b, _arr(snr_db), min_snr_db))


def link_rate_array_bps(
    bandwidth_hz: float, snr_db: np.ndarray, min_snr_db: float
) -> np.ndarray:
    """:func:`link_rate_bps` on a float array without argument checks (the vectorised law)."""
    rate = bandwidth_hz * np.log2(1.0 + 10.0 ** (snr_db / 10.0))
    return np.where(snr_db >= min_snr_db, rate, 0.0)


def link_rate_float_bps(bandwidth_hz: float, snr_db: float, min_snr_db: float) -> float:
    """:func:`link_rate_bps` on Python floats (the per-step path)."""
    if not snr_db >= min_snr_db:
        return 0.0
    return bandwidth_hz * math.log2(1.0 + 10.0 ** (snr_db / 10.0))


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
    if isinstance(tokens, SCALARS):
        tf = float(tokens)
        if not (tf >= 0 and math.isfinite(tf)):
            raise EdgeRouteError(f"tokens must be finite and >= 0, got {tokens!r}")
        return text_payload_bits_float(tf)
    t = _arr(tokens)
    if t.size and (not np.all(np.isfinite(t)) or np.min(t) < 0):
        raise EdgeRouteError(f"tokens must be finite and >= 0, got {tokens!r}")
    body = BYTES_PER_TOKEN * t
    segments = np.ceil((body + FRAMING_BYTES) / MSS_BYTES)
    return as_output(8.0 * (body + FRAMING_BYTES + PER_SEGMENT_OVERHEAD_BYTES * segments))


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


def transmit_time_array_s(
    payload_bits: np.ndarray, rate_bps: np.ndarray, access_latency_s: float,
    outage_penalty_s: float,
) -> np.ndarray:  # fmt: skip
    """:func:`transmit_time_s` on float arrays without argument checks (the vectorised law,
    for callers that evaluate it on arrays they built from valid values)."""
    ok = rate_bps > 0
    return np.where(ok, payload_bits / np.where(ok, rate_bps, 1.0), outage_penalty_s) + (
        access_latency_s
    )


def transmit_time_s(
    payload_bits: object,
    rate_bps: object,
    access_latency_s: object,
    outage_penalty_s: object = DEFAULT_OUTAGE_PENALTY_S,
) -> np.ndarray | float:
    """``payload_bits / rate_bps + access_latency_s``; a rate <= 0 (outage) costs
    ``access_latency_s + outage_penalty_s`` instead (finite, never infinity)."""
    if all(isinstance(x, SCALARS) for x in (payload_bits, rate_bps, access_latency_s,
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
    return as_output(transmit_time_array_s(bits, rate, lat, pen))
