"""The semantic scorer: p = P(the large model is needed) from a query embedding.

"Needed" means the small model's answer is worse than the large model's
(``quality_large > quality_small``), the label RouteLLM-style routers learn (Ong et al. 2024,
"RouteLLM", train a BERT classifier on the same kind of label). Ours is logistic regression
(scikit-learn, L2, lbfgs) on the L2-normalised sentence embedding, optionally concatenated
with standardised length features (log(1 + prompt tokens), log(1 + history tokens)), in one
of two forms:

- ``direct``: one head on the label ``quality_large > quality_small``;
- ``factorised``: two heads on each model's quality (soft labels: a row with quality q counts
  as a positive with weight q and a negative with weight 1 - q), combined as
  p = q_large (1 - q_small), exact for 0/1 outcomes that are independent given the query. It
  helps when "needed" is rare and noisy but each model's success is learnable (GSM8K).

The form, the inverse regularisation ``C`` and the length features are chosen by ROC-AUC on
the validation split, fitted on train, then Platt-scaled on validation (a 2-parameter logistic
fit of the label on the logit of the raw score) so that p is calibrated; every reported number
is on test, next to a length-only logistic baseline fitted on train.
Out-of-fold predictions for the training split (so that a policy trained on train never
sees in-sample scores) are made by :meth:`.zoo.FittedScorer.cross_fit` for every kind.

The module works on arrays only; it imports nothing from envs, agents or experiments.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError

#: Inverse L2 strengths tried on validation.
C_GRID: tuple[float, ...] = (1e-3, 0.01, 0.1, 1.0)
#: Folds of the cross-fitted train-split predictions.
DEFAULT_FOLDS = 5
#: Reliability-diagram bins (equal width on [0, 1]).
N_BINS = 10


def length_features(prompt_tokens: np.ndarray, history_tokens: np.ndarray) -> np.ndarray:
    """``[n, 2]`` float64: log(1 + prompt tokens), log(1 + history tokens)."""
    p = np.log1p(np.asarray(prompt_tokens, dtype=np.float64))
    h = np.log1p(np.asarray(history_tokens, dtype=np.float64))
    return np.column_stack([p, h])


def _check_xy(X: np.ndarray, y: np.ndarray | None = None) -> None:
    if X.ndim != 2 or not np.isfinite(X).all():
        raise EdgeRouteError(f"scorer features must be a finite 2-D array, got shape {X.shape}")
    if y is not None and (len(y) != len(X) or not np.isin(y, (0, 1)).all()):
        raise EdgeRouteError("scorer labels must be 0/1, one per feature row")


@dataclass
class _Standardiser:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> _Standardiser:
        std = X.std(0)
        return cls(X.mean(0), np.where(std > 0, std, 1.0))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.std


@dataclass
class LogisticHead:
    """A fitted logistic regression on raw features (standardised inside), or a constant."""

    coef: np.ndarray
    intercept: float
    scaler: _Standardiser | None

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, C: float, seed: int = 0) -> LogisticHead:
        """Fit on 0/1 labels ``y`` (or soft labels in [0, 1], see the module docstring)."""
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or not np.isfinite(X).all() or len(y) != len(X):
            raise EdgeRouteError(f"scorer features must be finite 2-D, got shape {X.shape}")
        if not ((y >= 0) & (y <= 1)).all():
            raise EdgeRouteError("scorer labels must be 0/1 (or soft labels in [0, 1])")
        if len(y) == 0 or y.min() == y.max():  # one class only: the base rate is all we know
            rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-3, 1 - 1e-3))
            return cls(np.zeros(X.shape[1]), float(np.log(rate / (1 - rate))), None)
        scaler = _Standardiser.fit(X)
        Z = scaler(X)
        model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
        if np.isin(y, (0.0, 1.0)).all():
            model.fit(Z, y.astype(int))
        else:
            model.fit(
                np.vstack([Z, Z]),
                np.r_[np.ones(len(y)), np.zeros(len(y))].astype(int),
                sample_weight=np.r_[y, 1.0 - y],
            )
        return cls(model.coef_[0].astype(np.float64), float(model.intercept_[0]), scaler)

    def predict(self, X: np.ndarray) -> np.ndarray:
        _check_xy(X)
        Z = self.scaler(X) if self.scaler is not None else X
        return 1.0 / (1.0 + np.exp(-(Z @ self.coef + self.intercept)))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probability against the 0/1 label."""
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    y = np.asarray(y, float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def calibration_table(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> list[dict]:
    """Reliability bins: ``lo, hi, count, mean_p, frac_positive`` (empty bins omitted)."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        m = which == b
        if m.any():
            rows.append(
                {
                    "lo": float(edges[b]),
                    "hi": float(edges[b + 1]),
                    "count": int(m.sum()),
                    "mean_p": float(p[m].mean()),
                    "frac_positive": float(y[m].mean()),
                }
            )
    return rows


@dataclass
class ScorerReport:
    """Test-split metrics of the trace's scorer and of the length-only baseline (``kind`` is
    the selected zoo kind; ``C`` / ``use_lengths`` apply to the logistic kind)."""

    auc: float
    brier: float
    length_only_auc: float
    length_only_brier: float
    base_rate: float
    n_train: int
    n_validation: int
    n_test: int
    kind: str
    C: float
    use_lengths: bool
    validation_auc: float
    calibration: list[dict] = field(default_factory=list)
    length_only_calibration: list[dict] = field(default_factory=list)
    #: APGR of routing by p on test, RouteLLM's way (:mod:`.routellm_metrics`).
    apgr: float | None = None
    #: The selected zoo kind's hyperparameters (:mod:`.zoo`).
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


KINDS = ("direct", "factorised")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_platt(raw: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Platt scaling (Platt 1999): ``(a, b)`` of ``P(y=1) = sigmoid(a logit(raw) + b)``, a
    2-parameter logistic fit on held-out rows. Identity when ``y`` has one class; when the fit
    would invert the ranking (a <= 0) the held-out rows show no positive association, so the
    calibrated probability is their base rate (a = 0)."""
    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        return (1.0, 0.0)
    cal = LogisticHead.fit(_logit(raw)[:, None], y, 1e4, seed)
    if cal.scaler is None:
        return (1.0, 0.0)
    a = float(cal.coef[0] / cal.scaler.std[0])
    b = float(cal.intercept - cal.coef[0] * cal.scaler.mean[0] / cal.scaler.std[0])
    if a > 0:
        return (a, b)
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    return (0.0, float(np.log(rate / (1 - rate))))


@dataclass
class SemanticScorer:
    """Logistic head(s) on ``[embedding | length features]``; see the module docstring."""

    kind: str
    heads: dict[str, LogisticHead]
    use_lengths: bool
    C: float
    platt: tuple[float, float] = (1.0, 0.0)
    length_head: LogisticHead | None = None
    seed: int = 0

    @staticmethod
    def features(emb: np.ndarray, lengths: np.ndarray, use_lengths: bool) -> np.ndarray:
        emb = np.asarray(emb, dtype=np.float64)
        return np.hstack([emb, np.asarray(lengths, float)]) if use_lengths else emb

    @staticmethod
    def _fit_heads(
        kind: str, X: np.ndarray, targets: dict[str, np.ndarray], C: float, seed: int
    ) -> dict[str, LogisticHead]:
        if kind == "direct":
            return {"needed": LogisticHead.fit(X, targets["needed"], C, seed)}
        return {k: LogisticHead.fit(X, targets[k], C, seed) for k in ("small", "large")}

    @staticmethod
    def _raw(kind: str, heads: dict[str, LogisticHead], X: np.ndarray) -> np.ndarray:
        if kind == "direct":
            return heads["needed"].predict(X)
        return heads["large"].predict(X) * (1.0 - heads["small"].predict(X))

    @classmethod
    def select_and_fit(
        cls,
        emb_train: np.ndarray,
        len_train: np.ndarray,
        y_train: np.ndarray,
        emb_val: np.ndarray,
        len_val: np.ndarray,
        y_val: np.ndarray,
        quality_train: tuple[np.ndarray, np.ndarray] | None = None,
        c_grid: tuple[float, ...] = C_GRID,
        seed: int = 0,
    ) -> tuple[SemanticScorer, float]:
        """Pick form, ``C`` and length features by validation AUC; fit on train; Platt-scale
        on validation. ``quality_train`` = (quality_small, quality_large) enables the
        factorised form. Returns the scorer and its validation AUC."""
        y_train = np.asarray(y_train)
        y_val = np.asarray(y_val)
        _check_xy(np.asarray(emb_train, float), y_train)
        _check_xy(np.asarray(emb_val, float), y_val)
        targets = {"needed": y_train}
        kinds = ["direct"]
        if quality_train is not None:
            targets["small"] = np.asarray(quality_train[0], float)
            targets["large"] = np.asarray(quality_train[1], float)
            kinds.append("factorised")
        best = None
        for kind in kinds:
            for use_lengths in (False, True):
                Xtr = cls.features(emb_train, len_train, use_lengths)
                Xva = cls.features(emb_val, len_val, use_lengths)
                for C in c_grid:
                    heads = cls._fit_heads(kind, Xtr, targets, C, seed)
                    raw = cls._raw(kind, heads, Xva)
                    auc = roc_auc(y_val, raw)
                    auc = -np.inf if np.isnan(auc) else auc
                    score = (auc, -log_loss(y_val, raw))
                    if best is None or score > best[0]:
                        best = (score, kind, use_lengths, C, heads, raw)
        assert best is not None
        (auc, _), kind, use_lengths, C, heads, raw = best
        platt = fit_platt(raw, y_val, seed)
        length_head = LogisticHead.fit(np.asarray(len_train, float), y_train, 1.0, seed)
        scorer = cls(kind, heads, use_lengths, C, platt, length_head, seed)
        return scorer, float(auc)

    def predict(self, emb: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Calibrated P(large model needed), float32."""
        raw = self._raw(self.kind, self.heads, self.features(emb, lengths, self.use_lengths))
        a, b = self.platt
        return (1.0 / (1.0 + np.exp(-(a * _logit(raw) + b)))).astype(np.float32)

    def predict_length_only(self, lengths: np.ndarray) -> np.ndarray:
        if self.length_head is None:
            raise EdgeRouteError("this scorer was saved without its length-only baseline")
        return self.length_head.predict(np.asarray(lengths, float)).astype(np.float32)

    # -- persistence: npz (arrays) + json (hyperparameters), no pickle -----------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``<path>.npz`` and ``<path>.json``; returns the json path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        named = dict(self.heads)
        if self.length_head is not None:
            named["length_only"] = self.length_head
        for name, head in named.items():
            arrays[f"{name}_coef"] = head.coef
            arrays[f"{name}_intercept"] = np.array([head.intercept])
            if head.scaler is not None:
                arrays[f"{name}_mean"] = head.scaler.mean
                arrays[f"{name}_std"] = head.scaler.std
        np.savez(path.with_suffix(".npz"), **arrays)
        meta = {
            "kind": self.kind,
            "heads": list(self.heads),
            "use_lengths": self.use_lengths,
            "C": self.C,
            "platt": list(self.platt),
            "seed": self.seed,
        }
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
        return path.with_suffix(".json")

    @classmethod
    def load(cls, path: str | os.PathLike) -> SemanticScorer:
        path = Path(path)
        if not path.with_suffix(".json").is_file() or not path.with_suffix(".npz").is_file():
            raise EdgeRouteError(
                f"no saved scorer at {str(path)!r} (.json + .npz); run `edgeroute data prepare`"
            )
        meta = json.loads(path.with_suffix(".json").read_text())
        heads: dict[str, LogisticHead] = {}
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as data:
            for name in [*meta["heads"], "length_only"]:
                if f"{name}_coef" not in data:
                    continue
                scaler = (
                    _Standardiser(data[f"{name}_mean"], data[f"{name}_std"])
                    if f"{name}_mean" in data
                    else None
                )
                heads[name] = LogisticHead(
                    data[f"{name}_coef"], float(data[f"{name}_intercept"][0]), scaler
                )
        length_head = heads.pop("length_only", None)
        return cls(
            meta["kind"],
            heads,
            bool(meta["use_lengths"]),
            float(meta["C"]),
            tuple(meta["platt"]),
            length_head,
            int(meta["seed"]),
        )


def evaluate(
    scorer: SemanticScorer,
    emb_test: np.ndarray,
    len_test: np.ndarray,
    y_test: np.ndarray,
    n_train: int,
    n_validation: int,
    validation_auc: float,
) -> ScorerReport:
    """Test metrics of ``scorer`` and its length-only baseline."""
    p = scorer.predict(emb_test, len_test)
    q = scorer.predict_length_only(len_test)
    return ScorerReport(
        auc=roc_auc(y_test, p),
        brier=brier(y_test, p),
        length_only_auc=roc_auc(y_test, q),
        length_only_brier=brier(y_test, q),
        base_rate=float(np.mean(y_test)) if len(y_test) else float("nan"),
        n_train=int(n_train),
        n_validation=int(n_validation),
        n_test=int(len(y_test)),
        kind=scorer.kind,
        C=scorer.C,
        use_lengths=scorer.use_lengths,
        validation_auc=validation_auc,
        calibration=calibration_table(y_test, p),
        length_only_calibration=calibration_table(y_test, q),
    )


def plot_reliability(report: ScorerReport, title: str, path: str | os.PathLike) -> Path:
    """Reliability diagram (semantic scorer and length-only baseline) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    for rows, label, marker in (
        (report.calibration, f"semantic (AUC {report.auc:.3f})", "o"),
        (report.length_only_calibration, f"length only (AUC {report.length_only_auc:.3f})", "s"),
    ):
        if rows:
            ax.plot(
                [r["mean_p"] for r in rows],
                [r["frac_positive"] for r in rows],
                marker=marker,
                label=label,
            )
    ax.set_xlabel("predicted P(large model needed)")
    ax.set_ylabel("observed fraction needing the large model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
