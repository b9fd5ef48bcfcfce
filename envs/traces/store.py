"""Where prepared traces live in the cache, verifying them, and loading them.

Layout under ``<cache_dir>/traces/<benchmark>/``:

- ``index.json``: default pair, pair names, encoder identity, build fingerprint, rows, and
  ``files``: the sha256 and size of every other file of the benchmark directory;
- ``embeddings.npy``: float32 ``[rows, dim]`` query embeddings (all pairs share row order);
- ``<pair>/frame.parquet``, ``<pair>/meta.json``, ``<pair>/semantic_p.npy``;
- ``<pair>/expected_gain.npy`` (the scorer's E[q_large - q_small]), ``scorers.json`` (every
  zoo kind's test AUC / Brier / APGR and the selected one), ``length_report.json`` (the
  output-length predictors' test errors);
- ``<pair>/scorer.json`` + ``scorer.npz`` (the fitted logistic head), ``report.json`` (test
  metrics of the selected scorer, calibration table), ``reliability.png``.

A benchmark directory is written under a temporary name (``.<benchmark>-stage-<pid>-*``) and
renamed into place when complete, so a crashed or interrupted build never leaves a half-built
trace that looks finished; the staging directory of a build whose process is gone (killed) is
removed by the next build (:func:`remove_orphans`).

Loading verifies each file it reads against the sha256 stored in ``index.json`` (once per
process and file version; ~0.05 s for MMLU's 25 MB), so a truncated, emptied or edited artefact
stops with a message naming the file and ``edgeroute data prepare`` (which rebuilds whatever
fails :func:`verify_benchmark`) instead of a traceback or silently wrong numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.atomic import atomic_write_text
from envs.traces.fetch import resolve_cache_dir, sha256_of
from envs.traces.schema import SPLITS, Trace

INDEX_NAME = "index.json"
#: Key of ``index.json`` holding ``{relative path: {"sha256": hex, "bytes": size}}``.
FILES_KEY = "files"
#: Staging and replaced directories of a build: ``.<benchmark>-stage-<pid>-<random>`` and
#: ``.<benchmark>-old-<pid>``; older versions staged as ``.<benchmark>-<8 random chars>``.
_STAGING_RE = re.compile(r"^\.[a-z][a-z0-9_]*-(?:stage|old)-(?P<pid>\d+)(?:-[a-z0-9_]+)?$")
_LEGACY_STAGING_RE = re.compile(r"^\.[a-z][a-z0-9_]*-[a-z0-9_]{8}$")
#: Files verified in this process: (path, size, mtime_ns, expected sha256).
_VERIFIED: set[tuple[str, int, int, str]] = set()


class CorruptArtefactError(EdgeRouteError):
    """A built file that is missing, truncated, altered or unreadable (``path``, ``why``)."""

    def __init__(self, benchmark: str, path: Path, why: str) -> None:
        self.benchmark, self.path, self.why = benchmark, path, why
        super().__init__(
            f"prepared trace {benchmark!r}: {path} fails verification: {why}; rebuild it with "
            f"`edgeroute data prepare --benchmarks {benchmark}` (built-in) or by importing it "
            "again (`edgeroute data import FILE --name NAME`)"
        )


def traces_root(cache_dir: str | os.PathLike | None = None) -> Path:
    return resolve_cache_dir(cache_dir) / "traces"


def benchmark_dir(benchmark: str, cache_dir: str | os.PathLike | None = None) -> Path:
    return traces_root(cache_dir) / benchmark


def read_index(benchmark: str, cache_dir: str | os.PathLike | None = None) -> dict | None:
    """The benchmark's ``index.json``, or ``None`` when it is not built.

    An index that exists but cannot be read as a JSON object raises :class:`EdgeRouteError`
    naming the file (``edgeroute data prepare`` rebuilds it).
    """
    path = benchmark_dir(benchmark, cache_dir) / INDEX_NAME
    try:
        index = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtefactError(benchmark, path, f"not readable JSON ({exc})") from exc
    required = ("default_pair", "pairs", "rows")
    if not isinstance(index, dict) or any(k not in index for k in required):
        raise CorruptArtefactError(
            benchmark, path, f"not a trace index (needs keys {list(required)})"
        )
    return index


def file_hashes(root: Path) -> dict[str, dict[str, object]]:
    """sha256 and size of every file under ``root`` except ``index.json`` (sorted paths)."""
    out: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != INDEX_NAME:
            out[rel] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    return out


def _verify_file(benchmark: str, root: Path, rel: str, expected: dict) -> None:
    path = root / rel
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CorruptArtefactError(benchmark, path, "missing") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns, str(expected.get("sha256")))
    if key in _VERIFIED:
        return
    if stat.st_size != expected.get("bytes"):
        raise CorruptArtefactError(
            benchmark, path, f"{stat.st_size} bytes, built with {expected.get('bytes')}"
        )
    digest = sha256_of(path)
    if digest != expected.get("sha256"):
        raise CorruptArtefactError(
            benchmark, path, f"sha256 {digest[:12]}..., built with {key[3][:12]}..."
        )
    _VERIFIED.add(key)


def verify_benchmark(
    benchmark: str, cache_dir: str | os.PathLike | None = None, files: list[str] | None = None
) -> dict:
    """The index of a built benchmark whose files (all, or ``files``) match their hashes.

    Raises :class:`EdgeRouteError` naming the first bad file: missing, truncated, altered, or
    an index without stored hashes (built by an older version).
    """
    index = read_index(benchmark, cache_dir)
    root = benchmark_dir(benchmark, cache_dir)
    if index is None:
        raise CorruptArtefactError(benchmark, root / INDEX_NAME, "missing")
    stored = index.get(FILES_KEY)
    if not isinstance(stored, dict) or not stored:
        raise CorruptArtefactError(
            benchmark, root / INDEX_NAME, "no stored file hashes (an older build)"
        )
    for rel in stored if files is None else files:
        if rel not in stored:
            raise CorruptArtefactError(benchmark, root / rel, "not listed in index.json")
        _verify_file(benchmark, root, rel, stored[rel])
    return index


def available_benchmarks(cache_dir: str | os.PathLike | None = None) -> list[str]:
    root = traces_root(cache_dir)
    return sorted(p.name for p in root.glob("*") if (p / INDEX_NAME).is_file())


def load_trace(
    benchmark: str,
    pair: str | None = None,
    split: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Trace:
    """A prepared trace (``pair`` defaults to the benchmark's default pair).

    Raises :class:`EdgeRouteError` naming ``edgeroute data prepare`` when it is not built.
    """
    index = read_index(benchmark, cache_dir)
    if index is None:
        have = available_benchmarks(cache_dir)
        raise EdgeRouteError(
            f"no prepared trace for benchmark {benchmark!r} in {traces_root(cache_dir)} "
            f"(prepared: {have or 'none'}); run `edgeroute data prepare --benchmarks "
            f"{benchmark}` (or `edgeroute data import FILE --name NAME` for your own trace)"
        )
    pair = pair or index["default_pair"]
    if pair not in index["pairs"]:
        raise EdgeRouteError(
            f"pair {pair!r} is not prepared for {benchmark!r}; allowed: {index['pairs']}"
        )
    if split is not None and split not in SPLITS:
        raise EdgeRouteError(f"split {split!r} is not allowed; use one of {SPLITS} or None")
    root = benchmark_dir(benchmark, cache_dir)
    names = [
        f"{pair}/frame.parquet",
        f"{pair}/meta.json",
        "embeddings.npy",
        f"{pair}/semantic_p.npy",
    ]
    gain_rel = f"{pair}/expected_gain.npy"  # optional: traces built before issue 11 lack it
    has_gain = (root / gain_rel).is_file()
    if FILES_KEY in index:
        verify_benchmark(benchmark, cache_dir, names + ([gain_rel] if has_gain else []))
    frame_path, meta_path, emb_path, p_path = (root / n for n in names)
    frame = _read(benchmark, frame_path, pd.read_parquet)
    meta = _read(benchmark, meta_path, lambda p: json.loads(p.read_bytes().decode("utf-8")))
    if not isinstance(meta, dict):
        raise CorruptArtefactError(
            benchmark, meta_path, f"a JSON {type(meta).__name__}, not an object"
        )
    embeddings = _read(benchmark, emb_path, lambda p: np.load(p, allow_pickle=False))
    semantic_p = _read(benchmark, p_path, lambda p: np.load(p, allow_pickle=False))
    gain = (
        _read(benchmark, root / gain_rel, lambda p: np.load(p, allow_pickle=False))
        if has_gain
        else None
    )
    try:
        trace = Trace(
            frame=frame, meta=meta, embeddings=embeddings, semantic_p=semantic_p, expected_gain=gain
        )
    except EdgeRouteError as exc:
        raise CorruptArtefactError(benchmark, root, str(exc)) from exc
    if split is not None:
        trace = trace.subset(frame["split"].to_numpy() == split)
    return trace


def scorer_report(
    benchmark: str, pair: str | None = None, cache_dir: str | os.PathLike | None = None
) -> dict:
    """The semantic scorer's test report (``auc``, ``length_only_auc``, ``brier``, ``n_test``,
    ...) of a prepared trace's pair (default: the default pair), verified like a load."""
    index = read_index(benchmark, cache_dir)
    if index is None:
        raise EdgeRouteError(f"no prepared trace for benchmark {benchmark!r}")
    pair = pair or index["default_pair"]
    rel = f"{pair}/report.json"
    if FILES_KEY in index:
        verify_benchmark(benchmark, cache_dir, [rel])
    path = benchmark_dir(benchmark, cache_dir) / rel
    return _read(benchmark, path, lambda p: json.loads(p.read_bytes().decode("utf-8")))


