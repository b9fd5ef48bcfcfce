"""The stateful step of each environment: its outcomes, estimates, commit and observation.

When a stateful-world feature is on (``envs.stateful_config``), the environments' hooks
``_pending_query`` / ``_advance`` delegate here instead of reading the default precomputed
world (the shared server's state depends on the actions, so nothing about the edge
can be precomputed at reset). The laws are ``cost_models``'s; the state is
:class:`envs.stateful.StatefulWorld`'s.

Outcome conventions (the same as the legacy path): the device's latency parts are its
prefill and decode, stretched by the throttling the device is in when it starts; the edge's
are uplink (the trace or the SNR link at the send time), the server's queue / prefill / decode
(the shared simulator's ``what_if``, or the Markov-load formulas), downlink when the answer
leaves. The router's estimate reads :meth:`StatefulWorld.view` only: the observed load (or
the exact one if so configured), the estimated rates, the device's readable heat.
"""

from __future__ import annotations

import math
from typing import Any

from cost_models import energy
from cost_models.link import text_payload_bits_float
from envs.observation import RATE_SLOT_MAX, SNR_RANGE_DB
from envs.outcome import Outcome, outcome_from_fields
from envs.stateful import StatefulWorld, View


def _load_slots(load: dict[str, float]) -> tuple[float, float, float, float]:
    """(edge_utilisation slot, kv_usage, batch_fill, waiting) of an observed load."""
    if "utilisation" in load:
        u = load["utilisation"]
        return u, u, 0.0, 0.0
    return load["kv_usage"], load["kv_usage"], load["batch_fill"], load["waiting"]


def _device(env: Any, w: StatefulWorld, t: float, work_pf: float, work_dec: float,
            quality: float, H: int, cd: int, row: int) -> Outcome:  # fmt: skip
    work = work_pf + work_dec
    wall = w.device_wall_s(t, work)
    scale = wall / work if work > 0 else 1.0
    return outcome_from_fields((0, quality, wall, (work_pf * scale, work_dec * scale),
                                env._last == 1, H - cd, 0, 0.0, t + wall, row,
                                energy.compute_energy_j(work)))  # fmt: skip


def single_turn_pending(env: Any) -> tuple[tuple[Outcome, Outcome], dict, Any]:
    """Both outcomes, the estimate and the observation of the pending query (the load-blind
    estimate goes to ``env._estimate_blind``)."""
    from envs.single_turn import QueryCosts

    w: StatefulWorld = env.world
    k, d = env._k, env.data
    q, r = QueryCosts._make(env._table[k].tolist()), env._rows[k]
    t = q.arrive_s + w.t0
    w.advance_to(t)
    roof_d, roof_e = env._roof
    L = d.prompt_tokens[r]
    att = w.has_attachment(k)
    extra = w.attachment.prefill_tokens if att else 0
    Lf = L + extra
    if extra:
        pf_d = roof_d.prefill_s(Lf, 0)
        dec_d = roof_d.decode_s(Lf, d.output_tokens[0][r])
        dec_d_pred = roof_d.decode_s(Lf, env._pred_out_list[0][r])
    else:
        pf_d, dec_d, dec_d_pred = q.device_prefill_s, q.device_decode_s, q.device_decode_predicted_s
    device = _device(env, w, t, pf_d, dec_d, q.device_quality, 0, 0, r)
    up_bits = env._prompt_bits[r] + (w.attachment.wire_bits if att else 0.0)
    parts = w.edge_parts(t, Lf, 0, d.output_tokens[1][r], up_bits, env._answer_bits[r], roof_e)
    lat_e = parts.uplink_s + parts.queue_s + parts.prefill_s + parts.decode_s + parts.downlink_s
    edge = outcome_from_fields((1, q.edge_quality, lat_e, parts[:5], env._last == 0, 0, L,
                                up_bits / 8.0, t + lat_e, r, parts.energy_j))  # fmt: skip
    view = w.view(t)
    env._world_now = (t, view, parts, Lf, 0, d.output_tokens[1][r], pf_d + dec_d,
                      device.energy_j)  # fmt: skip
    args = (pf_d, pf_d, dec_d_pred, Lf, 0, Lf, 0, up_bits, up_bits, env._pred_out_list[1][r],
            env._pred_down_bits[r], roof_e)  # fmt: skip
    env._estimate_blind = w.router_estimate(view, w.blind_load(), *args)
    obs = env._obs_all[k]
    if env._last >= 0:
        obs[env._last_slot[env._last]] = 1.0
    estimate = w.router_estimate(view, view.load, *args)
    write_observation(env, obs, estimate)
    return (device, edge), estimate, obs


