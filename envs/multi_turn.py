"""``EdgeRoute/MultiTurn-v0``: route the turns of one user's dialogues between device and edge."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cost_models.channel import text_payload_bits_float
from cost_models.channel import transmit_time_float_s as transmit_time_s
from cost_models.kv_cache import edge_retention_probability_float as edge_retention_probability
from envs.base import SIDES, EdgeRouteEnv, common_default_config
from envs.config import Validator, positive_int
from envs.observation import LOG_TOKENS_MAX, RATE_SLOT_MAX, SNR_RANGE_DB
from envs.world import ChannelPath, LoadPath

_SNR_LO, _SNR_HI = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0
#: Service time allowed per turn when sizing the world drawn at reset (s): on MT-Bench-101
#: with the default deployment 99% of turns take under 9 s; a longer episode extends the
#: paths from their own streams (about 1% of episodes).
SERVICE_ALLOWANCE_S = 10.0


class MultiTurnEnv(EdgeRouteEnv):
    """
    ## Description

    One user holds a dialogue (MT-Bench-101, MT-Bench, ...) with an assistant that runs either
    as a small model on the phone-class device or as a large model on the edge server. At each
    user turn the agent picks the side that answers. Beyond the single-turn trade-off (quality
    of the large model vs. link and server delays), the two models do not share a KV cache: the
    dialogue is append-only and each side keeps a valid cached prefix
    (``cost_models.kv_cache.DialogueKVState``); serving a turn on a side prefills everything
    after its cached prefix (after a switch: the turns the other side served) and, on the edge,
    also uplinks that text. The device cache is bounded (over capacity it is evicted and the
    next device turn recomputes everything); the edge keeps the user's cache over an idle gap
    only with a probability that falls with the gap and the server load. Latencies are modelled
    (``cost_models``), not measured; MT-Bench-101 qualities are modelled (the trace says so).

    Time is closed loop within a dialogue: the user sends the next turn a seeded think time
    after the answer arrives, so the arrival times depend on the actions (a slow side delays
    the rest of the dialogue); the channel and the edge load are paths over absolute time
    drawn from the reset seed (``envs.world``), identical for every policy (common random
    numbers), and each turn sees them at its own arrival and send times. The edge keeps the
    user's KV cache over an idle gap with ``cost_models.kv_cache.edge_retention_probability``;
    the draw is made at the next arrival from a uniform fixed at reset (one per turn whether
    or not it is needed), and the observation then shows the outcome (we assume the device
    learns whether its prefix is still cached, e.g. from a cache-status reply).

    ## Action Space

    ``Discrete(2)``: 0 = serve the turn on the device model, 1 = on the edge model.

    ## Observation Space

    A flat ``Box`` of float32 with finite bounds, the same layout as
    ``EdgeRoute/SingleTurn-v0`` (``env.unwrapped.observation_names``;
    ``envs.observation.SLOT_DOCS``): embedding, ``semantic_p``, log-scaled prompt, history
    (dialogue context so far) and predicted output tokens, uplink and downlink SNR and rate,
    edge utilisation, device KV occupancy (cached / capacity), each model's cached prefix
    (log1p tokens), the model that served the previous turn of this dialogue (one-hot) and the
    turn index / 10.

    ## Rewards

    ``reward = sum_k w_k * term_k`` over ``_rewards()``: ``quality`` (in [0, 1]), ``latency``
    (realised seconds, including the recompute and uplink of uncached history), ``edge_call``
    (1 on the edge) and ``switch`` (1 if this turn's side differs from the previous turn's in
    the same dialogue). Weights in ``config["reward_weights"]``. ``info`` also reports
    ``switched``, ``recomputed_tokens``, ``uplink_tokens`` and ``uplink_bytes`` of the served
    turn, and for the pending turn ``estimate`` and ``hindsight``.

    ## Starting State

    At ``reset(seed=...)`` the episode's dialogues, think times and the channel / load /
    retention streams are fixed from the seed (common random numbers); both caches start empty.

    ## Episode End

    The episode terminates after the last turn of ``config["dialogues_per_episode"]``
    dialogues (the KV state restarts empty at each new dialogue). Registered with
    ``max_episode_steps=1000``. The last step's ``info`` has only the served turn's keys.

    ## Arguments

    ``gym.make("EdgeRoute/MultiTurn-v0", config={...})``; see :meth:`default_config`.
    ``reset(options={"config": {...}})`` updates the config (it persists). Invalid values raise
    ``cost_models.errors.EdgeRouteError`` naming the key and what is allowed.
    """

    multi_turn = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        config = common_default_config()
        config.update(
            {
                # Benchmark replayed by default: MT-Bench-101 (modelled per-turn quality).
                "benchmark": "mt_bench_101",
                # Dialogues of one user per episode, played back to back.
                "dialogues_per_episode": 1,
                # Mean think time between turns of a dialogue (s); modelled, lognormal.
                "think_time_mean_s": 20.0,
            }
        )
        return config

    @classmethod
    def config_validators(cls) -> dict[str, Validator]:
        return {**super().config_validators(), "dialogues_per_episode": positive_int}

    def _max_steps(self) -> int:
        starts = self.data.dialogue_starts
        longest = int(np.max(np.diff(starts))) if len(starts) > 1 else 0
        return int(self.config["dialogues_per_episode"]) * longest

    def _episode_rows(self, rng: np.random.Generator) -> list[int]:
        starts = self._starts
        n_dialogues = len(starts) - 1
        size = int(self.config["dialogues_per_episode"])
        if size == 1:
            dlg = min(int(rng.random() * n_dialogues), n_dialogues - 1)
            return list(range(starts[dlg], starts[dlg + 1]))
        else:
            chosen = rng.choice(n_dialogues, size=size, replace=size > n_dialogues).tolist()
        rows: list[int] = []
        for dlg in chosen:
            rows.extend(range(starts[dlg], starts[dlg + 1]))
        return rows

    def _configure(self) -> None:
        super()._configure()
        self._starts: list[int] = self.data.dialogue_starts.tolist()
        cfg = self.config
        mean_s, cv = float(cfg["think_time_mean_s"]), float(cfg["think_time_cv"])
        # Think times: envs.world.think_times_s's lognormal (mu, sigma), from standard normals.
        sigma = math.sqrt(math.log1p(cv * cv)) if cv > 0 else 0.0
        self._think_law = (mean_s, sigma, math.log(mean_s) - sigma * sigma / 2.0)
        self._crn = bool(cfg["common_random_numbers"])
        self._levels: list[float] = list(self.load_chain.levels)

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode's dialogues, think times, retention uniforms and world (fixed
        counts from ``rng``), and prepare the first turn."""
        rows = self._episode_rows(rng)
        n = len(rows)
        self._rows = rows
        self._n_steps = n
        starts = self._is_start
        self._new_dialogue = [starts[r] for r in rows]
        cm, lc = self.channel_model, self.load_chain
        mean_s, sigma, mu = self._think_law
        if sigma > 0:
            exp = math.exp
            think = [exp(mu + sigma * x) for x in rng.standard_normal(n).tolist()]
        else:
            think = [mean_s] * n
        self._think = think
        # The world drawn now covers the think times plus SERVICE_ALLOWANCE_S per turn; a
        # longer episode extends the paths from their own streams (seeded here). Blocks are
        # rounded up to a multiple of 16, so that few first-chunk filter matrices
        # (envs.world.ChannelModel.stacked_filter) exist and they stay cached.
        horizon_s = sum(think) - think[-1] + n * SERVICE_ALLOWANCE_S
        blocks = min(((int(horizon_s / cm.block_s) >> 4) + 1) << 4, 1 << 14)
        z = rng.standard_normal((blocks, 5))
        u = rng.random(n + 2 * lc.jumps_for(horizon_s) + 4).tolist()
        # Seeds of the extension streams (53 random bits each), used only if needed.
        self._lazy_seed = int(u[-1] * 9007199254740992.0)
        self._lazy = None
        self._retention_u = u[:n] if self._crn else None
        self.channel = ChannelPath(cm, int(u[-3] * 9007199254740992.0), z)
        self.load = LoadPath(lc, int(u[-2] * 9007199254740992.0), u[n:-3])
        kv = self.kv
        kv.device_capacity_tokens = self.device_capacity_tokens
        kv.reset()
        self._t = 0.0
        self._edge_last_s = 0.0
        static = self.data.static_obs
        if rows[-1] - rows[0] == n - 1:  # contiguous rows (one dialogue): a slice
            self._obs_all = static[rows[0] : rows[-1] + 1].copy()
        else:
            self._obs_all = static[rows]
        self._prepare_pending()
        self._info0 = {
            "semantic_p": self._pinfo_p,
            "estimate": self._estimate,
            "hindsight": self._hindsight,
        }

    @property
    def _lazy_rng(self) -> np.random.Generator:
        """Stream of the lazy retention draws when common random numbers are off (created
        from a seed drawn at reset, on first use)."""
        if self._lazy is None:
            self._lazy = np.random.default_rng(self._lazy_seed)
        return self._lazy

    def step(self, action):
        if not self._episode_ready or not (action == 0 or action == 1):
            self._check_action(action)  # raises the right error
        a = 1 if action == 1 else 0
        d = self.data
        r = self._row
        kv = self.kv
        side = SIDES[a]
        q = d.quality[a][r]
        if a == 0:
            prefill_s, decode_s, latency_s = self._lat_d
            latency = {"prefill_s": prefill_s, "decode_s": decode_s, "total_s": latency_s}
            recomputed = self._rec_d
            uplink_tokens = 0
            uplink_bytes = 0.0
        else:
            up_s, queue_s, prefill_s, decode_s, down_s, latency_s = self._lat_e
            latency = {
                "uplink_s": up_s, "queue_s": queue_s, "prefill_s": prefill_s,
                "decode_s": decode_s, "downlink_s": down_s, "total_s": latency_s,
            }  # fmt: skip
            recomputed = self._rec_e
            uplink_tokens = self._up_tokens
            uplink_bytes = self._up_bits / 8.0
        last = self._last
        switched = last >= 0 and a != last
        meta = self._row_meta[r]
        reward = self._hindsight["reward"][a]
        k = self._k + 1
        self._k = k
        last_step = k >= self._n_steps
        if not (last_step or self._new_dialogue[k]):
            # The KV state carries to the next turn of this dialogue.
            kv.grow(side, meta[3], d.output_tokens[a][r])
        t_done = self._t + latency_s
        if a == 1:
            self._edge_last_s = t_done
        info = {
            "rewards": {
                "quality": q, "latency": latency_s, "edge_call": float(a),
                "switch": 1.0 if switched else 0.0,
            },
            "latency": latency,
            "latency_s": latency_s,
            "quality": q,
            "model": side,
            "switched": switched,
            "recomputed_tokens": recomputed,
            "uplink_tokens": uplink_tokens,
            "uplink_bytes": uplink_bytes,
            "benchmark": meta[0],
            "dialogue_id": meta[1],
            "turn_index": meta[2],
            "time_s": t_done,
        }  # fmt: skip
        self._last = a
        if last_step:
            self._episode_ready = False
            self._t = t_done
            return self._obs.copy(), reward, True, False, info
        self._t = t_done + self._think[k - 1]
        if self._new_dialogue[k]:
            kv.reset()
            self._last = -1
        elif kv.cached_tokens["edge"] > 0:
            # Edge retention over the idle gap before turn k (one uniform per turn in CRN).
            t = self._t
            p = edge_retention_probability(
                t - self._edge_last_s if t > self._edge_last_s else 0.0,
                self._levels[self.load.level(t)],
            )
            u = self._retention_u[k] if self._crn else float(self._lazy_rng.random())
            if not u < p:
                kv.evict_edge()
        self._prepare_pending()
        info["semantic_p"] = self._pinfo_p
        info["estimate"] = self._estimate
        info["hindsight"] = self._hindsight
        return self._obs, reward, False, False, info

    def _prepare_pending(self) -> None:
        """Outcome of both actions for the pending turn, the estimate, and the observation."""
        d = self.data
        k = self._k
        r = self._rows[k]
        self._row = r
        t = self._t
        ch = self.channel
        cm = self.channel_model
        ul_db, dl_db, ul_bps, dl_bps = ch.link(t)
        lv = self.load.level(t)
        kv = self.kv
        H = kv.total_tokens
        acc = cm.access_latency_s
        pen = cm.outage_penalty_s
        slow = self._slow_list[lv]
        queue_s = self._queue_list[lv]
        if H == 0:
            # First turn: nothing cached, costs precomputed per row.
            cd = ce = 0
            pf_d, dec_d, dec_d_pred, pf_e, dec_e, dec_e_pred = self._fresh[r]
            base_pf_d, base_pf_e = pf_d, pf_e
            up_tokens = d.prompt_tokens[r]
            up_bits = self._prompt_bits[r]
            # cost_models.channel.transmit_time_float_s, inlined (the hot path).
            up_s = base_up_s = (up_bits / ul_bps if ul_bps > 0 else pen) + acc
        else:
            cached = kv.cached_tokens
            cd = cached["device"]
            ce = cached["edge"]
            L = d.prompt_tokens[r]
            ctx = H + L
            roof_d, roof_e = self._roof
            pred_d, pred_e = self._pred_out_list[0][r], self._pred_out_list[1][r]
            pf_d = roof_d.prefill_s(H - cd + L, cd)
            dec_d = roof_d.decode_s(ctx, d.output_tokens[0][r])
            dec_d_pred = roof_d.decode_s(ctx, pred_d)
            base_pf_d = pf_d if cd == H else roof_d.prefill_s(L, H)
            up_tokens = H - ce + L
            up_bits = text_payload_bits_float(up_tokens)
            up_s = transmit_time_s(up_bits, ul_bps, acc, pen)
            base_up_s = up_s if ce == H else transmit_time_s(self._prompt_bits[r], ul_bps, acc, pen)
            pf_e = roof_e.prefill_s(up_tokens, ce)
            base_pf_e = pf_e if ce == H else roof_e.prefill_s(L, H)
            dec_e = roof_e.decode_s(ctx, d.output_tokens[1][r])
            dec_e_pred = roof_e.decode_s(ctx, pred_e)
        dec_e *= slow
        dec_e_pred *= slow
        # The answer leaves the edge after uplink, queue, prefill and decode: downlink then.
        t_send = t + up_s + queue_s + pf_e + dec_e
        block_s = ch.block_s
        if int(t_send / block_s) == int(t / block_s):  # same block: same link
            dl_send_bps = dl_bps
        else:
            dl_send_bps = cm.rate_bps(ch.snr_db(t_send)[1])
        # cost_models.channel.transmit_time_float_s, inlined (the hot path).
        down_s = (self._answer_bits[r] / dl_send_bps if dl_send_bps > 0 else pen) + acc
        down_pred_s = (self._pred_down_bits[r] / dl_bps if dl_bps > 0 else pen) + acc
        lat_d = pf_d + dec_d
        lat_e = up_s + queue_s + pf_e + dec_e + down_s
        self._lat_d = (pf_d, dec_d, lat_d)
        self._lat_e = (up_s, queue_s, pf_e, dec_e, down_s, lat_e)
        self._rec_d = H - cd
        self._rec_e = H - ce
        self._up_tokens = up_tokens
        self._up_bits = up_bits

        # Router estimate: cost_models.router_cost.estimate_terms on the scalar path.
        comp_d = base_pf_d + dec_d_pred
        comm_e = base_up_s + down_pred_s
        comp_e = queue_s + base_pf_e + dec_e_pred
        self._estimate = {
            "device": {
                "communication_s": 0.0,
                "computation_s": comp_d,
                "switching_s": pf_d - base_pf_d,
                "total_s": pf_d + dec_d_pred,
            },
            "edge": {
                "communication_s": comm_e,
                "computation_s": comp_e,
                "switching_s": (up_s - base_up_s) + (pf_e - base_pf_e),
                "total_s": up_s + queue_s + pf_e + dec_e_pred + down_pred_s,
            },
        }

        # Realised outcome of each action: the hindsight; step(a) then returns outcome a.
        last = self._last
        q_d = d.quality[0][r]
        q_e = d.quality[1][r]
        # The reward: _base_reward + w_switch * switched (the _rewards() terms, weighted).
        w_q, w_l, w_e, w_s = self._weights
        self._hindsight = {
            "quality": [q_d, q_e],
            "latency_s": [lat_d, lat_e],
            "reward": [
                (w_q * q_d + w_l * lat_d + w_e * 0.0) + w_s * (1.0 if last == 1 else 0.0),
                (w_q * q_e + w_l * lat_e + w_e * 1.0) + w_s * (1.0 if last == 0 else 0.0),
            ],
        }
        self._pinfo_p = d.semantic_p[r]

        # Observation: this episode's row k (static slots), then the dynamic state.
        obs = self._obs_all[k]
        cap = self.device_capacity_tokens
        # Slots log1p_history_tokens .. last_model_edge (the two predicted-length slots in
        # between are static per row, written back unchanged).
        pred_slot_d, pred_slot_e = self._pred_slots[r]
        ul_slot = ul_db / 10.0
        dl_slot = dl_db / 10.0
        ul_rate_slot = math.log1p(ul_bps / 1e6)
        dl_rate_slot = math.log1p(dl_bps / 1e6)
        obs[self._hist_slot : self._dyn_end] = (
            min(math.log1p(H), LOG_TOKENS_MAX),
            pred_slot_d,
            pred_slot_e,
            ul_slot if _SNR_LO <= ul_slot <= _SNR_HI else (_SNR_LO if ul_slot < 0 else _SNR_HI),
            dl_slot if _SNR_LO <= dl_slot <= _SNR_HI else (_SNR_LO if dl_slot < 0 else _SNR_HI),
            ul_rate_slot if ul_rate_slot < RATE_SLOT_MAX else RATE_SLOT_MAX,
            dl_rate_slot if dl_rate_slot < RATE_SLOT_MAX else RATE_SLOT_MAX,
            self.load_chain.levels[lv],
            min(1.0, cd / cap) if cap > 0 else 0.0,
            min(math.log1p(cd), LOG_TOKENS_MAX),
            min(math.log1p(ce), LOG_TOKENS_MAX),
            1.0 if last == 0 else 0.0,
            1.0 if last == 1 else 0.0,
        )
        self._obs = obs
