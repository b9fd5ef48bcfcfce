"""A summary of the prepared traces: counts, splits, label-pair qualities, scorer metrics."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from envs.traces.schema import SPLITS
from envs.traces.store import (
    FILES_KEY,
    available_benchmarks,
    benchmark_dir,
    read_index,
    verify_benchmark,
)


def _pair_summary(root, name: str) -> dict:
    frame = pd.read_parquet(
        root / name / "frame.parquet",
        columns=["split", "turn_index", "quality_small", "quality_large", "quality_source"],
    )
    meta = json.loads((root / name / "meta.json").read_text())
    report = json.loads((root / name / "report.json").read_text())
    out = {
        "small": meta["small"],
        "large": meta["large"],
        "small_quality": round(float(frame["quality_small"].mean()), 6),
        "large_quality": round(float(frame["quality_large"].mean()), 6),
        "quality_source": meta["quality_source"],
        "large_needed_rate": round(
            float((frame["quality_large"] > frame["quality_small"]).mean()), 4
        ),
        "deployment": meta.get("deployment"),
        "default": bool(meta.get("default_pair")),
        "scorer": {**_scorer(report), "selected": report.get("kind")},
        "scorers": _scorers(root / name / "scorers.json"),
        "length_predictor": _read_json(root / name / "length_report.json"),
    }
    if meta.get("flag"):
        out["flag"] = meta["flag"]
    if meta.get("multi_turn"):
        by_turn = frame.groupby("turn_index")[["quality_small", "quality_large"]].mean()
        out["small_turn_means"] = [round(float(x), 6) for x in by_turn["quality_small"]]
        out["large_turn_means"] = [round(float(x), 6) for x in by_turn["quality_large"]]
    return out


def _read_json(path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _scorers(path) -> dict | None:
    """``{kind: {auc, brier, apgr, apgr_gain, ...}}`` of the zoo on test (+ ``selected``)."""
    data = _read_json(path)
    if data is None:
        return None
    keep = (
        "auc",
        "brier",
        "apgr",
        "cpt50",
        "cpt80",
        "apgr_gain",
        "gain_mae",
        "validation_apgr",
        "params",
    )
    out = {k: {f: v.get(f) for f in keep} for k, v in data["scorers"].items()}
    for k in out:
        out[k]["selected"] = k == data["selected"]
    return out


def _scorer(report: dict) -> dict:
    def num(x):
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    return {
        "auc": num(report["auc"]),
        "brier": num(report["brier"]),
        "length_only_auc": num(report["length_only_auc"]),
        "length_only_brier": num(report["length_only_brier"]),
        "base_rate": num(report["base_rate"]),
        "apgr": num(report.get("apgr")),
        "n_test": report["n_test"],
    }


def _tokens_stats(x: np.ndarray) -> dict:
    return {
        "mean": round(float(x.mean()), 1),
        "p90": round(float(np.percentile(x, 90)), 1),
        "max": int(x.max()),
    }


def _dialogue_summary(frame: pd.DataFrame) -> dict:
    """Dialogues, user turns, and the history before a turn (tokens) over all turns and at
    each dialogue's last turn: what a KV cache must hold."""
    history = frame["history_tokens"].to_numpy()
    last = frame.groupby("dialogue_id", sort=False)["history_tokens"].max().to_numpy()
    return {
        "dialogues": int(frame["dialogue_id"].nunique()),
        "turns": int(len(frame)),
        "history_tokens": _tokens_stats(history),
        "history_tokens_last_turn": _tokens_stats(last),
    }


def summarize(cache_dir: str | os.PathLike | None = None) -> dict:
    """``{benchmark: {dialogues, turns, history_tokens, history_tokens_last_turn, items, rows,
    splits, split_items, pairs, default_pair, scorer, scorers, length_predictor,
    duplicates_moved}}`` (``history_tokens``: mean / p90 / max of the tokens before a turn;
    ``scorers`` and ``length_predictor`` are the default pair's, every pair has its own under
    ``pairs``)."""
    out = {}
    for benchmark in available_benchmarks(cache_dir):
        index = read_index(benchmark, cache_dir)
        if FILES_KEY in index:  # a corrupt file is named, not a traceback
            verify_benchmark(benchmark, cache_dir)
        root = benchmark_dir(benchmark, cache_dir)
        default = index["default_pair"]
        frame = pd.read_parquet(
            root / default / "frame.parquet", columns=["split", "dialogue_id", "history_tokens"]
        )
        dialogues = frame.drop_duplicates("dialogue_id")
        pairs = {name: _pair_summary(root, name) for name in index["pairs"]}
        out[benchmark] = {
            **_dialogue_summary(frame),
            "items": int(len(dialogues)),
            "rows": int(len(frame)),
            "splits": {s: int((frame["split"] == s).sum()) for s in SPLITS},
            "split_items": {s: int((dialogues["split"] == s).sum()) for s in SPLITS},
            "default_pair": default,
            "encoder": index.get("encoder"),
            "pairs": pairs,
            "scorer": pairs[default]["scorer"],
            "scorers": pairs[default]["scorers"],
            "length_predictor": pairs[default]["length_predictor"],
            "duplicates_moved": json.loads((root / default / "meta.json").read_text()).get(
                "duplicates"
            ),
        }
    return out


def subject_accuracy(cache_dir: str | os.PathLike | None = None) -> pd.DataFrame | None:
    """MMLU per-subject accuracy of the four label models, if MMLU is prepared."""
    path = benchmark_dir("mmlu", cache_dir) / "subject_accuracy.csv"
    return pd.read_csv(path, index_col=0) if path.is_file() else None
