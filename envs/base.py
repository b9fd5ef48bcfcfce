"""The machinery both environments share: configuration, static costs, world, rewards.

A subclass fixes the episode structure, draws the episode's world at ``reset``
(:meth:`EdgeRouteEnv._begin_episode`) and implements ``step``; the static per-row costs, the
reward and the configuration are here. Both are built for speed: everything that does not
depend on the actions is computed once, vectorised through ``cost_models`` (per row of the
trace at configuration, per episode at ``reset``); ``step`` only indexes (single-turn) or
evaluates the few action-dependent latencies on Python floats through the scalar path of
``cost_models.compute`` (multi-turn, where the KV state and the arrival times depend on the
actions).

Latency model (``cost_models.router_cost``, our reconstruction, not the paper's):

* device: ``prefill(uncached history + prompt, cached) + decode(context, output)``;
* edge: ``uplink(text after the edge's cached prefix) + queue(u) + prefill + decode * slowdown(u)
  + downlink(answer)``.

The uplink, queue, prefill and decode use the channel and load at the query's arrival; the
downlink uses the channel at the moment the answer is sent (arrival + the earlier parts), so
time advances during service. The router's ``estimate`` uses the arrival-time state for both
links and the *predicted* output length (train-split mean per side), never the realised one;
its terms are ``cost_models.router_cost.estimate_terms``'s.

Randomness: every draw of an episode comes from ``self.np_random`` at ``reset``, in counts
that do not depend on the actions (query order, think times, retention uniforms, the first
stretch of the channel and load paths, and the seeds of the paths' own extension streams,
see :mod:`envs.world`). So with the same reset seed every policy sees the same world: common
random numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cost_models import channel as channel_mod
from cost_models import compute, kv_cache, router_cost
from cost_models.errors import EdgeRouteError
from envs.config import (
    COMMON_VALIDATORS,
    EMBEDDING_MODES,
    REWARD_TERMS,
    Validator,
    merge_config,
    one_of,
    positive_number,
)
from envs.data import OUTPUT_LENGTH_MODES, PreparedSplit, get_trace, prepare_split
from envs.observation import (
    SCALAR_INDEX,
    SCALAR_SLOTS,
    SNR_RANGE_DB,
)
from envs.world import ChannelModel, LoadChain

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
    "output_length": one_of(OUTPUT_LENGTH_MODES),
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
        # Mean user think time (s) between an answer and the next turn (multi-turn); in
        # single-turn, whose arrivals are open loop, the mean gap between query arrivals.
        # Modelled (lognormal, our assumption: reading the answer at ~240 words/min, see
        # envs.world.think_times_s).
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
        # The output length the router predicts (estimate and observation): "predicted" =
        # the trace's per-query predictor (cost_models.semantic.length; the train mean where a
        # trace has no real lengths), "train_mean" = one train-split mean per side.
        "output_length": "predicted",
        # Observation options: embedding "pca" (train-fitted, whitened), "full" (standardised)
        # or "none"; pca_dim = number of principal components kept.
        "observation": {"embedding": "pca", "pca_dim": 16},
        # True: query order, think times, channel, load and edge-retention draws are fixed
        # at reset, identical whatever the actions (common random numbers). False: retention
        # draws (multi-turn) are made lazily, only when the edge holds a cache, from a stream
        # of their own, so they differ between policies (a naive simulator).
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
        self.kv = kv_cache.DialogueKVState(device_capacity_tokens=self.device_capacity_tokens)

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
            trace,
            cfg["split"],
            obs_opts["embedding"],
            obs_opts["pca_dim"],
            self.multi_turn,
            cfg["output_length"],
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
        # The scalar roofline of cost_models.compute (coefficients cached there).
        self._roof = (
            compute.roofline_coefficients(sc.device_model, sc.device_hw, sc.device_precision),
            compute.roofline_coefficients(sc.edge_model, sc.edge_hw, sc.edge_precision),
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
        # Load enters the latency only through its level: slow-down and queueing per level.
        levels = np.asarray(self.load_chain.levels)
        self._slow_lv = np.asarray(compute.decode_slowdown(levels), dtype=np.float64)
        self._queue_lv = np.asarray(
            compute.queue_delay_s(levels, self._queue_service_s), dtype=np.float64
        )
        self._slow_list = self._slow_lv.tolist()
        self._queue_list = self._queue_lv.tolist()
        # Per row: the predicted output tokens of each side and the edge answer's bits.
        self._pred_out = self.data.predicted_output_tokens
        self._pred_out_list = (self._pred_out[0].tolist(), self._pred_out[1].tolist())
        self._pred_down_bits_arr = np.asarray(channel_mod.text_payload_bits(self._pred_out[1]))
        self._pred_down_bits = self._pred_down_bits_arr.tolist()
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
        assert self._dyn_start - self._hist_slot == 3  # history, 2 predicted lengths, dynamics
        # Per row: the two predicted-length observation slots (static, written back as is).
        static = self.data.static_obs
        self._pred_slots = list(
            zip(
                static[:, k + SCALAR_INDEX["log1p_predicted_output_tokens_device"]].tolist(),
                static[:, k + SCALAR_INDEX["log1p_predicted_output_tokens_edge"]].tolist(),
                strict=True,
            )
        )
        self._last_slots = (
            k + SCALAR_INDEX["last_model_device"],
            k + SCALAR_INDEX["last_model_edge"],
        )
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
            compute.decode_time_s(dm, dh, prompt, pred_d, dp),
            compute.prefill_time_s(em, eh, prompt, 0, ep),
            compute.decode_time_s(em, eh, prompt, out_e, ep),
            compute.decode_time_s(em, eh, prompt, pred_e, ep),
        ]
        self._fresh_arr = np.column_stack(cols)
        self._fresh = [tuple(row) for row in self._fresh_arr.tolist()]
        self._prompt_bits_arr = np.asarray(channel_mod.text_payload_bits(prompt))
        self._answer_bits_arr = np.asarray(channel_mod.text_payload_bits(out_e))
        self._prompt_bits = self._prompt_bits_arr.tolist()
        self._answer_bits = self._answer_bits_arr.tolist()
        self._quality_arr = (np.asarray(d.quality[0]), np.asarray(d.quality[1]))
        self._semantic_arr = np.asarray(d.semantic_p, dtype=np.float64)
        # Per row: what a served query's info reports besides its latencies.
        self._row_meta = [
            (bench, dialogue, turn, tokens, bits / 8.0, p)
            for bench, dialogue, turn, tokens, bits, p in zip(
                d.row_benchmark, d.row_dialogue, d.turn_index, d.prompt_tokens,
                self._prompt_bits, d.semantic_p, strict=True,
            )
        ]  # fmt: skip

    # ------------------------------------------------------------------ episode structure

    def _max_steps(self) -> int:
        raise NotImplementedError

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode's world from ``rng`` (= ``self.np_random``), prepare the first
        query (``self._obs``, ``self._info0``)."""
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
        self._last = -1
        self._k = 0
        self._begin_episode(self.np_random)
        self._episode_ready = True
        return self._obs, self._info0

    def _check_action(self, action: Any) -> int:
        if not self._episode_ready:
            raise EdgeRouteError("call reset() before step(), and again after the episode ends")
        a = int(action)
        if a != action or (a != 0 and a != 1):
            raise EdgeRouteError(f"action must be 0 (device) or 1 (edge), got {action!r}")
        return a

    # ------------------------------------------------------------------ rewards

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

    def _base_reward(self, action: Any, quality: Any, latency_s: Any) -> Any:
        """The part of the reward that does not depend on the previous action (vectorised)."""
        w_q, w_l, w_e, _ = self._weights
        return w_q * quality + w_l * latency_s + w_e * action

    def render(self) -> None:
        """Nothing to draw: this environment has no visual state (returns None)."""
        return None
