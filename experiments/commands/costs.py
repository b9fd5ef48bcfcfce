"""``edgeroute costs``: the latency breakdown of serving one query on the device and on the edge.

Prints a readable table, or with ``--json`` one JSON object with nested ``device`` and ``edge``
objects (``{"device": {"total_s": ...}, "edge": {...}, "uplink_bps": ...}``). Every number is
our modelled reconstruction (roofline compute + 3GPP link budget), not a measurement.

The stateful world (``--link trace:<name>``, ``--users N``, ``--attachment``,
``--device-heat``): the query is sent ``--at-s`` seconds into a replayed link trace (5Gophers
or Mahimahi), to a continuous-batching edge server shared with N other users, from a phone at
a given heat; the JSON then has a ``world`` object (see ``experiments/world_costs.py``) and the
table a second breakdown.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from cost_models.catalogue import (
    HARDWARE_SPECS,
    MODEL_SPECS,
    PRECISIONS,
    get_hardware,
    get_model,
    get_precision,
)
from cost_models.channel import CHANNEL_PRESETS, ChannelProcess, mean_channel_state
from cost_models.deployment import SCENARIO_PRESETS, get_scenario
from cost_models.edge_load import LOAD_PRESETS
from cost_models.errors import EdgeRouteError, require
from cost_models.router_cost import latency_report
from experiments.commands._common import plain_help
from experiments.commands.bounds import (
    MAX_BANDWIDTH_HZ,
    MAX_CONTEXT_TOKENS,
    MAX_DISTANCE_M,
    MAX_SEED,
    MAX_USERS,
    RESOURCE_BLOCK_HZ,
    float_in,
    int_in,
)


def parse_utilisation(value: str | float) -> float:
    """``--edge-load``: a utilisation from a float in [0, 1) or a name in ``LOAD_PRESETS``."""
    if isinstance(value, str) and value in LOAD_PRESETS:
        return LOAD_PRESETS[value]
    try:
        u = float(value)
    except (TypeError, ValueError):
        raise EdgeRouteError(
            f"edge load {value!r} is neither a number in [0, 1) nor one of "
            f"{', '.join(LOAD_PRESETS)}"
        ) from None
    require(0.0 <= u < 1.0, f"edge load must be in [0, 1), got {value!r}")
    return u


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "costs",
        help="latency breakdown of one query on the device and on the edge",
        description=plain_help(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenario", default="phone_3b__edge_70b",
                   help=f"deployment preset ({', '.join(SCENARIO_PRESETS)})")
    p.add_argument("--device-model", help=f"override ({', '.join(MODEL_SPECS)})")
    p.add_argument("--device-hw", help=f"override ({', '.join(HARDWARE_SPECS)})")
    p.add_argument("--device-precision", help=f"override ({', '.join(PRECISIONS)})")
    p.add_argument("--edge-model", help="override the edge model")
    p.add_argument("--edge-hw", help="override the edge hardware")
    p.add_argument("--edge-precision", help="override the edge precision")
    p.add_argument("--prompt-tokens", type=int_in(1, MAX_CONTEXT_TOKENS), default=200,
                   help="this turn's prompt (>= 1; with history and output within the models' "
                   "context)")
    p.add_argument("--output-tokens", type=int_in(1, MAX_CONTEXT_TOKENS), default=200,
                   help="answer length (>= 1)")
    p.add_argument("--history-tokens", default="0",
                   help="earlier dialogue tokens (>= 0); a comma list (e.g. "
                   "0,2000,4000,8000,16000) prints the history sweep: device vs edge per "
                   "history length, cache holder and edge load")
    p.add_argument("--cached", default="none", choices=("none", "device", "edge", "both"),
                   help="which side holds the history in its KV cache (default none: both "
                   "recompute it, as after a switch)")
    p.add_argument("--channel", help=f"channel preset ({', '.join(CHANNEL_PRESETS)}); "
                   "default: the scenario's")
    p.add_argument("--distance-m", type=float_in(0.0, MAX_DISTANCE_M, low_open=True),
                   help=f"override the device-base station distance (0, {MAX_DISTANCE_M:g}] m")
    p.add_argument("--bandwidth-hz", type=float_in(RESOURCE_BLOCK_HZ, MAX_BANDWIDTH_HZ),
                   help="override the carrier bandwidth (one resource block, 180 kHz, to "
                   "400 MHz)")
    p.add_argument("--n-users", type=int_in(1, MAX_USERS),
                   help="override the users sharing the carrier (each gets >= one resource "
                   "block)")
    p.add_argument("--edge-load", default="light",
                   help=f"edge utilisation in [0, 1) or one of {', '.join(LOAD_PRESETS)} "
                   "(default light)")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=None,
                   help="draw a shadowing + fading realisation from this seed; without it the "
                   "median link (no shadowing, unit fading gain) is used")
    from envs.traces.links import LINK_PRESETS

    w = p.add_argument_group("stateful world (shared edge, link traces, heat, attachments)")
    w.add_argument("--link", default="snr",
                   help="snr (the link-budget model) or trace:<name>, name one of "
                   f"{', '.join(LINK_PRESETS)}")
    w.add_argument("--at-s", type=float, default=60.0,
                   help="when the query is sent, seconds into the trace / server run")
    w.add_argument("--users", type=int, default=None,
                   help="other users sharing the edge server (continuous batching); "
                   "default: the utilisation model of --edge-load")
    w.add_argument("--user-rate-hz", type=float, default=1.0 / 30.0,
                   help="requests per second of each other user (default 1/30)")
    w.add_argument("--edge-share", type=float, default=1.0,
                   help="fraction of the other users' requests sent to the edge (default 1)")
    w.add_argument("--attachment", default="none",
                   help="none, photo, photo_resized or document (sent with the prompt)")
    w.add_argument("--device-heat", type=float, default=0.0,
                   help="device heat in [0, 1] (1 = steady state of continuous generation)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _token_list(text: str) -> tuple[int, ...]:
    """``--history-tokens``: one integer or a comma list, each >= 0."""
    try:
        values = tuple(int(x) for x in str(text).split(",") if x.strip() != "")
    except ValueError:
        values = ()
    require(
        len(values) > 0,
        f"--history-tokens must be an integer or a comma list of integers, got {text!r}",
    )
    require(min(values) >= 0, f"--history-tokens must be >= 0, got {text}")
    return values


def _scenario(args: argparse.Namespace):
    sc = get_scenario(args.scenario)
    for name, getter in (
        ("device_model", get_model), ("edge_model", get_model),
        ("device_hw", get_hardware), ("edge_hw", get_hardware),
        ("device_precision", get_precision), ("edge_precision", get_precision),
    ):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            getter(value)  # raises EdgeRouteError listing the allowed names
    return sc.with_overrides(
        device_model=args.device_model, device_hw=args.device_hw,
        device_precision=args.device_precision, edge_model=args.edge_model,
        edge_hw=args.edge_hw, edge_precision=args.edge_precision, channel=args.channel,
    )  # fmt: skip


def _build(args: argparse.Namespace) -> dict[str, object]:
    sc = _scenario(args)
    channel = sc.channel_scenario.with_overrides(
        distance_m=args.distance_m, bandwidth_hz=args.bandwidth_hz,
        n_users_sharing=args.n_users,
    )  # fmt: skip
    require(args.prompt_tokens >= 1, f"--prompt-tokens must be >= 1, got {args.prompt_tokens}")
    require(args.output_tokens >= 1, f"--output-tokens must be >= 1, got {args.output_tokens}")
    if args.seed is None:
        state, link = mean_channel_state(channel), "median (no shadowing, unit fading gain)"
    else:
        require(args.seed >= 0, f"--seed must be >= 0, got {args.seed}")
        state = ChannelProcess(channel, np.random.default_rng(args.seed)).state
        link = f"random realisation, seed {args.seed}"
    history = _token_list(args.history_tokens)[0]
    report = latency_report(
        sc, args.prompt_tokens, args.output_tokens, history, args.cached,
        channel_state=state, utilisation=parse_utilisation(args.edge_load), channel=channel,
    )  # fmt: skip
    report["link"] = link
    if (args.link != "snr" or args.users is not None or args.attachment != "none"
            or args.device_heat != 0.0):  # fmt: skip
        from experiments.world_costs import parse_link, world_report

        cached = args.cached
        report["world"] = world_report(
            sc, args.prompt_tokens, args.output_tokens, history,
            history if cached in ("edge", "both") else 0,
            history if cached in ("device", "both") else 0,
            parse_link(args.link), args.at_s, args.users or 0, args.user_rate_hz,
            args.edge_share, 0 if args.seed is None else args.seed, args.attachment,
            args.device_heat, state.uplink_bps, state.downlink_bps, channel.access_latency_s,
        )  # fmt: skip
    return report


def _table(r: dict[str, object]) -> str:
    d, e = r["device"], r["edge"]
    ms = lambda x: f"{1000.0 * x:10.1f}"  # noqa: E731
    lines = [
        f"scenario {r['scenario']}  channel {r['channel']} at {r['distance_m']:.0f} m "
        f"({r['link']})  edge load {r['edge_utilisation']:.2f}",
        f"prompt {r['prompt_tokens']}  output {r['output_tokens']}  history "
        f"{r['history_tokens']} (cached on: {r['cached']})",
        f"uplink   {r['uplink_snr_db']:6.1f} dB  {r['uplink_bps'] / 1e6:8.2f} Mbit/s"
        + ("  OUTAGE" if r["uplink_bps"] <= 0 else ""),
        f"downlink {r['downlink_snr_db']:6.1f} dB  {r['downlink_bps'] / 1e6:8.2f} Mbit/s"
        + ("  OUTAGE" if r["downlink_bps"] <= 0 else ""),
        "",
        f"{'':18s}{'device':>24s}{'edge':>24s}",
        f"{'model':18s}{d['model']:>24s}{e['model']:>24s}",
        f"{'hardware':18s}{d['hardware']:>24s}{e['hardware']:>24s}",
        f"{'precision':18s}{d['precision']:>24s}{e['precision']:>24s}",
        f"{'uplink (ms)':18s}{'-':>24s}{ms(e['uplink_s']):>24s}",
        f"{'queue (ms)':18s}{'-':>24s}{ms(e['queue_s']):>24s}",
        f"{'prefill (ms)':18s}{ms(d['prefill_s']):>24s}{ms(e['prefill_s']):>24s}",
        f"{'decode (ms)':18s}{ms(d['decode_s']):>24s}{ms(e['decode_s']):>24s}",
        f"{'downlink (ms)':18s}{'-':>24s}{ms(e['downlink_s']):>24s}",
        f"{'total (ms)':18s}{ms(d['total_s']):>24s}{ms(e['total_s']):>24s}",
        "",
        "terms for the analytic rule S = p - alpha (T_edge - T_device):",
    ]
    for key in ("communication_s", "computation_s", "switching_s"):
        lines.append(f"{key + ' (ms)':22s}{ms(d['terms'][key]):>20s}{ms(e['terms'][key]):>24s}")
    lines += [
        "",
        f"KV bytes/token  device {d['kv_bytes_per_token']:,}  edge {e['kv_bytes_per_token']:,}"
        f"   device KV capacity {d['kv_capacity_tokens']:,} tokens",
        f"faster: {r['faster']}   (modelled: roofline + 3GPP link budget, not measured)",
    ]
    if "world" in r:
        lines += ["", *_world_table(r["world"])]
    return "\n".join(lines)


def _world_table(w: dict[str, object]) -> list[str]:
    ms = lambda x: f"{1000.0 * x:10.1f}"  # noqa: E731
    lk, se, d, e = w["link"], w["shared_edge"], w["device"], w["edge"]
    rep = se["report_at_send"]
    est = se["estimate_from_report"]
    lines = [
        f"stateful world at t = {w['at_s']:.0f} s: link {lk['mode']}"
        + (" (uplink modelled: scaled downlink)" if lk.get("uplink_modelled") else "")
        + f", attachment {w['attachment']} ({w['attachment_bytes'] / 1e3:.0f} kB)",
        f"  link in [t, t + 1 s): uplink {lk['uplink_rate_bps_now'] / 1e6:.2f} Mbit/s, downlink "
        f"{lk['downlink_rate_bps_now'] / 1e6:.2f} Mbit/s"
        + (f", median RTT {1000 * lk['median_rtt_s']:.0f} ms" if "median_rtt_s" in lk else ""),
        f"  shared edge: {se['users']} other users x {se['user_rate_hz']:.3f} req/s, "
        f"{se['edge_share']:.0%} offloaded ({se['request_rate_hz']:.2f} req/s); KV pool "
        f"{se['kv_capacity_tokens']:,} tokens, max {se['max_num_seqs']} sequences",
        f"  server at send: {rep['running']:.0f} running, {rep['waiting']:.0f} waiting, KV "
        f"{rep['kv_usage']:.0%} used",
        f"{'':18s}{'device':>24s}{'edge':>24s}",
        f"{'uplink (ms)':18s}{'-':>24s}{ms(e['uplink_s']):>24s}",
        f"{'queue (ms)':18s}{'-':>24s}{ms(e['queue_s']):>24s}",
        f"{'prefill (ms)':18s}{'':>24s}{ms(e['prefill_s']):>24s}",
        f"{'decode (ms)':18s}{'':>24s}{ms(e['decode_s']):>24s}",
        f"{'compute (ms)':18s}{ms(d['total_s']):>24s}{'':>24s}",
        f"{'downlink (ms)':18s}{'-':>24s}{ms(e['downlink_s']):>24s}",
        f"{'total (ms)':18s}{ms(d['total_s']):>24s}{ms(e['total_s']):>24s}",
        f"{'energy (J)':18s}{d['energy_j']:24.2f}{e['energy_j']:24.2f}",
        f"  device heat {d['heat']:.2f}: speed {d['speed_fraction']:.0%} of cold; router's "
        f"estimate of the edge server from the report: {ms(est['total_s']).strip()} ms",
        f"faster: {w['faster']}   ({w['modelled']})",
    ]
    if "kv_migration" in w:
        m = w["kv_migration"]
        lines.insert(-1, f"  device KV of the {m['tokens']} history tokens "
                     f"({m['bits'] / 8e6:.1f} MB): migrate over the downlink "
                     f"{ms(m['migrate_s']).strip()} ms vs recompute "
                     f"{ms(m['recompute_s']).strip()} ms")
    return lines


def _sweep(args: argparse.Namespace) -> int:
    from experiments.history_sweep import format_sweep, history_sweep

    require(args.seed is None, "--seed draws one link; the history sweep uses the median link")
    sc = _scenario(args)
    rows = history_sweep(
        sc, _token_list(args.history_tokens), prompt_tokens=args.prompt_tokens,
        output_tokens=args.output_tokens, channel=args.channel,
    )  # fmt: skip
    print(json.dumps(rows, indent=2) if args.json else format_sweep(rows, sc.name))
    return 0


def run(args: argparse.Namespace) -> int:
    if len(_token_list(args.history_tokens)) > 1:
        return _sweep(args)
    report = _build(args)
    print(json.dumps(report, indent=2) if args.json else _table(report))
    return 0
