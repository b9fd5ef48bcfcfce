"""Where prepared traces live in the cache, and loading them.

Layout under ``<cache_dir>/traces/<benchmark>/``:

- ``index.json``: default pair, pair names, encoder identity, build fingerprint, rows;
- ``embeddings.npy``: float32 ``[rows, dim]`` query embeddings (all pairs share row order);
- ``<pair>/frame.parquet``, ``<pair>/meta.json``, ``<pair>/semantic_p.npy``;
- ``<pair>/scorer.json`` + ``scorer.npz`` (the fitted head), ``report.json`` (test metrics,
  calibration table), ``reliability.png`` (the calibration figure).

A benchmark directory is written under a temporary name and renamed into place when complete,
so a crashed or interrupted build never leaves a half-built trace that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.fetch import resolve_cache_dir
from envs.traces.schema import SPLITS, Trace

INDEX_NAME = "index.json"


def traces_root(cache_dir: str | os.PathLike | None = None) -> Path:
    return resolve_cache_dir(cache_dir) / "traces"


def benchmark_dir(benchmark: str, cache_dir: str | os.PathLike | None = None) -> Path:
    return traces_root(cache_dir) / benchmark


def read_index(benchmark: str, cache_dir: str | os.PathLike | None = None) -> dict | None:
    path = benchmark_dir(benchmark, cache_dir) / INDEX_NAME
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


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
    frame = pd.read_parquet(root / pair / "frame.parquet")
    meta = json.loads((root / pair / "meta.json").read_text())
    embeddings = np.load(root / "embeddings.npy", mmap_mode=None)
    semantic_p = np.load(root / pair / "semantic_p.npy")
    trace = Trace(frame=frame, meta=meta, embeddings=embeddings, semantic_p=semantic_p)
    if split is not None:
        trace = trace.subset(frame["split"].to_numpy() == split)
    return trace


class StagedBenchmark:
    """Write a benchmark directory under a temporary name; :meth:`commit` renames it in."""

    def __init__(self, benchmark: str, cache_dir: str | os.PathLike | None = None) -> None:
        self.final = benchmark_dir(benchmark, cache_dir)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{benchmark}-"))

    def commit(self) -> Path:
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
