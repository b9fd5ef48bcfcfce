"""Data integrity: built artefacts verified on load and rebuilt by `data prepare`, orphan
staging directories of killed builds removed, corrupt embedding-cache shards dropped, and the
published MT-Bench-101 table shipped and validated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from envs.traces import mt_bench_101 as mtb101
from envs.traces.prepare import _embedding_cache, prepare
from envs.traces.store import load_trace, remove_orphans, traces_root, verify_benchmark

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mt_bench_cache(tmp_path_factory) -> Path:
    """A cache with MT-Bench (160 rows) built by this code; embeddings copied from the
    prepared cache when there is one, so only the scorer is fitted."""
    cache = tmp_path_factory.mktemp("mt-bench-cache")
    src = os.environ.get("EDGEROUTE_CACHE_DIR")
    if src and (Path(src) / "embeddings").is_dir():
        shutil.copytree(Path(src) / "embeddings", cache / "embeddings")
    prepare(["mt_bench"], cache_dir=cache, progress=False)
    return cache


@pytest.fixture
def cache(mt_bench_cache: Path, tmp_path: Path) -> Path:
    """A private copy of the built MT-Bench trace (embeddings shared read-only by symlink)."""
    mine = tmp_path / "cache"
    shutil.copytree(mt_bench_cache / "traces", mine / "traces")
    (mine / "embeddings").symlink_to(mt_bench_cache / "embeddings")
    return mine


def _default_pair(cache: Path) -> str:
    return json.loads((cache / "traces" / "mt_bench" / "index.json").read_text())["default_pair"]


def _corrupt(cache: Path, case: str) -> Path:
    root = cache / "traces" / "mt_bench"
    pair = root / _default_pair(cache)
    if case == "empty frame.parquet":
        (pair / "frame.parquet").write_bytes(b"")
        return pair / "frame.parquet"
    if case == "truncated embeddings":
        data = (root / "embeddings.npy").read_bytes()
        (root / "embeddings.npy").write_bytes(data[: len(data) // 2])
        return root / "embeddings.npy"
    if case == "bad meta.json":
        (pair / "meta.json").write_text("{not json")
        return pair / "meta.json"
    if case == "edited meta.json":  # still valid JSON, same size: only the hash catches it
        text = (pair / "meta.json").read_text()
        (pair / "meta.json").write_text(text.replace("vicuna", "VICUNA", 1))
        return pair / "meta.json"
    if case == "missing semantic_p":
        (pair / "semantic_p.npy").unlink()
        return pair / "semantic_p.npy"
    raise AssertionError(case)


CORRUPTIONS = [
    "empty frame.parquet",
    "truncated embeddings",
    "bad meta.json",
    "edited meta.json",
    "missing semantic_p",
]


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_artefact_is_named_on_load_and_summary(cache, case, run_cli):
    bad = _corrupt(cache, case)
    with pytest.raises(EdgeRouteError, match="fails verification") as err:
        load_trace("mt_bench", cache_dir=cache)
    assert str(bad) in str(err.value) and "edgeroute data prepare" in str(err.value)
    code, _, err_text = run_cli(["data", "summary", "--cache-dir", str(cache)])
    assert code == 2 and str(bad) in err_text


def test_bad_index_json_is_named(cache, run_cli):
    index = cache / "traces" / "mt_bench" / "index.json"
    index.write_text('{"default_pair": ')
    code, _, err = run_cli(["data", "summary", "--cache-dir", str(cache)])
    assert code == 2 and str(index) in err and "not readable JSON" in err


@pytest.mark.parametrize("case", ["empty frame.parquet", "truncated embeddings", "legacy index"])
def test_prepare_rebuilds_what_fails_verification(cache, case, run_cli):
    """Not "up to date": the bad build is rebuilt, and a killed build's staging dir removed."""
    if case == "legacy index":  # built before hashes were stored
        path = cache / "traces" / "mt_bench" / "index.json"
        index = json.loads(path.read_text())
        del index["files"]
        path.write_text(json.dumps(index))
        bad_name, why = "index.json", "no stored file hashes"
    else:
        bad_name, why = _corrupt(cache, case).name, "bytes, built with"
    orphan = traces_root(cache) / ".mt_bench-stage-999999999-abcd1234"
    orphan.mkdir()
    code, out, err = run_cli(
        ["data", "prepare", "--benchmarks", "mt_bench", "--cache-dir", str(cache), "--quiet"]
    )
    assert code == 0, err
    assert "rebuilt mt_bench: the cached build failed verification" in out
    assert bad_name in out and why in out and "built: mt_bench" in out
    assert f"removed the staging directory of a killed build: {orphan}" in out
    assert not orphan.exists()
    assert verify_benchmark("mt_bench", cache)["rows"] == 160
    assert len(load_trace("mt_bench", cache_dir=cache)) == 160
    code, out, _ = run_cli(
        ["data", "prepare", "--benchmarks", "mt_bench", "--cache-dir", str(cache), "--quiet"]
    )
    assert code == 0 and "up to date: mt_bench" in out and "verified" in out


