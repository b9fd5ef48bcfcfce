"""N users of ONE shared edge server, stepped together with one policy (issue 10, item 8).

``SharedEdgeVectorEnv(num_envs=N, config={...})`` is a Gymnasium ``VectorEnv`` whose N
sub-environments are N users of the same continuous-batching server
(``cost_models.edge_server``), plus ``edge_users`` other users from the config: every user's
offloads load the server all of them see, so one shared policy over the N users faces
endogenous congestion and can learn congestion-aware routing. Same trace rows, qualities,
reward terms and observation layout (with the world slots) as ``EdgeRoute/SingleTurn-v0``
with ``edge_mode = "shared"``. What is modelled differently, for a batched step:

* Arrivals come in rounds of ``think_time_mean_s``: user ``i``'s ``k``-th query arrives at
  ``t0 + (k + U_ik) Delta`` with ``U_ik`` uniform in [0, 1), so every round's arrivals precede
  the next round's and the server is simulated causally (a user's gaps then lie in
  (0, 2 Delta) with mean ``Delta``).
* All users of a round decide at once, each from what it could see at the round's start
  (the server sampled up to then, and the answers it had received): the load report's age
  counts from the sample, and is at least the time since the round started.
* Each user's link is the scenario's median link (SNR model, no fading), or the named trace
  replayed from a per-user random offset; the device throttles per user (``thermal``).
* The latency of round ``k``'s requests is the committed server's (run to the next round),
  finished by one look-ahead for those still running: requests of the next round do not
  slow them (their arrival comes later; see ``EdgeServer.lookahead``).

``info`` carries arrays (``latency_s``, ``quality``, ``edge_call``, ``energy_j``,
``server_running``); finished episodes reset in the same step (``final_obs``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from cost_models import energy
from cost_models.channel import mean_channel_state
from cost_models.edge_server import EdgeServer
from cost_models.errors import EdgeRouteError
from cost_models.link import transmit_time_float_s
from cost_models.thermal import (
    get_thermal_profile,
    heat_after_busy,
    heat_after_idle,
    speed_fraction,
    throttled_time_s,
)
from envs.outcome import Outcome
from envs.single_turn import SingleTurnEnv
from envs.stateful import WARMUP_S
from envs.vector import set_vector_spaces


class SharedEdgeVectorEnv(VectorEnv):
    """N users on one shared edge server (see the module docstring)."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, config: dict[str, Any] | None = None) -> None:
        if not (isinstance(num_envs, int) and num_envs >= 1):
            raise EdgeRouteError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        cfg = {**(config or {}), "edge_mode": "shared"}
        self.proto = p = SingleTurnEnv(config=cfg)
        set_vector_spaces(self, p, num_envs)
        self.world = p.world
        d, c = p.data, p.costs
        self._static, self._layout = d.static_obs, d.layout
        self._lat_d = c.device_prefill_s + c.device_decode_s
        self._prompt_bits, self._answer_bits = c.prompt_bits, c.answer_bits
        self._prompt_tokens = np.asarray(d.prompt_tokens)
        self._out_e = np.asarray(d.output_tokens[1])
        self._quality = np.asarray(d.quality, dtype=np.float64).T
        self._semantic_p = np.asarray(d.semantic_p)
        self._reward_of = p.reward_of
        self._episode_len = int(self.config["episode_queries"])
        self._delta = float(self.config["think_time_mean_s"])
        median = mean_channel_state(p.scenario.channel_scenario)
        self._median_rates = (median.uplink_bps, median.downlink_bps)
        self._access = p.channel_model.access_latency_s
        self._penalty = p.channel_model.outage_penalty_s
        self._rng = np.random.default_rng()

    # ------------------------------------------------------------------ helpers

    def _tx_s(self, i: int, bits: float, t: float, uplink: bool) -> float:
        w = self.world
        if w.trace is None:
            rate = self._median_rates[0 if uplink else 1]
            return transmit_time_float_s(bits, rate, self._access, self._penalty)
        return w.trace.transmit_s(bits, t + self._offset[i], uplink)

    def _new_queries(self, idx: np.ndarray) -> None:
        self._row[idx] = self._rng.integers(0, len(self._static), len(idx))
        self._arrive[idx] = self._round_start + self._rng.random(len(idx)) * self._delta

    def _observe(self) -> None:
        """Each user's observation at its arrival, from the state at the round's start."""
        w, srv = self.world, self.server
        t_round = self._round_start
        beacon = w.beacon
        obs = self._static[self._row].copy()
        i = self._layout.index
        exact = w.opts.load_observation == "exact"
        now = srv.load_sample()
        for u in range(self.num_envs):
            t = self._arrive[u]
            if exact:
                rep, sampled = now, t_round
            else:
                rep, sampled = self._report[u], self._report_s[u]
                if self._report_rx[u] > t:  # not received yet: the one before
                    rep, sampled = self._prev_report[u], self._prev_report_s[u]
                if beacon.beacons_on and srv.samples:
                    k = min(int((min(t, t_round) - beacon.delay_s) // beacon.period_s),
                            len(srv.samples) - 1)  # fmt: skip
                    if k >= 0 and srv.samples[k].time_s > sampled:
                        rep, sampled = srv.samples[k], srv.samples[k].time_s
            kv = rep.kv_usage if rep is not None else self._blind["kv_usage"]
            fill = rep.batch_fill if rep is not None else self._blind["batch_fill"]
            waiting = rep.waiting if rep is not None else self._blind["waiting"]
            idle = max(t - self._busy_until[u], 0.0)
            heat = heat_after_idle(self._profile, self._heat[u], idle)
            row = obs[u]
            row[i["edge_utilisation"]] = kv
            row[i["log1p_uplink_mbps"]] = np.log1p(self._median_rates[0] / 1e6)
            row[i["log1p_downlink_mbps"]] = np.log1p(self._median_rates[1] / 1e6)
            self._layout.write_world(row, kv, fill, waiting, t - sampled, 0.0, heat,
                                     float(speed_fraction(self._profile, heat)),
                                     energy.battery_fraction(self._energy[u]))  # fmt: skip
        self._layout.write_last_model(obs, self._last)
        self._obs = obs

    # ------------------------------------------------------------------ VectorEnv API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options:
            raise EdgeRouteError("SharedEdgeVectorEnv.reset takes no options; pass config")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        n, w = self.num_envs, self.world
        seeds = self._rng.integers(0, 2**62, 2).tolist()
        self.server = EdgeServer(w.spec, w._traffic(int(seeds[0])),
                                 sample_period_s=w._sample_period())  # fmt: skip
        self.server.advance_to(WARMUP_S)
        self._round_start = WARMUP_S
        self._blind = w.blind_load()
        self._profile = get_thermal_profile(w.opts.thermal) if w.opts.thermal else _NO_HEAT
        self._row = np.zeros(n, dtype=np.int64)
        self._arrive = np.zeros(n)
        self._last = np.full(n, -1, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._heat = np.zeros(n)
        self._busy_until = np.zeros(n)
        self._energy = np.zeros(n)
        self._offset = self._rng.random(n) * (w.trace.downlink.period_s if w.trace else 0.0)
        self._report = [None] * n
        self._report_s = np.full(n, -np.inf)
        self._report_rx = np.zeros(n)
        self._prev_report, self._prev_report_s = [None] * n, np.full(n, -np.inf)
        self._new_queries(np.arange(n))
        self._observe()
        return self._obs, {"semantic_p": self._semantic_p[self._row]}

    def step(self, actions):
        a = np.asarray(actions)
        n = self.num_envs
        if not (a.shape == (n,) and np.issubdtype(a.dtype, np.integer)
                and a.min() >= 0 and a.max() <= 1):  # fmt: skip
            raise EdgeRouteError(f"actions must be {n} integers in {{0, 1}}; got {actions!r}")
        a = a.astype(np.int64, copy=False)
        srv, row = self.server, self._row
        latency, energy_j = np.zeros(n), np.zeros(n)
        # Device users: throttled compute; edge users: uplink then the shared server.
        sent: list[tuple[int, int, float]] = []
        for u in np.argsort(self._arrive):
            t, r = float(self._arrive[u]), int(row[u])
            if a[u] == 0:
                work = float(self._lat_d[r])
                h0 = heat_after_idle(self._profile, self._heat[u], max(t - self._busy_until[u], 0))
                wall = throttled_time_s(self._profile, h0, work)
                self._heat[u] = heat_after_busy(self._profile, h0, wall)
                self._busy_until[u] = t + wall
                latency[u], energy_j[u] = wall, energy.compute_energy_j(work)
            else:
                up = self._tx_s(u, float(self._prompt_bits[r]), t, True)
                rid = srv.submit(t + up, int(self._prompt_tokens[r]), int(self._out_e[r]), 0,
                                 int(u))  # fmt: skip
                sent.append((int(u), rid, up))
        self._round_start += self._delta
        srv.advance_to(self._round_start)
        timings = srv.lookahead_many([rid for _, rid, _ in sent])
        for u, rid, up in sent:
            timing = timings[rid]
            r = int(row[u])
            down = self._tx_s(u, float(self._answer_bits[r]), timing.finish_s, False)
            latency[u] = up + timing.total_s + down
            energy_j[u] = energy.edge_request_energy_j(float(self._prompt_bits[r]), up,
                                                       float(self._answer_bits[r]), down,
                                                       timing.total_s)  # fmt: skip
            self._prev_report[u], self._prev_report_s[u] = self._report[u], self._report_s[u]
            self._report[u], self._report_s[u] = timing.report, timing.finish_s
            self._report_rx[u] = timing.finish_s + down
        self._energy += energy_j
        served = Outcome(action=a, quality=self._quality[row, a], latency_s=latency,
                         latency=(), switched=(self._last >= 0) & (a != self._last),
                         recomputed_tokens=0, uplink_tokens=self._prompt_tokens[row] * a,
                         uplink_bytes=self._prompt_bits[row] / 8.0 * a,
                         time_s=self._arrive + latency, row=row, energy_j=energy_j)
        reward = self._reward_of(served)
        info: dict[str, Any] = {"latency_s": latency, "quality": served.quality,
                                "edge_call": a == 1, "energy_j": energy_j,
                                "server_running": np.full(n, srv.n_running)}  # fmt: skip
        self._last = a.copy()  # (never alias the caller's action array: it is written below)
        self._steps += 1
        terminated = self._steps >= self._episode_len
        self._new_queries(np.arange(n))
        done = np.flatnonzero(terminated)
        if len(done):
            self._observe()
            info["final_obs"] = self._obs.copy()
            info["_final_obs"] = terminated.copy()
            self._last[done] = -1
            self._steps[done] = 0
            self._heat[done] = 0.0
            self._energy[done] = 0.0
        self._observe()
        info["semantic_p"] = self._semantic_p[self._row]
        return self._obs, reward, terminated, np.zeros(n, dtype=bool), info

    def close_extras(self, **kwargs: Any) -> None:
        self.proto.close()


class _NoHeat:
    """A thermal profile that never throttles (thermal off)."""

    s_min, tau_s, tau_cool_s = 1.0, 1.0, 1.0


_NO_HEAT = _NoHeat()
