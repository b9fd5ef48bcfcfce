"""GSM8K test (1,319 grade-school math problems) with measured per-item correctness.

Text: openai ``grade_school_math/data/test.jsonl`` ``question``. The openai
``example_model_solutions.jsonl`` and RouteLLM ``gsm8k_responses.csv`` are in the same order
(verified on all 1,319, shared data README; :func:`build` re-checks the question texts).

Label pairs (0/1 ``is_correct``, measured):
- ``gpt3_6b__175b_finetuned`` (default): GPT-3 6B fine-tuned (acc 0.217) -> GPT-3 175B
  fine-tuned (0.347), one sampled solution each (Cobbe et al. 2021, "Training Verifiers to
  Solve Math Word Problems", ``6b_finetuning`` / ``175b_finetuning``): what one decode gives,
  so the latency model (one decode per query) times what the labels measure.
- ``gpt3_6b__175b_verifier`` (flagged, not the default): the same models' verifier outputs
  (0.390 -> 0.563): the best of 100 sampled solutions ranked by a trained verifier (Cobbe
  et al. 2021), about 100x the generation compute of the one decode the latency model
  times. Kept as a named preset because it is the stronger pair; its meta says why it is not
  the default.
- ``mixtral__gpt4_1106``: RouteLLM Mixtral-8x7B-Instruct-v0.1 (0.638) -> gpt-4-1106-preview
  (0.857).

Every frame carries all six models' outcomes (``quality__<model>`` columns) for the
matrix-factorisation scorer.

Output lengths: the real solution / response texts of each model, counted with the tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.common import (
    DEFAULT_SEED,
    PairPreset,
    assemble,
    outcome_columns,
    pair_meta,
    split_of,
)
from envs.traces.mmlu import DEPLOYMENT

_TEST = "openai__grade-school-math/grade_school_math/data/test.jsonl"
_SOLUTIONS = "openai__grade-school-math/grade_school_math/data/example_model_solutions.jsonl"
_ROUTELLM = "lm-sys__RouteLLM/routellm/evals/gsm8k/gsm8k_responses.csv"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"
N_ITEMS = 1319

FT_6B = "GPT-3 6B (fine-tuned)"
FT_175B = "GPT-3 175B (fine-tuned)"
VER_6B = "GPT-3 6B (fine-tuned, verifier)"
VER_175B = "GPT-3 175B (fine-tuned, verifier)"
#: Model name -> key of its record in ``example_model_solutions.jsonl``.
OPENAI_RUNS = {
    FT_6B: "6b_finetuning",
    FT_175B: "175b_finetuning",
    VER_6B: "6b_verification",
    VER_175B: "175b_verification",
}
_OPENAI = "openai grade-school-math example_model_solutions.jsonl (Cobbe et al. 2021), MIT"
#: Why the verifier pair is not the default (written into its meta).
VERIFIER_FLAG = (
    "best of 100 sampled solutions ranked by a trained verifier (Cobbe et al. 2021): about "
    "100x the generation compute of the single decode the latency model times"
)

PAIRS: dict[str, PairPreset] = {
    "gpt3_6b__175b_finetuned": PairPreset(
        "gpt3_6b__175b_finetuned", FT_6B, FT_175B, "measured", DEPLOYMENT, _OPENAI
    ),
    "gpt3_6b__175b_verifier": PairPreset(
        "gpt3_6b__175b_verifier", VER_6B, VER_175B, "measured", DEPLOYMENT, _OPENAI
    ),
    "mixtral__gpt4_1106": PairPreset(
        "mixtral__gpt4_1106",
        MIXTRAL,
        GPT4,
        "measured",
        DEPLOYMENT,
        "RouteLLM (Ong et al. 2024) gsm8k_responses.csv, Apache-2.0",
    ),
}
DEFAULT_PAIR = "gpt3_6b__175b_finetuned"


def files(manifest: dict) -> list[str]:
    return [_TEST, _SOLUTIONS, _ROUTELLM]


def build(
    get: Callable[[str], Path], manifest: dict, count, tokens_source: str, seed: int = DEFAULT_SEED
) -> dict[str, tuple[pd.DataFrame, dict]]:
    test = [json.loads(x) for x in Path(get(_TEST)).read_text().splitlines() if x.strip()]
    sols = [json.loads(x) for x in Path(get(_SOLUTIONS)).read_text().splitlines() if x.strip()]
    resp = pd.read_csv(get(_ROUTELLM))
    questions = [t["question"] for t in test]
    if [s["question"] for s in sols] != questions:
        raise EdgeRouteError(f"{_SOLUTIONS} is not row-aligned with {_TEST}")
    if resp["prompt"].astype(str).str.strip().tolist() != [q.strip() for q in questions]:
        raise EdgeRouteError(f"{_ROUTELLM} is not row-aligned with {_TEST}")
    n = len(questions)
    ids = [f"gsm8k/{i:04d}" for i in range(n)]
    prompt_tokens = count(questions)
    sources = {
        model: (
            [float(s[key]["is_correct"]) for s in sols],
            [s[key]["solution"] for s in sols],
        )
        for model, key in OPENAI_RUNS.items()
    }
    for model in (MIXTRAL, GPT4):
        sources[model] = (
            resp[model].astype(str).str.lower().eq("true").astype(float).tolist(),
            resp[f"{model}_response"].fillna("").astype(str).tolist(),
        )
    out = {}
    for name, pair in PAIRS.items():
        frame = assemble(
            {
                "id": ids,
                "benchmark": "gsm8k",
                "subject": "math_word_problem",
                "split": [split_of(i, seed) for i in ids],
                "dialogue_id": ids,
                "turn_index": 0,
                "text": questions,
                "prompt_tokens": prompt_tokens,
                "history_tokens": 0,
                "output_tokens_small": count(sources[pair.small][1]),
                "output_tokens_large": count(sources[pair.large][1]),
                "quality_small": np.asarray(sources[pair.small][0]),
                "quality_large": np.asarray(sources[pair.large][0]),
                **outcome_columns({m: q for m, (q, _) in sources.items()}),
                "quality_source": "measured",
                "tokens_source": f"{tokens_source}; output: each model's real solution text",
            },
            n,
        )
        meta = pair_meta("gsm8k", pair, DEFAULT_PAIR, False, "counted from real answer texts")
        if name == "gpt3_6b__175b_verifier":
            meta["flag"] = VERIFIER_FLAG
        out[name] = (frame, meta)
    return out
