"""The learned parts of a trace: the scorer zoo and the output-length predictors per pair.

``edgeroute data prepare`` and ``data import`` call :func:`fit_scorer` (select on validation,
report on test, out-of-fold P(needed) and expected gain on train, grouped by dialogue) and
:func:`fit_lengths` (per-model output-length predictors) for every label pair, through
:func:`envs.traces.prepare.finish_trace`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from cost_models.semantic.length import fit_length_predictor, length_design
from cost_models.semantic.scorer import ScorerReport, calibration_table, length_features
from cost_models.semantic.zoo import ScorerData, fit_zoo
from envs.traces.schema import OUTCOME_PREFIX, PREDICTED_TOKEN_COLUMNS

#: One line per scorer kind, for the trace's meta.
SCORER_DESCRIPTIONS = {
    "logistic": "logistic regression on the embedding (+ length features), Platt-scaled",
    "knn": "k nearest training queries by cosine similarity (Li 2025, arXiv:2505.12601)",
    "mf": "matrix factorisation of every model's outcomes (RouteLLM's MF form)",
}


def scorer_data(frame: pd.DataFrame, emb: np.ndarray, meta: dict) -> ScorerData:
    """The zoo's view of a trace: embeddings, length features, the pair's qualities, every
    model's outcomes (``quality__<model>`` columns) and the dialogue groups."""
    lengths = length_features(frame["prompt_tokens"], frame["history_tokens"])
    qs = frame["quality_small"].to_numpy(float)
    ql = frame["quality_large"].to_numpy(float)
    cols = [c for c in frame.columns if c.startswith(OUTCOME_PREFIX)]
    names = [c.removeprefix(OUTCOME_PREFIX) for c in cols]
    outcomes = frame[cols].to_numpy(float) if cols else np.zeros((len(frame), 0))
    small_col = names.index(meta["small"]) if meta.get("small") in names else None
    large_col = names.index(meta["large"]) if meta.get("large") in names else None
    if small_col is None:
        outcomes, names = np.column_stack([outcomes, qs]), [*names, "small (pair)"]
        small_col = len(names) - 1
    if large_col is None:
        outcomes, names = np.column_stack([outcomes, ql]), [*names, "large (pair)"]
        large_col = len(names) - 1
    return ScorerData(
        np.asarray(emb),
        lengths,
        qs,
        ql,
        outcomes,
        tuple(names),
        small_col,
        large_col,
        frame["dialogue_id"].astype(str).to_numpy(),
    )


def fit_scorer(frame: pd.DataFrame, meta: dict, emb: np.ndarray, seed: int) -> dict:
    """The scorer zoo on one pair: select on validation, report on test; the selected kind's
    P(needed) and expected gain for every row (out of fold on train, grouped by dialogue)."""
    data = scorer_data(frame, emb, meta)
    split = frame["split"].to_numpy()
    tr, va, te = (split == s for s in ("train", "validation", "test"))
    if min(tr.sum(), va.sum(), te.sum()) == 0:
        raise EdgeRouteError(
            "the semantic scorer needs rows in each of train, validation and test; got "
            f"{int(tr.sum())}/{int(va.sum())}/{int(te.sum())}"
        )
    zoo = fit_zoo(data.take(tr), data.take(va), data.take(te), seed)
    best = zoo.best
    pred = best.predict(data)
    oof = best.cross_fit(data.take(tr))
    p, gain = pred.p_needed.copy(), pred.expected_gain.copy()
    p[tr], gain[tr] = oof.p_needed, oof.expected_gain
    y_te = data.labels[te]
    ref = zoo.scorers["length_only"].predict(data.take(te)).p_needed
    sel, ref_m = zoo.report[zoo.selected], zoo.report["length_only"]
    report = ScorerReport(
        auc=float(sel["auc"] if sel["auc"] is not None else "nan"),
        brier=float(sel["brier"]),
        length_only_auc=float(ref_m["auc"] if ref_m["auc"] is not None else "nan"),
        length_only_brier=float(ref_m["brier"]),
        base_rate=float(y_te.mean()),
        n_train=int(tr.sum()),
        n_validation=int(va.sum()),
        n_test=int(te.sum()),
        kind=zoo.selected,
        C=float(best.params.get("C", float("nan"))),
        use_lengths=bool(best.params.get("use_lengths", False)),
        validation_auc=float(sel["validation_auc"] or float("nan")),
        calibration=calibration_table(y_te, p[te]),
        length_only_calibration=calibration_table(y_te, ref),
        apgr=sel["apgr"],
        params=dict(best.params),
    )
    logistic = zoo.scorers["logistic"]
    return {
        "zoo": zoo,
        "report": report,
        "p": p.astype(np.float32),
        "gain": gain.astype(np.float32),
        "logistic": logistic.model.scorer(float(logistic.params["C"]), logistic.platt, seed),
    }


def fit_lengths(frame: pd.DataFrame, meta: dict, emb: np.ndarray, seed: int) -> dict:
    """Per-model output-length predictors; predicted tokens per row and the test report."""
    X = length_design(emb, length_features(frame["prompt_tokens"], frame["history_tokens"]))
    real = not str(meta.get("output_tokens_source", "")).startswith("modelled")
    groups = frame["dialogue_id"].astype(str).to_numpy()
    split = frame["split"].to_numpy()
    out: dict = {"columns": {}, "report": {}}
    for side, column in zip(("small", "large"), PREDICTED_TOKEN_COLUMNS, strict=True):
        fit = fit_length_predictor(
            X, frame[f"output_tokens_{side}"].to_numpy(float), split, groups, real, seed
        )
        out["columns"][column] = fit.predicted_tokens.astype(np.float64)
        out["report"][side] = {"model": meta.get(side), **fit.report}
    for key in ("mae_log_tokens", "baseline_mae_log_tokens"):
        out["report"][key] = round(
            float(np.mean([out["report"][s][key] for s in ("small", "large")])), 6
        )
    out["report"]["trained"] = bool(out["report"]["small"]["trained"])
    return out
