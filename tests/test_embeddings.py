"""The offline encoder and the embedding cache, on a small subset of real texts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.semantic.cache import EmbeddingCache, text_digest
from cost_models.semantic.encoder import Encoder, count_tokens, native_bf16

#: The raw mirror the tests use: $EDGEROUTE_RAW_DIR (conftest.py defaults it to the shared one).
SHARED_RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])


@pytest.fixture(scope="module")
def texts() -> list[str]:
    path = SHARED_RAW / "lm-sys__RouteLLM/routellm/evals/mt_bench/question.jsonl"
    qs = [json.loads(x) for x in path.read_text().splitlines()]
    return [t for q in qs[:20] for t in q["turns"]]  # 40 real texts of varied length


@pytest.fixture(scope="module")
def fp32() -> Encoder:
    return Encoder.default("fp32")


def test_embeddings_are_normalised_and_order_preserving(fp32: Encoder, texts) -> None:
    X = fp32.embed(texts)
    assert X.shape == (40, 384) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # length-sorted batching must not reorder: embedding a permutation permutes the rows
    perm = np.random.default_rng(0).permutation(len(texts))
    Y = fp32.embed([texts[i] for i in perm])
    assert np.allclose(Y, X[perm], atol=1e-5)
    # semantically: a text is closer to itself paraphrased than to an unrelated one
    a, b, c = fp32.embed(
        [
            "How do I bake bread?",
            "What is a recipe for baking bread?",
            "Explain quantum entanglement.",
        ]
    )
    assert a @ b > a @ c + 0.3


def test_fast_path_stays_close_to_fp32(fp32: Encoder, texts) -> None:
    X = fp32.embed(texts)
    for precision in ("bf16",) if native_bf16() else ():
        Y = Encoder.default(precision).embed(texts)
        cos = (X * Y).sum(1)
        assert cos.min() > 0.99, precision
    auto = Encoder.default()
    assert auto.precision == ("bf16" if native_bf16() else "fp32")


def test_int8_is_measurably_lossier(fp32: Encoder, texts) -> None:
    """int8 is available but not the default: it drifts from fp32 (see encoder docstring)."""
    X = fp32.embed(texts)
    Y = Encoder.default("int8").embed(texts)
    cos = (X * Y).sum(1)
    assert 0.7 < cos.mean() < 0.999


def test_token_counts_without_special_tokens(fp32: Encoder) -> None:
    n = count_tokens(["hello world", "", "a " * 600], fp32.tokenizer)
    assert n.tolist() == [2, 0, 600]  # no [CLS]/[SEP], no truncation


def test_identity_differs_by_precision_and_length() -> None:
    a = Encoder.default("fp32").identity
    assert a != Encoder.default("int8").identity
    assert a != Encoder.default("fp32", max_length=128).identity


def test_bad_encoder_settings(tmp_path: Path) -> None:
    with pytest.raises(EdgeRouteError, match="precision"):
        Encoder.default("fp8")
    with pytest.raises(EdgeRouteError, match="config.json"):
        Encoder(tmp_path)
    with pytest.raises(EdgeRouteError, match="max_length"):
        Encoder.default(max_length=4)


def test_cache_never_reembeds_unchanged_texts(tmp_path: Path, fp32: Encoder, texts) -> None:
    calls: list[int] = []

    def compute(todo):
        calls.append(len(todo))
        return fp32.embed(todo)

    cache = EmbeddingCache(tmp_path, fp32.identity)
    X, n = cache.get_or_compute(texts[:10], compute)
    assert n == 10 and calls == [10]
    # reload from disk: a new cache object finds them; only new texts are computed
    cache2 = EmbeddingCache(tmp_path, fp32.identity)
    Y, n = cache2.get_or_compute(texts[:10] + texts[10:15] + texts[:2], compute)
    assert n == 5 and calls == [10, 5]
    assert np.array_equal(Y[:10], X) and np.array_equal(Y[15:], X[:2])
    # a different encoder identity does not see them
    assert len(EmbeddingCache(tmp_path, "other-encoder")) == 0
    assert len(text_digest("x")) == 64
