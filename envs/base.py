"""The one step path both environments share, and their static configuration.

HighwayEnv-style (``highway_env/envs/common/abstract.py``): :meth:`EdgeRouteEnv.step` is
defined here only. A subclass fixes the episode structure through three hooks:

* ``_begin_episode(rng)``: draw the episode's world at ``reset`` (every draw from ``rng`` =
  ``self.np_random``, in counts that do not depend on the actions: common random numbers);
* ``_pending_query()``: for the pending query, the :class:`envs.outcome.Outcome` of each
  action (device, edge), the router's estimate and the observation, from the world as it is
  now (no state change);
* ``_advance(served)``: move the world past the served outcome to the next query's arrival
  (time, KV caches, edge retention).

The base turns each outcome into ``terms = self._rewards(outcome)`` and the reward
``self.reward_of(terms)`` (the configured weighted sum, :func:`envs.outcome.reward_function`),
and builds ``info`` with :mod:`envs.outcome`'s builders. ``step(a)`` returns exactly outcome
``a`` of the pending query, so ``info["hindsight"]`` equals what ``step`` returns by
construction. A new world dynamic is a path in :mod:`envs.world` drawn in
``_begin_episode`` and read in ``_pending_query``; a new reward term is a change in
:mod:`envs.outcome` only.

Latency model (``cost_models.router_cost``, our reconstruction, not the paper's):

* device: ``prefill(uncached history + prompt, cached) + decode(context, output)``;
* edge: ``uplink(text after the edge's cached prefix) + queue(u) + prefill + decode * slowdown(u)
  + downlink(answer)``.

The uplink, queue, prefill and decode use the channel and load at the query's arrival; the
downlink uses the channel at the moment the answer is sent (arrival + the earlier parts), so
time advances during service. The router's ``estimate`` uses the arrival-time state for both
links and the *predicted* output length (train-split mean per side), never the realised one;
its terms are ``cost_models.router_cost.terms_from_parts``'s.

Everything that does not depend on the actions is computed once, vectorised through
``cost_models`` (per row of the trace at configuration, :class:`RowCosts`; per episode at
``reset``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cost_models import deployment, kv_cache, link, roofline
from cost_models.edge_load import LoadChain, decode_slowdown, queue_delay_s
from cost_models.errors import EdgeRouteError
from envs.config import (
    COMMON_VALIDATORS,
    DEFAULT_DEPLOYMENT,
    EMBEDDING_MODES,
    MAX_EPISODE_STEPS,
    Validator,
    checked_items,
    common_default_config,
    merge_config,
)
from envs.data import PreparedSplit, get_trace, prepare_split
from envs.outcome import (
    Outcome,
    add_pending_info,
    reward_function,
    reward_terms,
    served_info,
)
from envs.stateful import StatefulWorld
from envs.stateful_config import STATEFUL_VALIDATORS, StatefulOptions, stateful_default_config
from envs.tradeoff import draw_weights, prices
from envs.world import ChannelModel

#: The actions: 0 = serve on the device, 1 = serve on the edge (``Discrete(2)``).
ACTIONS: tuple[int, int] = (0, 1)


class RowCosts(NamedTuple):
    """Costs of each trace row of the split with nothing cached and no history (every
    single-turn query, every first turn of a dialogue), vectorised through ``cost_models``
    once per configuration: float64 arrays over the rows. Edge decodes are before the load
    slow-down; ``*_predicted_s`` decode the predicted (train-mean) output length."""

    device_prefill_s: np.ndarray
    device_decode_s: np.ndarray
    device_decode_predicted_s: np.ndarray
    edge_prefill_s: np.ndarray
    edge_decode_s: np.ndarray
    edge_decode_predicted_s: np.ndarray
    #: Bits on the wire of the prompt, and of the edge model's answer.
    prompt_bits: np.ndarray
    answer_bits: np.ndarray


class EdgeRouteEnv(gym.Env):
    """Shared base of ``EdgeRoute/SingleTurn-v0`` and ``EdgeRoute/MultiTurn-v0``."""

    metadata: dict[str, Any] = {"render_modes": []}
    #: Whether an episode replays whole dialogues (KV state carries across turns).
    multi_turn: bool = False
    #: The keys a subclass adds to (or whose defaults it changes in) the common config.
    config_defaults: ClassVar[dict[str, Any]] = {}
    #: Validators of the keys a subclass adds.
    config_key_validators: ClassVar[dict[str, Validator]] = {}

    # ------------------------------------------------------------------ configuration

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The full default configuration: the common keys (``envs.config``) and the
        stateful-world keys (``envs.stateful_config``), updated with the subclass's
        ``config_defaults``."""
        return {
            **common_default_config(), **stateful_default_config(),
            **copy.deepcopy(cls.config_defaults),
        }  # fmt: skip

    @classmethod
    def config_validators(cls) -> dict[str, Validator]:
        return {**COMMON_VALIDATORS, **STATEFUL_VALIDATORS, **cls.config_key_validators}

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
        layout = self.data.layout
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(layout.low, layout.high, dtype=np.float32)
        self._episode_ready = False
        self._items: list[int] | None = None
        self.kv = kv_cache.DialogueKVState(device_capacity_tokens=self.device_capacity_tokens)

    def configure(self, config: Mapping[str, Any]) -> None:
        """Update the configuration (HighwayEnv-style); takes effect now, persists."""
        new = merge_config(self.config, config, self.config_validators())
        old = self.config
        self.config = new
        try:
            shape_before = self.observation_space.shape
            self._configure()
            shape = self.data.layout.low.shape
            if shape != shape_before:
                raise EdgeRouteError(
                    f"this config changes the observation shape from {shape_before} to "
                    f"{shape} (embedding options or the trace's embedding size); "
                    "the observation space is fixed at construction: pass it to gym.make"
                )
        except Exception:
            self.config = old
            self._configure()
            raise

    def _deployment(self, trace_meta: Mapping[str, Any]) -> deployment.DeploymentScenario:
        cfg = self.config
        name = cfg["deployment"] or trace_meta.get("deployment") or DEFAULT_DEPLOYMENT
        base = deployment.get_scenario(name)
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
                cfg["benchmark"], cfg["pair"], self.multi_turn, cfg["synthetic_size"],
                cfg["document_tokens_mean"],
            )  # fmt: skip
        obs_opts = {**common_default_config()["observation"], **cfg["observation"]}
        if obs_opts["embedding"] not in EMBEDDING_MODES:
            raise EdgeRouteError(f"observation.embedding must be one of {EMBEDDING_MODES}")
        self.trace = trace
        self.stateful = StatefulOptions.from_config(cfg)
        self.data: PreparedSplit = prepare_split(
            trace, cfg["split"], obs_opts["embedding"], obs_opts["pca_dim"], self.multi_turn,
            cfg["output_length"], world_slots=self.stateful.observation_slots,
        )  # fmt: skip
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
        # The scalar roofline of cost_models.roofline (coefficients cached there).
        self._roof = (
            roofline.roofline_coefficients(sc.device_model, sc.device_hw, sc.device_precision),
            roofline.roofline_coefficients(sc.edge_model, sc.edge_hw, sc.edge_precision),
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
        # Load enters the latency only through its level: slow-down and queueing per level.
        levels = self.load_chain.levels_array
        self.slowdown_per_level = np.asarray(decode_slowdown(levels), dtype=np.float64)
        self.queue_per_level_s = np.asarray(
            queue_delay_s(levels, float(sc.edge_queue_service_s)), dtype=np.float64
        )
        self._slow_list = self.slowdown_per_level.tolist()
        self._queue_list = self.queue_per_level_s.tolist()
        # The load-blind estimate (info["estimate_load_blind"]): the long-run mean utilisation
        # of the chain in place of the current level.
        mean_u = float(self.load_chain.stationary_distribution() @ levels)
        self.blind_slowdown = float(decode_slowdown(mean_u))
        self.blind_queue_s = float(queue_delay_s(mean_u, float(sc.edge_queue_service_s)))
        # Per row: the predicted output tokens of each side and the edge answer's bits.
        self._pred_out = self.data.predicted_output_tokens
        self._pred_out_list = (self._pred_out[0].tolist(), self._pred_out[1].tolist())
        self._pred_down_bits_arr = np.asarray(link.text_payload_bits(self._pred_out[1]))
        self._pred_down_bits = self._pred_down_bits_arr.tolist()
        self.costs = self._row_costs()
        self.world = self._stateful_world() if self.stateful.active else None
        c = self.costs
        # Per row, for the scalar (multi-turn) path: the first-turn costs as Python floats.
        self._fresh = list(
            zip(
                c.device_prefill_s.tolist(), c.device_decode_s.tolist(),
                c.device_decode_predicted_s.tolist(), c.edge_prefill_s.tolist(),
                c.edge_decode_s.tolist(), c.edge_decode_predicted_s.tolist(), strict=True,
            )
        )  # fmt: skip
        self._prompt_bits = c.prompt_bits.tolist()
        self._answer_bits = c.answer_bits.tolist()
        starts = set(self.data.dialogue_starts.tolist())
        self._is_start = [r in starts for r in range(self.data.n_rows)]
        #: The reward of an outcome under this config's weights (envs.outcome).
        self.reward_of = reward_function(cfg["reward_weights"])
        self.observation_names: list[str] = list(self.data.layout.names)
        steps = self._max_steps()
        if steps > MAX_EPISODE_STEPS:
            raise EdgeRouteError(
                f"this config makes episodes of up to {steps} steps, above the registered "
                f"max_episode_steps={MAX_EPISODE_STEPS}; shorten the episode"
            )

    def _row_costs(self) -> RowCosts:
        """:class:`RowCosts` of the split, with ``cost_models.roofline`` and ``link``."""
        d, sc = self.data, self.scenario
        prompt = np.asarray(d.prompt_tokens, dtype=np.float64)
        out_d = np.asarray(d.output_tokens[0], dtype=np.float64)
        out_e = np.asarray(d.output_tokens[1], dtype=np.float64)
        pred_d, pred_e = self._pred_out
        dm, dh, dp = sc.device_model, sc.device_hw, sc.device_precision
        em, eh, ep = sc.edge_model, sc.edge_hw, sc.edge_precision
        return RowCosts(
            device_prefill_s=roofline.prefill_time_s(dm, dh, prompt, 0, dp),
            device_decode_s=roofline.decode_time_s(dm, dh, prompt, out_d, dp),
            device_decode_predicted_s=roofline.decode_time_s(
                dm, dh, prompt, np.asarray(pred_d, dtype=np.float64), dp
            ),
            edge_prefill_s=roofline.prefill_time_s(em, eh, prompt, 0, ep),
            edge_decode_s=roofline.decode_time_s(em, eh, prompt, out_e, ep),
            edge_decode_predicted_s=roofline.decode_time_s(
                em, eh, prompt, np.asarray(pred_e, dtype=np.float64), ep
            ),
            prompt_bits=np.asarray(link.text_payload_bits(prompt)),
            answer_bits=np.asarray(link.text_payload_bits(out_e)),
        )

    def _stateful_world(self) -> StatefulWorld:
        """The stateful world: other users' request sizes are the TRAIN split's rows of
        the same trace (prompt + history to prefill, the edge model's answer)."""
        frame = self.trace.frame
        train = frame[frame["split"] == "train"]
        prompt = (train["prompt_tokens"] + train["history_tokens"]).to_numpy(np.int64)
        output = np.maximum(train["output_tokens_large"].to_numpy(np.int64), 1)
        cm = self.channel_model
        return StatefulWorld(self.stateful, self.scenario, cm.access_latency_s,
                             cm.outage_penalty_s, prompt, output)  # fmt: skip

    # ------------------------------------------------------------------ episode hooks

    def _max_steps(self) -> int:
        """Longest episode this config makes (checked against ``MAX_EPISODE_STEPS``)."""
        raise NotImplementedError

    def _begin_episode(self, rng: np.random.Generator) -> None:
        """Draw the episode's world from ``rng`` (= ``self.np_random``); set ``_n_steps``."""
        raise NotImplementedError

    def _pending_query(self) -> tuple[tuple[Outcome, Outcome], dict, np.ndarray]:
        """``((device, edge), estimate, observation)`` of the pending query ``self._k``: the
        realised outcome of each action, the router's estimate and what the agent observes
        (fresh objects; no change to the world). It also sets ``self._estimate_blind``: the
        same estimate with the edge load at its long-run mean (``info["estimate_load_blind"]``,
        the load-blind baseline's input)."""
        raise NotImplementedError

    def _advance(self, served: Outcome) -> None:
        """Move the world past ``served`` to the arrival of query ``self._k`` (already the
        next index; on the last step ``self._k == self._n_steps``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ rewards

    #: Named reward terms of an outcome (HighwayEnv's ``_rewards``): ``info["rewards"]``,
    #: :func:`envs.outcome.reward_terms`. The reward is ``self.reward_of(outcome)``, their
    #: configured weighted sum (:func:`envs.outcome.reward_function`, set by ``_configure``).
    _rewards = staticmethod(reward_terms)

    def _score(self, outcomes: tuple[Outcome, Outcome]) -> tuple[float, float]:
        """The reward of each outcome, ``self.reward_of(outcome)``. (The single-turn env reads
        the same values from its episode table, computed by ``reward_of`` on the episode's
        array outcomes at reset.)"""
        reward = self.reward_of
        return reward(outcomes[0]), reward(outcomes[1])

    def _pending_info(self, info: dict[str, Any]) -> dict[str, Any]:
        pending = self._pending
        return add_pending_info(
            info, self.data.semantic_p[pending[0].row], self._estimate, pending,
            self._pending_rewards, self._estimate_blind,
        )  # fmt: skip

    # ------------------------------------------------------------------ Gymnasium API

    # ------------------------------------------------------------------ evaluation passes

    @property
    def n_items(self) -> int:
        """Items of the split an episode draws from: queries (single-turn) or dialogues."""
        return len(self.data.dialogue_starts) - 1

    @property
    def items_per_episode(self) -> int:
        """Items one episode holds under this config (``episode_queries`` or
        ``dialogues_per_episode``)."""
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset; ``options``: ``config`` (update it, persists) and ``items`` (the episode's
        items, in order, instead of a draw: how an evaluation passes once over the split)."""
        super().reset(seed=seed)
        self._items = None
        if options:
            unknown = sorted(set(options) - {"config", "items"})
            if unknown:
                raise EdgeRouteError(
                    f"unknown reset option(s) {unknown}; allowed: ['config', 'items']"
                )
            if options.get("config"):
                self.configure(options["config"])
            self._items = checked_items(
                options.get("items"), self.n_items, self.items_per_episode, self.config["split"]
            )
        self._last = -1
        self._k = 0
        weights = self.config["reward_weights"]
        conditioning = self.config["tradeoff_conditioning"]
        if conditioning is not None:  # this episode's prices (envs.tradeoff), drawn first
            weights = draw_weights(weights, conditioning, self.np_random)
            self.reward_of = reward_function(weights)
        self._begin_episode(self.np_random)
        # _begin_episode leaves the episode's observation rows in _obs_all (a fresh copy).
        self.data.layout.write_tradeoff(self._obs_all, prices(weights))
        self._episode_weights = weights
        self._episode_ready = True
        self._pending, self._estimate, self._obs = self._pending_query()
        self._pending_rewards = self._score(self._pending)
        return self._obs, self._pending_info({})

    def step(self, action):
        """Serve the pending query on ``action`` (0 device, 1 edge); see the module docstring."""
        if action.__class__ is not int or not (action == 0 or action == 1):
            action = self._action(action)
        elif not self._episode_ready:
            self._action(action)  # raises: reset first
        served = self._pending[action]
        info = served_info(served, self._rewards(served), self.data.row_meta[served.row])
        reward = self._pending_rewards[action]
        self._last = action
        self._k += 1
        self._advance(served)
        if self._k >= self._n_steps:
            self._episode_ready = False
            return self._obs.copy(), reward, True, False, info
        # The next query: both outcomes, the estimate, the observation and the rewards.
        pending, estimate, obs = self._pending_query()
        rewards = self._score(pending)
        self._pending, self._estimate, self._obs = pending, estimate, obs
        self._pending_rewards = rewards
        return obs, reward, False, False, add_pending_info(
            info, self.data.semantic_p[pending[0].row], estimate, pending, rewards,
            self._estimate_blind,
        )

    def _action(self, action: Any) -> int:
        """``action`` as 0 or 1 if it is an element of ``Discrete(2)`` (a Python or numpy
        integer, or a 0-d integer array); otherwise, or before ``reset``, EdgeRouteError."""
        if not self._episode_ready:
            raise EdgeRouteError("call reset() before step(), and again after the episode ends")
        if isinstance(action, (int, np.integer)) or (
            isinstance(action, np.ndarray)
            and action.shape == ()
            and np.issubdtype(action.dtype, np.integer)
        ):
            a = int(action)
            if a in ACTIONS:
                return a
        raise EdgeRouteError(
            f"action must be 0 (device) or 1 (edge), an integer of Discrete(2); got {action!r}"
            f" ({type(action).__name__})"
        )

    def render(self) -> None:
        """Nothing to draw: this environment has no visual state (returns None)."""
        return None
