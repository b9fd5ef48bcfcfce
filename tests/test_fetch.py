"""Raw-file resolution: verified mirror, hash-checked download, and every failure mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cost_models.errors import EdgeRouteError
from envs.traces import fetch as fetch_mod
from envs.traces.fetch import fetch, read_manifest, sha256_of

#: The raw mirror the tests use: $EDGEROUTE_RAW_DIR (conftest.py defaults it to the shared one).
SHARED_RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])
SMALL = "lm-sys__RouteLLM/LICENSE"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    target = root / SMALL
    target.parent.mkdir(parents=True)
    shutil.copy(SHARED_RAW / SMALL, target)
    return root


def test_manifest_lists_only_pinned_public_files() -> None:
    manifest = read_manifest()
    # 72 + MT-Eval (LICENSE and 4 raw_data files) + EvalTree Llama-3.1-Tulu-3-8B (issue 11)
    # + 5 5Gophers and 10 Mahimahi files (link traces, issue 10)
    assert len(manifest) == 93
    for entry in manifest.values():
        assert entry.url.startswith("https://raw.githubusercontent.com/")
        assert entry.commit in entry.url and len(entry.sha256) == 64
        assert entry.license in ("MIT", "Apache-2.0", "CC-BY-4.0(5Gophers)", "GPL-3.0-or-later")


def test_shared_mirror_matches_manifest(tmp_path: Path) -> None:
    entry = read_manifest()[SMALL]
    assert sha256_of(SHARED_RAW / SMALL) == entry.sha256
    path = fetch(SMALL, raw_dir=SHARED_RAW, cache_dir=tmp_path)
    assert path == SHARED_RAW / SMALL


def test_altered_file_with_same_size_and_mtime_is_caught(mirror: Path, tmp_path: Path) -> None:
    """Every fetch re-hashes: a shortcut keyed by (path, size, mtime) would accept this file."""
    path = mirror / SMALL
    assert fetch(SMALL, raw_dir=mirror, cache_dir=tmp_path / "cache") == path
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x20
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(EdgeRouteError, match="fails its hash check"):
        fetch(SMALL, raw_dir=mirror, cache_dir=tmp_path / "cache")


def test_hash_mismatch_names_file_and_fix(mirror: Path, tmp_path: Path) -> None:
    path = mirror / SMALL
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    with pytest.raises(EdgeRouteError, match="fails its hash check") as err:
        fetch(SMALL, raw_dir=mirror, cache_dir=tmp_path / "cache")
    assert SMALL in str(err.value) and "--raw-dir" in str(err.value)


def test_truncated_file(mirror: Path, tmp_path: Path) -> None:
    path = mirror / SMALL
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(EdgeRouteError, match="truncated") as err:
        fetch(SMALL, raw_dir=mirror, cache_dir=tmp_path / "cache")
    assert SMALL in str(err.value) and "100 bytes" in str(err.value)


def test_missing_file_in_mirror(mirror: Path, tmp_path: Path) -> None:
    other = "openai__grade-school-math/LICENSE"
    with pytest.raises(EdgeRouteError, match="missing from the mirror") as err:
        fetch(other, raw_dir=mirror, cache_dir=tmp_path / "cache")
    assert other in str(err.value)


def test_mirror_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(EdgeRouteError, match="does not exist"):
        fetch(SMALL, raw_dir=tmp_path / "nope", cache_dir=tmp_path / "cache")


def test_unknown_file() -> None:
    with pytest.raises(EdgeRouteError, match="not in the project's manifest"):
        fetch("no/such/file.csv")


def _no_mirror(monkeypatch) -> None:
    monkeypatch.delenv(fetch_mod.RAW_DIR_ENV, raising=False)


def test_no_mirror_no_network(monkeypatch, tmp_path: Path) -> None:
    import pooch

    _no_mirror(monkeypatch)

    def offline(**kwargs):
        raise ConnectionError("Failed to resolve 'raw.githubusercontent.com'")

    monkeypatch.setattr(pooch, "retrieve", offline)
    cache = tmp_path / "cache"
    with pytest.raises(EdgeRouteError, match="could not be downloaded") as err:
        fetch(SMALL, cache_dir=cache)
    assert SMALL in str(err.value) and "--raw-dir" in str(err.value)
    assert not (cache / "raw" / SMALL).exists()


def test_download_then_cached(monkeypatch, tmp_path: Path) -> None:
    import pooch

    _no_mirror(monkeypatch)
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append(url)
        assert known_hash == "sha256:" + read_manifest()[SMALL].sha256
        Path(path).mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_RAW / SMALL, Path(path) / fname)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    cache = tmp_path / "cache"
    first = fetch(SMALL, cache_dir=cache)
    second = fetch(SMALL, cache_dir=cache)
    assert first == second == cache / "raw" / SMALL
    assert calls == [read_manifest()[SMALL].url]  # downloaded once, then reused


def test_corrupt_download_is_removed(monkeypatch, tmp_path: Path) -> None:
    import pooch

    _no_mirror(monkeypatch)

    def bad_retrieve(url, known_hash, fname, path, progressbar):
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / fname).write_bytes(b"not the license")
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", bad_retrieve)
    cache = tmp_path / "cache"
    with pytest.raises(EdgeRouteError, match=SMALL):
        fetch(SMALL, cache_dir=cache)
    assert not (cache / "raw" / SMALL).exists()