def test_killed_build_staging_dir_is_removed_and_a_live_one_kept(tmp_path):
    cache = tmp_path / "cache"
    script = (
        "import sys, time; from envs.traces.store import StagedBenchmark; "
        f"s = StagedBenchmark('mmlu', {str(cache)!r}); print(s.path, flush=True); time.sleep(600)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        staged = Path(proc.stdout.readline().strip())
        assert staged.is_dir() and staged.name.startswith(f".mmlu-stage-{proc.pid}-")
        assert remove_orphans(cache) == []  # the build is still running
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    legacy = traces_root(cache) / ".gsm8k-a1b2c3d4"  # staged by an older version
    legacy.mkdir()
    assert sorted(remove_orphans(cache)) == sorted([staged, legacy])
    assert not staged.exists() and not legacy.exists()


def test_corrupt_embedding_shard_is_dropped_and_named(tmp_path):
    from cost_models.semantic.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path, "enc")
    cache.add(["a", "b"], np.ones((2, 4), np.float32))
    cache.add(["c"], np.zeros((1, 4), np.float32))
    shards = sorted((tmp_path / "enc").glob("shard-*.npz"))
    data = shards[1].read_bytes()
    shards[1].write_bytes(data[: len(data) // 3])  # a full disk, or a killed copy
    fresh, removed = _embedding_cache(tmp_path, "enc")
    assert len(removed) == 1 and str(shards[1]) in removed[0]
    assert len(fresh) == 2 and not shards[1].exists()
    found, missing = fresh.lookup(["a", "c"])
    assert missing.tolist() == [False, True] and found[0].tolist() == [1.0] * 4


# ---- the published MT-Bench-101 table ---------------------------------------------------------


def test_shipped_table_is_used_without_a_mirror_and_matches_the_shared_copy(monkeypatch):
    raw = Path(os.environ["EDGEROUTE_RAW_DIR"])
    monkeypatch.delenv(mtb101.PUBLISHED_ENV, raising=False)
    monkeypatch.delenv("EDGEROUTE_RAW_DIR", raising=False)
    assert mtb101.published_scores_path() == mtb101.SHIPPED_SCORES
    table = mtb101.published_scores()
    assert len(table) == 18 and table["Qwen-14B-Chat"]["MR"] == 3.50
    readme = (mtb101.SHIPPED_SCORES.parent / "README.md").read_text()
    assert "2024.acl-long.401" in readme and "Bai" in readme  # the citation ships with it
    shared = raw.parent / "published" / "mtbench101_task_scores.csv"  # the data folder's copy
    if shared.is_file():
        assert shared.read_bytes() == mtb101.SHIPPED_SCORES.read_bytes()


def _table(tmp_path: Path, edit) -> Path:
    lines = mtb101.SHIPPED_SCORES.read_text().splitlines()
    header, rows = lines[0].split(","), [r.split(",") for r in lines[1:]]
    header, rows = edit(header, rows)
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def _set(model: str, col: str, value: str):
    def edit(header, rows):
        for r in rows:
            if r[0] == model:
                r[header.index(col)] = value
        return header, rows

    return edit


def _drop(col: str):
    def edit(header, rows):
        k = header.index(col)
        return header[:k] + header[k + 1 :], [r[:k] + r[k + 1 :] for r in rows]

    return edit


BAD_TABLES = [
    ("NaN score", _set("Qwen-7B-Chat", "MR", "nan"), "Qwen-7B-Chat MR = 'nan'"),
    ("negative score", _set("Qwen-14B-Chat", "GR", "-50"), "Qwen-14B-Chat GR = '-50'"),
    ("above 10", _set("GPT-4", "CC", "10.5"), "GPT-4 CC = '10.5'"),
    ("empty cell", _set("Yi-6B-Chat", "SI", ""), "Yi-6B-Chat SI = ''"),
    ("text cell", _set("Yi-6B-Chat", "SI", "n/a"), "Yi-6B-Chat SI = 'n/a'"),
    ("missing task", _drop("PI"), "missing column(s) ['PI']"),
    ("wrong avg", _set("Llama2-7B-Chat", "avg", "6.63"), "Llama2-7B-Chat avg = '6.63'"),
    (
        "repeated model",
        lambda h, rows: (h, [*rows, list(rows[0])]),
        "model 'Llama2-7B-Chat' repeats",
    ),
]


@pytest.mark.parametrize(("case", "edit", "named"), BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_bad_published_table_is_refused(tmp_path, monkeypatch, case, edit, named):
    path = _table(tmp_path, edit)
    monkeypatch.setenv(mtb101.PUBLISHED_ENV, str(path))
    with pytest.raises(EdgeRouteError) as err:
        mtb101.published_scores()
    assert named in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("case", ["NaN score", "negative score", "missing task", "wrong avg"])
def test_bad_published_table_exits_2_at_prepare(tmp_path, monkeypatch, case, run_cli):
    edit, named = {c: (e, n) for c, e, n in BAD_TABLES}[case]
    monkeypatch.setenv(mtb101.PUBLISHED_ENV, str(_table(tmp_path, edit)))
    argv = ["data", "prepare", "--benchmarks", "mt_bench_101", "--cache-dir", str(tmp_path)]
    code, _, err = run_cli([*argv, "--quiet"])
    assert code == 2 and named in err
    assert not (tmp_path / "traces" / "mt_bench_101").exists()


def test_missing_override_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(mtb101.PUBLISHED_ENV, str(tmp_path / "nope.csv"))
    with pytest.raises(EdgeRouteError, match=mtb101.PUBLISHED_ENV):
        mtb101.published_scores_path()


def test_no_test_hard_codes_the_shared_mirror():
    """Tests read the mirror from EDGEROUTE_RAW_DIR (conftest.py only sets a default), so a
    mirror anywhere works."""
    offenders = []
    for path in sorted((REPO / "tests").glob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):
            continue
        text = path.read_text()
        if '"shared" / "data"' in text or "shared/data/raw" in text:
            offenders.append(path.name)
    assert offenders == []


def test_data_verify_hashes_the_mirror_and_the_built_traces(cache, tmp_path, run_cli):
    code, out, err = run_cli(["data", "verify", "--cache-dir", str(cache)])
    assert code == 0, err
    assert "93/93 files of manifest.tsv match" in out and "sha256 in" in out
    assert "built traces: 1 checked (mt_bench)" in out
    # a two-file manifest over a mirror with one altered file, and a corrupt built file
    raw = Path(os.environ["EDGEROUTE_RAW_DIR"])
    lines = (REPO / "envs/traces/manifest.tsv").read_text().splitlines()
    manifest = tmp_path / "MANIFEST.tsv"
    manifest.write_text("\n".join(lines[:3]) + "\n")
    mirror = tmp_path / "mirror"
    names = [line.split("\t")[0] for line in lines[1:3]]
    for name in names:
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(raw / name, mirror / name)
    data = bytearray((mirror / names[1]).read_bytes())
    data[0] ^= 1
    (mirror / names[1]).write_bytes(bytes(data))
    bad = _corrupt(cache, "bad meta.json")
    argv = ["data", "verify", "--raw-dir", str(mirror), "--manifest", str(manifest)]
    code, out, err = run_cli([*argv, "--cache-dir", str(cache)])
    assert code == 2 and "1/2 files of MANIFEST.tsv match" in out
    assert names[1] in err and "fails its hash check" in err and str(bad) in err
