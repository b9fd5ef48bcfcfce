"""The machinery both environments share: configuration, world, KV state, latencies, rewards.

A subclass fixes the episode structure (:meth:`EdgeRouteEnv._episode_rows`) and its defaults;
everything else is here. The step is built for speed: at ``reset`` the episode's rows, think
times and random streams are fixed; at each arrival the outcome of *both* actions is computed
once (it is the ``hindsight`` the Oracle reads, and ``step(a)`` then just commits outcome
``a``), on Python floats through :mod:`envs.fastcost`, the scalar path of ``cost_models``.

Latency model (``cost_models.router_cost``, our reconstruction, not the paper's):

* device: ``prefill(uncached history + prompt, cached) + decode(context, output)``;
* edge: ``uplink(text after the edge's cached prefix) + queue(u) + prefill + decode * slowdown(u)
  + downlink(answer)``.

The uplink, queue, prefill and decode use the channel and load at the query's arrival; the
downlink uses the channel at the moment the answer is sent (arrival + the earlier parts), so
time advances during service. The router's ``estimate`` uses the arrival-time state for both
links and the *predicted* output length (train-split mean per side), never the realised one;
its terms are ``cost_models.router_cost.estimate_terms``'s.

Time: the user sends the next query ``think`` seconds after the answer arrives (think times
lognormal, drawn at reset from their own stream). The edge keeps the user's KV cache over an
idle gap with ``cost_models.kv_cache.edge_retention_probability(idle, load)``; the draw is
made at the next arrival, from its own stream, one uniform per step whether or not it is
needed (common random numbers), and the observation then shows the outcome (we assume the
device learns whether its prefix is still cached, e.g. from a cache-status reply).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cost_models import channel as channel_mod
from cost_models import compute, kv_cache, router_cost
from cost_models.errors import EdgeRouteError
from envs import fastcost
from envs.config import (
    COMMON_VALIDATORS,
    EMBEDDING_MODES,
    REWARD_TERMS,
    Validator,
    merge_config,
    positive_number,
)
from envs.data import PreparedSplit, get_trace, prepare_split
from envs.observation import (
    LOG_TOKENS_MAX,
    RATE_SLOT_MAX,
    SCALAR_INDEX,
    SCALAR_SLOTS,
    SNR_RANGE_DB,
)
from envs.world import ChannelModel, ChannelPath, LoadChain, LoadPath, think_times_s

_SNR_LO, _SNR_HI = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0

#: Deployment preset used when neither the config nor the trace meta names one.
DEFAULT_DEPLOYMENT = "phone_3b__edge_70b"
SIDES = ("device", "edge")



def _optional_name(options: Mapping[str, Any], what: str) -> Validator:
    def check(key: str, value: Any) -> None:
        if value is not None and value not in options:
            raise EdgeRouteError(
                f"config[{key!r}] = {value!r} is not a known {what}; allowed: None or one of "
                f"{sorted(options)}"
            )

    return check


def _optional_positive(key: str, value: Any) -> None:
    if value is not None:
        positive_number(key, value)


#: Validators for every key of the shared config (a subclass adds its episode keys).
VALIDATORS: dict[str, Validator] = {
    **COMMON_VALIDATORS,
    "deployment": _optional_name(router_cost.SCENARIO_PRESETS, "deployment scenario"),
    "device_model": _optional_name(compute.MODEL_SPECS, "model"),
    "edge_model": _optional_name(compute.MODEL_SPECS, "model"),
    "device_hardware": _optional_name(compute.HARDWARE_SPECS, "hardware"),
    "edge_hardware": _optional_name(compute.HARDWARE_SPECS, "hardware"),
    "device_precision": _optional_name(compute.PRECISIONS, "precision"),
    "edge_precision": _optional_name(compute.PRECISIONS, "precision"),
    "channel": _optional_name(channel_mod.CHANNEL_PRESETS, "channel scenario"),
    "device_kv_budget_bytes": _optional_positive,
}


def common_default_config() -> dict[str, Any]:
    """The keys both environments share, with their defaults (one comment per key)."""
    return {
        # Which trace to replay: "synthetic" (built in, for tests) or a prepared benchmark
        # ("mmlu", "gsm8k", "mt_bench", "mt_bench_101"), loaded with envs.traces.load_trace.
        "benchmark": "synthetic",
        # A Trace object to replay instead of `benchmark` (tests, user traces); None = use it.
        "trace": None,
        # Label pair preset passed to load_trace (which small/large models' outcomes); None =
        # the trace's default pair.
        "pair": None,
        # Which fixed split the queries are drawn from: "train", "validation" or "test".
        "split": "train",
        # cost_models.router_cost.SCENARIO_PRESETS name; None = the trace meta's
        # "deployment", else "phone_3b__edge_70b".
        "deployment": None,
        # Overrides of the deployment's device/edge model, hardware and precision (names in
        # cost_models.compute MODEL_SPECS / HARDWARE_SPECS / PRECISIONS); None = keep.
        "device_model": None,
        "device_hardware": None,
        "device_precision": None,
        "edge_model": None,
        "edge_hardware": None,
        "edge_precision": None,
        # cost_models.channel.CHANNEL_PRESETS name; None = the deployment's channel.
        "channel": None,
        # Device KV memory for this user's dialogue in bytes; None = the device hardware's
        # kv_budget_bytes. Over capacity the device cache is evicted (cost_models.kv_cache).
        "device_kv_budget_bytes": None,
        # Mean user think time (s) between an answer and the next query; modelled (lognormal,
        # our assumption: reading the answer at ~240 words/min, see envs.world.think_times_s).
        "think_time_mean_s": 30.0,
        # Coefficient of variation of the think time (0 = constant).
        "think_time_cv": 1.0,
        # Block length (s) of the block-fading channel grid (envs.world.ChannelPath): well
        # below the shadowing decorrelation time (50 m / 8.3 m/s = 6 s at 30 km/h), well above
        # the fading coherence time (< 0.2 s at 2 GHz and >= 1 m/s).
        "channel_block_s": 2.0,
        # Reward = sum of weight * term over the terms of _rewards(): quality in [0, 1],
        # latency in seconds, edge_call and switch in {0, 1}. Signs are in the weights.
        "reward_weights": {"quality": 1.0, "latency": -0.1, "edge_call": -0.05, "switch": 0.0},
        # Observation options: embedding "pca" (train-fitted, whitened), "full" (standardised)
        # or "none"; pca_dim = number of principal components kept.
        "observation": {"embedding": "pca", "pca_dim": 16},
        # True: query order, think times, channel, load and edge-retention draws come from
        # separate streams fixed at reset, identical whatever the actions (common random
        # numbers). False: retention draws are made lazily, only when the edge holds a cache,
        # from the think-time stream, so they differ between policies (a naive simulator).
        "common_random_numbers": True,
        # Dialogues (multi-turn) or queries (single-turn) of the synthetic trace.
        "synthetic_size": 400,
    }


class EdgeRouteEnv(gym.Env):
    """Shared base of ``EdgeRoute/SingleTurn-v0`` and ``EdgeRoute/MultiTurn-v0``."""

    metadata: dict[str, Any] = {"render_modes": []}
    #: Whether an episode replays whole dialogues (KV state carries across turns).
    multi_turn: bool = False
    #: Longest episode the config may ask for (matches the registered max_episode_steps).
    MAX_EPISODE_STEPS: int = 1000

    # ------------------------------------------------------------------ configuration

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The full default configuration (subclasses add their episode keys)."""
        return common_default_config()

    @classmethod
    def config_validators(cls) -> dict[str, Validator]:
        return dict(VALIDATORS)

    def __init__(self, config: Mapping[str, Any] | None = None, render_mode: str | None = None):
        super().__init__()
        # Nothing is rendered (metadata["render_modes"] is empty; render() returns None). The
        # argument is accepted because stable-baselines3's make_vec_env passes
        # render_mode="rgb_array" to every env it builds.
        self.render_mode = render_mode
        self.config: dict[str, Any] = merge_config(
            self.default_config(), config, self.config_validators()
        )
        self._configure()
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(self._obs_low, self._obs_high, dtype=np.float32)
        self._episode_ready = False
        self._streams = [np.random.Generator(np.random.PCG64(0)) for _ in range(5)]
        self.kv = kv_cache.DialogueKVState(device_capacity_tokens=self.device_capacity_tokens)

    def _child_generators(self) -> list[np.random.Generator]:
        """Five independent generators (order, think, channel, load, retention) for an episode.

        Their PCG64 states and stream increments are drawn from ``self.np_random`` (so the
        reset seed fixes all of them and nothing else is a source of randomness); reseeding
        existing generators costs ~1 us where building new ones through SeedSequence costs
        ~20 us each, which matters for short (one-dialogue) episodes.
        """
        words = self.np_random.integers(0, 2**64, size=20, dtype=np.uint64).tolist()
        for i, gen in enumerate(self._streams):
            w = words[4 * i : 4 * i + 4]
            gen.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": (w[0] << 64) | w[1], "inc": ((w[2] << 64) | w[3]) | 1},
                "has_uint32": 0,
                "uinteger": 0,
            }
        return self._streams

    def configure(self, config: Mapping[str, Any]) -> None:
        """Update the configuration (HighwayEnv-style); takes effect now, persists."""
        new = merge_config(self.config, config, self.config_validators())
        old = self.config
        self.config = new
        try:
            shape_before = self._obs_low.shape
            self._configure()
            if self._obs_low.shape != shape_before:
                raise EdgeRouteError(
                    f"this config changes the observation shape from {shape_before} to "
                    f"{self._obs_low.shape} (embedding options or the trace's embedding size); "
                    "the observation space is fixed at construction: pass it to gym.make"
                )
        except Exception:
            self.config = old
            self._configure()
            raise

    def _deployment(self, trace_meta: Mapping[str, Any]) -> router_cost.DeploymentScenario:
        cfg = self.config
        name = cfg["deployment"] or trace_meta.get("deployment") or DEFAULT_DEPLOYMENT
        base = router_cost.get_scenario(name)
        try:
            return base.with_overrides(
                device_model=cfg["device_model"],
                device_hw=cfg["device_hardware"],
                device_precision=cfg["device_precision"],
                edge_model=cfg["edge_model"],
                edge_hw=cfg["edge_hardware"],
                edge_precision=cfg["edge_precision"],
                channel=cfg["channel"],
            )
        except EdgeRouteError as exc:
            raise EdgeRouteError(
                f"config: deployment {name!r} with these overrides: {exc}"
            ) from None

    def _configure(self) -> None:
        """Build everything static from the config: trace arrays, costs, world models."""
        cfg = self.config
        trace = cfg["trace"]
        if trace is None:
            trace = get_trace(
                cfg["benchmark"], cfg["pair"], self.multi_turn, cfg["synthetic_size"]
            )
        obs_opts = {**common_default_config()["observation"], **cfg["observation"]}
        if obs_opts["embedding"] not in EMBEDDING_MODES:
            raise EdgeRouteError(f"observation.embedding must be one of {EMBEDDING_MODES}")
        self.trace = trace
        self.data: PreparedSplit = prepare_split(
            trace, cfg["split"], obs_opts["embedding"], obs_opts["pca_dim"], self.multi_turn
        )
        longest = int(np.max(np.diff(self.data.dialogue_starts)))
        if not self.multi_turn and max(self.data.turn_index) > 0:
            raise EdgeRouteError(
                f"benchmark {self.data.benchmark!r} is a multi-turn trace (turns after the "
                "first need their dialogue context): use EdgeRoute/MultiTurn-v0"
            )
        if self.multi_turn and longest < 2:
            raise EdgeRouteError(
                f"benchmark {self.data.benchmark!r} has no dialogue with more than one turn: "
                "use EdgeRoute/SingleTurn-v0"
            )
        sc = self._deployment(trace.meta)
        self.scenario = sc
        self._roof = (
            fastcost.Roofline.build(sc.device_model, sc.device_hw, sc.device_precision),
            fastcost.Roofline.build(sc.edge_model, sc.edge_hw, sc.edge_precision),
        )
        budget = cfg["device_kv_budget_bytes"]
        if budget is None:
            self.device_capacity_tokens = sc.device_kv_capacity_tokens
        else:
            self.device_capacity_tokens = kv_cache.capacity_tokens(
                float(budget), sc.device_model, sc.device_precision
            )
        self.channel_model = ChannelModel(sc.channel, cfg["channel_block_s"])
        self.load_chain = LoadChain()
        self._queue_service_s = float(sc.edge_queue_service_s)
        self._pred_out = self.data.predicted_output_tokens
        self._pred_down_bits = fastcost.text_payload_bits(self._pred_out[1])
        self._precompute_rows()
        starts = set(self.data.dialogue_starts.tolist())
        self._is_start = [r in starts for r in range(self.data.n_rows)]
        w = cfg["reward_weights"]
        self._weights = tuple(float(w.get(t, 0.0)) for t in REWARD_TERMS)
        k = self.data.embedding_dim
        emb_names = [f"embedding_{i}" for i in range(k)]
        self.observation_names: list[str] = emb_names + [name for name, *_ in SCALAR_SLOTS]
        low = [-5.0] * k + [lo for _, lo, _, _ in SCALAR_SLOTS]
        high = [5.0] * k + [hi for _, _, hi, _ in SCALAR_SLOTS]
        self._obs_low = np.asarray(low, dtype=np.float32)
        self._obs_high = np.asarray(high, dtype=np.float32)
        self._hist_slot = k + SCALAR_INDEX["log1p_history_tokens"]
        self._dyn_start = k + SCALAR_INDEX["uplink_snr_db/10"]
        self._dyn_end = k + SCALAR_INDEX["last_model_edge"] + 1
        steps = self._max_steps()
        if steps > self.MAX_EPISODE_STEPS:
            raise EdgeRouteError(
                f"this config makes episodes of up to {steps} steps, above the registered "
                f"max_episode_steps={self.MAX_EPISODE_STEPS}; shorten the episode"
            )

    def _precompute_rows(self) -> None:
        """Per-row costs that do not depend on the state, vectorised through cost_models.

        ``_fresh[r]`` holds, for row ``r`` with nothing cached and no history (every
        single-turn query, every first turn): device prefill, decode (realised), decode
        (predicted), edge prefill, decode (realised), decode (predicted), the latter two before
        the load slow-down. Computed with ``cost_models.compute`` itself.
        """
        d, sc = self.data, self.scenario
        prompt = np.asarray(d.prompt_tokens, dtype=np.float64)
        out_d = np.asarray(d.output_tokens[0], dtype=np.float64)
        out_e = np.asarray(d.output_tokens[1], dtype=np.float64)
        pred_d, pred_e = self._pred_out
        dm, dh, dp = sc.device_model, sc.device_hw, sc.device_precision
        em, eh, ep = sc.edge_model, sc.edge_hw, sc.edge_precision
        cols = [
            compute.prefill_time_s(dm, dh, prompt, 0, dp),
            compute.decode_time_s(dm, dh, prompt, out_d, dp),
            compute.decode_time_s(dm, dh, prompt, np.full_like(prompt, pred_d), dp),
            compute.prefill_time_s(em, eh, prompt, 0, ep),
            compute.decode_time_s(em, eh, prompt, out_e, ep),
            compute.decode_time_s(em, eh, prompt, np.full_like(prompt, pred_e), ep),
        ]
        self._fresh = [tuple(row) for row in np.column_stack(cols).tolist()]
        self._prompt_bits = np.asarray(channel_mod.text_payload_bits(prompt)).tolist()
        self._answer_bits = np.asarray(channel_mod.text_payload_bits(out_e)).tolist()

    # ------------------------------------------------------------------ episode structure

    def _max_steps(self) -> int:
        raise NotImplementedError

    def _episode_rows(self, rng: np.random.Generator) -> list[int]:
        """The rows (indices into ``self.data``) of one episode, in order."""
        raise NotImplementedError

    # ------------------------------------------------------------------ Gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            unknown = sorted(set(options) - {"config"})
            if unknown:
                raise EdgeRouteError(f"unknown reset option(s) {unknown}; allowed: ['config']")
            if options.get("config"):
                self.configure(options["config"])
        # Child streams: one per exogenous process, fixed by the reset seed (CRN).
        order_rng, think_rng, channel_rng, load_rng, retention_rng = self._child_generators()
        rows = self._episode_rows(order_rng)
        self._rows = rows
        self._n_steps = len(rows)
        if self.multi_turn:
            starts = self._is_start
            self._new_dialogue = [starts[r] for r in rows]
        else:
            self._new_dialogue = [True] * len(rows)
        cfg = self.config
        self._think = think_times_s(
            think_rng, len(rows), float(cfg["think_time_mean_s"]), float(cfg["think_time_cv"])
        ).tolist()
        self._crn = bool(cfg["common_random_numbers"])
        self._retention_u = retention_rng.random(len(rows)).tolist() if self._crn else None
        self._lazy_rng = think_rng
        self.channel = ChannelPath(self.channel_model, channel_rng)
        self.load = LoadPath(self.load_chain, load_rng)
        self.kv.device_capacity_tokens = self.device_capacity_tokens
        self.kv.reset()
        self._k = 0
        self._t = 0.0
        self._last = -1
        self._edge_last_s = 0.0
        self._episode_ready = True
        self._prepare_pending()
        return self._obs, self._pending_info()

    def step(self, action):
        if not self._episode_ready:
            raise EdgeRouteError("call reset() before step(), and again after the episode ends")
        a = int(action)
        if a != action or (a != 0 and a != 1):
            raise EdgeRouteError(f"action must be 0 (device) or 1 (edge), got {action!r}")
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
                "uplink_s": up_s,
                "queue_s": queue_s,
                "prefill_s": prefill_s,
                "decode_s": decode_s,
                "downlink_s": down_s,
                "total_s": latency_s,
            }
            recomputed = self._rec_e
            uplink_tokens = self._up_tokens
            uplink_bytes = self._up_bits / 8.0
        switched = self._last >= 0 and a != self._last
        reward = self._hindsight["reward"][a]
        k = self._k + 1
        self._k = k
        last_step = k >= self._n_steps
        if self.multi_turn and not (last_step or self._new_dialogue[k]):
            # The KV state carries to the next turn of this dialogue.
            kv.commit_turn(side, d.prompt_tokens[r], d.output_tokens[a][r])
        t_done = self._t + latency_s
        if a == 1:
            self._edge_last_s = t_done
        info = {
            "rewards": self._rewards(a, q, latency_s, switched),
            "latency": latency,
            "latency_s": latency_s,
            "quality": q,
            "model": side,
            "switched": switched,
            "recomputed_tokens": recomputed,
            "uplink_tokens": uplink_tokens,
            "uplink_bytes": uplink_bytes,
            "benchmark": d.row_benchmark[r],
            "dialogue_id": d.row_dialogue[r],
            "turn_index": d.turn_index[r],
            "time_s": t_done,
        }
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
            self._retention_draw(k)
        self._prepare_pending()
        info["semantic_p"] = self._pinfo_p
        info["estimate"] = self._estimate
        info["hindsight"] = self._hindsight
        return self._obs, reward, False, False, info

    def _retention_draw(self, k: int) -> None:
        """Edge retention over the idle gap before step ``k`` (one uniform per step in CRN)."""
        t = self._t
        p = fastcost.edge_retention_probability(
            max(0.0, t - self._edge_last_s), self.load.utilisation(t)
        )
        u = self._retention_u[k] if self._crn else float(self._lazy_rng.random())
        if not u < p:
            self.kv.evict_edge()

    def _pending_info(self) -> dict[str, Any]:
        return {
            "semantic_p": self._pinfo_p,
            "estimate": self._estimate,
            "hindsight": self._hindsight,
        }

    # ------------------------------------------------------------------ the pending query

    def _rewards(
        self, action: int, quality: float, latency_s: float, switched: bool
    ) -> dict[str, float]:
        """Named reward terms of serving a query with ``action`` (HighwayEnv style).

        ``quality`` in [0, 1]; ``latency`` the realised seconds; ``edge_call`` 1 on the edge;
        ``switch`` 1 if the side differs from the previous turn's in this dialogue (or the
        previous query's in single-turn). The reward is ``sum(weight[k] * term[k])``.
        """
        return {
            "quality": quality,
            "latency": latency_s,
            "edge_call": float(action),
            "switch": 1.0 if switched else 0.0,
        }

    def _reward(self, action: int, quality: float, latency_s: float, switched: bool) -> float:
        """The weighted sum of :meth:`_rewards` (same terms, one formula for step and
        hindsight)."""
        w_q, w_l, w_e, w_s = self._weights
        return (
            w_q * quality
            + w_l * latency_s
            + w_e * float(action)
            + w_s * (1.0 if switched else 0.0)
        )

    def _prepare_pending(self) -> None:
        """Outcome of both actions for the pending query, the estimate, and the observation."""
        d = self.data
        r = self._rows[self._k]
        self._row = r
        t = self._t
        ch = self.channel
        cm = self.channel_model
        ul_db, dl_db = ch.snr_db(t)
        ul_bps = cm.rate_bps(ul_db)
        dl_bps = cm.rate_bps(dl_db)
        u = self.load.utilisation(t)
        kv = self.kv
        H = kv.total_tokens
        acc = cm.access_latency_s
        pen = cm.outage_penalty_s
        tx = fastcost.transmit_time_s
        slow = fastcost.decode_slowdown(u)
        queue_s = fastcost.queue_factor(u) * self._queue_service_s
        if H == 0:
            # First turn (every single-turn query): nothing cached, costs precomputed per row.
            cd = ce = 0
            pf_d, dec_d, dec_d_pred, pf_e, dec_e, dec_e_pred = self._fresh[r]
            base_pf_d, base_pf_e = pf_d, pf_e
            up_tokens = d.prompt_tokens[r]
            up_bits = self._prompt_bits[r]
            up_s = base_up_s = tx(up_bits, ul_bps, acc, pen)
        else:
            cached = kv.cached_tokens
            cd = cached["device"]
            ce = cached["edge"]
            L = d.prompt_tokens[r]
            ctx = H + L
            roof_d, roof_e = self._roof
            pred_d, pred_e = self._pred_out
            pf_d = roof_d.prefill_s(H - cd + L, cd)
            dec_d = roof_d.decode_s(ctx, d.output_tokens[0][r])
            dec_d_pred = roof_d.decode_s(ctx, pred_d)
            base_pf_d = pf_d if cd == H else roof_d.prefill_s(L, H)
            up_tokens = H - ce + L
            up_bits = fastcost.text_payload_bits(up_tokens)
            up_s = tx(up_bits, ul_bps, acc, pen)
            base_up_s = up_s if ce == H else tx(self._prompt_bits[r], ul_bps, acc, pen)
            pf_e = roof_e.prefill_s(up_tokens, ce)
            base_pf_e = pf_e if ce == H else roof_e.prefill_s(L, H)
            dec_e = roof_e.decode_s(ctx, d.output_tokens[1][r])
            dec_e_pred = roof_e.decode_s(ctx, pred_e)
        dec_e *= slow
        dec_e_pred *= slow
        # The answer leaves the edge after uplink, queue, prefill and decode: downlink then.
        t_send = t + up_s + queue_s + pf_e + dec_e
        dl_send_bps = cm.rate_bps(ch.snr_db(t_send)[1])
        down_s = tx(self._answer_bits[r], dl_send_bps, acc, pen)
        down_pred_s = tx(self._pred_down_bits, dl_bps, acc, pen)
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
        self._hindsight = {
            "quality": [q_d, q_e],
            "latency_s": [lat_d, lat_e],
            "reward": [
                self._reward(0, q_d, lat_d, last == 1),
                self._reward(1, q_e, lat_e, last == 0),
            ],
        }
        self._pinfo_p = d.semantic_p[r]

        # Observation: static slots of the row, then the dynamic state.
        obs = d.static_obs[r].copy()
        cap = self.device_capacity_tokens
        obs[self._hist_slot] = min(math.log1p(H), LOG_TOKENS_MAX)
        obs[self._dyn_start : self._dyn_end] = (
            min(max(ul_db / 10.0, _SNR_LO), _SNR_HI),
            min(max(dl_db / 10.0, _SNR_LO), _SNR_HI),
            min(math.log1p(ul_bps / 1e6), RATE_SLOT_MAX),
            min(math.log1p(dl_bps / 1e6), RATE_SLOT_MAX),
            u,
            min(1.0, cd / cap) if cap > 0 else 0.0,
            min(math.log1p(cd), LOG_TOKENS_MAX),
            min(math.log1p(ce), LOG_TOKENS_MAX),
            1.0 if last == 0 else 0.0,
            1.0 if last == 1 else 0.0,
        )
        self._obs = obs

    def render(self) -> None:
        """Nothing to draw: this environment has no visual state (returns None)."""
        return None
