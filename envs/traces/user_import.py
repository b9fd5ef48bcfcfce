"""Bring your own trace: validate a CSV, TSV, JSONL or JSON-array file into a prepared trace.

Format: one row per query (single-turn) or per user turn (multi-turn). CSV/TSV with a header
row, JSONL with one JSON object per line, or one JSON array of objects. Columns named
``quality__<model>`` are other models' qualities on the row (in [0, 1], empty where not
measured): the matrix-factorisation scorer learns from them. Other extra columns (e.g.
RouteLLM's response texts) are ignored. Required columns:

- ``id``: unique row id (string or integer; not empty, not null);
- ``text``: what the router sees, the query or this turn's user message (non-empty string);
- ``quality_small``, ``quality_large``: number in [0, 1] (0/1 correctness or judge score / 10);
  ``True``/``False`` (as in RouteLLM's CSVs) count as 1/0;
- ``output_tokens_small``, ``output_tokens_large``: each model's answer length in **tokens**
  (integer >= 0). An empty cell is filled with the mean of the column's other rows (the trace
  metadata and ``edgeroute data import`` say how many); a column empty on every row is an error.

Optional: ``subject`` (default ``none``), ``dialogue_id`` (default ``id``), ``turn_index``
(0-based; a dialogue's turns must be 0..n-1; default 0), ``split`` (``train``/``validation``/
``test``; default a seeded hash of ``dialogue_id``), ``prompt_tokens`` (>= 1; default counted
with the project tokenizer), ``history_tokens`` (default: earlier turns' prompt + small-model
output tokens), ``quality_source`` (``measured`` (default) or ``modelled``). The README section
"Bring your own trace" has the same table with examples.

Token counts are capped at :data:`MAX_TOKENS`. Every invalid row is reported with its position
(``line N``; the header is line 1 of a CSV; ``item N`` in a JSON array) in one
:class:`~cost_models.errors.EdgeRouteError`; nothing is written unless all rows are valid.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.common import DEFAULT_SEED, assemble, split_of
from envs.traces.schema import BENCHMARKS, OUTCOME_PREFIX, QUALITY_SOURCES, SPLITS
from envs.traces.user_file import MAX_FIELD_CHARS, raise_errors, read_rows

REQUIRED = (
    "id",
    "text",
    "quality_small",
    "quality_large",
    "output_tokens_small",
    "output_tokens_large",
)
OUTPUT_COLUMNS = ("output_tokens_small", "output_tokens_large")
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
#: Largest token count accepted in any column: the longest published context window, 10M
#: tokens (Llama 4 Scout, Meta AI, "The Llama 4 herd", 2025-04-05). No prompt, history or answer
#: can be longer; a larger number is a unit mistake (bytes, characters) or a typo.
MAX_TOKENS = 10_000_000
_TRUE = ("true", "t", "yes")
_FALSE = ("false", "f", "no")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise EdgeRouteError(
            f"trace name {name!r} is not allowed; use lowercase letters, digits and _ "
            "(starting with a letter, at most 40 characters)"
        )
    if name in BENCHMARKS or name == "synthetic":
        raise EdgeRouteError(f"trace name {name!r} is a built-in benchmark; choose another name")
    return name


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, kind: str, low: float = 0):
    """A float (``kind="float"``) or an integer in [low, MAX_TOKENS] (``kind="int"``)."""
    if _empty(value):
        raise ValueError("is empty")
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"must be finite, got {value!r}")
    if kind == "int":
        if x != int(x) or not low <= x <= MAX_TOKENS:
            raise ValueError(f"must be an integer in [{low:g}, {MAX_TOKENS:,}], got {value!r}")
        return int(x)
    return x


def _quality(value) -> float:
    """A quality in [0, 1]; booleans and ``True``/``False`` strings are 1/0 correctness."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return float(value.strip().lower() in _TRUE)
    q = _number(value, "float")
    if not 0 <= q <= 1:
        raise ValueError(f"must be in [0, 1] (or True/False), got {value!r}")
    return q


