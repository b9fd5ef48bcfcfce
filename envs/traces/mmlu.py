"""MMLU test (14,042 questions in 57 subjects) with measured per-item correctness.

Text: the RouteLLM ``mmlu_<subject>.csv`` column ``prompt`` (question, choices A-D,
``Answer:``), the 57 files concatenated in sorted file-name order. Row i of that concatenation
is index i of every EvalTree ``results.json`` (verified on all 14,042 question prefixes, see
the shared data README).

Label pairs (0/1 correctness, measured):
- ``llama31_8b__gpt4o_mini`` (default): EvalTree Llama-3.1-8B-Instruct (acc 0.689) ->
  gpt-4o-mini-2024-07-18 (0.809).
- every frame also carries the outcomes of all five models (``quality__<model>`` columns,
  EvalTree's Llama-3.1-Tulu-3-8B (acc 0.631) included) for the matrix-factorisation scorer.
- ``mixtral__gpt4_1106``: RouteLLM Mixtral-8x7B-Instruct-v0.1 -> gpt-4-1106-preview. Known
  defect: RouteLLM's GPT-4 answer extraction fails on some math subjects (e.g.
  high_school_mathematics ~0.03); :func:`subject_accuracy` keeps it visible.

Output lengths: no answer texts are public, so they are MODELLED (``tokens_source`` says so):
an MMLU answer is the letter plus a short explanation; we draw, per model and item from a
seeded generator, ``4 + round(LogNormal(log 40, 0.6))`` word pieces (median ~44). This is our
assumption, not a measurement.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from envs.traces.common import (
    DEFAULT_SEED,
    PairPreset,
    assemble,
    outcome_columns,
    pair_meta,
    split_of,
)

_ROUTELLM = "lm-sys__RouteLLM/routellm/evals/mmlu/responses/"
_EVALTREE = "Zhiyuan-Zeng__EvalTree/Datasets/MMLU/eval_results/real/{}/results.json"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"
LLAMA = "Llama-3.1-8B-Instruct"
TULU = "Llama-3.1-Tulu-3-8B"
GPT4O_MINI = "gpt-4o-mini-2024-07-18"
#: Every model with per-item outcomes on these 14,042 rows (for the matrix-factorisation
#: scorer): EvalTree's three and RouteLLM's two.
OUTCOME_MODELS = (LLAMA, TULU, GPT4O_MINI, MIXTRAL, GPT4)
N_ITEMS = 14042

#: Output-length model for MMLU answers (letter + short explanation), in word pieces.
ANSWER_HEAD_TOKENS = 4
EXPLANATION_MEDIAN_TOKENS = 40.0
EXPLANATION_LOG_SIGMA = 0.6

DEPLOYMENT = "phone_3b__edge_70b"
_DEPLOYMENT_WHY = (
    "phone_3b__edge_70b: the paper's setting (a small model on a phone, a large one on the edge). "
    "The label models (e.g. Llama-3.1-8B-Instruct) are larger than this 3B latency profile; "
    "with the 8B laptop profile (laptop_8b__edge_70b) the H100 edge is faster at every edge "
    "load on the urban channel (edgeroute costs), so routing would have no latency trade-off"
)


PAIRS: dict[str, PairPreset] = {
    "llama31_8b__gpt4o_mini": PairPreset(
        "llama31_8b__gpt4o_mini",
        LLAMA,
        GPT4O_MINI,
        "measured",
        DEPLOYMENT,
        "EvalTree (Zeng et al. 2025) results.json, MIT",
    ),
    "mixtral__gpt4_1106": PairPreset(
        "mixtral__gpt4_1106",
        MIXTRAL,
        GPT4,
        "measured",
        DEPLOYMENT,
        "RouteLLM (Ong et al. 2024) mmlu responses, Apache-2.0; GPT-4 math extraction defect",
    ),
}
DEFAULT_PAIR = "llama31_8b__gpt4o_mini"


def files(manifest: dict) -> list[str]:
    """The manifest files this builder reads."""
    subj = sorted(f for f in manifest if f.startswith(_ROUTELLM) and f.endswith(".csv"))
    return subj + [_EVALTREE.format(m) for m in (LLAMA, TULU, GPT4O_MINI)]


def _load(get: Callable[[str], Path], manifest: dict) -> pd.DataFrame:
    parts = []
    for f in sorted(f for f in manifest if f.startswith(_ROUTELLM) and f.endswith(".csv")):
        d = pd.read_csv(get(f))
        d["subject"] = Path(f).stem.removeprefix("mmlu_")
        parts.append(d)
    d = pd.concat(parts, ignore_index=True)
    for model in (LLAMA, TULU, GPT4O_MINI):
        d[model] = np.asarray(json.loads(Path(get(_EVALTREE.format(model))).read_text()), float)
    for model in (MIXTRAL, GPT4):
        d[model] = d[model].astype(str).str.lower().eq("true").astype(float)
    return d


def subject_accuracy(get: Callable[[str], Path], manifest: dict) -> pd.DataFrame:
    """Per-subject accuracy of all five label models (keeps RouteLLM's GPT-4 defect visible)."""
    d = _load(get, manifest)
    table = d.groupby("subject")[[LLAMA, TULU, GPT4O_MINI, MIXTRAL, GPT4]].mean()
    table.insert(0, "items", d.groupby("subject").size())
    return table.round(3)


def build(
    get: Callable[[str], Path], manifest: dict, count, tokens_source: str, seed: int = DEFAULT_SEED
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """One frame per pair preset."""
    d = _load(get, manifest)
    n = len(d)
    ids = [f"mmlu/{i:05d}" for i in range(n)]
    prompt_tokens = count(d["prompt"].tolist())
    rng = np.random.default_rng(seed)
    out = {}
    for name, pair in PAIRS.items():
        lens = {}
        for side in ("small", "large"):
            draw = rng.lognormal(np.log(EXPLANATION_MEDIAN_TOKENS), EXPLANATION_LOG_SIGMA, n)
            lens[side] = ANSWER_HEAD_TOKENS + np.round(draw).astype(np.int64)
        frame = assemble(
            {
                "id": ids,
                "benchmark": "mmlu",
                "subject": d["subject"],
                "split": [split_of(i, seed) for i in ids],
                "dialogue_id": ids,
                "turn_index": 0,
                "text": d["prompt"],
                "prompt_tokens": prompt_tokens,
                "history_tokens": 0,
                "output_tokens_small": lens["small"],
                "output_tokens_large": lens["large"],
                "quality_small": d[pair.small],
                "quality_large": d[pair.large],
                "quality_source": "measured",
                **outcome_columns({m: d[m] for m in OUTCOME_MODELS}),
                "tokens_source": (
                    f"prompt: {tokens_source}; output: MODELLED (no public answer texts) as "
                    f"{ANSWER_HEAD_TOKENS} + round(LogNormal(log {EXPLANATION_MEDIAN_TOKENS:g}, "
                    f"{EXPLANATION_LOG_SIGMA})) word pieces, seed {seed}"
                ),
            },
            n,
        )
        meta = pair_meta(
            "mmlu", pair, DEFAULT_PAIR, False, "modelled", deployment_note=_DEPLOYMENT_WHY
        )
        out[name] = (frame, meta)
    return out
