"""Gymnasium environments for edge/device LLM routing, and the traces they replay.

Importing this package registers ``EdgeRoute/SingleTurn-v0`` and ``EdgeRoute/MultiTurn-v0``
(idempotently: importing twice, or after another registration, is harmless). The single-turn
environment also has a numpy-batched ``vector_entry_point`` (:mod:`envs.vector`).

Modules: :mod:`envs.single_turn`, :mod:`envs.multi_turn` (the environments: their episode
structure and outcome functions), :mod:`envs.vector` (the batched single-turn env),
:mod:`envs.base` (the one ``step``, static configuration), :mod:`envs.outcome` (the outcome
record, reward terms and weighted sum, the ``info`` builder), :mod:`envs.config` (defaults
and validation), :mod:`envs.observation` (slots, bounds, the one encoder, PCA),
:mod:`envs.data` (trace loading and flattening), :mod:`envs.world` (channel, load and
think-time paths), :mod:`envs.traces` (the traces). Every latency law is ``cost_models``'s
(the per-step ones through their float fast paths): one implementation of each.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from envs.config import MAX_EPISODE_STEPS

#: Registered environment ids.
SINGLE_TURN_ID = "EdgeRoute/SingleTurn-v0"
MULTI_TURN_ID = "EdgeRoute/MultiTurn-v0"
#: Both ids, for code that treats every environment alike (tests, benchmarks).
ENV_IDS: tuple[str, str] = (SINGLE_TURN_ID, MULTI_TURN_ID)


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

__all__ = ["ENV_IDS", "MAX_EPISODE_STEPS", "MULTI_TURN_ID", "SINGLE_TURN_ID", "register_envs"]
