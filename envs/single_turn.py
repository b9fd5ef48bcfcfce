"""``EdgeRoute/SingleTurn-v0``: route independent queries of one user between device and edge."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from cost_models import energy
from cost_models.link import transmit_time_array_s
from cost_models.router_cost import terms_from_parts
from envs import stateful_step
from envs.base import EdgeRouteEnv, RowCosts
from envs.config import Validator, positive_int
from envs.load_path import LoadPath, load_jumps_for
from envs.outcome import Outcome, outcome_from_fields
from envs.world import ChannelPath, think_times_s

#: Channel blocks drawn at reset beyond the last arrival, in seconds (covers the service of
#: the last query in all but outage cases; further blocks come from the path's own stream).
SERVICE_MARGIN_S = 60.0


class QueryCosts(NamedTuple):
    """The columns of a single-turn episode's table (one row per query, a float64 matrix
    filled at reset): its arrival and the realised costs of both actions (seconds);
    ``*_predicted_s`` are the router's (predicted output length) parts of the estimate."""

    arrive_s: float
    device_quality: float
    device_prefill_s: float
    device_decode_s: float
    device_latency_s: float
    edge_quality: float
    uplink_s: float
    queue_s: float
    edge_prefill_s: float
    edge_decode_s: float
    downlink_s: float
    edge_latency_s: float
    device_decode_predicted_s: float
    edge_decode_predicted_s: float
    downlink_predicted_s: float
    #: Device joules of each action (``cost_models.energy``; modelled).
    device_energy_j: float
    edge_energy_j: float
    #: The edge's predicted decode at the load chain's long-run mean (load-blind estimate).
    edge_decode_predicted_blind_s: float


