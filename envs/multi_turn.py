"""``EdgeRoute/MultiTurn-v0``: route the turns of one user's dialogues between device and edge."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.base import EdgeRouteEnv, common_default_config
from envs.config import Validator, positive_int


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

    Time advances by a seeded user think time between turns and during service; the channel
    and the edge load evolve with it.

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
        starts = self.data.dialogue_starts
        n_dialogues = len(starts) - 1
        size = int(self.config["dialogues_per_episode"])
        if size == 1:
            chosen = [int(rng.integers(n_dialogues))]
        else:
            chosen = rng.choice(n_dialogues, size=size, replace=size > n_dialogues).tolist()
        rows: list[int] = []
        for dlg in chosen:
            rows.extend(range(int(starts[dlg]), int(starts[dlg + 1])))
        return rows
