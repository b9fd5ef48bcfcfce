"""Observation groups, and a wrapper that removes groups from the observation (PPO ablation).

The environments expose their observation slot names (``env.unwrapped.observation_names``);
each ablation group is a set of name prefixes. Removing a group drops its slots from the
observation vector (the Box shrinks), so the learned policy cannot read that information at
all -- a stricter ablation than zeroing, which a network can still detect through biases.

The same selection must be applied at evaluation time: :func:`keep_indices` is what
:class:`agents.ppo.PPOPolicy` uses on the full observation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import gymnasium as gym
import numpy as np

from cost_models.errors import require

#: group name -> regular expressions (full match) of the observation slot names in it, from
#: ``envs/observation.py``. ``semantic``: the scorer's probability alone; ``embedding``: the
#: query-embedding (PCA) slots; ``tokens``: prompt/history/predicted-output lengths (what the
#: computation term scales with); ``channel``: link SNRs and rates (the communication term);
#: ``load``: edge utilisation (queueing and decode slowdown, computation term); ``kv``: cache
#: occupancy, cached prefixes, last model and turn index (the switching term); ``estimate``:
#: the router's own T_device, T_edge and their difference (what the analytic rule reads);
#: ``tradeoff``: the reward's latency and edge-call prices (``envs.tradeoff``).
OBSERVATION_GROUPS: dict[str, tuple[str, ...]] = {
    "semantic": (r"semantic_p",),
    "embedding": (r"(emb|embedding|pca)[_\[]?.*",),
    "tokens": (r"log1p_(prompt|history|predicted_output)_tokens.*",),
    "channel": (r"(uplink|downlink)_snr_db/10", r"log1p_(uplink|downlink)_mbps"),
    "load": (r"edge_utilisation",),
    "kv": (
        r"device_kv_occupancy",
        r"log1p_(device|edge)_cached_tokens",
        r"last_model_(device|edge)",
        r"turn_index/10",
    ),
    "estimate": (r"log1p_estimate_(device|edge)_s", r"estimate_gap_s/10"),
    "tradeoff": (r"tradeoff_(latency_price_per_s|edge_call_price)",),
}


def group_of(name: str) -> str | None:
    """The group whose patterns fully match ``name`` (first in dict order), or ``None``."""
    for group, patterns in OBSERVATION_GROUPS.items():
        if any(re.fullmatch(p, name) for p in patterns):
            return group
    return None


def keep_indices(observation_names: Sequence[str], drop_groups: Iterable[str]) -> np.ndarray:
    """Indices of the observation slots that do not belong to any of ``drop_groups``.

    Raises if a group name is unknown or if a group matches no slot (an ablation that removes
    nothing would silently report a zero effect).
    """
    drop = list(drop_groups)
    for g in drop:
        require(
            g in OBSERVATION_GROUPS,
            f"unknown observation group {g!r}; allowed: {sorted(OBSERVATION_GROUPS)}",
        )
    groups = [group_of(n) for n in observation_names]
    for g in drop:
        require(
            g in groups,
            f"observation group {g!r} matches no slot of {list(observation_names)}",
        )
    keep = np.array([i for i, g in enumerate(groups) if g not in drop], dtype=np.int64)
    require(keep.size > 0, f"dropping {drop} leaves an empty observation")
    return keep


class DropObservationGroups(gym.ObservationWrapper):
    """Remove the slots of ``drop_groups`` from a flat Box observation."""

    def __init__(self, env: gym.Env, drop_groups: Iterable[str]) -> None:
        super().__init__(env)
        names = list(env.unwrapped.observation_names)
        self.drop_groups = tuple(drop_groups)
        self.keep = keep_indices(names, self.drop_groups)
        space = env.observation_space
        require(isinstance(space, gym.spaces.Box), "DropObservationGroups needs a Box space")
        self.observation_space = gym.spaces.Box(
            low=space.low[self.keep], high=space.high[self.keep], dtype=space.dtype
        )
        self.kept_observation_names = [names[i] for i in self.keep]

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation)[self.keep]
