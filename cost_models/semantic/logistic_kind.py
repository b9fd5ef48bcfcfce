"""The logistic scorer kind of the zoo (and its length-only reference).

P(large needed) comes from :mod:`.scorer`'s two forms: ``direct`` (one head on the label) or
``factorised`` (q_large (1 - q_small) from two heads on each model's quality, soft labels);
the expected gain from the same two quality heads, E[q_large] - E[q_small]. The form, ``C``
and the use of the length features are hyperparameters chosen on validation by the zoo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.semantic.scorer import C_GRID, KINDS, LogisticHead, SemanticScorer
from cost_models.semantic.zoo import Prediction, ScorerData


def _features(data: ScorerData, use_lengths: bool) -> np.ndarray:
    return SemanticScorer.features(data.emb, data.lengths, use_lengths)


@dataclass
class LogisticModel:
    """Fitted heads: ``small`` and ``large`` quality heads, ``needed`` for the direct form."""

    form: str
    use_lengths: bool
    heads: dict[str, LogisticHead]
    lengths_only: bool = False

    def _x(self, data: ScorerData) -> np.ndarray:
        return (
            np.asarray(data.lengths, float)
            if self.lengths_only
            else _features(data, self.use_lengths)
        )

    def predict(self, data: ScorerData) -> Prediction:
        X = self._x(data)
        qs = self.heads["small"].predict(X)
        ql = self.heads["large"].predict(X)
        p = self.heads["needed"].predict(X) if self.form == "direct" else ql * (1.0 - qs)
        return Prediction(p, ql - qs)

    def scorer(self, C: float, platt: tuple[float, float], seed: int) -> SemanticScorer:
        """The equivalent :class:`.scorer.SemanticScorer` (for saving with its format)."""
        heads = (
            {"needed": self.heads["needed"]}
            if self.form == "direct"
            else {k: self.heads[k] for k in ("small", "large")}
        )
        return SemanticScorer(self.form, heads, self.use_lengths, C, platt, None, seed)


def _fit_heads(
    X: np.ndarray,
    data: ScorerData,
    C: float,
    seed: int,
    direct: bool,
    cache: dict | None = None,
    key: tuple = (),
) -> dict:
    """The quality heads (shared by both forms at one ``(use_lengths, C)``: fitted once per
    grid search through ``cache``) and, for the direct form, the label head."""
    cache = {} if cache is None else cache
    heads = {}
    for name, target in (
        ("small", data.quality_small),
        ("large", data.quality_large),
        *((("needed", data.labels),) if direct else ()),
    ):
        if (*key, name) not in cache:
            cache[(*key, name)] = LogisticHead.fit(X, target, C, seed)
        heads[name] = cache[(*key, name)]
    return heads


class LogisticKind:
    """L2 logistic regression on ``[embedding | length features]`` (:mod:`.scorer`)."""

    name = "logistic"
    selectable = True

    def applicable(self, data: ScorerData) -> bool:
        return True

    def grid(self, train: ScorerData) -> list[dict[str, Any]]:
        return [
            {"form": form, "use_lengths": use_lengths, "C": C}
            for form in KINDS
            for use_lengths in (False, True)
            for C in C_GRID
        ]

    def fit(
        self, train: ScorerData, params: dict[str, Any], seed: int, cache: dict | None = None
    ) -> LogisticModel:
        X = _features(train, bool(params["use_lengths"]))
        direct = params["form"] == "direct"
        key = (bool(params["use_lengths"]), float(params["C"]))
        heads = _fit_heads(X, train, float(params["C"]), seed, direct, cache, key)
        return LogisticModel(str(params["form"]), bool(params["use_lengths"]), heads)


class LengthOnlyKind:
    """Logistic regression on the length features only: the reference, never selected."""

    name = "length_only"
    selectable = False

    def applicable(self, data: ScorerData) -> bool:
        return True

    def grid(self, train: ScorerData) -> list[dict[str, Any]]:
        return [{"C": 1.0}]

    def fit(
        self, train: ScorerData, params: dict[str, Any], seed: int, cache: dict | None = None
    ) -> LogisticModel:
        X = np.asarray(train.lengths, float)
        heads = _fit_heads(X, train, float(params["C"]), seed, direct=True)
        return LogisticModel("direct", True, heads, lengths_only=True)
