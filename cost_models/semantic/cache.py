"""On-disk embedding cache keyed by encoder identity and text sha256.

Layout: ``<root>/<encoder identity>/shard-<n>.npz``, each shard holding ``keys`` (the hex
sha256 digests of the UTF-8 texts, ``U64``; raw bytes would lose trailing zero bytes in numpy)
and ``vectors`` (float32 ``[n, dim]``).
A lookup embeds only texts whose digest is in no shard and writes them as one new shard
(temporary file, then atomic rename), so unchanged texts are never re-embedded, two runs never
corrupt each other's shards, and loading is a few ``np.load`` calls (well under a second for
the ~20k texts of the four benchmarks). Different encoders, precisions or maximum lengths have
different identities (:func:`cost_models.semantic.encoder.encoder_identity`) and never mix.

Repair: a shard that does not load (truncated by a full disk or a killed copy, not an ``.npz``)
or does not hold what a shard holds (``keys`` and ``vectors`` of equal length, 2-d finite float
vectors of the cache's dimension) is deleted when the cache loads and named in
:attr:`EmbeddingCache.repaired`; it is a cache, so its texts are simply missing and embedded
again by the next :meth:`EmbeddingCache.get_or_compute` (which rebuilds them as a new shard).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError

_SHARD_RE = re.compile(r"^shard-(\d+)")


def _read_shard(path: Path, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, vectors)`` of one shard; ``ValueError`` naming what is wrong with it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except Exception as exc:  # zipfile, numpy and OS errors on corrupt bytes; missing arrays
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
        raise ValueError(f"keys {keys.shape} and vectors {vectors.shape} do not pair up")
    if keys.dtype.kind != "U" or vectors.dtype.kind != "f":
        raise ValueError(f"keys of dtype {keys.dtype} / vectors of dtype {vectors.dtype}")
    if dim is not None and vectors.shape[1] != dim:
        raise ValueError(f"vectors of dimension {vectors.shape[1]}, the cache's is {dim}")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors hold NaN or infinite values")
    return keys, vectors


def text_digest(text: str) -> str:
    """Hex sha256 of the UTF-8 encoding of ``text``."""
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings of one encoder identity under ``root``."""

    def __init__(self, root: str | os.PathLike, identity: str) -> None:
        if not identity or "/" in identity or identity.startswith("."):
            raise EdgeRouteError(f"embedding cache identity {identity!r} must be a plain name")
        self.directory = Path(root) / identity
        self.identity = identity
        self._index: dict[str, np.ndarray] | None = None
        self.repaired: list[str] = []
        """``"<shard path> (<what was wrong>)"`` for each bad shard deleted on load"""

    def _load(self) -> dict[str, np.ndarray]:
        if self._index is None:
            index: dict[str, np.ndarray] = {}
            dim: int | None = None
            for shard in sorted(self.directory.glob("shard-*.npz")):
                try:
                    keys, vectors = _read_shard(shard, dim)
                except ValueError as exc:
                    shard.unlink(missing_ok=True)  # its texts are embedded again
                    self.repaired.append(f"{shard} ({exc})")
                    continue
                dim = vectors.shape[1]
                for k, v in zip(keys.tolist(), vectors, strict=True):
                    index[k] = v
            self._index = index
        return self._index

    def __len__(self) -> int:
        return len(self._load())

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """(vectors for found texts or None if none, boolean mask of the missing texts)."""
        index = self._load()
        digests = [text_digest(t) for t in texts]
        missing = np.array([d not in index for d in digests], dtype=bool)
        if missing.all():
            return None, missing
        dim = len(next(iter(index.values())))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, d in enumerate(digests):
            if d in index:
                out[i] = index[d]
        return out, missing

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` for ``texts`` as one new shard (atomic)."""
        if len(texts) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EdgeRouteError(
                f"embedding cache add: {len(texts)} texts but vectors of shape {vectors.shape}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        keys = np.array([text_digest(t) for t in texts], dtype="U64")
        # After the next free number (not the count: a deleted shard must not make a name reused).
        numbers = [int(m.group(1)) for p in self.directory.glob("shard-*.npz")
                   if (m := _SHARD_RE.match(p.name))]  # fmt: skip
        n = max(numbers, default=-1) + 1
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".shard-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, keys=keys, vectors=vectors)
        final = self.directory / f"shard-{n:05d}-{keys[0][:8]}.npz"
        os.replace(tmp, final)
        index = self._load()
        for k, v in zip(keys.tolist(), vectors, strict=True):
            index[k] = v

    def get_or_compute(
        self,
        texts: Sequence[str],
        compute: Callable[[list[str]], np.ndarray],
        chunk_size: int = 4096,
    ) -> tuple[np.ndarray, int]:
        """Embeddings of ``texts`` (cached ones reused, the rest computed and stored).

        Returns the float32 matrix in the order of ``texts`` and how many texts were computed.
        Duplicate texts are computed once; new texts are computed and stored in chunks of
        ``chunk_size``, so an interrupted run keeps what it finished.
        """
        texts = [str(t) for t in texts]
        found, missing = self.lookup(texts)
        if not missing.any():
            return found, 0
        todo = list(dict.fromkeys(t for t, m in zip(texts, missing, strict=True) if m))
        for start in range(0, len(todo), chunk_size):  # a shard per chunk: resumable
            chunk = todo[start : start + chunk_size]
            self.add(chunk, np.asarray(compute(chunk), dtype=np.float32))
        found, missing = self.lookup(texts)
        assert found is not None and not missing.any()
        return found, len(todo)
