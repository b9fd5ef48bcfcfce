"""The ``long_sessions`` trace: long chat sessions in the shape of vLLM's multi-turn benchmark.

Shape (vLLM ``benchmarks/multi_turn/generate_multi_turn.json`` and ``bench_dataset.py``,
Apache-2.0, at 07b13497): ``num_turns`` uniform 12-18 *messages* (vLLM counts user and assistant
messages and rounds up to an even number, so 6-9 user turns), a 500-token prefix common to all
conversations, a per-conversation prefix (our "document") drawn lognormal with average 1000
tokens and median/average 0.85 (vLLM's default ``median_ratio``), rescaled so the sample
average is exactly the target (as vLLM does) and capped at 5x the average (vLLM's 1000 / 5000),
user turns of 120-160 tokens and answers of 80-120 tokens (uniform). The common prefix and the
document arrive with the first user turn (its ``prompt_tokens``); we do not model a prefix cache
shared across users (each session's KV starts empty).

Real texts. Each user turn is a real MMLU question (RouteLLM's ``prompt``: question, choices,
``Answer:``) whose Mistral-7B token count (:mod:`envs.traces.llm_tokenizer`) lies in 120-160, so
the embeddings and the semantic score are real; a session of split s draws only questions of
MMLU split s (no test question is seen in training), without replacement within a session.

One knob, ``document_tokens_mean`` (:func:`with_document_tokens`), scales every document by the
same factor (the lognormal draws are fixed by the seed, only the average changes), so history
can be swept from ~0 to 16k tokens with common random numbers across the sweep.

Quality is MODELLED. At no history a turn's outcome is the MEASURED MMLU correctness of the
pair's models on that question (EvalTree: Llama-3.1-8B-Instruct -> gpt-4o-mini, 0/1). With
history the answer may be lost to the long context (MT-Eval shows that context between the
relevant content and the query lowers scores, Kwan et al. 2024): a correct answer survives with
probability ``exp(-r_m phi(H))``, ``phi(H) = log(1 + H / 1000)`` of the history ``H`` in tokens
(:func:`envs.traces.mt_eval_quality.distance_feature`), with one uniform per turn shared by both
models; ``r_m = b_m / c_m`` is the relative Refinement slope fitted on MT-Eval for the small and
the large model of its default pair (Qwen-chat-7B / 14B). This extrapolates MT-Eval's <= 3k
tokens of history to 16k and transfers a Qwen pair's sensitivity to the Llama / GPT labels: an
assumption, said in every output ("modelled quality").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError, require
from envs.traces import llm_tokenizer, mmlu, mt_eval, mt_eval_quality
from envs.traces.common import DEFAULT_SEED, PairPreset, assemble, split_of
from envs.traces.schema import SPLITS, Trace

#: vLLM generate_multi_turn.json (see module docstring).
MESSAGES_MIN, MESSAGES_MAX = 12, 18
COMMON_PREFIX_TOKENS = 500
DOCUMENT_TOKENS_MEAN = 1000.0
DOCUMENT_MEDIAN_RATIO = 0.85
DOCUMENT_CAP_FACTOR = 5.0
USER_TOKENS_MIN, USER_TOKENS_MAX = 120, 160
ANSWER_TOKENS_MIN, ANSWER_TOKENS_MAX = 80, 120
#: Sessions generated (our choice: ~60 test sessions of 6-9 turns).
N_SESSIONS = 400
DEPLOYMENT = "phone_3b__edge_70b"
PAIRS: dict[str, PairPreset] = {
    "llama31_8b__gpt4o_mini": PairPreset(
        "llama31_8b__gpt4o_mini",
        mmlu.LLAMA,
        mmlu.GPT4O_MINI,
        "modelled",
        DEPLOYMENT,
        "MODELLED quality: measured MMLU correctness (EvalTree) at no history, long-context "
        "loss calibrated on MT-Eval Refinement",
    ),
}
DEFAULT_PAIR = "llama31_8b__gpt4o_mini"
SLOPE_SOURCE_PAIR = mt_eval.DEFAULT_PAIR


def files(manifest: dict) -> list[str]:
    return sorted(set(mmlu.files(manifest)) | set(mt_eval.files(manifest)))


def fingerprint_extra() -> bytes:
    return mt_eval.fingerprint_extra()


def relative_slopes(get: Callable[[str], Path]) -> dict[str, float]:
    """``{"small", "large"}``: ``b / c`` of MT-Eval Refinement for the default MT-Eval pair."""
    frame, meta = mt_eval.build(get, {}, None, "", DEFAULT_SEED)[SLOPE_SOURCE_PAIR]
    fit = meta["fit"]
    return {side: fit[meta[side]]["refinement"]["b"] / fit[meta[side]]["refinement"]["c"]
            for side in ("small", "large")}  # fmt: skip


def document_weights(n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-session document lengths in units of the average (mean 1 before the cap)."""
    sigma = math.sqrt(2.0 * math.log(1.0 / DOCUMENT_MEDIAN_RATIO))
    raw = rng.lognormal(0.0, sigma, n)
    return np.minimum(raw / raw.mean(), DOCUMENT_CAP_FACTOR)