def _text_field(row: dict, column: str, problems: list[str], allow_int: bool = False) -> str:
    value = row.get(column)
    if value is None:
        problems.append(f"{column} is null")
        return ""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problems.append(f"{column} must be a string, got {type(value).__name__} {value!r:.40}")
        return ""
    if len(value) > MAX_FIELD_CHARS:
        problems.append(f"{column} has {len(value):,} characters (at most {MAX_FIELD_CHARS:,})")
        return ""
    if not value.strip():
        problems.append(f"{column} is empty")
    return value


def _validate_row(row: dict) -> tuple[dict, list[str]]:
    """The cleaned row and its problems (empty when valid)."""
    problems = [f"missing {c}" for c in REQUIRED if c not in row and c not in OUTPUT_COLUMNS]
    if problems:
        return {}, problems
    out: dict = {
        "id": _text_field(row, "id", problems, allow_int=True).strip(),
        "text": _text_field(row, "text", problems),
    }
    for c in ("quality_small", "quality_large"):
        try:
            out[c] = _quality(row[c])
        except ValueError as exc:
            problems.append(f"{c} {exc}")
    for c, low in (*((c, 0) for c in OUTPUT_COLUMNS), ("turn_index", 0), ("prompt_tokens", 1)):
        out[c] = None
        if not _empty(row.get(c)):
            try:
                out[c] = _number(row[c], "int", low)
            except ValueError as exc:
                problems.append(f"{c} {exc}")
    out["history_tokens"] = None
    if not _empty(row.get("history_tokens")):
        try:
            out["history_tokens"] = _number(row["history_tokens"], "int")
        except ValueError as exc:
            problems.append(f"history_tokens {exc}")
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
    # Other models' outcomes (quality__<model>, for the matrix-factorisation scorer): a
    # quality in [0, 1], or empty where that model was not measured.
    out["_outcomes"] = {}
    for c in (k for k in row if isinstance(k, str) and k.startswith(OUTCOME_PREFIX)):
        if len(c) == len(OUTCOME_PREFIX):
            problems.append(f"column {c!r} needs a model name after {OUTCOME_PREFIX!r}")
            continue
        try:
            out["_outcomes"][c] = math.nan if _empty(row[c]) else _quality(row[c])
        except ValueError as exc:
            problems.append(f"{c} {exc}")
    return out, problems


def _check_structure(clean: list[dict], errors: list[str]) -> dict[str, list[dict]]:
    """Unique ids, turn indices 0..n-1 per dialogue, one split per dialogue."""
    seen: dict[str, str] = {}
    for r in clean:
        if r["id"] in seen:
            errors.append(f"{r['_where']}: id {r['id']!r} repeats {seen[r['id']]}")
        seen.setdefault(r["id"], r["_where"])
    dialogues: dict[str, list[dict]] = {}
    for r in clean:
        dialogues.setdefault(r["dialogue_id"], []).append(r)
    for did, turns in dialogues.items():
        idx = [t["turn_index"] or 0 for t in turns]
        if sorted(idx) != list(range(len(turns))):
            errors.append(
                f"{turns[0]['_where']}: dialogue {did!r} has turn_index {sorted(idx)}, "
                f"expected 0..{len(turns) - 1}"
            )
        splits = {t["split"] for t in turns if t["split"]}
        if len(splits) > 1:
            errors.append(f"{turns[0]['_where']}: dialogue {did!r} spans splits {splits}")
    return dialogues


def _fill_outputs(clean: list[dict], path: Path) -> dict[str, int]:
    """Fill empty output-token cells with the column mean; ``{column: rows filled}``."""
    filled = {}
    for c in OUTPUT_COLUMNS:
        given = [r[c] for r in clean if r[c] is not None]
        if not given:
            raise EdgeRouteError(
                f"{path.name}: {c} is missing on every row; edgeroute needs each model's answer "
                "length in tokens to model decode time and downlink (see the import format in "
                "the README)"
            )
        mean = int(round(float(np.mean(given))))
        filled[c] = len(clean) - len(given)
        for r in clean:
            if r[c] is None:
                r[c] = mean
    return filled


