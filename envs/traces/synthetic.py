"""A small synthetic routing trace with real structure, for tests and quick runs.

Nothing here is measured: token counts, qualities, embeddings and the semantic score are all
drawn from a seeded generative model (``quality_source = "modelled"``,
``tokens_source = "synthetic"``). The structure is what makes it useful for tests: each turn
has a latent difficulty ``z``; the small model's success probability falls with ``z`` faster than
the large model's, so the large model is better on average and needed more often on hard
turns; the embedding is a noisy linear image of ``z`` and the semantic score is a noisy
logistic of it, so the score predicts the label (the large model is needed) without being
an oracle. Multi-turn dialogues share a per-dialogue difficulty, as in the MT-Bench-101
modelling of :mod:`envs.traces.mt_bench_101`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError, require
from envs.traces.schema import COLUMNS, SPLITS, Trace

#: Share of dialogues per split (train, validation, test), split by dialogue.
SPLIT_SHARES: tuple[float, float, float] = (0.6, 0.2, 0.2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_synthetic_trace(
    n_dialogues: int, turns_per_dialogue: int, seed: int, dim: int = 16
) -> Trace:
    """Build a seeded synthetic trace of ``n_dialogues`` x ``turns_per_dialogue`` rows.

    Args:
        n_dialogues: number of dialogues (single-turn queries when ``turns_per_dialogue == 1``),
            at least 5 so every split gets at least one dialogue.
        turns_per_dialogue: user turns per dialogue, >= 1.
        seed: seed of the numpy Generator every draw flows from.
        dim: embedding dimension, >= 2.

    Returns:
        A :class:`Trace` with ``meta["benchmark"] == "synthetic"``; ``multi_turn`` is true iff
        ``turns_per_dialogue > 1``.
    """
    require(
        isinstance(n_dialogues, (int, np.integer)) and n_dialogues >= 5,
        "n_dialogues must be an integer >= 5 (one dialogue per split at least), "
        f"got {n_dialogues!r}",
    )
    require(
        isinstance(turns_per_dialogue, (int, np.integer)) and turns_per_dialogue >= 1,
        f"turns_per_dialogue must be an integer >= 1, got {turns_per_dialogue!r}",
    )
    require(
        isinstance(dim, (int, np.integer)) and dim >= 2,
        f"dim must be an integer >= 2, got {dim!r}",
    )
    if not isinstance(seed, (int, np.integer)):
        raise EdgeRouteError(f"seed must be an integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    n_d, n_t = int(n_dialogues), int(turns_per_dialogue)
    n = n_d * n_t
    multi = n_t > 1

    # Latent difficulty: a per-dialogue part shared by every turn plus a per-turn part.
    dialogue_z = rng.normal(0.0, 1.0, n_d)
    z = np.repeat(dialogue_z, n_t) * (0.8 if multi else 1.0) + rng.normal(
        0.0, 0.6 if multi else 0.0, n
    )
    # Success probabilities: the large model is better and degrades more slowly.
    p_small = _sigmoid(0.3 - 1.6 * z)
    p_large = _sigmoid(1.6 - 0.8 * z)
    quality_small = (rng.random(n) < p_small).astype(float)
    quality_large = (rng.random(n) < p_large).astype(float)

    # Tokens: lognormal lengths, harder turns are a little longer; the large model is wordier.
    prompt_tokens = np.maximum(4, rng.lognormal(np.log(60.0) + 0.2 * z, 0.5)).astype(np.int64)
    out_small = np.maximum(1, rng.lognormal(np.log(120.0) + 0.2 * z, 0.6)).astype(np.int64)
    out_large = np.maximum(1, rng.lognormal(np.log(160.0) + 0.2 * z, 0.6)).astype(np.int64)
    turn_index = np.tile(np.arange(n_t, dtype=np.int64), n_d)
    # History = earlier user turns + reference answers (the large model's answer stands in).
    per_turn = (prompt_tokens + out_large).reshape(n_d, n_t)
    history = (np.cumsum(per_turn, axis=1) - per_turn).reshape(n).astype(np.int64)

    # Embedding: a random direction times z plus isotropic noise; score: a noisy logistic.
    direction = rng.normal(0.0, 1.0, dim)
    direction /= np.linalg.norm(direction)
    embeddings = (z[:, None] * direction[None, :] + rng.normal(0.0, 0.5, (n, dim))).astype(
        np.float32
    )
    semantic_p = _sigmoid(1.5 * z - 0.5 + rng.normal(0.0, 0.7, n)).astype(np.float32)

    # Splits by dialogue, seeded, every split non-empty.
    order = rng.permutation(n_d)
    n_train = max(1, int(round(SPLIT_SHARES[0] * n_d)))
    n_val = max(1, int(round(SPLIT_SHARES[1] * n_d)))
    n_train = min(n_train, n_d - n_val - 1)
    dialogue_split = np.empty(n_d, dtype=object)
    dialogue_split[order[:n_train]] = SPLITS[0]
    dialogue_split[order[n_train : n_train + n_val]] = SPLITS[1]
    dialogue_split[order[n_train + n_val :]] = SPLITS[2]

    dialogue_ids = np.repeat([f"synthetic/{d:05d}" for d in range(n_d)], n_t)
    ids = [f"{dialogue_ids[i]}/t{turn_index[i]}" for i in range(n)] if multi else list(dialogue_ids)
    frame = pd.DataFrame(
        {
            "id": ids,
            "benchmark": "synthetic",
            "subject": np.where(z > 0, "hard", "easy"),
            "split": np.repeat(dialogue_split, n_t).astype(str),
            "dialogue_id": dialogue_ids,
            "turn_index": turn_index,
            "text": [f"synthetic query {i}" for i in range(n)],
            "prompt_tokens": prompt_tokens,
            "history_tokens": history,
            "output_tokens_small": out_small,
            "output_tokens_large": out_large,
            "quality_small": quality_small,
            "quality_large": quality_large,
            "quality_source": "modelled",
            "tokens_source": "synthetic",
        }
    )[list(COLUMNS)]
    meta = {
        "benchmark": "synthetic",
        "pair": "synthetic",
        "small": "synthetic-small",
        "large": "synthetic-large",
        "quality_source": "modelled",
        "multi_turn": multi,
        "tokenizer": "none (synthetic token counts)",
        "note": "synthetic trace: every value drawn from a seeded generative model, "
        "nothing measured",
        "seed": int(seed),
    }
    return Trace(frame=frame, meta=meta, embeddings=embeddings, semantic_p=semantic_p)
