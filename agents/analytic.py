"""The paper's analytic router: fuse the semantic score with the latency difference.

Decision rule as published (Eqs. 11-12 of the reproduced paper; the latency terms behind it are
our reconstruction, see ``cost_models/router_cost.py``)::

    S = p - alpha * (T_edge - T_device)      route to the edge iff S > theta

``p`` is the scorer's P(large model needed) (``info["semantic_p"]``); ``T_side`` is the router's
estimate for that side from the current channel and load state, predicted output length and
cache state (``info["estimate"][side]``, split into ``communication_s``, ``computation_s`` and
``switching_s``). Single-turn form: no switching term. Multi-turn form: ``T_side`` also holds
the recompute (and uplink) of the history the side has not cached -- the cost of switching.

The score itself is computed by :func:`cost_models.router_cost.analytic_score`, so the policy
and the cost model cannot drift apart. Every term can be switched off (``CostTerms``): that is
what the ablation varies. ``alpha`` (1/s) trades a second of latency against probability mass;
it and ``theta`` are tuned on the validation split, never on test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.arguments import strict_bool
from agents.base import DEVICE, EDGE, Policy
from cost_models.errors import require
from cost_models.router_cost import CostTerms, analytic_score

#: Allowed values of the ``form`` argument.
FORMS: tuple[str, ...] = ("auto", "single", "multi")


class Analytic(Policy):
    """``S = p - alpha (T_edge - T_device) > theta`` with switchable cost terms.

    Args:
        alpha: weight of one second of estimated latency difference, in 1/s (>= 0).
        theta: decision threshold on ``S``; the frontier sweeps it.
        semantic, communication, computation, switching: which terms enter ``S`` (the
            ablation switches each off; with ``semantic`` off ``p`` is replaced by 0.5).
        form: ``"single"`` drops the switching term (Eq. 11, single-turn), ``"multi"`` keeps it
            (Eq. 12), ``"auto"`` keeps whatever the environment estimates (zero switching cost
            in the single-turn environment).
    """

    name = "analytic"
    knob = "theta"

    def __init__(
        self,
        alpha: float = 0.1,
        theta: float = 0.5,
        semantic: bool = True,
        communication: bool = True,
        computation: bool = True,
        switching: bool = True,
        form: str = "auto",
    ) -> None:
        require(np.isfinite(alpha) and alpha >= 0, f"analytic alpha={alpha!r} must be >= 0 (1/s)")
        require(np.isfinite(theta), f"analytic theta={theta!r} must be finite")
        require(form in FORMS, f"analytic form={form!r}; allowed: {list(FORMS)}")
        self.alpha = float(alpha)
        self.theta = float(theta)
        self.form = form
        # bool("no") is True: the flags are parsed strictly, also when built directly.
        flags = {
            key: strict_bool(value, f"analytic {key}")
            for key, value in (("semantic", semantic), ("communication", communication),
                               ("computation", computation), ("switching", switching))
        }  # fmt: skip
        self.terms = CostTerms(**{**flags, "switching": flags["switching"] and form != "single"})
        self._switching_requested = flags["switching"]

    def score(self, info: Mapping[str, Any]) -> float:
        """The analytic score ``S`` of the pending query."""
        estimate = info["estimate"]
        return float(
            analytic_score(
                float(info["semantic_p"]),
                estimate["device"],
                estimate["edge"],
                self.alpha,
                self.terms,
            )
        )

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return EDGE if self.score(info) > self.theta else DEVICE

    def params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "theta": self.theta,
            "semantic": self.terms.semantic,
            "communication": self.terms.communication,
            "computation": self.terms.computation,
            "switching": self._switching_requested,
            "form": self.form,
        }

    def label(self) -> str:
        off = [
            t
            for t in ("semantic", "communication", "computation", "switching")
            if not getattr(self.terms, t)
        ]
        suffix = f", off={'+'.join(off)}" if off else ""
        return f"{self.name}(alpha={self.alpha:.3g}, theta={self.theta:.3g}{suffix})"


class AnalyticLoadBlind(Analytic):
    """The analytic rule with a load-blind edge estimate: ``T_edge`` at the long-run mean
    load (``info["estimate_load_blind"]``: the Markov chain's stationary mean utilisation, or
    the mean report of a calibration run of the shared edge) instead of the observed one.
    Everything else (semantic score, link, device, switching) as :class:`Analytic`. It says how
    much of the analytic router's gain comes from knowing the load."""

    name = "analytic_load_blind"

    def score(self, info: Mapping[str, Any]) -> float:
        estimate = info["estimate_load_blind"]
        return float(
            analytic_score(
                float(info["semantic_p"]), estimate["device"], estimate["edge"], self.alpha,
                self.terms,
            )
        )  # fmt: skip


class LoadAwareSemanticBlind(Analytic):
    """The analytic rule without the semantic score (``p`` replaced by 0.5): it routes on the
    estimated latency difference alone, from the observed load, link and device state, with
    the threshold ``theta`` trading edge calls for latency. Says how much of the gain needs
    the scorer."""

    name = "load_aware_semantic_blind"

    def __init__(
        self,
        alpha: float = 0.1,
        theta: float = 0.5,
        communication: bool = True,
        computation: bool = True,
        switching: bool = True,
        form: str = "auto",
    ) -> None:
        super().__init__(alpha, theta, False, communication, computation, switching, form)

    def params(self) -> dict[str, Any]:
        out = super().params()
        out.pop("semantic")
        return out
