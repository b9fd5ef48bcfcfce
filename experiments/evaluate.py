"""Running policies on an environment with common random numbers, and collecting metrics.

Common random numbers: run ``seed`` of every policy resets the environment with the same seeds
(``reset_seed(seed, episode)``), so every policy meets the same queries in the same order with
the same think times, channel and load paths (the environments guarantee this; see
``envs/world.py``). Policy randomness (``Random``) draws from its own stream, reseeded per
episode. Differences between policies are then differences of decisions, not of luck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.base import Policy
from cost_models.errors import require
from experiments.metrics import StepLog, aggregate_over_seeds, compute_metrics

#: Episodes per seed are numbered ``seed * SEED_STRIDE + episode`` for ``reset(seed=...)``.
SEED_STRIDE = 1_000


def reset_seed(seed: int, episode: int) -> int:
    """The ``reset(seed=...)`` value of episode ``episode`` of run ``seed``."""
    require(0 <= episode < SEED_STRIDE, f"episode index {episode} must be in [0, {SEED_STRIDE})")
    return int(seed) * SEED_STRIDE + int(episode)


def check_run_args(seeds: Sequence[int], episodes: int = 1, max_steps: int | None = None) -> None:
    """Raise :class:`EdgeRouteError` for a bad seed list, episode count or step cap, so that a
    caller can check them before any work (training, tuning) starts."""
    require(len(seeds) > 0, "evaluate needs at least one seed")
    for s in seeds:
        require(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0,
            f"seed {s!r} is not allowed; evaluation seeds are integers >= 0",
        )
    require(
        isinstance(episodes, (int, np.integer)) and 1 <= episodes <= SEED_STRIDE,
        f"episodes={episodes!r} must be an integer in [1, {SEED_STRIDE}]",
    )
    require(
        max_steps is None
        or (isinstance(max_steps, (int, np.integer)) and not isinstance(max_steps, bool))
        and max_steps >= 1,
        f"max_steps={max_steps!r} must be None (until the episode ends) or an integer >= 1",
    )


#: Stream tag of the pass permutation (``pass_items``), so it never coincides with a reset seed.
PASS_STREAM = 0x9A55
#: Stream of the fixed item subset of a partial pass (``pass_items(subset=...)``).
SUBSET_STREAM = 0x5B5E


def pass_items(
    n_items: int, per_episode: int, seed: int, subset: int | None = None
) -> list[list[int]]:
    """The episodes of one evaluation pass of run ``seed``: every item of the split (query or
    dialogue) exactly once, in an order shuffled by ``seed``, cut into episodes of
    ``per_episode`` items (the last one shorter). The same for every policy (common random
    numbers), so two policies' outcomes pair up item by item. ``subset``: the pass covers only
    that many items, a fixed seeded choice (:data:`SUBSET_STREAM`, independent of ``seed``), so
    every run seed passes over the same items."""
    require(n_items >= 1 and per_episode >= 1, f"pass of {n_items} items by {per_episode}")
    pool = np.arange(n_items)
    if subset is not None and subset < n_items:
        require(subset >= 1, f"a pass over subset = {subset!r} items: need >= 1")
        pool = np.sort(np.random.default_rng([SUBSET_STREAM]).permutation(n_items)[:subset])
    rng = np.random.default_rng([int(seed), PASS_STREAM])
    order = pool[rng.permutation(len(pool))].tolist()
    episodes = [order[i : i + per_episode] for i in range(0, len(order), per_episode)]
    require(
        len(episodes) <= SEED_STRIDE,
        f"a pass over {n_items} items in episodes of {per_episode} needs {len(episodes)} "
        f"episodes, above {SEED_STRIDE} per seed: lengthen the episodes",
    )
    return episodes


def run_policy(
    env: gym.Env,
    policy: Policy,
    seed: int,
    episodes: int = 1,
    max_steps: int | None = None,
    items: Sequence[Sequence[int]] | None = None,
) -> StepLog:
    """Run ``episodes`` episodes of ``policy`` (run ``seed``) and log every served query.

    ``max_steps`` caps the steps of each episode (``None``: until the episode ends).
    ``items``: the items of each episode (:func:`pass_items`; then ``episodes`` is their
    number), handed to ``reset(options={"items": ...})``; ``None``: the env draws them.
    """
    if items is not None:
        episodes = len(items)
    check_run_args([seed], episodes, max_steps)
    policy.bind(list(env.unwrapped.observation_names))
    if policy.needs_env:
        policy.attach(env.unwrapped)
    log = StepLog()
    for episode in range(episodes):
        rs = reset_seed(seed, episode)
        options = None if items is None else {"items": list(items[episode])}
        obs, info = env.reset(seed=rs, options=options)
        policy.reset(seed=rs)
        steps = 0
        while True:
            action = policy.act(obs, info)
            obs, reward, terminated, truncated, info = env.step(action)
            log.record(info, float(reward))
            steps += 1
            if terminated or truncated or (max_steps is not None and steps >= max_steps):
                break
    return log


@dataclass
class PolicyRuns:
    """Every seed's log of one policy and the aggregated metrics."""

    label: str
    logs: list[StepLog]
    per_seed: list[dict[str, float]]
    metrics: dict[str, float]

    @classmethod
    def aggregate(
        cls, label: str, per_seed: Sequence[dict[str, float]], logs: Sequence[StepLog] = ()
    ) -> PolicyRuns:
        """Runs of one policy from per-seed metrics: mean and ``_std`` over seeds."""
        return cls(label, list(logs), list(per_seed), aggregate_over_seeds(per_seed))


def evaluate(
    env: gym.Env,
    policy: Policy,
    seeds: Sequence[int],
    episodes: int = 1,
    max_steps: int | None = None,
    keep_logs: bool = False,
) -> PolicyRuns:
    """Run ``policy`` for each seed and aggregate metrics over seeds (mean and ``_std``)."""
    check_run_args(seeds, episodes, max_steps)
    logs = [run_policy(env, policy, s, episodes, max_steps) for s in seeds]
    return PolicyRuns.aggregate(
        policy.label(), [compute_metrics(log) for log in logs], logs if keep_logs else ()
    )
