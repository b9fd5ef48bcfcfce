"""Plain-text and Markdown tables of metrics (printed as the benchmark goes, and in results.md).

Values are ``mean ± std`` over seeds when a ``<key>_std`` is present. No dependency beyond the
standard library so that tables render the same on every machine and in CI logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple


class ColumnFormat(NamedTuple):
    """How a metric key is shown: its column header and its number format."""

    header: str
    fmt: str


#: Format of a key without an entry in :data:`COLUMN_FORMATS`.
DEFAULT_FORMAT = "{:.4g}"

#: Column header and number format per metric key, for every table of every job (read-only:
#: a job that needs a new column declares it here, never at call time).
COLUMN_FORMATS: Mapping[str, ColumnFormat] = MappingProxyType(
    {
        "latency_mean_s": ColumnFormat("mean latency (s)", "{:.3f}"),
        "latency_p50_s": ColumnFormat("p50 (s)", "{:.3f}"),
        "latency_p95_s": ColumnFormat("p95 (s)", "{:.3f}"),
        "quality": ColumnFormat("quality", "{:.3f}"),
        "edge_rate": ColumnFormat("edge rate", "{:.3f}"),
        "reward_mean": ColumnFormat("reward/step", "{:.3f}"),
        "switches_per_dialogue": ColumnFormat("switches/dlg", "{:.2f}"),
        "recomputed_tokens_per_dialogue": ColumnFormat("recomputed tok/dlg", "{:.0f}"),
        "target_quality": ColumnFormat("target quality", "{:.3f}"),
        "latency_reduction_pct": ColumnFormat("latency reduction (%)", "{:+.1f}"),
        "edge_call_reduction_pct": ColumnFormat("edge-call reduction (%)", "{:+.1f}"),
        "delta_latency_mean_s": ColumnFormat("Δ mean latency (s)", "{:+.3f}"),
        "delta_quality": ColumnFormat("Δ quality", "{:+.3f}"),
        "delta_edge_rate": ColumnFormat("Δ edge rate", "{:+.3f}"),
        "n_seeds": ColumnFormat("runs", "{:.0f}"),
        # The ablation's matched-quality columns (experiments.ablate).
        "matched_latency_mean_s": ColumnFormat("latency at target (s)", "{:.3f}"),
        "delta_matched_latency_mean_s": ColumnFormat("Δ latency at target (s)", "{:+.3f}"),
        "gap90_latency_mean_s": ColumnFormat("latency at 90% gap (s)", "{:.3f}"),
        "delta_gap90_latency_mean_s": ColumnFormat("Δ latency at 90% gap (s)", "{:+.3f}"),
    }
)


def column_format(key: str) -> ColumnFormat:
    """The format of ``key`` (the key itself as header, :data:`DEFAULT_FORMAT` if undeclared)."""
    return COLUMN_FORMATS.get(key) or ColumnFormat(key, DEFAULT_FORMAT)


def format_value(key: str, value: Any, std: Any = None) -> str:
    """One cell: formatted number (``± std`` when a std is given), ``n/a`` for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    fmt = column_format(key).fmt
    text = fmt.format(value)
    if isinstance(std, (int, float)) and not isinstance(std, bool):
        text += " ± " + fmt.replace("+", "").format(std)
    return text


def metric_rows(
    metrics_by_name: Mapping[str, Mapping[str, Any]], keys: Sequence[str]
) -> list[list[str]]:
    """Rows ``[name, cell per key]`` with ``mean ± std`` cells."""
    rows = []
    for name, metrics in metrics_by_name.items():
        row = [name]
        for key in keys:
            row.append(format_value(key, metrics.get(key), metrics.get(f"{key}_std")))
        rows.append(row)
    return rows


def headers_for(first: str, keys: Sequence[str]) -> list[str]:
    """Header row: ``first`` then the display name of each key."""
    return [first] + [column_format(k).header for k in keys]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (first column left-aligned, the rest right-aligned)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width text table for the terminal."""
    table = [list(map(str, headers))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    out = []
    for j, row in enumerate(table):
        cells = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        out.append("  ".join(cells))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
