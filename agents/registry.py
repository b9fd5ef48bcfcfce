"""The policy registry: one explicit mapping of names to classes, and ``make_policy``.

As RouteLLM's ``routers/routers.py`` ends with ``ROUTER_CLS = {"random": RandomRouter, ...}``,
every name a config, the CLI or the benchmark may use is written here once: this file is the
whole list, no class registers itself as a side effect of some import. Each key equals the
class's :attr:`agents.base.Policy.name` (its label in tables; a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from agents.analytic import Analytic, AnalyticLoadBlind, LoadAwareSemanticBlind
from agents.arguments import check_policy_kwargs
from agents.base import Policy
from agents.baselines import (
    AlwaysDevice,
    AlwaysEdge,
    LatencyGreedy,
    RandomRouter,
    SemanticThreshold,
)
from agents.hindsight import HindsightOptimal
from agents.oracle import MyopicOracle, Oracle
from agents.ppo import PPOPolicy
from agents.ppo_conditioned import PPOConditioned
from cost_models.errors import EdgeRouteError

#: Policy name -> class (read-only), in the display order of result tables (the oracles last;
#: ``oracle`` is the old name of ``myopic_oracle``, kept as an alias).
POLICY_REGISTRY: Mapping[str, type[Policy]] = MappingProxyType(
    {
        "always_device": AlwaysDevice,
        "always_edge": AlwaysEdge,
        "random": RandomRouter,
        "semantic_threshold": SemanticThreshold,
        "latency_greedy": LatencyGreedy,
        "analytic": Analytic,
        "analytic_load_blind": AnalyticLoadBlind,
        "load_aware_semantic_blind": LoadAwareSemanticBlind,
        "ppo": PPOPolicy,
        "ppo_conditioned": PPOConditioned,
        "myopic_oracle": MyopicOracle,
        "hindsight_optimal": HindsightOptimal,
        "oracle": Oracle,
    }
)


def available_policies() -> list[str]:
    """Registered policy names, sorted."""
    return sorted(POLICY_REGISTRY)


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build the registered policy ``name`` with ``kwargs``; unknown names or arguments, and
    values not of the constructor's annotated types, raise :class:`EdgeRouteError`
    (:func:`agents.arguments.check_policy_kwargs`)."""
    if name not in POLICY_REGISTRY:
        raise EdgeRouteError(
            f"unknown policy {name!r}; available: {', '.join(available_policies())}"
        )
    cls = POLICY_REGISTRY[name]
    return cls(**check_policy_kwargs(name, cls, kwargs))
