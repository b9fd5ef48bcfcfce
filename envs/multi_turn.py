"""``EdgeRoute/MultiTurn-v0``: route the turns of one user's dialogues between device and edge."""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import numpy as np

from cost_models import energy
from cost_models.errors import EdgeRouteError
from cost_models.kv_cache import edge_retention_probability_float
from cost_models.link import text_payload_bits_float, transmit_time_float_s
from cost_models.router_cost import terms_from_parts
from envs import stateful_step
from envs.base import EdgeRouteEnv
from envs.config import Validator, positive_int
from envs.device_turn import DeviceTurnCosts
from envs.load_path import LoadPath, load_jumps_for, seed_from_uniform
from envs.outcome import SIDES, Outcome, outcome_from_fields, reward_function
from envs.traces.mt_eval_quality import HistoryAuthors
from envs.world import ChannelPath, lognormal_params

#: Service time allowed per turn when sizing the world drawn at reset (s): on MT-Bench-101
#: with the default deployment 99% of turns take under 9 s; a longer episode extends the
#: paths from their own streams (about 1% of episodes).
SERVICE_ALLOWANCE_S = 10.0
#: Channel blocks drawn at reset are rounded up to a multiple of this (so that few sizes of
#: the first-chunk filter matrix, ``envs.world.ChannelModel.stacked_filter``, exist and they
#: stay cached), and capped at ``MAX_RESET_BLOCKS``.
BLOCK_QUANTUM = 16
MAX_RESET_BLOCKS = 1 << 14


class HindsightProblem(NamedTuple):
    """The pending dialogue's realised world (``MultiTurnEnv.hindsight_problem``), in the form
    agents.hindsight_search.best_sequence takes: remaining turns, oracle, state, and
    ``restore()`` to put the environment back as it was."""

    n_turns: int
    oracle: Any
    state0: tuple
    restore: Any