def _tokens_and_quality(frame: pd.DataFrame, meta: dict, document_tokens_mean: float) -> None:
    """Fill the token and quality columns of ``frame`` in place for a document average."""
    require(
        document_tokens_mean >= 0 and math.isfinite(document_tokens_mean),
        f"document_tokens_mean must be a finite number >= 0, got {document_tokens_mean!r}",
    )
    regen = meta["regen"]
    weight = np.asarray(regen["document_weight"], float)
    doc = np.round(weight * float(document_tokens_mean)).astype(np.int64)
    user = np.asarray(regen["user_tokens"], np.int64)
    answer = frame["output_tokens_large"].to_numpy(np.int64)
    turn = frame["turn_index"].to_numpy()
    first = turn == 0
    prompt = user + np.where(first, COMMON_PREFIX_TOKENS + doc, 0)
    step = prompt + answer
    start = np.flatnonzero(first)
    cum = np.cumsum(step) - step
    history = cum - np.repeat(cum[start], np.diff(np.append(start, len(step))))
    phi = mt_eval_quality.distance_feature(history)
    u = np.asarray(regen["survival_uniform"], float)
    for side in ("small", "large"):
        base = np.asarray(regen[f"correct_at_no_history_{side}"], float)
        frame[f"quality_{side}"] = base * (u < np.exp(-regen["relative_slope"][side] * phi))
    frame["prompt_tokens"] = prompt
    frame["history_tokens"] = history
    meta["document_tokens_mean"] = float(document_tokens_mean)


def with_document_tokens(trace: Trace, document_tokens_mean: float) -> Trace:
    """The same sessions with every document scaled to average ``document_tokens_mean`` tokens
    (texts, embeddings, scores and draws unchanged; tokens and modelled quality recomputed)."""
    if trace.meta.get("benchmark") != "long_sessions" or "regen" not in trace.meta:
        raise EdgeRouteError("with_document_tokens needs a long_sessions trace")
    frame = trace.frame.copy()
    meta = dict(trace.meta)
    if len(frame) != len(meta["regen"]["user_tokens"]):
        raise EdgeRouteError("with_document_tokens needs the whole trace (apply before subset)")
    _tokens_and_quality(frame, meta, document_tokens_mean)
    return Trace(frame=frame, meta=meta, embeddings=trace.embeddings, semantic_p=trace.semantic_p)


