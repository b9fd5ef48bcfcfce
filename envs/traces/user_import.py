"""Bring your own trace: validate a CSV or JSONL file and turn it into a prepared trace.

Format: one row per query (single-turn) or per user turn (multi-turn). CSV with a header row,
or JSONL with one JSON object per line. Columns (extra columns are ignored):

| column | required | meaning |
|---|---|---|
| ``id`` | yes | unique row id |
| ``text`` | yes | what the router sees (non-empty) |
| ``quality_small``, ``quality_large`` | yes | number in [0, 1] (0/1 correctness or score/10) |
| ``output_tokens_small``, ``output_tokens_large`` | yes | integer >= 0, answer lengths |
| ``subject`` | no | category (default ``none``) |
| ``dialogue_id`` | no | default: ``id`` (single-turn) |
| ``turn_index`` | no | 0-based; a dialogue's turns must be 0, 1, ..., n-1 (default 0) |
| ``split`` | no | ``train``/``validation``/``test``; default: seeded hash of ``dialogue_id`` |
| ``prompt_tokens`` | no | default: counted with the project tokenizer |
| ``history_tokens`` | no | default: earlier turns' prompt + small-model output tokens |
| ``quality_source`` | no | ``measured`` (default) or ``modelled`` |

Every invalid row is reported with its line number (the header is line 1 of a CSV) in one
:class:`~cost_models.errors.EdgeRouteError`; nothing is written unless all rows are valid.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.common import DEFAULT_SEED, assemble, split_of
from envs.traces.schema import BENCHMARKS, QUALITY_SOURCES, SPLITS

REQUIRED = (
    "id",
    "text",
    "quality_small",
    "quality_large",
    "output_tokens_small",
    "output_tokens_large",
)
OPTIONAL = (
    "subject",
    "dialogue_id",
    "turn_index",
    "split",
    "prompt_tokens",
    "history_tokens",
    "quality_source",
)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: At most this many row errors are listed in the message.
MAX_LISTED_ERRORS = 50


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise EdgeRouteError(
            f"trace name {name!r} is not allowed; use lowercase letters, digits and _ "
            "(starting with a letter, at most 40 characters)"
        )
    if name in BENCHMARKS or name == "synthetic":
        raise EdgeRouteError(f"trace name {name!r} is a built-in benchmark; choose another name")
    return name


def read_rows(path: str | Path) -> list[tuple[int, dict]]:
    """``[(line number, row dict)]`` from a CSV (header = line 1) or JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise EdgeRouteError(f"trace file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict]] = []
    if suffix in (".jsonl", ".json"):
        errors = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"line {n}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"line {n}: expected a JSON object, got {type(obj).__name__}")
                continue
            rows.append((n, obj))
        if errors:
            _raise(path, errors)
    elif suffix in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise EdgeRouteError(
                    f"{path.name}: header (line 1) lacks required columns {missing}; "
                    f"required: {list(REQUIRED)}, optional: {list(OPTIONAL)}"
                )
            start = 2
            for row in reader:
                rows.append((start, row))
                start = reader.line_num + 1
    else:
        raise EdgeRouteError(
            f"trace file {path.name!r} must end in .csv, .tsv or .jsonl (got {suffix!r})"
        )
    if not rows:
        raise EdgeRouteError(f"trace file {path.name!r} has no rows")
    return rows


def _raise(path: Path, errors: list[str]) -> None:
    listed = errors[:MAX_LISTED_ERRORS]
    more = f"\n... and {len(errors) - len(listed)} more" if len(errors) > len(listed) else ""
    raise EdgeRouteError(f"{path.name}: {len(errors)} invalid row(s):\n" + "\n".join(listed) + more)


def _number(value, kind: str):
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("is empty")
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"must be finite, got {value!r}")
    if kind == "int":
        if x != int(x) or x < 0:
            raise ValueError(f"must be an integer >= 0, got {value!r}")
        return int(x)
    return x


