"""Physics and analytic cost of serving an LLM query on the device or on the edge server.

Imports nothing from ``envs``, ``agents`` or ``experiments`` (DESIGN.md, data flow).
"""

from cost_models.errors import EdgeRouteError

__all__ = ["EdgeRouteError"]
