"""The ``mt_eval`` trace: MT-Eval's 168 long dialogues (1,368 user turns) with MODELLED quality.

Rows: every user turn of the four tasks assembled by :mod:`envs.traces.mt_eval_recipe` (an exact
port of MT-Eval's ``create_data.py``): Refinement 40 x 12, Expansion 10 x 7, Follow-up 80 x 5,
Recollection 38 x 11 (MT-Eval scores 1,170 of them; the instruction turns and Follow-up's first
two turns are part of the dialogues but unscored). Text: the real user turn. History: the
earlier user turns and MT-Eval's human-checked GPT-4 answers (the benchmark's gold history).

Tokens: counted with Mistral-7B's SentencePiece tokenizer (:mod:`envs.traces.llm_tokenizer`,
shipped by ``mistral-common``), an LLM tokenizer, because these dialogues exist to load KV
caches. Output length of both models: the gold answer of the turn (no per-model answers are
public). Global-instruction queries have no published answer (``sys`` is empty): their answer
length is MODELLED as a seeded lognormal whose mean is GPT-4's published mean answer length on
the global-instruction queries, derived from MT-Eval's README statistics (Recollection: 72.07
words per response over 380 scored turns, :data:`RECOLLECTION_WORDS_PER_RESPONSE`; the 100
classification answers are one-word labels, so the 280 global-instruction answers average the
rest), converted to tokens with the tokens-per-word ratio of the gold answers we do have, with
the coefficient of variation of those answers, capped at the README's maximum (289 words).

Quality: MODELLED (:mod:`envs.traces.mt_eval_quality`), calibrated to MT-Eval's published per-task
scores of a same-family pair; every output says "modelled quality".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from envs.traces import llm_tokenizer, mt_eval_quality
from envs.traces.common import DEFAULT_SEED, PairPreset, assemble, split_of
from envs.traces.mt_eval_recipe import FILES, LICENSE_FILE
from envs.traces.mt_eval_recipe import assemble as assemble_dialogues

#: Default latency deployment of the trace (``cost_models.router_cost`` preset).
DEPLOYMENT = "jetson_7b__edge_14b"
_NOTE = "MODELLED quality: MT-Eval per-task scores (Kwan et al. 2024) with a per-turn law"
PAIRS: dict[str, PairPreset] = {
    "qwen_7b__qwen_14b": PairPreset(
        "qwen_7b__qwen_14b", "Qwen-chat-7B", "Qwen-chat-14B", "modelled", DEPLOYMENT, _NOTE
    ),
    "llama2_7b__llama2_13b": PairPreset(
        "llama2_7b__llama2_13b",
        "Llama-2-chat-7B",
        "Llama-2-chat-13B",
        "modelled",
        DEPLOYMENT,
        _NOTE,
    ),
    "mistral_7b__mixtral": PairPreset(
        "mistral_7b__mixtral",
        "Mistral-Instruct-7B",
        "Mixtral-Instruct-8x7B",
        "modelled",
        DEPLOYMENT,
        _NOTE,
    ),
}
DEFAULT_PAIR = "qwen_7b__qwen_14b"
#: MT-Eval README "Benchmark Statistics" (estimated from GPT-4 responses): Recollection has
#: 380 scored turns averaging 72.07 words per response, at most 289.
RECOLLECTION_WORDS_PER_RESPONSE = 72.07
RECOLLECTION_SCORED_TURNS = 380
RECOLLECTION_MAX_WORDS = 289


def files(manifest: dict) -> list[str]:
    return [*FILES.values(), LICENSE_FILE]


def fingerprint_extra() -> bytes:
    """What else the built trace depends on: the shipped published tables and the tokenizer."""
    return (
        mt_eval_quality.SCORES_CSV.read_bytes()
        + mt_eval_quality.FACTS_CSV.read_bytes()
        + llm_tokenizer.SHA256.encode()
    )


def _words(text: str) -> int:
    return len(text.split())


def _modelled_answer_tokens(
    sys_texts: list[str], sys_tokens: np.ndarray, missing: np.ndarray, cls_words: int, rng
) -> np.ndarray:
    """Token counts for the answers MT-Eval does not publish (module docstring)."""
    have = ~missing & (sys_tokens > 3)  # real GPT-4 answers (not "OK" / one-word labels)
    words = np.array([_words(t) for t in sys_texts])
    per_word = sys_tokens[have].sum() / max(words[have].sum(), 1)
    cv = sys_tokens[have].std() / sys_tokens[have].mean()
    n_missing = int(missing.sum())
    mean_words = (
        RECOLLECTION_WORDS_PER_RESPONSE * RECOLLECTION_SCORED_TURNS - cls_words
    ) / n_missing
    sigma = np.sqrt(np.log1p(cv * cv))
    mu = np.log(mean_words * per_word) - sigma * sigma / 2
    draws = rng.lognormal(mu, sigma, n_missing)
    cap = RECOLLECTION_MAX_WORDS * per_word
    return np.maximum(1, np.round(np.minimum(draws, cap))).astype(np.int64)


def build(
    get: Callable[[str], Path],
    manifest: dict,
    count,
    tokens_source: str,
    seed: int = DEFAULT_SEED,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """The frames and metas of the three pairs (``count``/``tokens_source``: unused; this trace
    counts with the LLM tokenizer, see the module docstring)."""
    dialogues = assemble_dialogues({k: Path(get(v)) for k, v in FILES.items()})
    rows = [(di, d, t, turn) for di, d in enumerate(dialogues) for t, turn in enumerate(d.turns)]
    n = len(rows)
    users = llm_tokenizer.count_tokens([r[3].user for r in rows])
    sys_texts = [r[3].sys for r in rows]
    answers = llm_tokenizer.count_tokens(sys_texts)
    missing = np.array([r[1].subtask.startswith("global:") and r[3].scored for r in rows])
    cls_words = sum(_words(r[3].sys) for r in rows if r[1].subtask == "cls" and r[3].scored)
    rng = np.random.default_rng(seed)
    answers[missing] = _modelled_answer_tokens(sys_texts, answers, missing, cls_words, rng)
    history = np.zeros(n, dtype=np.int64)
    distance = np.zeros(n, dtype=np.int64)
    anchor_end = 0
    for i, (_, _, t, turn) in enumerate(rows):
        if t > 0:
            history[i] = history[i - 1] + users[i - 1] + answers[i - 1]
        if t == 0:
            anchor_end = users[i]  # the content is turn 0's user message; its answer counts
        elif turn.anchor is not None:
            distance[i] = history[i] - anchor_end
    features = mt_eval_quality.TurnFeatures(
        task=np.array([r[1].task for r in rows]),
        dialogue=np.array([r[0] for r in rows]),
        scored=np.array([r[3].scored for r in rows]),
        tie=np.array([r[1].task == "recollection" and r[2] == 0 for r in rows]),
        phi=mt_eval_quality.distance_feature(distance),
        late=np.array([r[1].task == "refinement" and r[2] >= 6 for r in rows]),
    )
    dialogue_ids = [f"mt_eval/{r[1].task}-{r[1].dialogue_id}" for r in rows]
    token_note = (
        f"{llm_tokenizer.NAME}; output of both models: the gold (GPT-4) answer of the turn; "
        "global-instruction answers: modelled length"
    )
    out = {}
    for k, (name, pair) in enumerate(PAIRS.items()):
        s_small, s_large, params = mt_eval_quality.model_quality(
            features, pair.small, pair.large, seed + k
        )
        frame = assemble(
            {
                "id": [f"{d}/t{r[2]}" for d, r in zip(dialogue_ids, rows, strict=True)],
                "benchmark": "mt_eval",
                "subject": features.task,
                "split": [split_of(d, seed) for d in dialogue_ids],
                "dialogue_id": dialogue_ids,
                "turn_index": [r[2] for r in rows],
                "text": [r[3].user for r in rows],
                "prompt_tokens": users,
                "history_tokens": history,
                "output_tokens_small": answers,
                "output_tokens_large": answers,
                "quality_small": s_small / 10,
                "quality_large": s_large / 10,
                "quality_source": "modelled",
                "tokens_source": np.where(missing, token_note, llm_tokenizer.NAME + "; " +
                                          "output of both models: the gold (GPT-4) answer"),
            },
            n,
        )  # fmt: skip
        table = mt_eval_quality.published_scores()
        meta = {
            "benchmark": "mt_eval",
            "pair": name,
            "small": pair.small,
            "large": pair.large,
            "quality_source": "modelled",
            "quality_note": (
                f"{_NOTE}; difficulty sd {mt_eval_quality.DIFFICULTY_SD}, judge noise sd "
                f"{mt_eval_quality.NOISE_SD}, distance scale "
                f"{mt_eval_quality.DISTANCE_SCALE_TOKENS:.0f} tokens, seed {seed + k}; "
                "quality = modelled score / 10"
            ),
            "citation": mt_eval_quality.CITATION,
            "published_scores": {"small": table[pair.small], "large": table[pair.large]},
            "fit": params,
            "author_kappa": mt_eval_quality.kappa(),
            "scored_turns": features.scored.tolist(),
            "multi_turn": True,
            "deployment": pair.deployment,
            "default_pair": name == DEFAULT_PAIR,
            "tokenizer": llm_tokenizer.NAME,
            "output_tokens_source": "gold (GPT-4) answers, same for both models",
        }  # fmt: skip
        out[name] = (frame, meta)
    return out