class MultiTurnEnv(DeviceTurnCosts, EdgeRouteEnv):
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
    config_defaults: ClassVar[dict[str, Any]] = {
        # Benchmark replayed by default: MT-Bench-101 (modelled per-turn quality).
        "benchmark": "mt_bench_101",
        # Dialogues of one user per episode, played back to back.
        "dialogues_per_episode": 1,
        # Mean think time between turns of a dialogue (s); modelled, lognormal.
        "think_time_mean_s": 20.0,
    }
    config_key_validators: ClassVar[dict[str, Validator]] = {"dialogues_per_episode": positive_int}

    def _max_steps(self) -> int:
        starts = self.data.dialogue_starts
        longest = int(np.max(np.diff(starts))) if len(starts) > 1 else 0
        return int(self.config["dialogues_per_episode"]) * longest

    @property
    def items_per_episode(self) -> int:
        return int(self.config["dialogues_per_episode"])

    def _episode_rows(self, rng: np.random.Generator) -> list[int]:
        starts = self._starts
        n_dialogues = len(starts) - 1
        size = int(self.config["dialogues_per_episode"])
        if self._items is not None:  # reset(options={"items": ...}): an evaluation pass
            chosen = self._items
        elif size == 1:
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
        # Think times: envs.world.think_times_s's lognormal, drawn here from standard normals.
        self._think_mean_s = mean_s
        self._think_mu, self._think_sigma = lognormal_params(mean_s, cv)
        self._crn = bool(cfg["common_random_numbers"])
        # Whose answers form the history (mt_eval): the trace's kappa, or 0 (no effect).
        kappa = self.trace.meta.get("author_kappa") if cfg["history_authors"] else None
        self._authors = HistoryAuthors(float(kappa) if kappa else 0.0)

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode's dialogues, think times, retention uniforms and world (fixed
        counts from ``rng``)."""
        rows = self._episode_rows(rng)
        n = len(rows)
        self._rows = rows
        self._n_steps = n
        starts = self._is_start
        self._new_dialogue = [starts[r] for r in rows]
        cm, lc = self.channel_model, self.load_chain
        sigma = self._think_sigma
        if sigma > 0:
            exp, mu = math.exp, self._think_mu
            think = [exp(mu + sigma * x) for x in rng.standard_normal(n).tolist()]
        else:
            think = [self._think_mean_s] * n
        self._think = think
        # The world drawn now covers the think times plus SERVICE_ALLOWANCE_S per turn; a
        # longer episode extends the paths from their own streams (seeded here).
        horizon_s = sum(think) - think[-1] + n * SERVICE_ALLOWANCE_S
        blocks = (int(horizon_s / cm.block_s) // BLOCK_QUANTUM + 1) * BLOCK_QUANTUM
        z = rng.standard_normal((min(blocks, MAX_RESET_BLOCKS), 5))
        # One uniform per turn (edge retention), the load path's jumps, then the seeds of the
        # three extension streams (channel, load, lazy retention), used only if needed.
        u = rng.random(n + 2 * load_jumps_for(lc, horizon_s) + 4).tolist()
        self._lazy_seed = seed_from_uniform(u[-1])
        self._lazy = None
        self._retention_u = u[:n] if self._crn else None
        self.channel = ChannelPath(cm, seed_from_uniform(u[-3]), z)
        self.load = LoadPath(lc, seed_from_uniform(u[-2]), u[n:-3])
        kv = self.kv
        kv.device_capacity_tokens = self.device_capacity_tokens
        kv.reset()
        self._authors.reset()
        self._t = 0.0
        self._edge_last_s = 0.0
        self._edge_believed = 0  # the edge prefix the device believes cached (its last send)
        if self.world is not None:
            self.world.begin(rng.random(5).tolist(), self.channel.link, self.load, n)
            self._t = self._edge_last_s = self.world.t0
        static = self.data.static_obs
        if rows[-1] - rows[0] == n - 1:  # contiguous rows (one dialogue): a slice
            self._obs_all = static[rows[0] : rows[-1] + 1].copy()
        else:
            self._obs_all = static[rows]

    @property
    def _lazy_rng(self) -> np.random.Generator:
        """Stream of the lazy retention draws when common random numbers are off (created
        from a seed drawn at reset, on first use)."""
        if self._lazy is None:
            self._lazy = np.random.default_rng(self._lazy_seed)
        return self._lazy

    def _advance(self, served: Outcome) -> None:
        """The dialogue grows by the served turn; the user reads the answer and sends the next
        turn after a think time; the edge keeps or drops its cache over the idle gap."""
        k = self._k
        t_done = served.time_s
        if self.world is not None:
            stateful_step.commit(self, served)
        if served.action == 1:
            self._edge_last_s = t_done
        if k >= self._n_steps:
            self._t = t_done
            return
        kv = self.kv
        new_dialogue = self._new_dialogue[k]
        if not new_dialogue:
            # The KV state carries to the next turn of this dialogue, and so does its history.
            a, r = served.action, served.row
            kv.grow(SIDES[a], self.data.prompt_tokens[r], self.data.output_tokens[a][r])
            if a == 1:
                self._edge_believed = kv.total_tokens
            q = self.data.quality
            self._authors.served(served.quality, q[0][r], q[1][r])
        t = self._t = t_done + self._think[k - 1]
        if new_dialogue:
            kv.reset()
            self._authors.reset()
            self._last = -1
            self._edge_believed = 0
        elif kv.cached_tokens["edge"] > 0:
            # Edge retention over the idle gap before turn k (one uniform per turn in CRN),
            # at the server's load then (the shared server's KV-pool use, or the chain's).
            if self.world is not None and self.world.server is not None:
                self.world.advance_to(t)
                load_now = self.world.server.load_sample().kv_usage
            else:
                load_now = self.load_chain.levels[self.load.level(t)]
            p = edge_retention_probability_float(
                t - self._edge_last_s if t > self._edge_last_s else 0.0, load_now
            )
            u = self._retention_u[k] if self._crn else float(self._lazy_rng.random())
            if not u < p:
                kv.evict_edge()

    def _pending_query(self) -> tuple[tuple[Outcome, Outcome], dict, np.ndarray]:
        """Both outcomes of the pending turn at the current clock, channel, load and KV state,
        the router's estimate, and the observation (this episode's row of the turn: its static
        slots, then the dynamic state)."""
        if self.world is not None:
            return stateful_step.multi_turn_pending(self)
        d = self.data
        r = self._rows[self._k]
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
        L = d.prompt_tokens[r]
        roof_e = self._roof[1]
        pred_e = self._pred_out_list[1][r]
        if H == 0:
            # First turn: nothing cached, costs precomputed per row.
            cd = ce = 0
            pf_e, dec_e, dec_e_pred = self._fresh[r][3:]
            base_pf_e = pf_e
            pf_d, dec_d, dec_d_pred, base_pf_d, rec_d = self.device_costs(0, 0, r)
            up_tokens = L
            up_bits = self._prompt_bits[r]
            up_s = base_up_s = transmit_time_float_s(up_bits, ul_bps, acc, pen)
        else:
            cached = kv.cached_tokens
            cd = cached["device"]
            ce = cached["edge"]
            ctx = H + L
            pf_d, dec_d, dec_d_pred, base_pf_d, rec_d = self.device_costs(H, cd, r)
            up_tokens = H - ce + L
            up_bits = text_payload_bits_float(up_tokens)
            up_s = transmit_time_float_s(up_bits, ul_bps, acc, pen)
            base_up_s = (
                up_s if ce == H else transmit_time_float_s(self._prompt_bits[r], ul_bps, acc, pen)
            )
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
        down_s = transmit_time_float_s(self._answer_bits[r], dl_send_bps, acc, pen)
        lat_d = pf_d + dec_d
        lat_e = up_s + queue_s + pf_e + dec_e + down_s
        last = self._last
        q_d, q_e = self.turn_quality(r)
        device = outcome_from_fields((
            0, q_d, lat_d, (pf_d, dec_d), last == 1, rec_d, 0, 0.0, t + lat_d, r,
            energy.compute_energy_j(lat_d),
        ))  # fmt: skip
        edge = outcome_from_fields((
            1, q_e, lat_e, (up_s, queue_s, pf_e, dec_e, down_s), last == 0, H - ce,
            up_tokens, up_bits / 8.0, t + lat_e, r,
            energy.edge_request_energy_j(up_bits, up_s, self._answer_bits[r], down_s,
                                         queue_s + pf_e + dec_e),
        ))  # fmt: skip
        down_pred_s = transmit_time_float_s(self._pred_down_bits[r], dl_bps, acc, pen)
        estimate = terms_from_parts(
            pf_d, base_pf_d, dec_d_pred, up_s, base_up_s, queue_s, pf_e, base_pf_e, dec_e_pred,
            down_pred_s,
        )  # fmt: skip
        # Load-blind: the same estimate at the chain's long-run mean utilisation.
        self._estimate_blind = terms_from_parts(
            pf_d, base_pf_d, dec_d_pred, up_s, base_up_s, self.blind_queue_s, pf_e, base_pf_e,
            dec_e_pred / slow * self.blind_slowdown, down_pred_s,
        )  # fmt: skip
        obs = self._obs_all[self._k]
        self.data.layout.write_state(
            obs, H, ul_db, dl_db, ul_bps, dl_bps, self.load_chain.levels[lv],
            kv.device_occupancy(), cd, ce, last,
        )  # fmt: skip
        self.data.layout.write_estimate_row(
            obs, estimate["device"]["total_s"], estimate["edge"]["total_s"]
        )
        return (device, edge), estimate, obs

    # ------------------------------------------------------------------ hindsight bound

    def _snapshot(self) -> tuple:
        """Everything ``_outcomes`` and ``_advance`` read or change (hashable)."""
        kv, a = self.kv, self._authors
        return (
            self._k, self._t, self._edge_last_s, self._last, kv.total_tokens,
            kv.cached_tokens["device"], kv.cached_tokens["edge"], kv.device_evictions,
            kv.edge_evictions, a._n, a._served, a._own[0], a._own[1],
        )  # fmt: skip

    def _restore(self, snap: tuple) -> None:
        kv, a = self.kv, self._authors
        (self._k, self._t, self._edge_last_s, self._last, kv.total_tokens, cd, ce,
         kv.device_evictions, kv.edge_evictions, a._n, a._served, own0, own1) = snap  # fmt: skip
        kv.cached_tokens = {"device": cd, "edge": ce}
        a._own = [own0, own1]

    def hindsight_problem(self, reward_weights_override=None) -> HindsightProblem:
        """The pending dialogue's realised world, for ``hindsight_optimal``: its remaining
        turns, an oracle ``(turn, action, state) -> (reward, next state)`` that serves the
        turn with this environment's own ``_outcomes`` / ``_advance`` and reward (what
        ``step`` would return from that state), the current state, and ``restore()``.

        ``reward_weights_override`` (e.g. ``{"latency": -0.3}``) replaces some reward weights
        for the plan only. Needs common random numbers (the world must not depend on the
        actions) and a pending turn.
        """
        if not self._episode_ready:
            raise EdgeRouteError("hindsight_problem needs a pending turn: reset() first")
        if self.world is not None:
            raise EdgeRouteError(
                "hindsight_problem needs a world that does not depend on the actions: turn the "
                "stateful-world features off (shared_edge, load/channel observation, trace link, "
                "thermal, attachments; envs.stateful_config)"
            )
        if not self._crn:
            raise EdgeRouteError(
                "hindsight_problem needs config['common_random_numbers'] = True: without it "
                "the edge-retention draws depend on the actions, so there is no fixed world"
            )
        k0 = self._k
        end = k0 + 1
        while end < self._n_steps and not self._new_dialogue[end]:
            end += 1
        if reward_weights_override:
            reward_of = reward_function(
                {**self.config["reward_weights"], **reward_weights_override}
            )
        else:
            reward_of = self.reward_of
        state0 = self._snapshot()
        # Both outcomes of a state are computed once: the search asks for action 0 and, later,
        # action 1 from the same state.
        outcomes: dict[tuple, tuple[Outcome, Outcome]] = {}

        def oracle(turn: int, action: int, state: tuple) -> tuple[float, tuple]:
            self._restore(state)
            both = outcomes.get(state)
            if both is None:
                both = outcomes[state] = self._pending_query()[0]
            served = both[action]
            reward = reward_of(served)
            self._last = action
            self._k += 1
            self._advance(served)
            return float(reward), self._snapshot()

        def restore() -> None:
            self._restore(state0)
            self._pending, self._estimate, self._obs = self._pending_query()
            self._pending_rewards = self._score(self._pending)

        return HindsightProblem(end - k0, oracle, state0, restore)
