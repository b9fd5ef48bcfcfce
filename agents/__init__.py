"""Routing policies behind one interface: analytic, static baselines, oracle, PPO.

``make_policy(name, **kwargs)`` builds any policy of the registry (``agents/registry.py``, one
explicit mapping); ``available_policies()`` lists the names. The interface is
``agents/base.py``.
"""

from agents.base import DEVICE, EDGE, Policy
from agents.registry import POLICY_REGISTRY, available_policies, make_policy

__all__ = ["DEVICE", "EDGE", "POLICY_REGISTRY", "Policy", "available_policies", "make_policy"]