def validate(
    path: str | Path, tokenizer_count, tokens_source: str, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The trace frame of a user file (``benchmark`` filled in by the caller), or raise."""
    path = Path(path)
    rows = read_rows(path)
    errors: list[str] = []
    clean = []
    for line, row in rows:
        problems = []
        out: dict = {}
        for c in REQUIRED:
            if c not in row:
                problems.append(f"missing {c}")
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        out["id"] = str(row["id"]).strip()
        out["text"] = str(row["text"])
        if not out["id"]:
            problems.append("id is empty")
        if not out["text"].strip():
            problems.append("text is empty")
        for c in ("quality_small", "quality_large"):
            try:
                q = _number(row[c], "float")
                if not 0 <= q <= 1:
                    raise ValueError(f"must be in [0, 1], got {row[c]!r}")
                out[c] = q
            except (TypeError, ValueError) as exc:
                problems.append(f"{c} {exc}")
        for c in ("output_tokens_small", "output_tokens_large"):
            try:
                out[c] = _number(row[c], "int")
            except (TypeError, ValueError) as exc:
                problems.append(f"{c} {exc}")
        for c in ("turn_index", "prompt_tokens", "history_tokens"):
            v = row.get(c)
            if v is None or (isinstance(v, str) and not v.strip()):
                out[c] = None
                continue
            try:
                out[c] = _number(v, "int")
            except (TypeError, ValueError) as exc:
                problems.append(f"{c} {exc}")
        split = str(row.get("split") or "").strip()
        if split and split not in SPLITS:
            problems.append(f"split {split!r} not in {list(SPLITS)}")
        out["split"] = split or None
        qs = str(row.get("quality_source") or "measured").strip()
        if qs not in QUALITY_SOURCES:
            problems.append(f"quality_source {qs!r} not in {list(QUALITY_SOURCES)}")
        out["quality_source"] = qs
        out["subject"] = str(row.get("subject") or "none")
        out["dialogue_id"] = str(row.get("dialogue_id") or "").strip() or out["id"]
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        out["_line"] = line
        clean.append(out)
    seen: dict[str, int] = {}
    for r in clean:
        if r["id"] in seen:
            errors.append(f"line {r['_line']}: id {r['id']!r} repeats line {seen[r['id']]}")
        seen.setdefault(r["id"], r["_line"])
    dialogues: dict[str, list[dict]] = {}
    for r in clean:
        dialogues.setdefault(r["dialogue_id"], []).append(r)
    for did, turns in dialogues.items():
        idx = [0 if t["turn_index"] is None else t["turn_index"] for t in turns]
        if sorted(idx) != list(range(len(turns))):
            errors.append(
                f"line {turns[0]['_line']}: dialogue {did!r} has turn_index {sorted(idx)}, "
                f"expected 0..{len(turns) - 1}"
            )
        splits = {t["split"] for t in turns if t["split"]}
        if len(splits) > 1:
            errors.append(f"line {turns[0]['_line']}: dialogue {did!r} spans splits {splits}")
    if errors:
        _raise(path, sorted(set(errors), key=lambda e: int(e.split()[1].rstrip(":"))))
    for r in clean:
        r["turn_index"] = r["turn_index"] or 0
    order = {did: k for k, did in enumerate(dialogues)}
    clean.sort(key=lambda r: (order[r["dialogue_id"]], r["turn_index"]))
    n = len(clean)
    counted = tokenizer_count([r["text"] for r in clean])
    prompt = np.array(
        [
            r["prompt_tokens"] if r["prompt_tokens"] is not None else c
            for r, c in zip(clean, counted, strict=True)
        ],
        dtype=np.int64,
    )
    history = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(clean):
        if r["history_tokens"] is not None:
            history[i] = r["history_tokens"]
        elif r["turn_index"] > 0:
            history[i] = history[i - 1] + prompt[i - 1] + clean[i - 1]["output_tokens_small"]
    counted_any = any(r["prompt_tokens"] is None for r in clean)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return assemble(
        {
            "id": [r["id"] for r in clean],
            "benchmark": "",
            "subject": [r["subject"] for r in clean],
            "split": [r["split"] or split_of(r["dialogue_id"], seed) for r in clean],
            "dialogue_id": [r["dialogue_id"] for r in clean],
            "turn_index": [r["turn_index"] for r in clean],
            "text": [r["text"] for r in clean],
            "prompt_tokens": prompt,
            "history_tokens": history,
            "output_tokens_small": [r["output_tokens_small"] for r in clean],
            "output_tokens_large": [r["output_tokens_large"] for r in clean],
            "quality_small": [r["quality_small"] for r in clean],
            "quality_large": [r["quality_large"] for r in clean],
            "quality_source": [r["quality_source"] for r in clean],
            "tokens_source": (
                f"user file {path.name} (sha256 {digest}); "
                + (
                    f"missing prompt tokens counted with {tokens_source}"
                    if counted_any
                    else "token counts as given"
                )
            ),
        },
        n,
    )


def import_trace(
    path: str | Path,
    name: str,
    pair: str = "user",
    small: str = "small model",
    large: str = "large model",
    deployment: str = "phone_3b__edge_70b",
    cache_dir=None,
    encoder=None,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
) -> Path:
    """Validate ``path`` and write it as benchmark ``name`` (embeddings, scorer, report)."""
    from cost_models.semantic.encoder import Encoder, count_tokens, tokenizer_name
    from envs.traces.fetch import resolve_cache_dir
    from envs.traces.prepare import _is_default, finish_trace

    check_name(name)
    if not NAME_PATTERN.match(pair):
        raise EdgeRouteError(f"pair name {pair!r} is not allowed; use lowercase letters, digits, _")
    encoder = encoder or Encoder.default()
    tok_name = tokenizer_name(None if _is_default(encoder) else encoder.path)
    frame = validate(path, lambda texts: count_tokens(texts, encoder.tokenizer), tok_name, seed)
    frame["benchmark"] = name
    sources = sorted(set(frame["quality_source"]))
    meta = {
        "benchmark": name,
        "pair": pair,
        "small": small,
        "large": large,
        "quality_source": sources[0] if len(sources) == 1 else "mixed",
        "quality_note": f"imported from {Path(path).name}",
        "multi_turn": bool((frame["turn_index"] > 0).any()),
        "deployment": deployment,
        "default_pair": True,
        "output_tokens_source": "user file",
    }
    fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    cache = resolve_cache_dir(cache_dir)
    return finish_trace(
        name, {pair: (frame, meta)}, pair, encoder, cache, fingerprint, seed, progress
    )
