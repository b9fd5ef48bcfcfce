"""Trace access for the environments: load (cached), split, and flatten into fast arrays.

``step()`` must not touch pandas: everything it needs per row is turned here, once per trace,
split and observation option, into Python lists (fast scalar indexing) and one float32 matrix of
the static observation slots. The results are memoised in-process, so that creating many
environments on one trace (vector envs, property tests) pays the preparation once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cost_models.errors import EdgeRouteError
from envs.config import OUTPUT_LENGTH_MODES
from envs.observation import ObservationLayout, reduce_embeddings
from envs.outcome import RowMeta
from envs.traces.schema import Trace

#: Turns per dialogue of the synthetic trace a multi-turn environment builds.
SYNTHETIC_TURNS_MULTI = 4

_TRACE_MEMO: dict[tuple, Trace] = {}
_PREP_MEMO: dict[tuple, tuple[Trace, PreparedSplit]] = {}


def get_trace(
    benchmark: str,
    pair: str | None,
    multi_turn: bool,
    synthetic_size: int,
    document_tokens_mean: float | None = None,
) -> Trace:
    """The trace of ``benchmark`` (``"synthetic"`` builds one; others use ``load_trace``);
    ``long_sessions`` with its documents scaled to ``document_tokens_mean`` if given."""
    if document_tokens_mean is not None and benchmark != "long_sessions":
        raise EdgeRouteError(
            f"config['document_tokens_mean'] applies to benchmark 'long_sessions' only, not "
            f"{benchmark!r}; leave it None"
        )
    key = (
        benchmark, pair, multi_turn if benchmark == "synthetic" else None, synthetic_size,
        document_tokens_mean,
    )  # fmt: skip
    if key in _TRACE_MEMO:
        return _TRACE_MEMO[key]
    if benchmark == "synthetic":
        from envs.traces.synthetic import make_synthetic_trace

        trace = make_synthetic_trace(
            synthetic_size, SYNTHETIC_TURNS_MULTI if multi_turn else 1, seed=0
        )
    else:
        try:
            from envs.traces import load_trace
        except ImportError as exc:  # the trace store is another issue's module
            raise EdgeRouteError(
                f"config['benchmark'] = {benchmark!r} needs prepared traces "
                f"(envs.traces.load_trace is unavailable: {exc}); use 'synthetic' or pass "
                "config['trace']"
            ) from None
        trace = load_trace(benchmark, pair=pair)
        if document_tokens_mean is not None:
            from envs.traces.long_sessions import with_document_tokens

            trace = with_document_tokens(trace, float(document_tokens_mean))
    _TRACE_MEMO[key] = trace
    return trace


@dataclass
class PreparedSplit:
    """One split of a trace as flat arrays (row order = trace order within the split)."""

    n_rows: int
    prompt_tokens: list[int]
    output_tokens: tuple[list[int], list[int]]  # (device/small, edge/large)
    quality: tuple[list[float], list[float]]
    semantic_p: list[float]
    turn_index: list[int]
    row_meta: list[RowMeta]  # benchmark, dialogue id, turn index of each row
    dialogue_starts: np.ndarray  # start row of each dialogue, plus n_rows at the end
    #: Per row, the output length the router predicts (device, edge): the trace's
    #: per-query predictor (``predicted_output_tokens_small/_large``) or the train means.
    predicted_output_tokens: tuple[np.ndarray, np.ndarray]
    #: "predicted" (per-query predictor) or "train_mean" (one constant per side).
    output_length: str
    layout: ObservationLayout  # the observation's slots (embedding_dim + the scalar slots)
    static_obs: np.ndarray  # float32 [n_rows, obs_dim] with every static slot filled
    benchmark: str
    quality_source: str


def _column(frame, name: str, kind: type) -> list:
    return [kind(v) for v in frame[name].to_numpy()]




def predicted_lengths(
    frame, row_pos: np.ndarray, train_mask: np.ndarray, mode: str
) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """The predicted output tokens (device, edge) of rows ``row_pos`` and what they are.

    ``"predicted"``: the trace's per-query predictor columns
    (:data:`envs.traces.schema.PREDICTED_TOKEN_COLUMNS`, written by ``edgeroute data prepare``;
    out of fold on train), where the trace has them; otherwise, and for ``"train_mean"``, the
    train-split mean of each side, the same for every row.
    """
    from envs.traces.schema import PREDICTED_TOKEN_COLUMNS

    if mode not in OUTPUT_LENGTH_MODES:
        raise EdgeRouteError(
            f"config['output_length'] = {mode!r}; allowed: {list(OUTPUT_LENGTH_MODES)}"
        )
    if mode == "predicted" and all(c in frame.columns for c in PREDICTED_TOKEN_COLUMNS):
        cols = [frame[c].to_numpy(np.float64)[row_pos] for c in PREDICTED_TOKEN_COLUMNS]
        return (np.maximum(cols[0], 1.0), np.maximum(cols[1], 1.0)), "predicted"
    train = frame.loc[train_mask]
    n = len(row_pos)
    means = (
        float(train["output_tokens_small"].mean()),
        float(train["output_tokens_large"].mean()),
    )
    return (np.full(n, means[0]), np.full(n, means[1])), "train_mean"


def prepare_split(
    trace: Trace,
    split: str,
    embedding_mode: str,
    pca_dim: int,
    multi_turn: bool,
    output_length: str = "predicted",
    world_slots: bool = False,
) -> PreparedSplit:
    """Flatten ``split`` of ``trace`` for the environment (memoised per trace object);
    ``world_slots`` appends ``envs.observation.WORLD_SLOTS`` to the observation layout."""
    key = (id(trace), split, embedding_mode, pca_dim, multi_turn, output_length, world_slots)
    hit = _PREP_MEMO.get(key)
    if hit is not None and hit[0] is trace:
        return hit[1]
    frame = trace.frame
    if trace.semantic_p is None:
        raise EdgeRouteError("the trace has no semantic_p; the environment needs the scores")
    splits = frame["split"].to_numpy().astype(str)
    train_mask = splits == "train"
    mask = splits == split
    if not mask.any():
        present = sorted(set(splits.tolist()))
        raise EdgeRouteError(
            f"config['split'] = {split!r} has no rows in this trace; splits present: {present}"
        )
    if not train_mask.any():
        raise EdgeRouteError(
            "the trace has no 'train' rows: predicted output lengths and the embedding "
            "reduction are fitted on train"
        )
    sub = frame.loc[mask]
    if multi_turn:
        # Keep each dialogue's turns together, in turn order (stable within a dialogue).
        order = np.lexsort((sub["turn_index"].to_numpy(), pd_codes(sub["dialogue_id"])))
        sub = sub.iloc[order]
        row_pos = np.flatnonzero(mask)[order]
    else:
        row_pos = np.flatnonzero(mask)
    n = len(sub)
    if embedding_mode != "none" and trace.embeddings is None:
        raise EdgeRouteError(
            f"config['observation']['embedding'] = {embedding_mode!r} but the trace has no "
            "embeddings; use 'none'"
        )
    emb_all = (
        reduce_embeddings(trace.embeddings, train_mask, embedding_mode, pca_dim)
        if embedding_mode != "none"
        else np.zeros((len(frame), 0), dtype=np.float32)
    )
    emb = emb_all[row_pos]
    pred, pred_source = predicted_lengths(frame, row_pos, train_mask, output_length)
    prompt = sub["prompt_tokens"].to_numpy(np.int64)
    if n and prompt.min() < 1:
        raise EdgeRouteError("trace rows need prompt_tokens >= 1")
    turn = sub["turn_index"].to_numpy(np.int64)
    sp = np.clip(np.asarray(trace.semantic_p, dtype=np.float64)[row_pos], 0.0, 1.0)
    layout = ObservationLayout(emb.shape[1], world=world_slots)
    static = layout.static(emb, sp, prompt, pred, turn)
    dialogue = sub["dialogue_id"].to_numpy().astype(str)
    if multi_turn:
        starts = np.flatnonzero(np.r_[True, dialogue[1:] != dialogue[:-1]])
    else:
        starts = np.arange(n)
    prepared = PreparedSplit(
        n_rows=n,
        prompt_tokens=prompt.tolist(),
        output_tokens=(
            _column(sub, "output_tokens_small", int),
            _column(sub, "output_tokens_large", int),
        ),
        quality=(_column(sub, "quality_small", float), _column(sub, "quality_large", float)),
        semantic_p=sp.tolist(),
        turn_index=turn.tolist(),
        row_meta=[
            RowMeta(b, d, t)
            for b, d, t in zip(
                sub["benchmark"].astype(str).tolist(), dialogue.tolist(), turn.tolist(),
                strict=True,
            )
        ],
        dialogue_starts=np.r_[starts, n].astype(np.int64),
        predicted_output_tokens=pred,
        layout=layout,
        output_length=pred_source,
        static_obs=static,
        benchmark=str(trace.meta.get("benchmark", sub["benchmark"].iloc[0])),
        quality_source=str(trace.meta.get("quality_source", sub["quality_source"].iloc[0])),
    )
    if len(_PREP_MEMO) > 16:
        _PREP_MEMO.clear()
    _PREP_MEMO[key] = (trace, prepared)
    return prepared


def pd_codes(series) -> np.ndarray:
    """Integer codes of a string column in order of first appearance."""
    _, first, inverse = np.unique(series.to_numpy().astype(str), True, True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse]
