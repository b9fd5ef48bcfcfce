"""Routing policies behind one interface: analytic, static baselines, oracle, PPO.

``make_policy(name, **kwargs)`` builds any registered policy; ``available_policies()`` lists
the names. See ``agents/base.py`` for the interface.
"""

from agents.base import DEVICE, EDGE, Policy, available_policies, make_policy, register_policy

__all__ = ["DEVICE", "EDGE", "Policy", "available_policies", "make_policy", "register_policy"]
