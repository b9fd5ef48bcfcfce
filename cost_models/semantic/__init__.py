"""Semantic score: a BERT-family encoder (offline), an on-disk embedding cache, and the scorer
that predicts P(the large model is needed). Works on texts and arrays only; imports nothing
from envs, agents or experiments."""

from __future__ import annotations

from cost_models.semantic.cache import EmbeddingCache, text_digest
from cost_models.semantic.encoder import (
    Encoder,
    count_tokens,
    default_encoder_path,
    load_tokenizer,
    tokenizer_name,
)
from cost_models.semantic.scorer import (
    ScorerReport,
    SemanticScorer,
    calibration_table,
    length_features,
    roc_auc,
)

__all__ = [
    "EmbeddingCache",
    "Encoder",
    "ScorerReport",
    "SemanticScorer",
    "calibration_table",
    "count_tokens",
    "default_encoder_path",
    "length_features",
    "load_tokenizer",
    "roc_auc",
    "text_digest",
    "tokenizer_name",
]
