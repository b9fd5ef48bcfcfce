"""One query's breakdown in the stateful world: a trace-driven link, a shared edge, heat, energy.

What ``edgeroute costs --link trace:<name> --users N ...`` adds to the static breakdown of
:func:`cost_models.router_cost.latency_report`. Every number is modelled (our laws in
``cost_models``), on a real link trace where one is named:

* link: the prompt (plus attachment) is uplinked on the trace from ``at_s`` with half a
  measured RTT; the answer is downlinked when the server finishes;
* edge: ``users`` other users, each sending ``user_rate_hz`` requests per second of the
  query's size, ``edge_share`` of them to the edge, load the continuous-batching server from
  t = 0; the query's queue, prefill and decode come from the simulator (``what_if``), next
  to the router's estimate from the server's true report at send time;
* device: the roofline time throttled at ``device_heat``; energy of both paths.
"""

from __future__ import annotations

from typing import Any

from cost_models import energy
from cost_models.batching import ServerSpec
from cost_models.deployment import DeploymentScenario
from cost_models.edge_estimate import shared_edge_estimate
from cost_models.edge_server import EdgeServer
from cost_models.edge_traffic import BackgroundTraffic, RoutingPolicy, poisson_rate_hz
from cost_models.errors import require
from cost_models.link import text_payload_bits_float
from cost_models.payload import get_attachment, kv_migration_bits, prompt_upload_bits
from cost_models.roofline import decode_time_s, prefill_time_s
from cost_models.thermal import DeviceThermalState


def parse_link(value: str) -> str | None:
    """``snr`` -> None (the SNR model); ``trace:<name>`` -> the link preset name."""
    if value == "snr":
        return None
    require(value.startswith("trace:") and len(value) > 6,
            f"link {value!r} is invalid; allowed: 'snr' or 'trace:<name>' with a name from "
            "envs.traces.links.LINK_PRESETS")  # fmt: skip
    from envs.traces.links import get_link_preset

    return get_link_preset(value[6:]).name