#: Columns of :class:`QueryCosts` holding the predicted parts of the router's estimate
#: (device decode, edge decode slowed by the load, downlink).
_PREDICTED_COLUMNS: list[int] = [
    QueryCosts._fields.index(f"{part}_predicted_s")
    for part in ("device_decode", "edge_decode", "downlink")
]


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
    config_defaults: ClassVar[dict[str, Any]] = {
        # Benchmark replayed by default: MMLU (prepared by `edgeroute data prepare`).
        "benchmark": "mmlu",
        # Queries of one user per episode.
        "episode_queries": 100,
        # Single-turn arrivals are open loop: think_time_mean_s / think_time_cv are the mean
        # and CV of the gap between ARRIVALS of consecutive queries (not the time after an
        # answer, as in multi-turn); see the class docstring.
    }
    config_key_validators: ClassVar[dict[str, Validator]] = {"episode_queries": positive_int}

    def _max_steps(self) -> int:
        return int(self.config["episode_queries"])

    def _configure(self) -> None:
        super()._configure()
        self._prompt_bytes = [bits / 8.0 for bits in self._prompt_bits]
        # The per-row columns an episode gathers at reset, stacked (one fancy index per reset).
        self._row_matrix = np.column_stack(self.costs)
        self._quality_matrix = np.column_stack(self.data.quality).astype(np.float64)
        self._prompt_tokens_arr = np.asarray(self.data.prompt_tokens)
        index = self.data.layout.index
        self._last_slot = (index["last_model_device"], index["last_model_edge"])

    @property
    def items_per_episode(self) -> int:
        return int(self.config["episode_queries"])

    def _episode_rows(self, rng: np.random.Generator) -> np.ndarray:
        if self._items is not None:  # reset(options={"items": ...}): an evaluation pass
            return np.asarray(self._items, dtype=np.intp)
        n = self.data.n_rows
        size = int(self.config["episode_queries"])
        return rng.choice(n, size=size, replace=size > n)

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode (queries, arrival gaps, world) and evaluate both actions for every
        query, vectorised through ``cost_models`` (nothing here depends on the actions)."""
        cfg = self.config
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
        jumps = load_jumps_for(lc, horizon_s)
        self.load = LoadPath(lc, seeds[1], rng.random(2 * jumps + 1))
        self._think = gaps
        self._arrive = arrive

        # The world at each arrival.
        ul_db, dl_db = self.channel.snr_db_at(arrive)
        rate = cm.rates_bps  # the vectorised cost-model rate, one call for both links
        ul_bps, dl_bps = rate(np.concatenate((ul_db, dl_db))).reshape(2, n)
        level = self.load.levels_at(arrive)
        # Both outcomes, through the vectorised cost model (per-row compute precomputed).
        # The rows' static costs and qualities: one gather, named views of it.
        c = RowCosts._make(self._row_matrix[rows].T)
        q_d, q_e = self._quality_matrix[rows].T
        pf_d, dec_d, pf_e = c.device_prefill_s, c.device_decode_s, c.edge_prefill_s
        slow = self.slowdown_per_level[level]
        dec_e = c.edge_decode_s * slow
        queue_s = self.queue_per_level_s[level]
        acc, pen = cm.access_latency_s, cm.outage_penalty_s
        up_s = transmit_time_array_s(c.prompt_bits, ul_bps, acc, pen)
        t_send = arrive + up_s + queue_s + pf_e + dec_e
        down_bps = rate(self.channel.downlink_snr_db_at(t_send))
        down_s = transmit_time_array_s(c.answer_bits, down_bps, acc, pen)
        lat_d = pf_d + dec_d
        lat_e = up_s + queue_s + pf_e + dec_e + down_s
        energy_d = energy.compute_energy_j(lat_d)
        energy_e = energy.edge_request_energy_j(
            c.prompt_bits, up_s, c.answer_bits, down_s, queue_s + pf_e + dec_e
        )
        # One row per query, columns in QueryCosts order (_pending_query unpacks a row).
        self._table = np.column_stack(
            QueryCosts(
                arrive, q_d, pf_d, dec_d, lat_d, q_e, up_s, queue_s, pf_e, dec_e, down_s,
                lat_e, c.device_decode_predicted_s, c.edge_decode_predicted_s * slow,
                transmit_time_array_s(self._pred_down_bits_arr[rows], dl_bps, acc, pen),
                energy_d, energy_e, c.edge_decode_predicted_s * self.blind_slowdown,
            )
        )  # fmt: skip
        self._rows = rows.tolist()
        # The reward of every query's outcome on each side, unswitched and switched: the base's
        # reward_of on the episode's outcomes as one array record over (side, switched,
        # query); _score reads them.
        edge_call = np.array([0, 1])[:, None, None]
        both = Outcome(
            edge_call, np.stack((q_d, q_e))[:, None, :], np.stack((lat_d, lat_e))[:, None, :],
            ((pf_d, dec_d), (up_s, queue_s, pf_e, dec_e, down_s)),
            np.array([False, True])[None, :, None], 0,
            edge_call * self._prompt_tokens_arr[rows], edge_call * (c.prompt_bits / 8.0),
            arrive + np.stack((lat_d, lat_e))[:, None, :], rows,
            np.stack((energy_d, energy_e))[:, None, :],
        )  # fmt: skip
        self._episode_rewards = self.reward_of(both).tolist()

        # Observations of the whole episode: static slots, then the world at each arrival
        # (history, KV and last-model slots stay 0; _pending_query sets the last-model one-hot).
        obs = self.data.static_obs[rows]
        layout = self.data.layout
        layout.write_link(obs, ul_db, dl_db, ul_bps, dl_bps, lc.levels_array[level])
        # The router's estimate of every query (the same terms _pending_query hands the
        # analytic rule), as observation slots.
        pred = self._table[:, _PREDICTED_COLUMNS].T
        est = terms_from_parts(pf_d, pf_d, pred[0], up_s, up_s, queue_s, pf_e, pf_e, *pred[1:])
        layout.write_estimates(obs, est["device"]["total_s"], est["edge"]["total_s"])
        self._obs_all = obs
        self._n_steps = n
        if self.world is not None:
            self.world.begin(rng.random(5).tolist(), self.channel.link, self.load, n)

    def _pending_query(self) -> tuple[tuple[Outcome, Outcome], dict, np.ndarray]:
        if self.world is not None:
            return stateful_step.single_turn_pending(self)
        k = self._k
        r = self._rows[k]
        last = self._last
        # The QueryCosts fields of query k, unpacked in their order.
        (
            arrive_s, q_d, prefill_d, decode_d, latency_d, q_e, up, queue, prefill_e, decode_e,
            down, latency_e, decode_d_pred, decode_e_pred, down_pred, energy_d, energy_e,
            decode_e_pred_blind,
        ) = self._table[k].tolist()  # fmt: skip
        device = outcome_from_fields((
            0, q_d, latency_d, (prefill_d, decode_d), last == 1, 0, 0, 0.0, arrive_s + latency_d,
            r, energy_d,
        ))  # fmt: skip
        edge = outcome_from_fields((
            1, q_e, latency_e, (up, queue, prefill_e, decode_e, down), last == 0, 0,
            self.data.prompt_tokens[r], self._prompt_bytes[r], arrive_s + latency_e, r, energy_e,
        ))  # fmt: skip
        # Nothing is cached in single-turn: the "base" parts are the real ones.
        estimate = terms_from_parts(
            prefill_d, prefill_d, decode_d_pred, up, up, queue, prefill_e, prefill_e,
            decode_e_pred, down_pred,
        )  # fmt: skip
        # Load-blind: the same estimate at the chain's long-run mean utilisation.
        self._estimate_blind = terms_from_parts(
            prefill_d, prefill_d, decode_d_pred, up, up, self.blind_queue_s, prefill_e,
            prefill_e, decode_e_pred_blind, down_pred,
        )  # fmt: skip
        # The observation: this episode's row k, returned once and never written again (a new
        # matrix is drawn at the next reset), with the layout's last-model one-hot.
        obs = self._obs_all[k]
        if last >= 0:
            obs[self._last_slot[last]] = 1.0
        return (device, edge), estimate, obs

    def _score(self, outcomes: tuple[Outcome, Outcome]) -> tuple[float, float]:
        if self.world is not None:  # the world depends on the actions: no episode table
            return super()._score(outcomes)
        rewards, k, last = self._episode_rewards, self._k, self._last
        return rewards[0][last == 1][k], rewards[1][last == 0][k]

    def _advance(self, served: Outcome) -> None:
        """Open-loop arrivals: the next query arrives when it was drawn to, whatever happened
        (with a stateful world, what was served changes the world: the shared server, heat)."""
        if self.world is not None:
            stateful_step.commit(self, served)
