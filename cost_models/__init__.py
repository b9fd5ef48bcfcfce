"""Physics and analytic cost of serving an LLM query on the device or on the edge server.

Imports nothing from ``envs``, ``agents`` or ``experiments`` (DESIGN.md, data flow). Every
equation here is OUR documented reconstruction: the paper publishes only its decision rule
(Eqs. 11-12), not how it computes the latency terms.

Modules: :mod:`~cost_models.channel` (3GPP link budget, shadowing, Rayleigh fading, Shannon
rate), :mod:`~cost_models.compute` (model / hardware specs, roofline prefill and decode, edge
load), :mod:`~cost_models.kv_cache` (KV size, per-side cached prefix of a dialogue),
:mod:`~cost_models.router_cost` (latency breakdowns, term estimates, analytic score).
"""

from cost_models.errors import EdgeRouteError

__all__ = ["EdgeRouteError"]
