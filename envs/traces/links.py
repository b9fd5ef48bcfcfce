"""Real link traces: the mirrored 5Gophers and Mahimahi files as replayable links.

Raw files come through :func:`envs.traces.fetch.fetch` (mirror or download, sha256-checked
against ``envs/traces/manifest.tsv``); the replay law is :mod:`cost_models.link_trace`.

* **Mahimahi** cellular traces (Winstein et al., "Stochastic Forecasts Achieve High
  Throughput and Low Delay over Cellular Networks", NSDI 2013; GPL-3.0-or-later): one line per
  1500-byte delivery opportunity, in ms from the start; uplink and downlink files (2013 and
  2016 US LTE). Replayed per millisecond. They carry no delay: the RTT comes from 5Gophers'
  measurements of the same carrier (Verizon, T-Mobile; AT&T, absent from 5Gophers, takes all
  carriers' samples), to its US-East server: a modelled pairing (5G RTTs for LTE traces).
* **5Gophers 1.0** (Narayanan et al., "A First Look at Commercial 5G Performance on
  Smartphones", WWW 2020; CC-BY-4.0): per-second TCP throughput, which the dataset gives
  without a direction (values up to 2 Gbit/s: downlink). Presets: the two driving traces
  (one column per carrier), the walking trace (4G/5G handoffs; carrier not stated, so RTTs of
  all carriers), and the throughput runs of each (carrier, connections, server), 10 runs of
  ~60 s concatenated in run order. The rows are taken in order: the driving logs skip six
  seconds each (seq 103-108, 35-40) and two Sprint runs one second: missing rows are not read
  as outages; rows at 0 Mbit/s are real coverage gaps. Uplink: the downlink scaled by
  ``cost_models.link_trace.UPLINK_TO_DOWNLINK_RATIO`` (modelled). RTT: the 120 samples of
  the (carrier, server) pair (``02-Round-Trip-Times``, not time-aligned with throughput).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError, lookup
from cost_models.link_trace import (
    UPLINK_TO_DOWNLINK_RATIO,
    LinkTrace,
    TraceLink,
    mahimahi_rates_bps,
)
from envs.traces.fetch import fetch

_GOPHERS = "jhzuo__Offloading-FL/trace_data/5Gophers-v1.0/All-Carriers"
_THROUGHPUT = f"{_GOPHERS}/01-Throughput/data.csv"
_RTT = f"{_GOPHERS}/02-Round-Trip-Times/data.csv"
_MOBILITY = f"{_GOPHERS}/03-User-Mobility"
_MAHIMAHI = "ravinet__mahimahi/traces"
_CARRIERS = {"verizon": "VERIZON", "tmobile": "TMOBILE", "sprint": "SPRINT"}
_MOBILITY_COLUMNS = {"verizon": "Verizon", "tmobile": "TMobile", "sprint": "Sprint"}


@dataclass(frozen=True)
class LinkPreset:
    """How to build one named link: ``kind`` (``mahimahi``, ``driving``, ``walking``,
    ``runs``), its file stem or column, and the RTT samples' (carrier, server)."""

    name: str
    kind: str
    stem: str  # Mahimahi file stem, mobility file name, or "<carrier>/<conns>/<server>"
    carrier: str  # 5Gophers RTT carrier key, or "all"
    server: str = "US-East"
    description: str = ""


def _presets() -> dict[str, LinkPreset]:
    out: list[LinkPreset] = []
    for stem, carrier in (("ATT-LTE-driving", "all"), ("ATT-LTE-driving-2016", "all"),
                          ("TMobile-LTE-short", "tmobile"), ("Verizon-LTE-short", "verizon"),
                          ("TMobile-LTE-driving", "tmobile")):  # fmt: skip
        out.append(LinkPreset(stem.lower(), "mahimahi", stem, carrier,
                              description=f"Mahimahi {stem} (per-ms LTE delivery trace)"))
    for i in (1, 2):
        for carrier in _CARRIERS:
            out.append(LinkPreset(f"5gophers-driving-{i}-{carrier}", "driving",
                                  f"car-driving-trace-{i}.csv", carrier,
                                  description=f"5Gophers driving trace {i}, {carrier} (1 s)"))
    out.append(LinkPreset("5gophers-walking", "walking", "walking-trace.csv", "all",
                          description="5Gophers walking trace, 4G/5G handoffs (1 s)"))
    for carrier in _CARRIERS:
        for conns in (1, 8):
            for server in ("east", "west"):
                loc = f"US-{server.capitalize()}"
                out.append(LinkPreset(
                    f"5gophers-{carrier}-{conns}conn-{server}", "runs",
                    f"{_CARRIERS[carrier]}/{conns}/{loc}", carrier, loc,
                    description=f"5Gophers throughput runs, {carrier}, {conns} TCP "
                    f"connection(s) to {loc} (10 x ~60 s, 1 s)"))  # fmt: skip
    return {p.name: p for p in out}


