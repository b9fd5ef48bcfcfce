"""Gymnasium environments for edge/device LLM routing, and the traces they replay.

Importing this package registers ``EdgeRoute/SingleTurn-v0`` and ``EdgeRoute/MultiTurn-v0``
(idempotently: importing twice, or after another registration, is harmless). The single-turn
environment also has a numpy-batched ``vector_entry_point`` (:mod:`envs.vector`).

Modules: :mod:`envs.single_turn`, :mod:`envs.multi_turn` (the environments),
:mod:`envs.base` (their shared step, latency and reward logic), :mod:`envs.config`
(defaults and validation), :mod:`envs.observation` (slots, bounds, PCA), :mod:`envs.data`
(trace loading and flattening), :mod:`envs.world` (channel, load and think-time paths),
:mod:`envs.traces` (the traces). The per-step latency laws are the float fast paths of
``cost_models`` (``compute.RooflineCoefficients``, ``channel.transmit_time_float_s``,
``kv_cache.edge_retention_probability_float``): one implementation of each law.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

#: Registered environment ids.
SINGLE_TURN_ID = "EdgeRoute/SingleTurn-v0"
MULTI_TURN_ID = "EdgeRoute/MultiTurn-v0"
#: Upper bound on episode length (a config asking for more is rejected by the env).
MAX_EPISODE_STEPS = 1000


def register_envs() -> None:
    """Register both environments unless already registered."""
    if SINGLE_TURN_ID not in registry:
        register(
            id=SINGLE_TURN_ID,
            entry_point="envs.single_turn:SingleTurnEnv",
            vector_entry_point="envs.vector:SingleTurnVectorEnv",
            max_episode_steps=MAX_EPISODE_STEPS,
        )
    if MULTI_TURN_ID not in registry:
        register(
            id=MULTI_TURN_ID,
            entry_point="envs.multi_turn:MultiTurnEnv",
            max_episode_steps=MAX_EPISODE_STEPS,
        )


register_envs()

__all__ = ["MAX_EPISODE_STEPS", "MULTI_TURN_ID", "SINGLE_TURN_ID", "register_envs"]
