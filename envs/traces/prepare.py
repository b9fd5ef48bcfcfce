"""Build the traces: raw files -> frames -> cached embeddings -> semantic scorer -> cache.

``prepare(benchmarks, raw_dir, cache_dir)`` is what ``edgeroute data prepare`` runs. It is
idempotent: a benchmark whose fingerprint (manifest hashes of its raw files, builder version,
split seed, encoder identity) matches the one stored in its ``index.json`` is skipped, and
embeddings come from the on-disk cache keyed by encoder identity and text sha256, so a second
run does no model work. :func:`finish_trace` (embed + scorer + write) is shared with
``edgeroute data import``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from cost_models.semantic.cache import EmbeddingCache
from cost_models.semantic.encoder import (
    Encoder,
    count_tokens,
    default_encoder_path,
    tokenizer_name,
)
from cost_models.semantic.scorer import plot_reliability
from envs.traces import gsm8k, long_sessions, mmlu, mt_bench, mt_bench_101, mt_eval
from envs.traces.atomic import writable_dir
from envs.traces.common import DEFAULT_SEED, check_frame, keep_duplicates_in_one_split
from envs.traces.fetch import fetch, read_manifest, resolve_cache_dir
from envs.traces.fit import SCORER_DESCRIPTIONS, fit_lengths, fit_scorer
from envs.traces.schema import BENCHMARKS, PREDICTED_TOKEN_COLUMNS
from envs.traces.store import (
    INDEX_NAME,
    CorruptArtefactError,
    StagedBenchmark,
    read_index,
    remove_orphans,
    traces_root,
    verify_benchmark,
)

#: Bump when a builder's output changes, so cached traces are rebuilt.
BUILD_VERSION = 5
BUILDERS: dict[str, ModuleType] = {
    "mmlu": mmlu,
    "gsm8k": gsm8k,
    "mt_bench": mt_bench,
    "mt_bench_101": mt_bench_101,
    "mt_eval": mt_eval,
    "long_sessions": long_sessions,
}


@dataclass
class PrepareResult:
    """What one ``prepare`` call did, for the CLI to print."""

    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: benchmark -> why its cached build failed verification (it was rebuilt)
    repaired: dict[str, str] = field(default_factory=dict)
    #: staging directories of killed builds that were removed
    orphans_removed: list[str] = field(default_factory=list)
    #: corrupt embedding-cache files that were removed (their texts were embedded again)
    cache_repairs: list[str] = field(default_factory=list)
    raw_files: int = 0
    raw_bytes: int = 0
    raw_verify_s: float = 0.0
    embedded_texts: int = 0
    embed_seconds: float = 0.0
    encoder: str = ""

    @property
    def texts_per_s(self) -> float:
        return self.embedded_texts / self.embed_seconds if self.embed_seconds > 0 else float("nan")


def _is_default(encoder: Encoder) -> bool:
    try:
        return Path(encoder.path).resolve() == default_encoder_path().resolve()
    except EdgeRouteError:
        return False


def _fingerprint(benchmark: str, files: list[str], encoder: Encoder, seed: int) -> str:
    manifest = read_manifest()
    digest = hashlib.sha256()
    digest.update(f"{benchmark}:{BUILD_VERSION}:{seed}:{encoder.identity}".encode())
    for f in files:
        digest.update(f"{f}={manifest[f].sha256}".encode())
    if benchmark == "mt_bench_101":
        digest.update(mt_bench_101.published_scores_path().read_bytes())
    extra = getattr(BUILDERS.get(benchmark), "fingerprint_extra", None)
    if extra is not None:  # shipped tables, tokenizer identity
        digest.update(extra())
    return digest.hexdigest()


def _embedding_cache(root: Path, identity: str) -> tuple[EmbeddingCache, list[str]]:
    """The embedding cache, after removing files of it that do not load (e.g. a shard
    truncated by a full disk): it is a cache, so their texts are simply embedded again."""
    cache = EmbeddingCache(root, identity)
    try:
        len(cache)  # loads every shard
        return cache, []
    except Exception:  # numpy/zipfile raise several types on a corrupt .npz
        pass
    removed = []
    for shard in sorted(cache.directory.glob("*.npz")):
        try:
            with np.load(shard, allow_pickle=False) as data:
                if len(data["keys"]) != len(data["vectors"]):
                    raise ValueError("keys and vectors differ in length")
        except Exception as exc:
            shard.unlink(missing_ok=True)
            removed.append(f"{shard} ({type(exc).__name__}: {exc})")
    cache = EmbeddingCache(root, identity)
    len(cache)
    return cache, removed


def finish_trace(
    benchmark: str,
    pairs: dict[str, tuple[pd.DataFrame, dict]],
    default_pair: str,
    encoder: Encoder,
    cache_dir: Path,
    fingerprint: str,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    result: PrepareResult | None = None,
    extra_files: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Embed (cached), fit the scorer per pair and write the benchmark atomically."""
    for sub in (traces_root(cache_dir), cache_dir / "embeddings"):
        writable_dir(sub, "--cache-dir")
    frames = [f for f, _ in pairs.values()]
    texts = frames[0]["text"].tolist()
    for f in frames[1:]:
        if f["text"].tolist() != texts:
            raise EdgeRouteError(f"{benchmark}: all pairs must share the same rows and texts")
    from tqdm.auto import tqdm

    cache, repairs = _embedding_cache(cache_dir / "embeddings", encoder.identity)
    if result is not None:
        result.cache_repairs += repairs
    _, missing = cache.lookup(texts)
    bar = tqdm(
        total=len(set(np.asarray(texts, dtype=object)[missing])),
        unit="text",
        desc=f"{benchmark} embedding",
        disable=not progress or not missing.any(),
    )

    def compute(todo: list[str]) -> np.ndarray:
        vectors = encoder.embed(todo)
        bar.update(len(todo))
        return vectors

    start = time.perf_counter()
    emb, computed = cache.get_or_compute(texts, compute, chunk_size=1024)
    bar.close()
    if result is not None and computed:
        result.embedded_texts += computed
        result.embed_seconds += time.perf_counter() - start
    stage = StagedBenchmark(benchmark, cache_dir)
    try:
        np.save(stage.path / "embeddings.npy", emb.astype(np.float32))
        for name, (frame, meta) in pairs.items():
            check_frame(frame)
            d = stage.path / name
            d.mkdir()
            fitted = fit_scorer(frame, meta, emb, seed)
            lengths = fit_lengths(frame, meta, emb, seed)
            frame = frame.assign(**lengths["columns"])
            report, zoo = fitted["report"], fitted["zoo"]
            tok_name = tokenizer_name(None if _is_default(encoder) else encoder.path)
            # A builder that counts with its own tokenizer says so in its meta.
            meta = {"tokenizer": tok_name, **meta, "encoder": encoder.identity}
            meta["scorer"] = {
                "selected": zoo.selected,
                "model": SCORER_DESCRIPTIONS[zoo.selected],
                "params": zoo.best.params,
                "selection": "validation APGR (RouteLLM's metric; ties: validation AUC), "
                "P(needed) Platt-scaled on validation",
                "semantic_p_train": "out-of-fold (5-fold cross-fitted, grouped by dialogue)",
                "expected_gain": "expected_gain.npy: E[q_large - q_small], same folds",
            }
            meta["output_tokens_predicted"] = {
                "columns": list(PREDICTED_TOKEN_COLUMNS),
                "trained": lengths["report"]["trained"],
            }
            frame.to_parquet(d / "frame.parquet", index=False)
            (d / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
            np.save(d / "semantic_p.npy", fitted["p"])
            np.save(d / "expected_gain.npy", fitted["gain"])
            fitted["logistic"].save(d / "scorer")
            (d / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
            (d / "scorers.json").write_text(
                json.dumps({"selected": zoo.selected, "scorers": zoo.report}, indent=2)
            )
            (d / "length_report.json").write_text(json.dumps(lengths["report"], indent=2))
            quality = " (modelled quality)" if meta.get("quality_source") == "modelled" else ""
            plot_reliability(
                report, f"{benchmark} {name}{quality}: test calibration", d / "reliability.png"
            )
        for fname, table in (extra_files or {}).items():
            table.to_csv(stage.path / fname)
        index = {
            "benchmark": benchmark,
            "default_pair": default_pair,
            "pairs": list(pairs),
            "rows": len(texts),
            "encoder": encoder.identity,
            "fingerprint": fingerprint,
            "seed": seed,
        }
        (stage.path / INDEX_NAME).write_text(json.dumps(index, indent=2))
        return stage.commit()
    except BaseException:
        stage.abort()
        raise


def build_frames(
    benchmark: str,
    paths: dict[str, Path],
    encoder: Encoder | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """The frames and metas of every pair of ``benchmark`` from resolved raw ``paths``
    (no embeddings, no scorer): what tests and ``prepare`` share."""
    if benchmark not in BUILDERS:
        raise EdgeRouteError(f"unknown benchmark {benchmark!r}; allowed: {list(BUILDERS)}")
    encoder = encoder or Encoder.default()
    tokenizer = encoder.tokenizer

    def count(texts):
        return count_tokens(texts, tokenizer)

    tok_name = tokenizer_name(None if _is_default(encoder) else encoder.path)
    pairs = BUILDERS[benchmark].build(paths.__getitem__, read_manifest(), count, tok_name, seed)
    # Exact-duplicate texts stay inside one split (all pairs share rows, hence the splits).
    split, moved = keep_duplicates_in_one_split(next(iter(pairs.values()))[0])
    for frame, meta in pairs.values():
        frame["split"] = split
        meta["duplicates"] = {
            **moved,
            "rule": "dialogues sharing an exact text take the split of the smallest dialogue id",
        }
        check_frame(frame)
    return pairs


def fetch_benchmark(
    benchmark: str,
    raw_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict[str, Path]:
    """Verified local paths of the raw files ``benchmark`` reads."""
    from tqdm.auto import tqdm

    files = BUILDERS[benchmark].files(read_manifest())
    return {
        f: fetch(f, raw_dir=raw_dir, cache_dir=cache_dir, progress=progress)
        for f in tqdm(files, desc=f"{benchmark} raw files", leave=False, disable=not progress)
    }


def _cached_build_ok(benchmark: str, cache: Path, fingerprint: str) -> tuple[bool, str]:
    """(the cached build is current and intact, why not if it exists but fails)."""
    try:
        index = read_index(benchmark, cache)
        if index is None:
            return False, ""
        if index.get("fingerprint") != fingerprint:
            return False, ""  # inputs changed: an ordinary rebuild, not a repair
        verify_benchmark(benchmark, cache)
    except CorruptArtefactError as exc:
        return False, f"{exc.path.relative_to(cache)}: {exc.why}"
    return True, ""


def prepare(
    benchmarks: list[str] | None = None,
    raw_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    encoder: Encoder | None = None,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    progress: bool = True,
) -> PrepareResult:
    """Build (or reuse) the traces of ``benchmarks`` (all four by default)."""
    from tqdm.auto import tqdm

    benchmarks = list(benchmarks or BENCHMARKS)
    unknown = [b for b in benchmarks if b not in BUILDERS]
    if unknown:
        raise EdgeRouteError(f"unknown benchmarks {unknown}; allowed: {list(BUILDERS)}")
    if "mt_bench_101" in benchmarks:
        mt_bench_101.published_scores()  # a bad published table stops before any work
    cache = resolve_cache_dir(cache_dir)
    encoder = encoder or Encoder.default()
    result = PrepareResult(encoder=encoder.identity)
    result.orphans_removed = [str(p) for p in remove_orphans(cache)]
    manifest = read_manifest()
    for benchmark in tqdm(benchmarks, desc="benchmarks", unit="benchmark", disable=not progress):
        module = BUILDERS[benchmark]
        files = module.files(manifest)
        start = time.perf_counter()
        paths = fetch_benchmark(benchmark, raw_dir, cache, progress)
        result.raw_verify_s += time.perf_counter() - start
        result.raw_files += len(paths)
        result.raw_bytes += sum(manifest[f].size_bytes for f in paths)
        fingerprint = _fingerprint(benchmark, files, encoder, seed)
        if not force:
            current, why = _cached_build_ok(benchmark, cache, fingerprint)
            if current:
                result.skipped.append(benchmark)
                continue
            if why:
                result.repaired[benchmark] = why
        pairs = build_frames(benchmark, paths, encoder, seed)
        extra = {}
        if benchmark == "mmlu":
            extra["subject_accuracy.csv"] = mmlu.subject_accuracy(paths.__getitem__, manifest)
        finish_trace(
            benchmark,
            pairs,
            module.DEFAULT_PAIR,
            encoder,
            cache,
            fingerprint,
            seed,
            progress,
            result,
            extra,
        )
        result.built.append(benchmark)
    return result
