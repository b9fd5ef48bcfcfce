"""The registry of the scorer zoo's kinds (see :mod:`.zoo`)."""

from __future__ import annotations

from cost_models.semantic.knn_kind import KNNKind
from cost_models.semantic.logistic_kind import LengthOnlyKind, LogisticKind
from cost_models.semantic.mf_kind import MFKind
from cost_models.semantic.zoo import ScorerKind

#: Name -> kind, in report order.
SCORER_KINDS: dict[str, ScorerKind] = {
    k.name: k for k in (LogisticKind(), KNNKind(), MFKind(), LengthOnlyKind())
}