def validate(
    path: str | Path, tokenizer_count, tokens_source, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The trace frame of a user file (``benchmark`` filled in by the caller), or raise.

    ``tokenizer_count(texts)`` counts tokens for rows without ``prompt_tokens`` and
    ``tokens_source`` names that tokenizer (a string, or a callable returning it); both are
    used only once every row is valid. ``frame.attrs["filled_output_tokens"]`` counts the rows
    whose output length was filled with the column mean.
    """
    path = Path(path)
    rows = read_rows(path, REQUIRED, OPTIONAL)
    errors: list[str] = []
    clean = []
    for where, row in rows:
        out, problems = _validate_row(row)
        if problems:
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        out["_where"] = where
        clean.append(out)
    dialogues = _check_structure(clean, errors)
    if errors:
        raise_errors(path, sorted(set(errors), key=lambda e: int(e.split()[1].rstrip(":"))))
    filled = _fill_outputs(clean, path)
    for r in clean:
        r["turn_index"] = r["turn_index"] or 0
    order = {did: k for k, did in enumerate(dialogues)}
    clean.sort(key=lambda r: (order[r["dialogue_id"]], r["turn_index"]))
    n = len(clean)
    todo = [r["text"] for r in clean if r["prompt_tokens"] is None]
    counts = iter(tokenizer_count(todo) if todo else [])
    prompt = np.array(
        [
            r["prompt_tokens"] if r["prompt_tokens"] is not None else max(int(next(counts)), 1)
            for r in clean
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
    if callable(tokens_source):
        tokens_source = tokens_source()
    notes = [f"missing prompt tokens counted with {tokens_source}" if counted_any else ""]
    notes += [f"{k} of {c} filled with the column mean" for c, k in filled.items() if k]
    frame = assemble(
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
            **{
                c: np.array([r["_outcomes"].get(c, math.nan) for r in clean], dtype=np.float64)
                for c in sorted({c for r in clean for c in r["_outcomes"]})
            },
            "tokens_source": f"user file {path.name} (sha256 {digest}); "
            + ("; ".join(x for x in notes if x) or "token counts as given"),
        },
        n,
    )
    frame.attrs["filled_output_tokens"] = filled
    return frame


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
    """Validate ``path`` and write it as benchmark ``name`` (embeddings, scorer, report).

    Everything cheap is checked before the encoder is loaded (seconds) and the file embedded:
    the names, the deployment preset, the cache directory and every row. ``encoder`` is an
    :class:`~cost_models.semantic.encoder.Encoder`, a callable returning one (loaded only
    once the file is valid), or ``None`` for the default encoder.
    """
    from cost_models.router_cost import get_scenario
    from cost_models.semantic.encoder import Encoder, count_tokens, tokenizer_name
    from envs.traces.atomic import writable_dir
    from envs.traces.fetch import resolve_cache_dir
    from envs.traces.prepare import _is_default, finish_trace
    from envs.traces.store import remove_orphans, traces_root

    check_name(name)
    if not NAME_PATTERN.match(pair or ""):
        raise EdgeRouteError(f"pair name {pair!r} is not allowed; use lowercase letters, digits, _")
    get_scenario(deployment)  # an unknown --deployment names the allowed ones
    cache = resolve_cache_dir(cache_dir)
    writable_dir(traces_root(cache), "--cache-dir")
    remove_orphans(cache)
    loaded: list[Encoder] = []

    def get_encoder() -> Encoder:
        if not loaded:
            made = encoder() if callable(encoder) else encoder
            loaded.append(made or Encoder.default())
        return loaded[0]

    def count(texts: list[str]):
        return count_tokens(texts, get_encoder().tokenizer)

    def tokens_source() -> str:
        enc = get_encoder()
        return tokenizer_name(None if _is_default(enc) else enc.path)

    frame = validate(path, count, tokens_source, seed)
    frame["benchmark"] = name
    sources = sorted(set(frame["quality_source"]))
    filled = frame.attrs.get("filled_output_tokens", {})
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
        "output_tokens_source": "user file"
        + "".join(f"; {k} rows of {c} filled with the column mean" for c, k in filled.items() if k),
    }
    fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return finish_trace(
        name, {pair: (frame, meta)}, pair, get_encoder(), cache, fingerprint, seed, progress
    )
