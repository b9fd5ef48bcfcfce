"""MT-Bench (80 questions x 2 turns) with measured GPT-4 judge scores (1-10, quality = /10).

Text: RouteLLM ``mt_bench/question.jsonl`` (the FastChat MT-Bench questions); turn t's text is
the t-th user message. Small model: vicuna-7b-v1.3, judged by GPT-4 (single-answer grading)
in Medusa's ``model_judgment/gpt-4_single.jsonl``. Large model: RouteLLM ``judgements.jsonl``
(same judge and prompts) for gpt-4-1106-preview (turn means 9.41 / 9.05) and
Mixtral-8x7B-Instruct-v0.1 (8.69 / 7.99).

Output lengths: vicuna-7b: the real generated-token counts (``new_tokens``, Llama tokenizer)
of Medusa's greedy vicuna-7b-v1.3 run (``medusa-vicuna-7b-v1.3-temperature-0.0-...jsonl``);
large models: their real answer texts, which the RouteLLM judge prompts quote, counted with
the project tokenizer. History of turn 2 = turn-1 user message + the small model's turn-1
answer.

Pairs: vicuna-7b-v1.3 -> gpt-4-1106-preview (default) or -> Mixtral, and RouteLLM's own pair
``mixtral__gpt4_1106`` (Mixtral -> GPT-4, both from ``judgements.jsonl``; Mixtral's output
lengths from its quoted answers), the pair RouteLLM's published MT-Bench figures use.
Every frame carries the judge scores / 10 of all five judged models (``quality__<model>``:
three vicuna-7b-v1.3 runs in Medusa's file, Mixtral, GPT-4) for the matrix-factorisation scorer.
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

_QUESTIONS = "lm-sys__RouteLLM/routellm/evals/mt_bench/question.jsonl"
_JUDGEMENTS = "lm-sys__RouteLLM/routellm/evals/mt_bench/judgements.jsonl"
_MEDUSA_JUDGE = "FasterDecoding__Medusa/llm_judge/data/mt_bench/model_judgment/gpt-4_single.jsonl"
_MEDUSA_ANSWERS = (
    "FasterDecoding__Medusa/llm_judge/data/mt_bench/model_answer/"
    "medusa-vicuna-7b-v1.3-temperature-0.0-posterior_threshold-0.09-posterior_alpha-0.3.jsonl"
)
VICUNA = "vicuna-7b-v1.3"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"
N_QUESTIONS = 80

PAIRS: dict[str, PairPreset] = {
    "vicuna_7b__gpt4_1106": PairPreset(
        "vicuna_7b__gpt4_1106",
        VICUNA,
        GPT4,
        "measured",
        DEPLOYMENT,
        "GPT-4 judge: Medusa gpt-4_single.jsonl (vicuna) and RouteLLM judgements.jsonl",
    ),
    "mixtral__gpt4_1106": PairPreset(
        "mixtral__gpt4_1106",
        MIXTRAL,
        GPT4,
        "measured",
        DEPLOYMENT,
        "GPT-4 judge: RouteLLM judgements.jsonl (RouteLLM's own MT-Bench pair)",
    ),
    "vicuna_7b__mixtral": PairPreset(
        "vicuna_7b__mixtral",
        VICUNA,
        MIXTRAL,
        "measured",
        DEPLOYMENT,
        "GPT-4 judge: Medusa gpt-4_single.jsonl (vicuna) and RouteLLM judgements.jsonl",
    ),
}
DEFAULT_PAIR = "vicuna_7b__gpt4_1106"


def files(manifest: dict) -> list[str]:
    return [_QUESTIONS, _JUDGEMENTS, _MEDUSA_JUDGE, _MEDUSA_ANSWERS]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def answer_from_judge_prompt(prompt: str, turn: int) -> str:
    """The judged answer quoted in a FastChat single-grading judge prompt."""
    if turn == 1:
        start, end = "[The Start of Assistant's Answer]", "[The End of Assistant's Answer]"
        if start in prompt and end in prompt:
            return prompt.split(start, 1)[1].split(end, 1)[0].strip()
    start = "<|The Start of Assistant A's Conversation with User|>"
    end = "<|The End of Assistant A's Conversation with User|>"
    if start in prompt and end in prompt:
        convo = prompt.split(start, 1)[1].split(end, 1)[0]
        return convo.split("### Assistant A:", turn)[-1].strip()
    raise EdgeRouteError(f"cannot find the judged answer of turn {turn} in a judge prompt")


def build(
    get: Callable[[str], Path], manifest: dict, count, tokens_source: str, seed: int = DEFAULT_SEED
) -> dict[str, tuple[pd.DataFrame, dict]]:
    questions = _jsonl(get(_QUESTIONS))
    scores: dict[tuple[str, int, int], float] = {}
    answers: dict[tuple[str, int, int], str] = {}
    for r in _jsonl(get(_JUDGEMENTS)):
        key = (r["model"], int(r["question_id"]), int(r["turn"]))
        scores[key] = float(r["score"])
        answers[key] = answer_from_judge_prompt(r["user_prompt"], int(r["turn"]))
    medusa_models = set()
    for r in _jsonl(get(_MEDUSA_JUDGE)):
        # vicuna-7b-v1.3 and two runs of the same weights (greedy, Medusa decoding): every
        # judged model joins the outcome columns; vicuna-7b-v1.3 is the pairs' small model.
        scores[(r["model"], int(r["question_id"]), int(r["turn"]))] = float(r["score"])
        medusa_models.add(r["model"])
    new_tokens = {}
    for r in _jsonl(get(_MEDUSA_ANSWERS)):
        for t, k in enumerate(r["choices"][0]["new_tokens"], start=1):
            new_tokens[(int(r["question_id"]), t)] = int(k)
    rows = []
    for q in questions:
        qid = int(q["question_id"])
        for t, text in enumerate(q["turns"], start=1):
            rows.append((qid, t, q["category"], text))
    for model in (VICUNA, MIXTRAL, GPT4):
        absent = [(qid, t) for qid, t, _, _ in rows if (model, qid, t) not in scores]
        if absent:
            raise EdgeRouteError(f"MT-Bench judge scores of {model} are missing for {absent[:3]}")
        bad = [s for (m, _, _), s in scores.items() if m == model and not 1 <= s <= 10]
        if bad:
            raise EdgeRouteError(f"MT-Bench judge scores of {model} outside 1-10: {bad[:3]}")
    n = len(rows)
    dialogue_ids = [f"mt_bench/{qid}" for qid, _, _, _ in rows]
    ids = [f"mt_bench/{qid}/t{t - 1}" for qid, t, _, _ in rows]
    texts = [text for _, _, _, text in rows]
    prompt_tokens = count(texts)
    small_out = np.array([new_tokens[(qid, t)] for qid, t, _, _ in rows], dtype=np.int64)
    judged = [VICUNA, *sorted(medusa_models - {VICUNA}), MIXTRAL, GPT4]
    outcomes = outcome_columns(
        {m: [scores[(m, qid, t)] / 10 for qid, t, _, _ in rows] for m in judged}
    )
    answer_tokens = {
        m: count([answers[(m, qid, t)] for qid, t, _, _ in rows]) for m in (MIXTRAL, GPT4)
    }
    answer_tokens[VICUNA] = small_out
    out = {}
    for name, pair in PAIRS.items():
        small_tokens = np.asarray(answer_tokens[pair.small], dtype=np.int64)
        large_out = answer_tokens[pair.large]
        # History of turn 2 = turn-1 user message + the small model's turn-1 answer.
        history = np.zeros(n, dtype=np.int64)
        for i, (_, t, _, _) in enumerate(rows):
            if t == 2:
                history[i] = prompt_tokens[i - 1] + small_tokens[i - 1]
        frame = assemble(
            {
                "id": ids,
                "benchmark": "mt_bench",
                "subject": [c for _, _, c, _ in rows],
                "split": [split_of(d, seed) for d in dialogue_ids],
                "dialogue_id": dialogue_ids,
                "turn_index": [t - 1 for _, t, _, _ in rows],
                "text": texts,
                "prompt_tokens": prompt_tokens,
                "history_tokens": history,
                "output_tokens_small": small_tokens,
                "output_tokens_large": large_out,
                "quality_small": [scores[(pair.small, qid, t)] / 10 for qid, t, _, _ in rows],
                "quality_large": [scores[(pair.large, qid, t)] / 10 for qid, t, _, _ in rows],
                **outcomes,
                "quality_source": "measured",
                "tokens_source": (
                    f"prompt/history: {tokens_source}; output small: "
                    + (
                        "real new_tokens (Llama tokenizer) of Medusa's greedy vicuna-7b-v1.3 run"
                        if pair.small == VICUNA
                        else "its real answer text (quoted in the judge prompt)"
                    )
                    + "; output large: its real answer text (quoted in the judge prompt) "
                    "counted with the same tokenizer"
                ),
            },
            n,
        )
        meta = pair_meta(
            "mt_bench", pair, DEFAULT_PAIR, True, "real (Medusa new_tokens; answer texts)",
            quality_note=pair.source + "; quality = GPT-4 judge score / 10",
        )  # fmt: skip
        out[name] = (frame, meta)
    return out
