"""A zoo of router scorers behind one interface, selected on validation.

Every scorer predicts, for each query, the two numbers a router trades against latency:

- ``p_needed``: P(the large model is needed) = P(q_large > q_small), the label RouteLLM-style
  routers learn (Ong et al., ICLR 2025) and the environment's ``semantic_p``;
- ``expected_gain``: E[q_large - q_small], what routing one query to the large model buys in
  expected quality. Unlike the label it also counts the queries where only the small model is
  right (negative gain).

Kinds (one module each; registry :data:`SCORER_KINDS`):

- ``logistic`` (:mod:`.logistic_kind`): the logistic head(s) of :mod:`.scorer` on the
  embedding (+ length features);
- ``knn`` (:mod:`.knn_kind`): k nearest training queries by cosine similarity. Li (2025),
  "Rethinking Predictive Modeling for LLM Routing: When Simple kNN Beats Complex Learned
  Routers" (arXiv:2505.12601), finds that a well-tuned kNN matches or beats learned routers;
- ``mf`` (:mod:`.mf_kind`): matrix factorisation over the outcomes of *every* model a source
  has (RouteLLM's MF router, ``routellm/routers/matrix_factorization/model.py``, learns model
  and query factors from pairwise preferences; ours from per-model outcomes), only where the
  source has more than two models;
- ``length_only`` (:mod:`.logistic_kind`): a logistic fit on the length features alone, the
  reference a semantic scorer must beat (never selected).

Selection (:func:`fit_zoo`): each kind's hyperparameters are chosen by validation APGR (RouteLLM's
metric, :mod:`.routellm_metrics`, ranking by ``p_needed``; ties by validation ROC-AUC) after fitting
on train; ``p_needed`` is then Platt-scaled on validation; the kind with the best validation
APGR is the trace's scorer. Train-split predictions are out-of-fold (k-fold cross-fitting,
grouped by dialogue so that no turn of a dialogue is scored by a model that saw its other
turns). Every reported number is on test.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from cost_models.errors import EdgeRouteError, require
from cost_models.semantic.routellm_metrics import score_summary
from cost_models.semantic.scorer import DEFAULT_FOLDS, brier, fit_platt, roc_auc


@dataclass(frozen=True)
class ScorerData:
    """The rows a scorer sees: features and, for fitting and evaluation, outcomes.

    Attributes:
        emb: ``[n, d]`` L2-normalised query embeddings.
        lengths: ``[n, 2]`` length features (:func:`.scorer.length_features`).
        quality_small, quality_large: ``[n]`` the pair's qualities in [0, 1].
        outcomes: ``[n, M]`` every model's quality in [0, 1] (NaN where not measured), or None;
            ``outcome_models`` names the columns, ``small_col`` / ``large_col`` are the pair's.
        groups: ``[n]`` dialogue ids (rows of one dialogue stay in one cross-fitting fold).
    """

    emb: np.ndarray
    lengths: np.ndarray
    quality_small: np.ndarray
    quality_large: np.ndarray
    outcomes: np.ndarray | None = None
    outcome_models: tuple[str, ...] = ()
    small_col: int | None = None
    large_col: int | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.emb)
        require(self.emb.ndim == 2, f"embeddings must be 2-D, got shape {self.emb.shape}")
        for name in ("lengths", "quality_small", "quality_large"):
            require(len(getattr(self, name)) == n, f"{name} needs one row per embedding row")
        for q in (self.quality_small, self.quality_large):
            require(
                bool(np.isfinite(q).all() and (q >= 0).all() and (q <= 1).all()),
                "scorer qualities must lie in [0, 1]",
            )
        if self.outcomes is not None:
            require(
                self.outcomes.ndim == 2 and len(self.outcomes) == n,
                "outcomes must be [rows, models]",
            )
            require(
                len(self.outcome_models) == self.outcomes.shape[1],
                "outcome_models must name every outcome column",
            )
            require(
                self.small_col is not None and self.large_col is not None,
                "outcomes need the columns of the pair's small and large model",
            )

    def __len__(self) -> int:
        return len(self.emb)

    @property
    def labels(self) -> np.ndarray:
        """1 where the large model is needed (strictly higher quality)."""
        return (self.quality_large > self.quality_small).astype(np.int8)

    @property
    def gain(self) -> np.ndarray:
        return self.quality_large - self.quality_small

    def take(self, rows: np.ndarray) -> ScorerData:
        """The subset at ``rows`` (a boolean mask or integer indices)."""

        def sub(a):
            return None if a is None else a[rows]

        return replace(
            self,
            emb=self.emb[rows],
            lengths=self.lengths[rows],
            quality_small=self.quality_small[rows],
            quality_large=self.quality_large[rows],
            outcomes=sub(self.outcomes),
            groups=sub(self.groups),
        )


@dataclass(frozen=True)
class Prediction:
    """Raw (uncalibrated) P(large needed) and expected quality gain, one per row."""

    p_needed: np.ndarray
    expected_gain: np.ndarray


class FittedModel(Protocol):
    def predict(self, data: ScorerData) -> Prediction: ...


class ScorerKind(Protocol):
    """One kind of scorer: its hyperparameter grid and how to fit one setting."""

    name: str
    #: False for references (length-only) that are reported but never selected.
    selectable: bool

    def applicable(self, data: ScorerData) -> bool: ...

    def grid(self, train: ScorerData) -> list[dict[str, Any]]: ...

    def fit(
        self, train: ScorerData, params: dict[str, Any], seed: int, cache: dict | None = None
    ) -> FittedModel:
        """Fit one setting. ``cache`` lives for one grid search over the same ``train`` (a
        kind may keep parts shared between settings there)."""
        ...


@dataclass
class FittedScorer:
    """A kind at its validation-selected hyperparameters, fitted on train, Platt on val."""

    kind: ScorerKind
    params: dict[str, Any]
    model: FittedModel
    platt: tuple[float, float] = (1.0, 0.0)
    validation: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    @property
    def name(self) -> str:
        return self.kind.name

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.platt
        logit = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / (1 - np.clip(raw, 1e-6, 1 - 1e-6)))
        return 1.0 / (1.0 + np.exp(-(a * logit + b)))

    def predict(self, data: ScorerData) -> Prediction:
        """Calibrated P(large needed) and expected gain."""
        pred = self.model.predict(data)
        return Prediction(self.calibrate(pred.p_needed), pred.expected_gain)

    def cross_fit(self, data: ScorerData, folds: int = DEFAULT_FOLDS) -> Prediction:
        """Out-of-fold predictions on ``data`` (the train split) with these hyperparameters
        and this Platt scaling; folds grouped by ``data.groups`` when given."""
        p = np.zeros(len(data))
        g = np.zeros(len(data))
        splits = fold_indices(data.labels, data.groups, folds, self.seed)
        if not splits:  # too few rows of one class: the base rates out of fold
            y, gain = data.labels.astype(float), data.gain
            n = len(y)
            p[:] = (y.sum() - y) / max(n - 1, 1) if n > 1 else 0.5
            g[:] = (gain.sum() - gain) / max(n - 1, 1) if n > 1 else 0.0
            return Prediction(p, g)
        for tr, te in splits:
            model = self.kind.fit(data.take(tr), self.params, self.seed)
            pred = model.predict(data.take(te))
            p[te] = self.calibrate(pred.p_needed)
            g[te] = pred.expected_gain
        return Prediction(p, g)


def fold_indices(
    y: np.ndarray, groups: np.ndarray | None, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (and, with ``groups``, grouped) k-fold splits; [] when k < 2 is all the
    minority class allows."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y)
    n_minor = int(min(y.sum(), len(y) - y.sum())) if len(y) else 0
    k = min(int(folds), n_minor)
    if groups is not None:
        k = min(k, len(np.unique(groups)))
    if k < 2:
        return []
    X = np.zeros((len(y), 1))
    if groups is not None and len(np.unique(groups)) == len(groups):
        groups = None  # single-turn: every row its own group (and StratifiedGroupKFold is slow)
    if groups is None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(X, y))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(X, y, groups))


def routing_metrics(
    data: ScorerData,
    p: np.ndarray,
    gain: np.ndarray | None = None,
    rank: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Test-style metrics of predictions on ``data``: ROC-AUC and Brier of ``p`` against the
    label; APGR and CPT(50 %, 80 %) (percent of large-model calls) of routing by ``p``, and
    APGR of routing by ``gain``, RouteLLM's way. Ranking metrics use ``rank`` when given (the
    uncalibrated score: Platt scaling is monotone, or constant where validation shows no
    signal), Brier uses ``p``."""

    def num(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    y = data.labels
    r = p if rank is None else rank
    out: dict[str, float | None] = {"auc": num(roc_auc(y, r)), "brier": num(brier(y, p))}
    defined = len(data) >= 2 and data.quality_large.mean() != data.quality_small.mean()
    summary = score_summary(r, data.quality_small, data.quality_large) if defined else {}
    for key in ("apgr", "cpt50", "cpt80"):
        out[key] = num(summary[key]) if defined else None
    if gain is not None:
        out["apgr_gain"] = (
            num(score_summary(gain, data.quality_small, data.quality_large)["apgr"])
            if defined
            else None
        )
        out["gain_mae"] = num(float(np.mean(np.abs(gain - data.gain))))
    return out


def _selection_key(metrics: dict[str, float | None]) -> tuple[float, float]:
    def val(x: float | None) -> float:
        return -np.inf if x is None else float(x)

    return (val(metrics.get("apgr")), val(metrics.get("auc")))


def select_kind(
    kind: ScorerKind, train: ScorerData, validation: ScorerData, seed: int = 0
) -> FittedScorer:
    """Fit every setting of ``kind``'s grid on train; keep the best by validation APGR
    (ties: AUC); Platt-scale its P(needed) on validation."""
    best: tuple[tuple[float, float], dict, FittedModel, Prediction] | None = None
    cache: dict = {}
    for params in kind.grid(train):
        model = kind.fit(train, params, seed, cache)
        pred = model.predict(validation)
        key = _selection_key(routing_metrics(validation, pred.p_needed))
        if best is None or key > best[0]:
            best = (key, params, model, pred)
    require(best is not None, f"scorer kind {kind.name!r} has an empty hyperparameter grid")
    key, params, model, pred = best
    platt = fit_platt(pred.p_needed, validation.labels, seed)
    return FittedScorer(
        kind,
        dict(params),
        model,
        platt,
        {"apgr": key[0], "auc": key[1]},
        seed,
    )


@dataclass
class ZooResult:
    """Every applicable kind fitted and evaluated; ``selected`` names the trace's scorer."""

    scorers: dict[str, FittedScorer]
    selected: str
    report: dict[str, dict[str, Any]]

    @property
    def best(self) -> FittedScorer:
        return self.scorers[self.selected]


def fit_zoo(
    train: ScorerData,
    validation: ScorerData,
    test: ScorerData,
    seed: int = 0,
    kinds: list[str] | None = None,
) -> ZooResult:
    """Fit and select every applicable kind; report test metrics of each."""
    from cost_models.semantic.kinds import SCORER_KINDS

    names = list(kinds or SCORER_KINDS)
    unknown = [k for k in names if k not in SCORER_KINDS]
    if unknown:
        raise EdgeRouteError(f"unknown scorer kinds {unknown}; allowed: {list(SCORER_KINDS)}")
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        require(len(part) > 0, f"the scorer zoo needs rows in the {name} split")
    scorers: dict[str, FittedScorer] = {}
    report: dict[str, dict[str, Any]] = {}
    for name in names:
        kind = SCORER_KINDS[name]
        if not kind.applicable(train):
            continue
        fitted = select_kind(kind, train, validation, seed)
        raw = fitted.model.predict(test)
        scorers[name] = fitted
        report[name] = {
            **routing_metrics(
                test, fitted.calibrate(raw.p_needed), raw.expected_gain, rank=raw.p_needed
            ),
            "platt": [round(fitted.platt[0], 6), round(fitted.platt[1], 6)],
            "validation_apgr": _round(fitted.validation["apgr"]),
            "validation_auc": _round(fitted.validation["auc"]),
            "params": fitted.params,
            "selectable": kind.selectable,
        }
    candidates = [n for n in scorers if scorers[n].kind.selectable]
    require(len(candidates) > 0, "no selectable scorer kind applies to this trace")
    selected = max(candidates, key=lambda n: _selection_key(scorers[n].validation))
    return ZooResult(scorers, selected, report)


def _round(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)
