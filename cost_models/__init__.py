"""Physics and analytic cost of serving an LLM query on the device or on the edge server.

Imports nothing from ``envs``, ``agents`` or ``experiments`` (docs/architecture.md, data
flow). Every equation here is OUR documented reconstruction: the paper publishes only its
decision rule (Eqs. 11-12), not how it computes the latency terms. Each law has one home, with
its plain-float fast path next to its vectorised form:

* :mod:`~cost_models.link`: path loss, noise, SNR from the fading state, Shannon rate and
  outage, text payload, transfer time;
* :mod:`~cost_models.channel`: channel scenarios (presets) and the shadowing + Rayleigh fading
  process;
* :mod:`~cost_models.catalogue`: precision, model and hardware specs (cited), KV bytes/token;
* :mod:`~cost_models.roofline`: prefill and decode time in closed form;
* :mod:`~cost_models.edge_load`: the load Markov chain, M/M/1 queueing, decode slow-down;
* :mod:`~cost_models.kv_cache`: per-side cached prefix of a dialogue, edge retention;
* :mod:`~cost_models.deployment`: device + edge + channel scenario presets;
* :mod:`~cost_models.router_cost`: latency breakdowns, term estimates, the analytic score.
"""

from cost_models.errors import EdgeRouteError

__all__ = ["EdgeRouteError"]
