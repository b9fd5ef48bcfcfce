"""Plain-text and Markdown tables of metrics (printed as the benchmark goes, and in results.md).

Values are ``mean ± std`` over seeds when a ``<key>_std`` is present. No dependency beyond the
standard library so that tables render the same on every machine and in CI logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Column header and number format per metric key.
COLUMN_FORMATS: dict[str, tuple[str, str]] = {
    "latency_mean_s": ("mean latency (s)", "{:.3f}"),
    "latency_p50_s": ("p50 (s)", "{:.3f}"),
    "latency_p95_s": ("p95 (s)", "{:.3f}"),
    "quality": ("quality", "{:.3f}"),
    "edge_rate": ("edge rate", "{:.3f}"),
    "reward_mean": ("reward/step", "{:.3f}"),
    "switches_per_dialogue": ("switches/dlg", "{:.2f}"),
    "recomputed_tokens_per_dialogue": ("recomputed tok/dlg", "{:.0f}"),
    "target_quality": ("target quality", "{:.3f}"),
    "latency_reduction_pct": ("latency reduction (%)", "{:+.1f}"),
    "edge_call_reduction_pct": ("edge-call reduction (%)", "{:+.1f}"),
    "delta_latency_mean_s": ("Δ mean latency (s)", "{:+.3f}"),
    "delta_quality": ("Δ quality", "{:+.3f}"),
    "delta_edge_rate": ("Δ edge rate", "{:+.3f}"),
}


def format_value(key: str, value: Any, std: Any = None) -> str:
    """One cell: formatted number (``± std`` when a std is given), ``n/a`` for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    fmt = COLUMN_FORMATS.get(key, (key, "{:.4g}"))[1]
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
    return [first] + [COLUMN_FORMATS.get(k, (k, ""))[0] for k in keys]


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
