"""The embedding cache repairs itself: a corrupt shard is detected when the cache loads, deleted,
named in ``repaired``, and its texts are embedded again (rebuilt as a new shard)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cost_models.semantic.cache import EmbeddingCache


def two_shards(root: Path) -> list[Path]:
    cache = EmbeddingCache(root, "enc")
    cache.add(["a", "b"], np.ones((2, 4), np.float32))
    cache.add(["c"], np.full((1, 4), 2.0, np.float32))
    return sorted((root / "enc").glob("shard-*.npz"))


def truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])  # a full disk, or a killed copy


def save(p: Path, **arrays) -> None:
    with p.open("wb") as fh:
        np.savez(fh, **arrays)


CORRUPTIONS = {
    "truncated": truncate,
    "empty file": lambda p: p.write_bytes(b""),
    "not an npz": lambda p: p.write_text("hello"),
    "no vectors": lambda p: save(p, keys=np.array(["x" * 64], "U64")),
    "lengths differ": lambda p: save(p, keys=np.array(["x" * 64], "U64"),
                                     vectors=np.ones((2, 4), np.float32)),
    "other dimension": lambda p: save(p, keys=np.array(["x" * 64], "U64"),
                                      vectors=np.ones((1, 3), np.float32)),
    "NaN vectors": lambda p: save(p, keys=np.array(["x" * 64], "U64"),
                                  vectors=np.full((1, 4), np.nan, np.float32)),
}  # fmt: skip


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_shard_is_detected_deleted_and_rebuilt(tmp_path, how):
    good, bad = two_shards(tmp_path)
    CORRUPTIONS[how](bad)
    cache = EmbeddingCache(tmp_path, "enc")
    computed: list[list[str]] = []

    def compute(texts: list[str]) -> np.ndarray:
        computed.append(list(texts))
        return np.full((len(texts), 4), 2.0, np.float32)

    vectors, n_new = cache.get_or_compute(["a", "c", "b"], compute)
    assert len(cache.repaired) == 1 and cache.repaired[0].startswith(str(bad))
    assert computed == [["c"]] and n_new == 1  # only the lost text is embedded again
    assert vectors.tolist() == [[1.0] * 4, [2.0] * 4, [1.0] * 4]
    assert good.exists()  # the good shard is kept (the bad one is rewritten with "c" alone)
    rebuilt = EmbeddingCache(tmp_path, "enc")
    assert len(rebuilt) == 3 and rebuilt.repaired == []  # the rebuilt shard loads clean


def test_new_shard_after_a_deleted_one_never_replaces_an_existing_shard(tmp_path):
    first, second = two_shards(tmp_path)
    first.unlink()
    cache = EmbeddingCache(tmp_path, "enc")
    cache.add(["d"], np.zeros((1, 4), np.float32))
    names = sorted(p.name for p in (tmp_path / "enc").glob("shard-*.npz"))
    assert len(names) == 2 and names[0] == second.name and names[1].startswith("shard-00002-")
