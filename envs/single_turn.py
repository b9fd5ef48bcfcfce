"""``EdgeRoute/SingleTurn-v0``: route independent queries of one user between device and edge."""

from __future__ import annotations

from typing import Any

import numpy as np

from cost_models import channel as channel_mod
from envs.base import SIDES, EdgeRouteEnv, common_default_config
from envs.config import Validator, positive_int
from envs.observation import RATE_SLOT_MAX, SNR_RANGE_DB
from envs.world import ChannelPath, LoadPath, think_times_s

#: Channel blocks drawn at reset beyond the last arrival, in seconds (covers the service of
#: the last query in all but outage cases; further blocks come from the path's own stream).
SERVICE_MARGIN_S = 60.0


class SingleTurnEnv(EdgeRouteEnv):
    """
    ## Description

    One user sends a sequence of independent queries (MMLU questions, GSM8K problems, ...)
    from a phone-class device over a wireless link. For each query the agent decides whether
    the small model on the device or the large model on the edge server answers it. The edge
    model answers better more often, but the edge path pays the uplink of the prompt, queueing
    and a load-dependent slow-down at the server, and the downlink of the answer; the device
    path pays its slower on-device prefill and decode. Latencies come from
    ``cost_models`` (roofline compute, link budget with time-correlated shadowing and fading,
    Markov edge load): they are modelled, not measured. Qualities are the benchmark's per-item
    outcomes of the trace's label pair (measured, or modelled where the trace says so).

    Arrivals are open loop: the queries are independent, so the user does not wait for one
    answer before the next question comes; query ``k + 1`` arrives ``g_k`` seconds after query
    ``k`` arrived, with gaps ``g_k`` lognormal (mean ``config["think_time_mean_s"]``,
    coefficient of variation ``config["think_time_cv"]``; modelled, see
    ``envs.world.think_times_s``), a renewal process. The channel and the edge load evolve in
    absolute time (see ``envs.world``); time also advances during service (the answer's
    downlink uses the channel when it is sent). Because neither arrivals nor the world depend
    on the actions, every policy sees each query at the same time, channel and load (common
    random numbers, query by query), and the outcome of both actions for every query of the
    episode is computed at ``reset`` in one vectorised pass through ``cost_models``;
    ``step`` only looks it up. Modelling limits: a query that arrives before the previous
    answer is back is served as if alone (one user's requests do not contend with each
    other; with the default 30 s mean gap and latencies of a few seconds this is rare), and
    no KV cache carries over between independent queries (see ``EdgeRoute/MultiTurn-v0``).

    ## Action Space

    ``Discrete(2)``: 0 = serve on the device model, 1 = serve on the edge model.

    ## Observation Space

    A flat ``Box`` of float32 with finite bounds; ``env.unwrapped.observation_names`` names
    every slot and ``envs.observation.SLOT_DOCS`` explains it: the query embedding (PCA-reduced
    on the train split by default, or standardised, or absent), the semantic score
    ``semantic_p``, log-scaled prompt / history / predicted output tokens, uplink and downlink
    SNR (dB / 10, clipped to [-2, 6]) and Shannon rate (log1p Mbit/s), edge utilisation, device
    KV occupancy, each model's cached prefix (log1p tokens), the last model used (one-hot) and
    the turn index / 10. In this environment history, KV and last-model slots are always 0.

    ## Rewards

    ``reward = sum_k w_k * term_k`` over the terms of ``_rewards()``: ``quality`` (the serving
    model's quality on this query, in [0, 1]), ``latency`` (realised seconds), ``edge_call``
    (1 if served on the edge) and ``switch`` (1 if the model differs from the previous query's).
    The weights are ``config["reward_weights"]`` (default quality 1, latency -0.1 per second,
    edge call -0.05, switch 0). ``info["rewards"]`` holds the terms, ``info["latency"]`` the
    realised breakdown; ``info["hindsight"]`` the realised outcome of both actions for the
    pending query (for the Oracle only) and ``info["estimate"]`` the router's estimate.

    ## Starting State

    At ``reset(seed=...)`` the episode's queries (drawn without replacement from the split when
    possible), think times and the channel / load / edge-retention streams are fixed from the
    seed; with the same seed every policy sees the same ones (common random numbers).

    ## Episode End

    The episode terminates after ``config["episode_queries"]`` queries. It is registered with
    ``max_episode_steps=1000`` (configs asking for longer episodes are rejected). The last
    step's ``info`` has only the served query's keys (there is no pending query).

    ## Arguments

    ``gym.make("EdgeRoute/SingleTurn-v0", config={...})``; see :meth:`default_config` (one
    comment per key). ``reset(options={"config": {...}})`` updates the config (it persists).
    Invalid values raise ``cost_models.errors.EdgeRouteError`` naming the key and what is
    allowed. For fast training, ``gym.make_vec("EdgeRoute/SingleTurn-v0", num_envs=N,
    vectorization_mode="vector_entry_point", config={...})`` gives the numpy-batched
    :class:`envs.vector.SingleTurnVectorEnv` (same law, no common random numbers).
    """

    multi_turn = False

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        config = common_default_config()
        config.update(
            {
                # Benchmark replayed by default: MMLU (prepared by `edgeroute data prepare`).
                "benchmark": "mmlu",
                # Queries of one user per episode.
                "episode_queries": 100,
                # Single-turn arrivals are open loop: think_time_mean_s / think_time_cv are
                # the mean and CV of the gap between ARRIVALS of consecutive queries (not the
                # time after an answer, as in multi-turn); see the class docstring.
            }
        )
        return config

    @classmethod
    def config_validators(cls) -> dict[str, Validator]:
        return {**super().config_validators(), "episode_queries": positive_int}

    def _max_steps(self) -> int:
        return int(self.config["episode_queries"])

    def _episode_rows(self, rng: np.random.Generator) -> np.ndarray:
        n = self.data.n_rows
        size = int(self.config["episode_queries"])
        return rng.choice(n, size=size, replace=size > n)

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode (queries, arrival gaps, world) and evaluate both actions for every
        query, vectorised through ``cost_models`` (nothing here depends on the actions)."""
        cfg = self.config
        d = self.data
        rows = self._episode_rows(rng)
        n = len(rows)
        gaps = think_times_s(rng, n, float(cfg["think_time_mean_s"]), float(cfg["think_time_cv"]))
        arrive = np.zeros(n)
        np.cumsum(gaps[:-1], out=arrive[1:])
        seeds = rng.integers(0, 2**63, size=2).tolist()
        cm, lc = self.channel_model, self.load_chain
        horizon_s = float(arrive[-1]) + SERVICE_MARGIN_S
        blocks = int(horizon_s / cm.block_s) + 1
        self.channel = ChannelPath(cm, seeds[0], rng.standard_normal((blocks, 5)))
        self.load = LoadPath(lc, seeds[1], rng.random(2 * lc.jumps_for(horizon_s) + 1).tolist())
        self._think = gaps
        self._arrive = arrive

        # The world at each arrival.
        ul_db, dl_db = self.channel.snr_db_at(arrive)
        rate = cm.scenario_rate_bps  # the vectorised cost-model rate, one call for both links
        ul_bps, dl_bps = rate(np.concatenate((ul_db, dl_db))).reshape(2, n)
        level = self.load.levels_at(arrive)
        util = np.asarray(lc.levels)[level]
        # Both outcomes, through the vectorised cost model (per-row compute precomputed).
        fresh = self._fresh_arr[rows]
        pf_d, dec_d, dec_d_pred = fresh[:, 0], fresh[:, 1], fresh[:, 2]
        pf_e = fresh[:, 3]
        slow = self._slow_lv[level]
        dec_e, dec_e_pred = fresh[:, 4] * slow, fresh[:, 5] * slow
        queue_s = self._queue_lv[level]
        acc, pen = cm.access_latency_s, cm.outage_penalty_s
        tx = channel_mod.transmit_time_s
        up_s = tx(self._prompt_bits_arr[rows], ul_bps, acc, pen)
        t_send = arrive + up_s + queue_s + pf_e + dec_e
        down_s = tx(self._answer_bits_arr[rows], rate(self.channel.snr_db_at(t_send)[1]), acc, pen)
        down_pred_s = tx(self._pred_down_bits_arr[rows], dl_bps, acc, pen)
        lat_d = pf_d + dec_d
        lat_e = up_s + queue_s + pf_e + dec_e + down_s
        q_d = self._quality_arr[0][rows]
        q_e = self._quality_arr[1][rows]
        comp_d = pf_d + dec_d_pred
        # One row per query (column order: see _DEV, _EDGE, _EST slices in step).
        self._table = np.column_stack(
            (pf_d, dec_d, lat_d, q_d, self._base_reward(0.0, q_d, lat_d),
             up_s, queue_s, pf_e, dec_e, down_s, lat_e, q_e, self._base_reward(1.0, q_e, lat_e),
             arrive, comp_d, up_s + down_pred_s, queue_s + pf_e + dec_e_pred,
             up_s + queue_s + pf_e + dec_e_pred + down_pred_s, self._semantic_arr[rows])
        ).tolist()  # fmt: skip
        self._rows = rows.tolist()

        # Observations of the whole episode: static slots, then the world at each arrival
        # (history, KV and last-model slots stay 0; step sets the last-model one-hot).
        obs = d.static_obs[rows]
        lo, hi = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0
        s0 = self._dyn_start
        obs[:, s0] = np.clip(ul_db / 10.0, lo, hi)
        obs[:, s0 + 1] = np.clip(dl_db / 10.0, lo, hi)
        obs[:, s0 + 2] = np.minimum(np.log1p(ul_bps / 1e6), RATE_SLOT_MAX)
        obs[:, s0 + 3] = np.minimum(np.log1p(dl_bps / 1e6), RATE_SLOT_MAX)
        obs[:, s0 + 4] = util
        self._obs_all = obs
        self._n_steps = n
        self._obs = obs[0]
        self._info0 = self._add_pending({}, self._table[0], -1)

    def _add_pending(self, info: dict[str, Any], row: list[float], last: int) -> dict[str, Any]:
        """Add the pending-query keys of ``info`` (``semantic_p``, ``estimate``, ``hindsight``)
        for the query of ``row`` (a row of ``_table``) after action ``last``; fresh objects."""
        w_s = self._weights[3]
        info["semantic_p"] = row[18]
        info["estimate"] = {
            "device": {
                "communication_s": 0.0,
                "computation_s": row[14],
                "switching_s": 0.0,
                "total_s": row[14],
            },
            "edge": {
                "communication_s": row[15],
                "computation_s": row[16],
                "switching_s": 0.0,
                "total_s": row[17],
            },
        }
        # The reward of each action is the one step() will return: base + w_switch * switched.
        info["hindsight"] = {
            "quality": [row[3], row[11]],
            "latency_s": [row[2], row[10]],
            "reward": [
                row[4] + w_s * (1.0 if last == 1 else 0.0),
                row[12] + w_s * (1.0 if last == 0 else 0.0),
            ],
        }
        return info

    def step(self, action):
        a = self._check_action(action)
        k = self._k
        last = self._last
        switched = last >= 0 and a != last
        sw = 1.0 if switched else 0.0
        row = self._table[k]
        bench, dialogue, turn, prompt, prompt_bytes, _ = self._row_meta[self._rows[k]]
        if a == 0:
            pf, dec, lat, q, base = row[0:5]
            latency = {"prefill_s": pf, "decode_s": dec, "total_s": lat}
            up_tokens, up_bytes = 0, 0.0
        else:
            up, qu, pf, dec, down, lat, q, base = row[5:13]
            latency = {
                "uplink_s": up, "queue_s": qu, "prefill_s": pf, "decode_s": dec,
                "downlink_s": down, "total_s": lat,
            }  # fmt: skip
            up_tokens, up_bytes = prompt, prompt_bytes
        reward = base + self._weights[3] * sw
        info = {
            "rewards": {"quality": q, "latency": lat, "edge_call": float(a), "switch": sw},
            "latency": latency,
            "latency_s": lat,
            "quality": q,
            "model": SIDES[a],
            "switched": switched,
            "recomputed_tokens": 0,
            "uplink_tokens": up_tokens,
            "uplink_bytes": up_bytes,
            "benchmark": bench,
            "dialogue_id": dialogue,
            "turn_index": turn,
            "time_s": row[13] + lat,
        }
        self._last = a
        k += 1
        self._k = k
        if k >= self._n_steps:
            self._episode_ready = False
            return self._obs.copy(), reward, True, False, info
        # The next query's observation: a row of this episode's matrix, returned once and
        # never written again (a new matrix is drawn at the next reset).
        obs = self._obs_all[k]
        obs[self._last_slots[a]] = 1.0
        self._obs = obs
        self._add_pending(info, self._table[k], a)
        return obs, reward, False, False, info
