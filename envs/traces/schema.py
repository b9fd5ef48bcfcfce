"""The trace schema: one row per query (single-turn) or per user turn (multi-turn).

This is the contract of ``docs/architecture.md`` ("Traces"). A trace is a ``pandas.DataFrame``
with the columns below plus a ``meta`` dict and two arrays aligned with the rows: the query
embeddings and the semantic scorer's P(large model needed). ``label = quality_large >
quality_small`` is "the large model is needed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError

#: Column name -> dtype kind ("str", "int", "float"), in the documented order.
COLUMN_TYPES: dict[str, str] = {
    "id": "str",
    "benchmark": "str",
    "subject": "str",
    "split": "str",
    "dialogue_id": "str",
    "turn_index": "int",
    "text": "str",
    "prompt_tokens": "int",
    "history_tokens": "int",
    "output_tokens_small": "int",
    "output_tokens_large": "int",
    "quality_small": "float",
    "quality_large": "float",
    "quality_source": "str",
    "tokens_source": "str",
}
#: The columns of every trace frame, in order.
COLUMNS: tuple[str, ...] = tuple(COLUMN_TYPES)
#: Optional columns: every model's quality on the row (``quality__<model name>``, NaN where
#: not measured), written by builders whose sources measured more than the pair.
OUTCOME_PREFIX = "quality__"
#: Optional columns ``edgeroute data prepare`` adds: the length predictor's mean output
#: tokens per side (:mod:`cost_models.semantic.length`; out of fold on train).
PREDICTED_TOKEN_COLUMNS: tuple[str, str] = (
    "predicted_output_tokens_small",
    "predicted_output_tokens_large",
)
STR_COLUMNS: tuple[str, ...] = tuple(c for c, t in COLUMN_TYPES.items() if t == "str")
INT_COLUMNS: tuple[str, ...] = tuple(c for c, t in COLUMN_TYPES.items() if t == "int")
FLOAT_COLUMNS: tuple[str, ...] = tuple(c for c, t in COLUMN_TYPES.items() if t == "float")

#: The fixed split names.
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Allowed values of ``quality_source``.
QUALITY_SOURCES: tuple[str, ...] = ("measured", "modelled")
#: The benchmarks this project builds from public files.
BENCHMARKS: tuple[str, ...] = (
    "mmlu", "gsm8k", "mt_bench", "mt_bench_101", "mt_eval", "long_sessions",
)  # fmt: skip


def labels(frame: pd.DataFrame) -> np.ndarray:
    """1 where the large model is needed (its quality is strictly higher), else 0."""
    return (frame["quality_large"].to_numpy(float) > frame["quality_small"].to_numpy(float)).astype(
        np.int8
    )


@dataclass
class Trace:
    """A routing trace: the rows, where they came from, and the per-row semantic inputs.

    Attributes:
        frame: one row per query or user turn, with :data:`COLUMNS`.
        meta: ``benchmark``, ``pair`` (preset name), ``small`` and ``large`` (label model
            names), ``quality_source``, ``multi_turn`` (bool), ``tokenizer``, ``deployment``
            (the default latency preset of ``cost_models.router_cost``), and provenance notes.
        embeddings: float32 ``[n_rows, dim]`` query embeddings aligned with ``frame``.
        semantic_p: float32 ``[n_rows]``, the scorer's P(large model needed); out-of-fold
            (cross-fitted, grouped by dialogue) on the train split so that policies trained on
            train never see in-sample scores.
        expected_gain: float32 ``[n_rows]`` or None, the same scorer's E[q_large - q_small]
            (same folds).
    """

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    embeddings: np.ndarray | None = None
    semantic_p: np.ndarray | None = None
    expected_gain: np.ndarray | None = None

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.frame.columns]
        if missing:
            raise EdgeRouteError(
                f"trace frame is missing columns {missing}; required columns: {list(COLUMNS)}"
            )
        n = len(self.frame)
        if self.embeddings is not None and len(self.embeddings) != n:
            raise EdgeRouteError(
                f"trace embeddings have {len(self.embeddings)} rows but the frame has {n}"
            )
        for name in ("semantic_p", "expected_gain"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise EdgeRouteError(f"trace {name} has {len(arr)} rows but the frame has {n}")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def labels(self) -> np.ndarray:
        """1 where ``quality_large > quality_small`` (the large model is needed)."""
        return labels(self.frame)

    def subset(self, mask: np.ndarray) -> Trace:
        """The rows where ``mask`` is true, with the aligned arrays and the same meta."""
        mask = np.asarray(mask, dtype=bool)
        return Trace(
            frame=self.frame.loc[mask].reset_index(drop=True),
            meta=dict(self.meta),
            embeddings=None if self.embeddings is None else self.embeddings[mask],
            semantic_p=None if self.semantic_p is None else self.semantic_p[mask],
            expected_gain=None if self.expected_gain is None else self.expected_gain[mask],
        )
