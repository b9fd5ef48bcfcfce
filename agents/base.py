"""One small policy interface for every router (the registry of names is ``agents.registry``).

Modelled on RouteLLM ``routers/routers.py`` (one abstract router, a dict of names to classes):
a policy maps the environment's observation and documented ``info`` to an action, 0 (serve on
the device) or 1 (serve on the edge). Policies see only what ``docs/architecture.md`` allows:
the observation vector, ``env.unwrapped.observation_names`` (through :meth:`Policy.bind`) and
the ``info`` keys ``semantic_p``, ``estimate`` and (the oracles only) ``hindsight``; the
hindsight bound alone plans on the environment (``needs_env``, ``attach``).

Tunable policies name their knob in :attr:`Policy.knob` so that the benchmark can sweep it to
draw a quality-latency frontier (``with_knob``) without knowing each class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from cost_models.errors import require

#: Action values of the environments' ``Discrete(2)`` action space.
DEVICE: int = 0
EDGE: int = 1


class Policy(ABC):
    """A routing policy: ``act(obs, info) -> 0 (device) | 1 (edge)``.

    Subclasses set :attr:`name` (the registry key) and, if they have one tunable knob,
    :attr:`knob` (the constructor argument a frontier sweep varies).
    """

    #: Registry name, also the label in tables and plots.
    name: ClassVar[str] = "policy"
    #: Name of the constructor argument that a frontier sweep varies, or ``None``.
    knob: ClassVar[str | None] = None
    #: True if the policy reads ``info["hindsight"]`` (the realised outcome): the oracles.
    uses_hindsight: ClassVar[bool] = False
    #: True if the policy plans on the environment itself (``attach(env)`` before running).
    needs_env: ClassVar[bool] = False

    def attach(self, env: Any) -> None:  # noqa: B027 (optional hook)
        """Receive the unwrapped environment (only policies with ``needs_env``)."""

    def bind(self, observation_names: Sequence[str]) -> None:  # noqa: B027 (optional hook)
        """Receive the environment's observation slot names before the first episode."""

    def reset(self, seed: int | None = None) -> None:  # noqa: B027 (optional hook)
        """Start of an episode; stochastic policies reseed from ``seed`` (common random numbers)."""

    @abstractmethod
    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        """The action for the pending query: 0 device, 1 edge."""

    def params(self) -> dict[str, Any]:
        """The policy's parameters, for tables and ``results.json``."""
        return {}

    def with_knob(self, value: float) -> Policy:
        """A copy of this policy with its knob set to ``value`` (for frontier sweeps)."""
        require(self.knob is not None, f"policy {self.name!r} has no tunable knob to sweep")
        kwargs = dict(self.params())
        kwargs[str(self.knob)] = value
        return type(self)(**kwargs)

    def label(self) -> str:
        """Human-readable label: name plus parameters."""
        parts = [f"{k}={_fmt(v)}" for k, v in self.params().items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