#: Link presets, named after the traces they replay.
LINK_PRESETS: dict[str, LinkPreset] = _presets()


def get_link_preset(name: str | LinkPreset) -> LinkPreset:
    """The preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(LINK_PRESETS, name, "link trace")


def _path(file: str, raw_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None):
    return fetch(file, raw_dir=raw_dir, cache_dir=cache_dir)


def read_mahimahi_ms(path: os.PathLike) -> np.ndarray:
    """The millisecond timestamps of a Mahimahi trace file (one integer per line)."""
    with open(path, encoding="ascii") as fh:
        text = fh.read()
    try:
        return np.asarray(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise EdgeRouteError(f"Mahimahi trace {os.fspath(path)!r} is not one integer per "
                             f"line: {exc}") from exc


def rtt_samples_s(carrier: str, server: str = "US-East", raw_dir=None, cache_dir=None
                  ) -> np.ndarray:  # fmt: skip
    """5Gophers RTT samples (s) of ``carrier`` (a key of the presets, or ``all``) to
    ``server``."""
    frame = pd.read_csv(_path(_RTT, raw_dir, cache_dir))
    rows = frame[frame["server_location"] == server]
    if carrier != "all":
        rows = rows[rows["carrier"] == _CARRIERS[carrier]]
    if rows.empty:
        raise EdgeRouteError(f"no 5Gophers RTT samples for {carrier!r} to {server!r}")
    return rows["rtt_ms"].to_numpy(dtype=np.float64) / 1e3


def _per_second_mbps(preset: LinkPreset, raw_dir, cache_dir) -> np.ndarray:
    if preset.kind == "runs":
        carrier, conns, server = preset.stem.split("/")
        frame = pd.read_csv(_path(_THROUGHPUT, raw_dir, cache_dir))
        rows = frame[(frame["carrier"] == carrier) & (frame["num_tcp_conn"] == int(conns))
                     & (frame["server_location"] == server)]  # fmt: skip
        rows = rows.sort_values(["run_num", "seq_num"], kind="stable")
        return rows["throughput_mbps"].to_numpy(dtype=np.float64)
    frame = pd.read_csv(_path(f"{_MOBILITY}/{preset.stem}", raw_dir, cache_dir))
    frame = frame.sort_values("seq_num", kind="stable")
    column = ("throughput_mbps" if preset.kind == "walking"
              else f"{_MOBILITY_COLUMNS[preset.carrier]}_throughput_mbps")  # fmt: skip
    return frame[column].to_numpy(dtype=np.float64)


@lru_cache(maxsize=16)
def _load(name: str, loop: bool, raw_dir: str | None, cache_dir: str | None) -> TraceLink:
    preset = get_link_preset(name)
    rtt = rtt_samples_s(preset.carrier, preset.server, raw_dir, cache_dir)
    if preset.kind == "mahimahi":
        down_file = f"{_MAHIMAHI}/{preset.stem}.down"
        down = LinkTrace(mahimahi_rates_bps(read_mahimahi_ms(_path(down_file, raw_dir,
                                                                     cache_dir))),
                         1e-3, loop, name=f"{name} down", source=down_file)  # fmt: skip
        up_file = f"{_MAHIMAHI}/{preset.stem}.up"
        if up_file not in _known_files():  # TMobile-LTE-driving has no uplink file
            up = down.scaled(UPLINK_TO_DOWNLINK_RATIO, f"{name} up (modelled)",
                             f"{down_file} x {UPLINK_TO_DOWNLINK_RATIO:.3f}")
            return TraceLink(name, up, down, rtt, True, preset.description)
        up = LinkTrace(mahimahi_rates_bps(read_mahimahi_ms(_path(up_file, raw_dir, cache_dir))),
                       1e-3, loop, name=f"{name} up", source=up_file)
        return TraceLink(name, up, down, rtt, False, preset.description)
    mbps = _per_second_mbps(preset, raw_dir, cache_dir)
    down = LinkTrace(mbps * 1e6, 1.0, loop, name=f"{name} down", source=preset.stem)
    up = down.scaled(UPLINK_TO_DOWNLINK_RATIO, f"{name} up (modelled)",
                     f"{preset.stem} x {UPLINK_TO_DOWNLINK_RATIO:.3f}")
    return TraceLink(name, up, down, rtt, True, preset.description)


def _known_files() -> set[str]:
    from envs.traces.fetch import read_manifest

    return set(read_manifest())


def load_link(name: str, loop: bool = True, raw_dir: str | os.PathLike | None = None,
              cache_dir: str | os.PathLike | None = None) -> TraceLink:  # fmt: skip
    """The replayable link of preset ``name`` (parsed once per process)."""
    get_link_preset(name)
    return _load(name, bool(loop), None if raw_dir is None else os.fspath(raw_dir),
                 None if cache_dir is None else os.fspath(cache_dir))  # fmt: skip
