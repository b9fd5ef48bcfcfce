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
from cost_models.semantic.length import fit_length_predictor, length_design
from cost_models.semantic.scorer import (
    ScorerReport,
    calibration_table,
    length_features,
    plot_reliability,
)
from cost_models.semantic.zoo import ScorerData, fit_zoo
from envs.traces import gsm8k, mmlu, mt_bench, mt_bench_101
from envs.traces.atomic import writable_dir
from envs.traces.common import DEFAULT_SEED, check_frame, keep_duplicates_in_one_split
from envs.traces.fetch import fetch, read_manifest, resolve_cache_dir
from envs.traces.schema import BENCHMARKS, OUTCOME_PREFIX, PREDICTED_TOKEN_COLUMNS
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
#: One line per scorer kind, for the trace's meta.
SCORER_DESCRIPTIONS = {
    "logistic": "logistic regression on the embedding (+ length features), Platt-scaled",
    "knn": "k nearest training queries by cosine similarity (Li 2025, arXiv:2505.12601)",
    "mf": "matrix factorisation of every model's outcomes (RouteLLM's MF form)",
}
BUILDERS: dict[str, ModuleType] = {
    "mmlu": mmlu,
    "gsm8k": gsm8k,
    "mt_bench": mt_bench,
    "mt_bench_101": mt_bench_101,
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
    return digest.hexdigest()


def scorer_data(frame: pd.DataFrame, emb: np.ndarray, meta: dict) -> ScorerData:
    """The zoo's view of a trace: embeddings, length features, the pair's qualities, every
    model's outcomes (``quality__<model>`` columns) and the dialogue groups."""
    lengths = length_features(frame["prompt_tokens"], frame["history_tokens"])
    qs = frame["quality_small"].to_numpy(float)
    ql = frame["quality_large"].to_numpy(float)
    cols = [c for c in frame.columns if c.startswith(OUTCOME_PREFIX)]
    names = [c.removeprefix(OUTCOME_PREFIX) for c in cols]
    outcomes = frame[cols].to_numpy(float) if cols else np.zeros((len(frame), 0))
    small_col = names.index(meta["small"]) if meta.get("small") in names else None
    large_col = names.index(meta["large"]) if meta.get("large") in names else None
    if small_col is None:
        outcomes, names = np.column_stack([outcomes, qs]), [*names, "small (pair)"]
        small_col = len(names) - 1
    if large_col is None:
        outcomes, names = np.column_stack([outcomes, ql]), [*names, "large (pair)"]
        large_col = len(names) - 1
    return ScorerData(
        np.asarray(emb),
        lengths,
        qs,
        ql,
        outcomes,
        tuple(names),
        small_col,
        large_col,
        frame["dialogue_id"].astype(str).to_numpy(),
    )


def _fit_scorer(frame: pd.DataFrame, meta: dict, emb: np.ndarray, seed: int) -> dict:
    """The scorer zoo on one pair: select on validation, report on test; the selected kind's
    P(needed) and expected gain for every row (out of fold on train, grouped by dialogue)."""
    data = scorer_data(frame, emb, meta)
    split = frame["split"].to_numpy()
    tr, va, te = (split == s for s in ("train", "validation", "test"))
    if min(tr.sum(), va.sum(), te.sum()) == 0:
        raise EdgeRouteError(
            "the semantic scorer needs rows in each of train, validation and test; got "
            f"{int(tr.sum())}/{int(va.sum())}/{int(te.sum())}"
        )
    zoo = fit_zoo(data.take(tr), data.take(va), data.take(te), seed)
    best = zoo.best
    pred = best.predict(data)
    oof = best.cross_fit(data.take(tr))
    p, gain = pred.p_needed.copy(), pred.expected_gain.copy()
    p[tr], gain[tr] = oof.p_needed, oof.expected_gain
    y_te = data.labels[te]
    ref = zoo.scorers["length_only"].predict(data.take(te)).p_needed
    sel, ref_m = zoo.report[zoo.selected], zoo.report["length_only"]
    report = ScorerReport(
        auc=float(sel["auc"] if sel["auc"] is not None else "nan"),
        brier=float(sel["brier"]),
        length_only_auc=float(ref_m["auc"] if ref_m["auc"] is not None else "nan"),
        length_only_brier=float(ref_m["brier"]),
        base_rate=float(y_te.mean()),
        n_train=int(tr.sum()),
        n_validation=int(va.sum()),
        n_test=int(te.sum()),
        kind=zoo.selected,
        C=float(best.params.get("C", float("nan"))),
        use_lengths=bool(best.params.get("use_lengths", False)),
        validation_auc=float(sel["validation_auc"] or float("nan")),
        calibration=calibration_table(y_te, p[te]),
        length_only_calibration=calibration_table(y_te, ref),
        apgr=sel["apgr"],
        params=dict(best.params),
    )
    logistic = zoo.scorers["logistic"]
    return {
        "zoo": zoo,
        "report": report,
        "p": p.astype(np.float32),
        "gain": gain.astype(np.float32),
        "logistic": logistic.model.scorer(float(logistic.params["C"]), logistic.platt, seed),
    }


def _fit_lengths(frame: pd.DataFrame, meta: dict, emb: np.ndarray, seed: int) -> dict:
    """Per-model output-length predictors; predicted tokens per row and the test report."""
    X = length_design(emb, length_features(frame["prompt_tokens"], frame["history_tokens"]))
    real = not str(meta.get("output_tokens_source", "")).startswith("modelled")
    groups = frame["dialogue_id"].astype(str).to_numpy()
    split = frame["split"].to_numpy()
    out: dict = {"columns": {}, "report": {}}
    for side, column in zip(("small", "large"), PREDICTED_TOKEN_COLUMNS, strict=True):
        fit = fit_length_predictor(
            X, frame[f"output_tokens_{side}"].to_numpy(float), split, groups, real, seed
        )
        out["columns"][column] = fit.predicted_tokens.astype(np.float64)
        out["report"][side] = {"model": meta.get(side), **fit.report}
    for key in ("mae_log_tokens", "baseline_mae_log_tokens"):
        out["report"][key] = round(
            float(np.mean([out["report"][s][key] for s in ("small", "large")])), 6
        )
    out["report"]["trained"] = bool(out["report"]["small"]["trained"])
    return out


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
            fitted = _fit_scorer(frame, meta, emb, seed)
            lengths = _fit_lengths(frame, meta, emb, seed)
            frame = frame.assign(**lengths["columns"])
            report, zoo = fitted["report"], fitted["zoo"]
            tok_name = tokenizer_name(None if _is_default(encoder) else encoder.path)
            meta = {**meta, "tokenizer": tok_name, "encoder": encoder.identity}
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
