"""Helpers every trace builder shares: seeded splits, label-pair presets, frame assembly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.schema import (
    COLUMNS,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    OUTCOME_PREFIX,
    SPLITS,
    STR_COLUMNS,
)

#: Seed of the fixed splits (and of every modelled draw unless a builder says otherwise).
DEFAULT_SEED = 20240601
#: Split fractions train / validation / test.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class PairPreset:
    """A label pair: which model's outcomes stand for the device and for the edge.

    ``deployment`` names the default latency preset of ``cost_models.router_cost`` used with
    these labels (labels and latency architecture may differ; outputs say so).
    """

    name: str
    small: str
    large: str
    quality_source: str
    deployment: str
    source: str


def pair_meta(
    benchmark: str,
    pair: PairPreset,
    default_pair: str,
    multi_turn: bool,
    output_tokens_source: str,
    quality_note: str | None = None,
    **extra: object,
) -> dict[str, object]:
    """The ``Trace.meta`` every builder records for one label pair (plus ``extra`` keys):
    benchmark, pair and its two label models, quality source and note (default: the pair's
    source), multi-turn flag, latency deployment, whether this is the default pair, and where
    the output lengths come from."""
    return {
        "benchmark": benchmark,
        "pair": pair.name,
        "small": pair.small,
        "large": pair.large,
        "quality_source": pair.quality_source,
        "quality_note": pair.source if quality_note is None else quality_note,
        "multi_turn": multi_turn,
        "deployment": pair.deployment,
        "default_pair": pair.name == default_pair,
        "output_tokens_source": output_tokens_source,
        **extra,
    }


def split_of(key: str, seed: int = DEFAULT_SEED) -> str:
    """The fixed split of an item or dialogue: sha256 of ``"<seed>:<key>"`` mapped to [0, 1).

    Hashing (not a shuffled permutation) keeps an item's split stable when other items are
    added or removed and across runs and machines.
    """
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    train, validation, _ = SPLIT_FRACTIONS
    if u < train:
        return SPLITS[0]
    if u < train + validation:
        return SPLITS[1]
    return SPLITS[2]


def outcome_columns(outcomes: dict[str, object]) -> dict[str, np.ndarray]:
    """``{quality__<model>: qualities}``: every model's per-row outcomes (optional columns of
    a trace, read by the matrix-factorisation scorer)."""
    return {f"{OUTCOME_PREFIX}{m}": np.asarray(q, dtype=np.float64) for m, q in outcomes.items()}


def assemble(columns: dict[str, object], n: int) -> pd.DataFrame:
    """A frame with :data:`COLUMNS` in order and the documented dtypes, then any
    ``quality__<model>`` outcome columns."""
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise EdgeRouteError(f"trace builder is missing columns {missing}")
    extra = [c for c in columns if c.startswith(OUTCOME_PREFIX)]
    frame = pd.DataFrame({c: columns[c] for c in (*COLUMNS, *extra)}, index=pd.RangeIndex(n))
    for c in STR_COLUMNS:
        frame[c] = frame[c].astype(str)
    for c in INT_COLUMNS:
        frame[c] = frame[c].astype(np.int64)
    for c in (*FLOAT_COLUMNS, *extra):
        frame[c] = frame[c].astype(np.float64)
    return frame


def check_frame(frame: pd.DataFrame) -> None:
    """Raise if the frame breaks the schema (used on every built and imported trace)."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise EdgeRouteError(f"trace is missing columns {missing}")
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise EdgeRouteError(f"trace ids must be unique; {dup!r} repeats")
    bad = ~frame["split"].isin(SPLITS)
    if bad.any():
        raise EdgeRouteError(f"split {frame['split'][bad].iloc[0]!r} not in {SPLITS}")
    for c in ("quality_small", "quality_large"):
        q = frame[c].to_numpy(float)
        if not (np.isfinite(q).all() and (q >= 0).all() and (q <= 1).all()):
            raise EdgeRouteError(f"{c} must lie in [0, 1]")
    for c in INT_COLUMNS:
        if (frame[c].to_numpy() < 0).any():
            raise EdgeRouteError(f"{c} must be >= 0")


def keep_duplicates_in_one_split(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Splits under which no exact-duplicate text crosses splits.

    Two rows with the same ``text`` in different splits let a scorer fitted on train score a
    test query it has seen (MMLU repeats some questions across subjects; MT-Bench-101 repeats
    opening turns across dialogues). Dialogues that share a text are joined (union-find,
    transitively), and every dialogue of a joined group takes the split of the group's
    smallest ``dialogue_id`` (so the choice is deterministic and independent of row order).
    Returns the new split of every row and counts: ``duplicate_texts`` (texts on more than one
    dialogue), ``dialogues_moved`` and ``rows_moved``.
    """
    dialogues = frame["dialogue_id"].astype(str).to_numpy()
    split_of_dialogue = dict(zip(dialogues, frame["split"].astype(str), strict=True))
    parent = {d: d for d in split_of_dialogue}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    owners = frame.groupby("text", sort=False)["dialogue_id"].unique()
    shared = owners[owners.map(len) > 1]
    for ds in shared:
        first = root(str(min(ds)))
        for d in ds:
            r = root(str(d))
            if r != first:
                lo, hi = sorted((first, r))
                parent[hi] = lo
                first = lo
    new_of_dialogue = {d: split_of_dialogue[root(d)] for d in split_of_dialogue}
    moved = {d for d in new_of_dialogue if new_of_dialogue[d] != split_of_dialogue[d]}
    new = np.array([new_of_dialogue[d] for d in dialogues], dtype=object)
    stats = {
        "duplicate_texts": int(len(shared)),
        "dialogues_moved": len(moved),
        "rows_moved": int(np.isin(dialogues, list(moved)).sum()),
    }
    return new, stats