def world_report(
    scenario: DeploymentScenario,
    prompt_tokens: int,
    output_tokens: int,
    history_tokens: int,
    cached_edge_tokens: int,
    cached_device_tokens: int,
    link: str | None,
    at_s: float,
    users: int,
    user_rate_hz: float,
    edge_share: float,
    seed: int,
    attachment: str = "none",
    device_heat: float = 0.0,
    uplink_bps: float | None = None,
    downlink_bps: float | None = None,
    access_latency_s: float = 0.0,
) -> dict[str, Any]:
    """The breakdown (plain floats) of one query sent at ``at_s``; see the module docstring.
    Without a trace ``link``, ``uplink_bps`` / ``downlink_bps`` (the SNR model's) are used."""
    require(users >= 0, f"--users must be >= 0, got {users}")
    require(at_s >= 0, f"--at-s must be >= 0, got {at_s}")
    require(0.0 <= device_heat <= 1.0, f"--device-heat must be in [0, 1], got {device_heat}")
    att = get_attachment(attachment)
    sc = scenario
    L_edge = history_tokens - cached_edge_tokens + prompt_tokens + att.prefill_tokens
    L_dev = history_tokens - cached_device_tokens + prompt_tokens + att.prefill_tokens
    up_bits = prompt_upload_bits(history_tokens - cached_edge_tokens + prompt_tokens, att)
    down_bits = text_payload_bits_float(float(output_tokens))
    out: dict[str, Any] = {"attachment": att.name, "attachment_bytes": att.wire_bytes,
                           "at_s": at_s}  # fmt: skip

    # --- link
    if link is not None:
        from envs.traces.links import load_link

        tl = load_link(link)
        up_s = tl.transmit_s(up_bits, at_s, uplink=True)
        rtt = tl.median_rtt_s
        out["link"] = {"mode": f"trace:{link}", "source": tl.source,
                       "uplink_modelled": tl.uplink_modelled, "median_rtt_s": rtt,
                       "uplink_rate_bps_now": tl.uplink.mean_rate_bps(at_s, at_s + 1.0),
                       "downlink_rate_bps_now": tl.downlink.mean_rate_bps(at_s, at_s + 1.0)}
    else:
        require(uplink_bps is not None and downlink_bps is not None, "SNR link needs rates")
        up_s = access_latency_s + (up_bits / uplink_bps if uplink_bps > 0 else 3.0)
        out["link"] = {"mode": "snr", "uplink_rate_bps_now": uplink_bps,
                       "downlink_rate_bps_now": downlink_bps}  # fmt: skip

    # --- shared edge
    spec = ServerSpec(sc.edge_model, sc.edge_hw, sc.edge_precision)
    rate = poisson_rate_hz(users, 1.0 / user_rate_hz) if users and user_rate_hz > 0 else 0.0
    bg = BackgroundTraffic([L_edge], [output_tokens], seed=seed, rate_hz=rate,
                           routing=RoutingPolicy("share", edge_share))  # fmt: skip
    sim = EdgeServer(spec, bg)
    arrive = at_s + up_s
    sim.advance_to(arrive)
    report = sim.load_sample()
    t = sim.what_if(arrive, L_edge, output_tokens, cached_edge_tokens)
    est = shared_edge_estimate(spec, report.running, report.waiting, report.kv_used_tokens,
                               L_edge, output_tokens, cached_edge_tokens)  # fmt: skip
    if link is not None:
        down_s = tl.transmit_s(down_bits, t.finish_s, uplink=False)
    else:
        down_s = access_latency_s + (down_bits / downlink_bps if downlink_bps > 0 else 3.0)
    edge_total = up_s + t.total_s + down_s
    out["shared_edge"] = {
        "users": users, "user_rate_hz": user_rate_hz, "edge_share": edge_share,
        "request_rate_hz": rate * edge_share, "kv_capacity_tokens": spec.kv_capacity_tokens,
        "max_num_seqs": spec.max_num_seqs, "report_at_send": report.as_dict(),
        "queue_s": t.queue_s, "prefill_s": t.prefill_s, "decode_s": t.decode_s,
        "estimate_from_report": est,
    }  # fmt: skip
    out["edge"] = {"uplink_s": up_s, "queue_s": t.queue_s, "prefill_s": t.prefill_s,
                   "decode_s": t.decode_s, "downlink_s": down_s, "total_s": edge_total,
                   "energy_j": energy.edge_request_energy_j(up_bits, up_s, down_bits, down_s,
                                                            t.total_s)}  # fmt: skip

    # --- device, throttled
    work = prefill_time_s(sc.device_model, sc.device_hw, L_dev, cached_device_tokens,
                          sc.device_precision) + decode_time_s(
        sc.device_model, sc.device_hw, cached_device_tokens + L_dev, output_tokens,
        sc.device_precision)  # fmt: skip
    dev = DeviceThermalState("npu", heat=device_heat)
    speed = dev.speed_at(0.0)
    wall = dev.run(0.0, work)
    out["device"] = {"work_s": work, "total_s": wall, "heat": device_heat,
                     "speed_fraction": speed,
                     "energy_j": energy.compute_energy_j(work)}  # fmt: skip
    # KV migration (beyond the paper): restore the device's own evicted KV of the history
    # from a copy held at the edge, over the downlink, instead of recomputing it on the device.
    if history_tokens > 0:
        bits = kv_migration_bits(sc.device_model, history_tokens, sc.device_precision)
        if link is not None:
            mig = tl.transmit_s(bits, at_s, uplink=False)
        else:
            mig = access_latency_s + (bits / downlink_bps if downlink_bps > 0 else 3.0)
        out["kv_migration"] = {
            "tokens": history_tokens, "bits": bits, "migrate_s": mig,
            "recompute_s": prefill_time_s(sc.device_model, sc.device_hw, history_tokens, 0,
                                          sc.device_precision),
        }  # fmt: skip
    out["faster"] = "device" if wall <= edge_total else "edge"
    out["modelled"] = ("modelled: roofline, continuous-batching simulator, thermal and energy "
                       "models; link rates replayed from the named trace")  # fmt: skip
    return out
