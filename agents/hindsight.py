"""``hindsight_optimal``: the exact hindsight bound of each dialogue, as a policy.

At the first turn of each dialogue it asks the environment for the dialogue's realised world
(``env.hindsight_problem(reward_weights)``: the remaining turns, an oracle that evaluates an
action from a state with the environment's own outcome and reward functions -- the ones
``step`` uses -- and the current state), finds the best action sequence with
:func:`agents.hindsight_search.best_sequence` (exhaustive up to 12 turns, dynamic programming
beyond) and then plays it. Because the plan is evaluated with the same functions ``step``
applies, the reward it earns equals the planned optimum, and no policy can earn more on that
dialogue from the same starting state: it is the bound on multi-turn traces, where the per-turn
:class:`agents.oracle.MyopicOracle` is not.

It reads the realised world, so no deployable router can do this; ``uses_hindsight`` marks it.
``latency_weight`` re-weights the latency term of the reward it plans for (a frontier sweep);
``None`` plans for the environment's own reward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import Policy
from agents.hindsight_search import best_sequence
from cost_models.errors import EdgeRouteError, require


class HindsightOptimal(Policy):
    """Play the best action sequence of each dialogue given its realised world."""

    name = "hindsight_optimal"
    knob = "latency_weight"
    uses_hindsight = True
    needs_env = True

    def __init__(self, latency_weight: float | None = None) -> None:
        require(
            latency_weight is None or (np.isfinite(latency_weight) and latency_weight <= 0),
            f"hindsight_optimal latency_weight={latency_weight!r} must be <= 0 or None",
        )
        self.latency_weight = None if latency_weight is None else float(latency_weight)
        self._env: Any = None
        self._plan: list[int] = []
        self.last_plan = None

    def attach(self, env: Any) -> None:
        """Receive the (unwrapped) environment whose realised world it plans on."""
        if not hasattr(env, "hindsight_problem"):
            raise EdgeRouteError(
                f"hindsight_optimal needs an environment with hindsight_problem(); "
                f"{type(env).__name__} has none"
            )
        self._env = env

    def reset(self, seed: int | None = None) -> None:
        self._plan = []

    def _weights(self) -> dict[str, float] | None:
        return None if self.latency_weight is None else {"latency": self.latency_weight}

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        if not self._plan:
            if self._env is None:
                raise EdgeRouteError("hindsight_optimal must be attached to an environment")
            problem = self._env.hindsight_problem(self._weights())
            try:
                plan = best_sequence(problem.n_turns, problem.oracle, problem.state0)
            finally:
                problem.restore()
            self.last_plan = plan
            self._plan = list(plan.actions)
        return self._plan.pop(0)

    def params(self) -> dict[str, Any]:
        return {} if self.latency_weight is None else {"latency_weight": self.latency_weight}
