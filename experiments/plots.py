"""PNG plots: quality-latency frontiers and latency distributions (matplotlib, Agg backend).

The Agg backend renders without a display (CI, servers); it is selected before pyplot is
imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.frontier import FrontierPoint, pareto_frontier  # noqa: E402


def plot_frontiers(
    sweeps: Mapping[str, Sequence[FrontierPoint]],
    fixed: Mapping[str, tuple[float, float]],
    path: Path,
    title: str,
    target_quality: float | None = None,
) -> Path:
    """Quality (x) vs mean latency (y): each sweep's points and Pareto frontier, fixed points.

    Args:
        sweeps: policy name -> swept operating points.
        fixed: policy name -> (quality, mean latency) of untuned policies (markers).
        path: output PNG.
        title: figure title (says "quick" / "modelled quality" where that applies).
        target_quality: draws the matched-quality line (quality of always-edge) if given.
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    for name, points in sweeps.items():
        if not points:
            continue
        q = [p.quality for p in points]
        t = [p.latency_mean_s for p in points]
        line = ax.scatter(q, t, s=14, alpha=0.5)
        front = pareto_frontier(points)
        ax.plot(
            [p.quality for p in front],
            [p.latency_mean_s for p in front],
            "-",
            color=line.get_facecolor()[0],
            label=f"{name} (frontier)",
        )
    markers = iter("os^vDP*Xh")
    for name, (q, t) in fixed.items():
        ax.plot([q], [t], next(markers, "o"), markersize=8, label=name, color="black", mfc="none")
    if target_quality is not None:
        ax.axvline(target_quality, color="grey", ls="--", lw=1, label="quality of always_edge")
    ax.set_xlabel("quality (mean over queries)")
    ax.set_ylabel("mean response latency (s)")
    ax.grid(alpha=0.3)
    return _save(fig, ax, path, title, legend_loc="best")


def plot_latency_distributions(latencies: Mapping[str, np.ndarray], path: Path, title: str) -> Path:
    """Empirical CDF of per-query latency for each policy (log-scaled x axis)."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for name, values in latencies.items():
        values = np.sort(np.asarray(values, dtype=float))
        if values.size == 0:
            continue
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("response latency (s)")
    ax.set_ylabel("share of queries with latency <= x")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, ax, path, title, legend_loc="lower right")


def _save(fig: Any, ax: Any, path: Path, title: str, legend_loc: str) -> Path:
    """Title, legend, layout; write the PNG (120 dpi) and free the figure."""
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc=legend_loc)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
