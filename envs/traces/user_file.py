"""Reading the rows of a user's trace file: CSV, TSV, JSONL or a JSON array, as users have them.

Every way a file can be unreadable becomes one :class:`~cost_models.errors.EdgeRouteError`
naming the file and where: bytes that are not UTF-8 (with the line), a CSV field longer than
:data:`MAX_FIELD_CHARS`, a line that is not JSON, a JSON value that is not an object. Rows come
back as ``(where, dict)`` with ``where`` a human position: ``line N`` (CSV: the header is line 1;
JSONL: one object per line) or ``item N`` (the N-th object of a JSON array, 1-based).
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import contextmanager
from pathlib import Path

from cost_models.errors import EdgeRouteError

#: Longest accepted field (characters). Python's csv module stops at 131,072 by default; long
#: prompts are real (documents, dialogue histories), so we allow 8x that: ~260k tokens at ~4
#: characters per token, beyond the 128k-token context of the largest model presets here
#: (Llama-3.1, Meta 2024). Longer fields are rejected with their line, not a traceback.
MAX_FIELD_CHARS = 1 << 20
#: At most this many row errors are listed in one message.
MAX_LISTED_ERRORS = 50
SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


def raise_errors(path: Path, errors: list[str]) -> None:
    """One error listing (at most :data:`MAX_LISTED_ERRORS` of) ``errors`` for ``path``."""
    listed = errors[:MAX_LISTED_ERRORS]
    more = f"\n... and {len(errors) - len(listed)} more" if len(errors) > len(listed) else ""
    raise EdgeRouteError(f"{path.name}: {len(errors)} invalid row(s):\n" + "\n".join(listed) + more)


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EdgeRouteError(f"trace file {str(path)!r} cannot be read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EdgeRouteError(
            f"{path.name}: line {line} is not UTF-8 (byte {data[exc.start]:#04x} at offset "
            f"{exc.start}); save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from exc
    return text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheet exports write


@contextmanager
def _csv_field_limit(limit: int):
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_rows(path: Path, text: str, required: tuple[str, ...], optional: tuple[str, ...]):
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[str, dict]] = []
    start = 1
    with _csv_field_limit(MAX_FIELD_CHARS):
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise EdgeRouteError(
                    f"{path.name}: header (line 1) lacks required columns {missing}; "
                    f"required: {list(required)}, optional: {list(optional)}"
                )
            start = 2
            for row in reader:
                if None in row:  # more fields than header columns
                    raise EdgeRouteError(
                        f"{path.name}: line {start} has {len(header) + len(row[None])} fields, "
                        f"the header has {len(header)}"
                    )
                rows.append((f"line {start}", row))
                start = reader.line_num + 1
        except csv.Error as exc:  # ``start``: the line where the failing record begins
            raise EdgeRouteError(
                f"{path.name}: line {start} is not valid CSV ({exc}); fields may be "
                f"at most {MAX_FIELD_CHARS:,} characters"
            ) from exc
    return rows


def _json_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    errors: list[str] = []
    rows: list[tuple[str, dict]] = []
    if text.lstrip().startswith("["):  # one JSON array of objects
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EdgeRouteError(
                f"{path.name}: line {exc.lineno} is not valid JSON ({exc.msg})"
            ) from exc
        located = [(f"item {k}", obj) for k, obj in enumerate(items, start=1)]
    else:  # JSON Lines
        located = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                located.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(f"line {n}: not valid JSON ({exc.msg})")
    for where, obj in located:
        if not isinstance(obj, dict):
            errors.append(f"{where}: expected a JSON object, got {type(obj).__name__}")
        else:
            rows.append((where, obj))
    if errors:
        raise_errors(path, errors)
    return rows


def read_rows(
    path: str | Path, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> list[tuple[str, dict]]:
    """``[(where, row dict)]`` of a CSV/TSV (header row; ``required`` checked on it), JSONL or
    JSON-array file; raises :class:`EdgeRouteError` naming the file and position."""
    path = Path(path)
    if not path.is_file():
        raise EdgeRouteError(f"trace file {str(path)!r} does not exist (or is not a file)")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise EdgeRouteError(
            f"trace file {path.name!r} must end in {', '.join(SUFFIXES)} (got {suffix!r})"
        )
    text = _decode(path)
    if suffix in (".csv", ".tsv"):
        rows = _csv_rows(path, text, required, optional)
    else:
        rows = _json_rows(path, text)
    if not rows:
        raise EdgeRouteError(f"trace file {path.name!r} has no rows")
    return rows
