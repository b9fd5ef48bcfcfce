"""Token counts with a real LLM tokenizer, available offline: Mistral-7B's SentencePiece model.

Why this one. Long dialogues are about KV-cache sizes and prefill times, which scale with the
*LLM's* token count; the project's other traces count with the all-MiniLM-L6-v2 WordPiece (the
encoder's tokenizer, uncased, 30,522 pieces), which is not what a chat model would see. The
PyPI package ``mistral-common`` (Apache-2.0, by Mistral AI) ships the SentencePiece model of
Mistral-7B v0.1 / Mixtral-8x7B as ``mistral_common/data/tokenizer.model.v1`` (32,000 pieces;
the ``tokenizer.model`` of those checkpoints), so it can be read without any download; the
``sentencepiece`` package (Apache-2.0) runs it. It is the tokenizer of one of the same-family
pairs MT-Eval reports (Mistral-7B-Instruct / Mixtral-8x7B-Instruct). The Qwen and Llama-2
tokenizers of the other pairs are not shipped by any package we can install offline; byte-level
BPE and SentencePiece vocabularies of this size count English within ~10% of each other, and we
say which tokenizer counted every row (``tokens_source``).

The model file is hash-checked (:data:`SHA256`), so a different file under the same name is an
error, not a silent change of every count.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError

#: Human-readable name recorded in traces (``tokens_source``, ``meta["tokenizer"]``).
NAME = "Mistral-7B v0.1 SentencePiece (mistral-common tokenizer.model.v1, 32,000 pieces)"
#: sha256 of ``mistral_common/data/tokenizer.model.v1`` (identical in mistral-common 1.5-1.13).
SHA256 = "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"
_INSTALL = 'pip install "mistral-common>=1.8,<1.9" "sentencepiece>=0.2"'


def model_path() -> Path:
    """Where ``mistral-common`` keeps the SentencePiece model (without importing the package,
    whose top-level import pulls in pydantic schemas we do not need)."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise EdgeRouteError(
            f"the LLM tokenizer needs the package mistral-common (it ships Mistral-7B's "
            f"tokenizer.model offline); install it: {_INSTALL}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "tokenizer.model.v1"
    if not path.is_file():
        raise EdgeRouteError(f"{path} is missing from the installed mistral-common; {_INSTALL}")
    return path


@lru_cache(maxsize=1)
def _processor():
    path = model_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise EdgeRouteError(
            f"{path} has sha256 {digest}, expected {SHA256} (Mistral-7B v0.1 tokenizer.model); "
            f"reinstall: {_INSTALL}"
        )
    try:
        import sentencepiece as spm
    except ModuleNotFoundError:
        raise EdgeRouteError(f"the LLM tokenizer needs sentencepiece; {_INSTALL}") from None
    return spm.SentencePieceProcessor(model_file=str(path))


def count_tokens(texts: Sequence[str]) -> np.ndarray:
    """int64 token counts of ``texts`` (no BOS/EOS: what the text adds to a context)."""
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros(0, dtype=np.int64)
    ids = _processor().encode(texts)
    return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(texts))