def multi_turn_pending(env: Any) -> tuple[tuple[Outcome, Outcome], dict, Any]:
    """Both outcomes, the estimate and the observation of the pending turn at the clock (KV
    state as is; the load-blind estimate goes to ``env._estimate_blind``). The edge's cached
    prefix the router assumes is the one it believes (its last edge turn's) when the load is
    reported: it learns of an eviction only by sending."""
    w: StatefulWorld = env.world
    d, kv = env.data, env.kv
    t = env._t
    r = env._rows[env._k]
    w.advance_to(t)
    roof_e = env._roof[1]
    H = kv.total_tokens
    cd, ce = kv.cached_tokens["device"], kv.cached_tokens["edge"]
    L = d.prompt_tokens[r]
    out_e = d.output_tokens[1][r]
    pf_d, dec_d, dec_d_pred, base_pf_d, rec_d = env.device_costs(H, cd, r)
    q_d, q_e = env.turn_quality(r)
    device = _device(env, w, t, pf_d, dec_d, q_d, rec_d, 0, r)
    up_tokens = H - ce + L
    up_bits = text_payload_bits_float(up_tokens)
    parts = w.edge_parts(t, up_tokens, ce, out_e, up_bits, env._answer_bits[r], roof_e)
    lat_e = parts.uplink_s + parts.queue_s + parts.prefill_s + parts.decode_s + parts.downlink_s
    edge = outcome_from_fields((1, q_e, lat_e, parts[:5], env._last == 0, H - ce, up_tokens,
                                up_bits / 8.0, t + lat_e, r, parts.energy_j))  # fmt: skip
    view = w.view(t)
    env._world_now = (t, view, parts, up_tokens, ce, out_e, pf_d + dec_d, device.energy_j)
    # What the router assumes the edge holds.
    ce_seen = ce if w.opts.load_observation == "exact" else min(env._edge_believed, H)
    new_seen = H - ce_seen + L
    bits_seen = text_payload_bits_float(new_seen)
    args = (pf_d, base_pf_d, dec_d_pred, new_seen, ce_seen, L, H, bits_seen,
            env._prompt_bits[r], env._pred_out_list[1][r], env._pred_down_bits[r], roof_e)
    env._estimate_blind = w.router_estimate(view, w.blind_load(), *args)
    obs = env._obs_all[env._k]
    edge_seen = ce if w.opts.load_observation == "exact" else min(env._edge_believed, H)
    env.data.layout.write_state(obs, H, 0.0, 0.0, view.uplink_bps, view.downlink_bps, 0.0,
                                kv.device_occupancy(), cd, edge_seen, env._last)  # fmt: skip
    estimate = w.router_estimate(view, view.load, *args)
    write_observation(env, obs, estimate)
    return (device, edge), estimate, obs


def commit(env: Any, served: Outcome) -> None:
    """Tell the world what was served (the shared server takes the request, the device heats)."""
    w: StatefulWorld = env.world
    t, _, parts, new_tokens, cached, out_e, work_d, e_dev = env._world_now
    if served.action == 1:
        w.commit_edge(t, parts, new_tokens, cached, out_e)
    else:
        w.commit_device(t, work_d, e_dev)


def write_observation(env: Any, obs: Any, estimate: dict) -> None:
    """The link and load slots as the device sees them, the world slots, and the analytic
    rule's ``estimate`` of the observed world as its slots (issue 14)."""
    env.data.layout.write_estimate_row(
        obs, estimate["device"]["total_s"], estimate["edge"]["total_s"]
    )
    w: StatefulWorld = env.world
    view: View = env._world_now[1]
    t = env._world_now[0]
    layout = env.data.layout
    util, kv_use, fill, waiting = _load_slots(view.load)
    i = layout.index
    exact_snr = w.trace is None and w.opts.channel_estimate == "exact"
    ul_db, dl_db = (w.channel_link(t)[:2] if exact_snr else (0.0, 0.0))
    lo, hi = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0
    obs[i["uplink_snr_db/10"]] = min(max(ul_db / 10.0, lo), hi)
    obs[i["downlink_snr_db/10"]] = min(max(dl_db / 10.0, lo), hi)
    obs[i["log1p_uplink_mbps"]] = min(math.log1p(view.uplink_bps / 1e6), RATE_SLOT_MAX)
    obs[i["log1p_downlink_mbps"]] = min(math.log1p(view.downlink_bps / 1e6), RATE_SLOT_MAX)
    obs[i["edge_utilisation"]] = util
    layout.write_world(obs, kv_use, fill, waiting, view.load_age_s, view.rate_age_s, view.heat,
                       w.device_speed(t), view.battery)  # fmt: skip