def build(
    get: Callable[[str], Path], manifest: dict, count, tokens_source: str, seed: int = DEFAULT_SEED
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Generate :data:`N_SESSIONS` sessions from the MMLU pool (``count``: unused)."""
    pool = mmlu.build(get, manifest, lambda texts: np.zeros(len(texts), np.int64), "", seed)
    items = pool[mmlu.DEFAULT_PAIR][0]
    n_tok = llm_tokenizer.count_tokens(items["text"].tolist())
    ok = (n_tok >= USER_TOKENS_MIN) & (n_tok <= USER_TOKENS_MAX)
    # A question whose text MMLU repeats (across subjects, possibly across splits) is left out:
    # sessions of one split share questions, so a repeated text in two splits would join all
    # of them into one group when prepare keeps duplicate texts in one split (issue 11).
    ok &= ~items["text"].duplicated(keep=False).to_numpy()
    by_split = {s: np.flatnonzero(ok & (items["split"].to_numpy() == s)) for s in SPLITS}
    slopes = relative_slopes(get)
    rng = np.random.default_rng(seed)
    messages = rng.integers(MESSAGES_MIN, MESSAGES_MAX + 1, N_SESSIONS)
    user_turns = (messages + messages % 2) // 2
    weights = document_weights(N_SESSIONS, rng)
    rows: list[tuple[int, str, int, int]] = []  # (session, session id, turn, pool row)
    for s in range(N_SESSIONS):
        sid = f"long_sessions/{s:04d}"
        pool_s = by_split[split_of(sid, seed)]
        if len(pool_s) < user_turns[s]:
            raise EdgeRouteError(f"too few 120-160-token MMLU questions in {split_of(sid, seed)}")
        picks = rng.choice(pool_s, size=user_turns[s], replace=False)
        rows.extend((s, sid, t, int(p)) for t, p in enumerate(picks))
    n = len(rows)
    pick = np.array([r[3] for r in rows])
    answers = rng.integers(ANSWER_TOKENS_MIN, ANSWER_TOKENS_MAX + 1, n)
    u = rng.random(n)
    ids = [r[1] for r in rows]
    out = {}
    for name, pair in PAIRS.items():
        frame = assemble(
            {
                "id": [f"{r[1]}/t{r[2]}" for r in rows],
                "benchmark": "long_sessions",
                "subject": items["subject"].to_numpy()[pick],
                "split": [split_of(i, seed) for i in ids],
                "dialogue_id": ids,
                "turn_index": [r[2] for r in rows],
                "text": items["text"].to_numpy()[pick],
                "prompt_tokens": 0,
                "history_tokens": 0,
                "output_tokens_small": answers,
                "output_tokens_large": answers,
                "quality_small": 0.0,
                "quality_large": 0.0,
                "quality_source": "modelled",
                "tokens_source": (
                    f"user: {llm_tokenizer.NAME} (real MMLU questions of 120-160 tokens); common "
                    "prefix, document and answers: vLLM multi-turn generator shape (synthetic)"
                ),
            },
            n,
        )
        meta = {
            "benchmark": "long_sessions",
            "pair": name,
            "small": pair.small,
            "large": pair.large,
            "quality_source": "modelled",
            "quality_note": pair.source + f"; relative slopes {slopes} from MT-Eval "
            f"{SLOPE_SOURCE_PAIR}; seed {seed}",
            "shape_source": "vLLM benchmarks/multi_turn/generate_multi_turn.json (Apache-2.0)",
            "multi_turn": True,
            "deployment": pair.deployment,
            "default_pair": name == DEFAULT_PAIR,
            "tokenizer": llm_tokenizer.NAME,
            "output_tokens_source": "synthetic: uniform 80-120 tokens (vLLM shape)",
            "regen": {
                "document_weight": weights[[r[0] for r in rows]].tolist(),
                "user_tokens": n_tok[pick].tolist(),
                "survival_uniform": u.tolist(),
                "correct_at_no_history_small": items["quality_small"].to_numpy()[pick].tolist(),
                "correct_at_no_history_large": items["quality_large"].to_numpy()[pick].tolist(),
                "relative_slope": slopes,
            },
        }
        _tokens_and_quality(frame, meta, DOCUMENT_TOKENS_MEAN)
        out[name] = (frame, meta)
    return out
