"""The stateful world of an episode: a shared edge, what the device observes, the link, heat.

Built from :class:`envs.stateful_config.StatefulOptions` by the environments when a stateful
feature is on (``StatefulOptions.active``); they ask it, at a query's arrival ``t``, for the
realised parts of serving it on each side (:meth:`StatefulWorld.edge_parts`,
:meth:`StatefulWorld.device_parts`) and for the router's estimate from what the device can
observe (:meth:`StatefulWorld.view`), and tell it what was served (:meth:`commit_edge`,
:meth:`commit_device`). Pure laws live in ``cost_models``; this module only keeps state.

Common random numbers: every stream (the other users' requests, beacon noise, RTT draws) is
seeded at ``begin`` from a fixed number of draws of the environment's ``np_random``; the
shared server's state depends on the agent's actions (that is the point), the streams do not.

What the router may read (never the hidden state when ``load_observation = "reported"`` or
``channel_estimate = "last"``): :meth:`view` returns the observed load (the newest report
received and its age, or the exact state when so configured), the rate estimates and their
age, and the device heat (a phone reads its thermal status).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from cost_models import energy
from cost_models.batching import ServerSpec
from cost_models.edge_estimate import long_run_mean_report, shared_edge_estimate
from cost_models.edge_load import (
    DEFAULT_LOAD_LEVELS,
    DEFAULT_LOAD_TRANSITIONS,
    decode_slowdown,
    queue_delay_s,
)
from cost_models.edge_server import EdgeServer
from cost_models.edge_traffic import BackgroundTraffic, RateModulation, poisson_rate_hz
from cost_models.link import transmit_time_float_s
from cost_models.observability import BeaconConfig, LastMeasurement, LoadObserver
from cost_models.payload import get_attachment
from cost_models.thermal import DeviceThermalState
from envs.load_path import seed_from_uniform
from envs.stateful_config import StatefulOptions

#: Seconds of other users' traffic simulated before the episode starts (the server warms up
#: to its steady state; ~10 mean service times).
WARMUP_S = 60.0
#: Horizon (s) of the calibration run that gives the load-blind estimate its long-run mean.
CALIBRATION_S = 1800.0


#: Long-run mean reports of calibration runs, per world configuration (in-process).
_BLIND_MEMO: dict[tuple, dict[str, float]] = {}


class EdgeParts(NamedTuple):
    """The realised edge path of one query: parts (s), energy (J), server report at finish."""

    uplink_s: float
    queue_s: float
    prefill_s: float
    decode_s: float
    downlink_s: float
    energy_j: float
    report: dict[str, float] | None  # the load report its answer carries (shared/markov)
    finish_s: float  # when the server finished (the report's sample time)


class View(NamedTuple):
    """What the device observes before deciding, for the estimate and the observation."""

    load: dict[str, float]  # kv_usage, batch_fill, waiting (shared) or utilisation (markov)
    load_age_s: float
    uplink_bps: float
    downlink_bps: float
    rate_age_s: float
    heat: float
    battery: float


class StatefulWorld:
    """Per-environment holder of the stateful world (see the module docstring).

    ``scenario``: the deployment; ``channel_path_link``: a callable ``t -> (ul_db, dl_db,
    ul_bps, dl_bps)`` of the SNR model (None with a trace link); ``bg_prompt`` /
    ``bg_output``: the request sizes other users draw from (the train split's rows);
    ``mean_prompt`` / ``mean_output``: their means (the router's priors).
    """

    def __init__(self, opts: StatefulOptions, scenario: Any, access_latency_s: float,
                 outage_penalty_s: float, bg_prompt: np.ndarray, bg_output: np.ndarray) -> None:
        self.opts = opts
        sc = scenario
        self.access_s, self.penalty_s = float(access_latency_s), float(outage_penalty_s)
        self.spec = ServerSpec(sc.edge_model, sc.edge_hw, sc.edge_precision,
                               opts.edge_max_num_seqs, opts.edge_max_num_batched_tokens)
        self.bg_prompt, self.bg_output = bg_prompt, bg_output
        self.mean_prompt = float(np.mean(bg_prompt))
        self.mean_output = float(np.mean(bg_output))
        self.queue_service_s = float(sc.edge_queue_service_s)
        self.channel_scenario = sc.channel_scenario
        self.attachment = get_attachment(opts.attachment)
        self.trace = None
        if opts.link_trace is not None:
            from envs.traces.links import load_link

            self.trace = load_link(opts.link_trace, loop=opts.link_loop)
        self.beacon = BeaconConfig(opts.beacon_period_s, opts.load_report_delay_s,
                                   opts.load_report_noise_std, 0.0,
                                   opts.load_report_with_answers)  # fmt: skip
        self._blind: dict[str, float] | None = None

    # ------------------------------------------------------------------ episode

    def begin(self, uniforms: list[float], channel_link: Any, load_path: Any,
              n_queries: int) -> None:  # fmt: skip
        """Start an episode from ``uniforms`` (>= 5 draws of the env's rng, fixed count);
        ``channel_link`` / ``load_path`` are the episode's SNR and utilisation paths."""
        o = self.opts
        self.channel_link, self.load_path = channel_link, load_path
        seeds = [seed_from_uniform(u) for u in uniforms[:5]]
        self.server = None
        if o.shared_edge:
            self.server = EdgeServer(self.spec, self._traffic(seeds[0]),
                                     sample_period_s=self._sample_period())
            self.server.advance_to(WARMUP_S)
            self.t0 = WARMUP_S
        else:
            self.t0 = 0.0
        self.observer = LoadObserver(self.beacon, seeds[1], ("kv_usage", "batch_fill",
                                                             "utilisation"))  # fmt: skip
        self._rtt_rng = np.random.default_rng(seeds[2])
        self._att = (np.random.default_rng(seeds[3]).random(n_queries)
                     < o.attachment_share).tolist()  # fmt: skip
        self._pending_reports: list[tuple[float, dict[str, float], float]] = []
        median_up, median_dn = self._median_rates()
        self.up_est = LastMeasurement(median_up)
        self.down_est = LastMeasurement(median_dn)
        self.thermal = None if o.thermal is None else DeviceThermalState(o.thermal)
        self.energy_used_j = 0.0

    def _traffic(self, seed: int) -> BackgroundTraffic:
        o = self.opts
        rate = poisson_rate_hz(o.edge_users, 1.0 / o.edge_user_rate_hz) if (
            o.edge_users and o.edge_user_rate_hz > 0) else 0.0  # fmt: skip
        mod = (RateModulation(DEFAULT_LOAD_LEVELS, DEFAULT_LOAD_TRANSITIONS, seed + 1)
               if o.edge_demand_bursts else None)  # fmt: skip
        return BackgroundTraffic(self.bg_prompt, self.bg_output, seed, rate_hz=rate,
                                 routing=o.edge_background_routing, modulation=mod)

    def _sample_period(self) -> float | None:
        p = self.beacon.period_s
        return p if math.isfinite(p) else None

    def _median_rates(self) -> tuple[float, float]:
        if self.trace is not None:
            up = float(np.median(self.trace.uplink.per_second_rates_bps()))
            dn = float(np.median(self.trace.downlink.per_second_rates_bps()))
            return up, dn
        from cost_models.channel import mean_channel_state

        median = mean_channel_state(self.channel_scenario)  # the median-SNR link
        return median.uplink_bps, median.downlink_bps

    def has_attachment(self, k: int) -> bool:
        return self.attachment.name != "none" and self._att[k]

    # ------------------------------------------------------------------ link

    def rates_at(self, t: float) -> tuple[float, float, float, float]:
        """(ul_db, dl_db, ul_bps, dl_bps) now: the SNR model's, or the trace's 1-s means."""
        if self.trace is None:
            return self.channel_link(t)
        tr = self.trace
        return 0.0, 0.0, tr.uplink.mean_rate_bps(t, t + 1.0), tr.downlink.mean_rate_bps(t, t + 1.0)

    def transmit_s(self, bits: float, t: float, uplink: bool) -> float:
        """Realised time of one message from ``t`` (the SNR model at ``t``, or the trace)."""
        if self.trace is None:
            _, _, ul, dl = self.channel_link(t)
            return transmit_time_float_s(bits, ul if uplink else dl, self.access_s, self.penalty_s)
        rtt = self.trace.rtt_s(float(self._rtt_rng.random()))  # two draws per query: CRN
        return self.trace.transmit_s(bits, t, uplink, rtt)

    def _estimated_tx_s(self, bits: float, rate_bps: float) -> float:
        access = self.access_s if self.trace is None else 0.5 * self.trace.median_rtt_s
        return transmit_time_float_s(bits, rate_bps, access, self.penalty_s)

    # ------------------------------------------------------------------ load

    def _server_report(self, sample: Any) -> dict[str, float]:
        return {"kv_usage": sample.kv_usage, "batch_fill": sample.batch_fill,
                "waiting": float(sample.waiting), "running": float(sample.running),
                "kv_used_tokens": float(sample.kv_used_tokens)}  # fmt: skip

    def _exact_load(self, t: float) -> dict[str, float]:
        if self.server is not None:
            return self._server_report(self.server.load_sample())
        return {"utilisation": self.load_path.utilisation(t)}

    def _beacon_sample(self, k: int) -> dict[str, float]:
        t = k * self.beacon.period_s
        if self.server is not None:
            return self._server_report(self.server.samples[k])
        return {"utilisation": self.load_path.utilisation(t)}

    def advance_to(self, t: float) -> None:
        """Commit the shared server up to ``t`` (other users' requests until then)."""
        if self.server is not None:
            self.server.advance_to(t)

    def observed_load(self, t: float) -> tuple[dict[str, float], float]:
        """(load, age) the device sees at ``t``; the long-run mean (age inf) before any."""
        if self.opts.load_observation == "exact":
            return self._exact_load(t), 0.0
        self._deliver_reports(t)
        got = self.observer.observe(t, self._beacon_sample)
        if got is None:
            return self.blind_load(), math.inf
        return got.value, got.age_s(t)

    def _deliver_reports(self, t: float) -> None:
        keep = []
        for received, value, sampled in self._pending_reports:
            if received <= t:
                self.observer.on_answer(value, sampled)
            else:
                keep.append((received, value, sampled))
        self._pending_reports = keep

    def blind_load(self) -> dict[str, float]:
        """The long-run mean load (what a load-blind router assumes), computed once per
        world configuration (a calibration run of the other users alone, seed 12345)."""
        if self._blind is None:
            if self.opts.shared_edge:
                o = self.opts
                key = (self.spec, o.edge_users, o.edge_user_rate_hz, o.edge_background_routing,
                       o.edge_demand_bursts, self.bg_prompt.tobytes(), self.bg_output.tobytes())
                mean = _BLIND_MEMO.get(key)
                if mean is None:
                    sim = EdgeServer(self.spec, self._traffic(12345), sample_period_s=1.0)
                    sim.advance_to(CALIBRATION_S)
                    mean = _BLIND_MEMO[key] = long_run_mean_report(sim.samples[int(WARMUP_S):])
                cap, seqs = self.spec.kv_capacity_tokens, self.spec.max_num_seqs
                self._blind = {"kv_usage": mean["kv_used_tokens"] / cap,
                               "batch_fill": mean["running"] / seqs, **mean}  # fmt: skip
            else:
                levels = np.asarray(DEFAULT_LOAD_LEVELS)
                P = np.asarray(DEFAULT_LOAD_TRANSITIONS)
                w, v = np.linalg.eig(P.T)
                pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
                self._blind = {"utilisation": float(levels @ (pi / pi.sum()))}
        return self._blind

    def edge_compute_estimate(self, load: dict[str, float], new_tokens: float,
                              cached_tokens: float, pred_output: float,
                              roof_edge: Any) -> tuple[float, float, float]:  # fmt: skip
        """(queue_s, prefill_s, decode_s) the router expects from the load it assumes."""
        if self.opts.shared_edge:
            e = shared_edge_estimate(self.spec, load.get("running", load["batch_fill"]
                                                         * self.spec.max_num_seqs),
                                     load["waiting"], load.get(
                                         "kv_used_tokens",
                                         load["kv_usage"] * self.spec.kv_capacity_tokens),
                                     new_tokens, max(pred_output, 1.0), cached_tokens,
                                     self.mean_output, self.mean_prompt)  # fmt: skip
            return e["queue_s"], e["prefill_s"], e["decode_s"]
        u = load["utilisation"]
        return (float(queue_delay_s(u, self.queue_service_s)),
                roof_edge.prefill_s(new_tokens, cached_tokens),
                roof_edge.decode_s(cached_tokens + new_tokens, pred_output)
                * float(decode_slowdown(u)))  # fmt: skip

    def router_estimate(
        self, view: View, load: dict[str, float], device_prefill_s: float,
        device_base_prefill_s: float, device_decode_pred_s: float, new_tokens: int,
        cached_tokens: int, prompt_tokens: int, history_tokens: int, up_bits: float,
        base_up_bits: float, pred_output: float, pred_down_bits: float, roof_edge: Any,
    ) -> dict[str, dict[str, float]]:  # fmt: skip
        """The router's terms (``router_cost.terms_from_parts``) from what the device sees:
        the device parts slowed by its (readable) throttling, the link at the estimated
        rates, the edge server at the ``load`` it assumes (observed, or the long-run mean)."""
        from cost_models.router_cost import terms_from_parts

        speed = float(self._speed_of(view.heat))
        up_s = self._estimated_tx_s(up_bits, view.uplink_bps)
        base_up_s = up_s if base_up_bits == up_bits else self._estimated_tx_s(
            base_up_bits, view.uplink_bps)  # fmt: skip
        queue, pf_e, dec_e = self.edge_compute_estimate(load, new_tokens, cached_tokens,
                                                        pred_output, roof_edge)  # fmt: skip
        base_pf_e = pf_e if cached_tokens == history_tokens else self.edge_compute_estimate(
            load, prompt_tokens, history_tokens, pred_output, roof_edge)[1]  # fmt: skip
        down_s = self._estimated_tx_s(pred_down_bits, view.downlink_bps)
        return terms_from_parts(
            device_prefill_s / speed, device_base_prefill_s / speed, device_decode_pred_s / speed,
            up_s, base_up_s, queue, pf_e, base_pf_e, dec_e, down_s,
        )  # fmt: skip

    def _speed_of(self, heat: float) -> float:
        if self.thermal is None:
            return 1.0
        from cost_models.thermal import speed_fraction

        return float(speed_fraction(self.thermal.profile, heat))

    # ------------------------------------------------------------------ serving

    def view(self, t: float) -> View:
        load, age = self.observed_load(t)
        if self.opts.channel_estimate == "exact":
            _, _, ul, dl = self.rates_at(t)
            up, dn, rate_age = ul, dl, 0.0
        else:
            up, dn = self.up_est.value, self.down_est.value
            rate_age = self.up_est.age_s(t)
        heat = self.thermal.heat_at(t) if self.thermal is not None else 0.0
        battery = energy.battery_fraction(self.energy_used_j)
        return View(load, age, up, dn, rate_age, heat, battery)

    def device_wall_s(self, t: float, work_s: float) -> float:
        """Wall time of ``work_s`` full-speed seconds of device compute started at ``t``."""
        if self.thermal is None:
            return work_s
        from cost_models.thermal import throttled_time_s

        return throttled_time_s(self.thermal.profile, self.thermal.heat_at(t), work_s)

    def device_speed(self, t: float) -> float:
        return 1.0 if self.thermal is None else self.thermal.speed_at(t)

    def edge_parts(self, t: float, new_tokens: int, cached_tokens: int, output_tokens: int,
                   up_bits: float, down_bits: float, roof_edge: Any,
                   user: int = 0) -> EdgeParts:  # fmt: skip
        """The realised edge path of a request sent at ``t`` (no state change)."""
        up_s = self.transmit_s(up_bits, t, True)
        arrive = t + up_s
        if self.server is not None:
            timing = self.server.what_if(arrive, new_tokens, output_tokens, cached_tokens, user)
            queue, pf, dec = timing.queue_s, timing.prefill_s, timing.decode_s
            finish = timing.finish_s
            report = self._server_report(timing.report)
        else:
            u = self.load_path.utilisation(t)
            queue = float(queue_delay_s(u, self.queue_service_s))
            pf = roof_edge.prefill_s(new_tokens, cached_tokens)
            dec = roof_edge.decode_s(cached_tokens + new_tokens, output_tokens) * float(
                decode_slowdown(u))
            finish = arrive + queue + pf + dec
            report = {"utilisation": self.load_path.utilisation(finish)}
        down_s = self.transmit_s(down_bits, finish, False)
        e = energy.edge_request_energy_j(up_bits, up_s, down_bits, down_s, finish - arrive,
                                         tail=False)  # fmt: skip
        e += energy.tail_energy_j(energy.LTE_TAIL_S)
        return EdgeParts(up_s, queue, pf, dec, down_s, e, report, finish)

    def commit_edge(self, t: float, parts: EdgeParts, new_tokens: int, cached_tokens: int,
                    output_tokens: int, user: int = 0) -> None:  # fmt: skip
        """The query went to the edge: it loads the server, its answer brings a report (seen
        once it arrives), and its transfers are the device's new rate measurements (the
        link's rate while each ran: the modem's throughput of that second)."""
        if self.server is not None:
            self.server.submit(t + parts.uplink_s, new_tokens, output_tokens, cached_tokens, user)
        received = parts.finish_s + parts.downlink_s
        if parts.report is not None:
            self._pending_reports.append((received, parts.report, parts.finish_s))
        self.up_est.measure(self.rates_at(t)[2], t)
        self.down_est.measure(self.rates_at(parts.finish_s)[3], parts.finish_s)
        self.energy_used_j += parts.energy_j

    def commit_device(self, t: float, work_s: float, energy_j: float) -> None:
        if self.thermal is not None:
            self.thermal.run(t, work_s)
        self.energy_used_j += energy_j