def _read(benchmark: str, path: Path, reader):
    """``reader(path)``; any failure to parse becomes an error naming ``path``."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise CorruptArtefactError(benchmark, path, "missing") from None
    except Exception as exc:  # parquet, numpy and json raise many types on corrupt bytes
        raise CorruptArtefactError(benchmark, path, f"{type(exc).__name__}: {exc}") from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_orphans(cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Remove staging directories left by builds whose process is gone; returns them.

    A build stages under ``.<benchmark>-stage-<pid>-*``; if that pid no longer runs (the build
    was killed, e.g. with SIGKILL, before it could clean up), nothing will ever finish the
    directory. Directories of live processes (a concurrent build) are left alone.
    """
    root = traces_root(cache_dir)
    removed = []
    for p in sorted(root.glob(".*")) if root.is_dir() else ():
        m = _STAGING_RE.match(p.name)
        orphan = (m is not None and not _pid_alive(int(m.group("pid")))) or (
            m is None and _LEGACY_STAGING_RE.match(p.name) is not None
        )
        if orphan and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


class StagedBenchmark:
    """Write a benchmark directory under a temporary name; :meth:`commit` renames it in."""

    def __init__(self, benchmark: str, cache_dir: str | os.PathLike | None = None) -> None:
        self.final = benchmark_dir(benchmark, cache_dir)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(
            tempfile.mkdtemp(dir=self.final.parent, prefix=f".{benchmark}-stage-{os.getpid()}-")
        )

    def commit(self) -> Path:
        """Store the hashes of every staged file in ``index.json`` and rename into place."""
        index_path = self.path / INDEX_NAME
        index = json.loads(index_path.read_text())
        index[FILES_KEY] = file_hashes(self.path)
        atomic_write_text(index_path, json.dumps(index, indent=2))
        old = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}-old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
