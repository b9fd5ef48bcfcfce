"""``EdgeRoute/SingleTurn-v0``: route independent queries of one user between device and edge."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.base import EdgeRouteEnv, common_default_config
from envs.config import Validator, positive_int


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

    Time advances between queries by a seeded user think time and during service; the channel
    and the edge load evolve with it (see ``envs.world``). Queries carry no dialogue history,
    so no KV cache carries over between them (see ``EdgeRoute/MultiTurn-v0`` for that).

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
            }
        )
        return config

    @classmethod
    def config_validators(cls) -> dict[str, Validator]:
        return {**super().config_validators(), "episode_queries": positive_int}

    def _max_steps(self) -> int:
        return int(self.config["episode_queries"])

    def _episode_rows(self, rng: np.random.Generator) -> list[int]:
        n = self.data.n_rows
        size = int(self.config["episode_queries"])
        return rng.choice(n, size=size, replace=size > n).tolist()
