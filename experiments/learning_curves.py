"""Learning curves: validation reward, latency and quality against training steps, as PNG.

Every training run's :class:`experiments.callbacks.RoutingEvalCallback` appends one entry per
evaluation on the validation split to ``<run>/eval_curve.json`` (steps, mean episode reward
and reward per served query, mean latency, quality, edge rate; the conditioned PPO's
validation episodes draw their prices as in training, so its reward is not the others').
:func:`plot_learning_curves` draws every run of a benchmark
(headline seeds, reward-weight variants, the conditioned PPO) in one figure, so a reader sees
whether the budget was enough (a curve still rising at the last step says it was not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.callbacks import EVAL_CURVE_FILE

#: Panels of the figure: (entry key, y-axis label).
PANELS: tuple[tuple[str, str], ...] = (
    ("reward_per_step", "validation reward per query"),
    ("latency_mean_s", "validation mean latency (s)"),
    ("quality", "validation quality"),
)


def read_curves(runs_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Run name -> its evaluations, for every run directory under ``runs_dir`` with a curve."""
    curves: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(runs_dir).glob(f"*/{EVAL_CURVE_FILE}")):
        try:
            entries = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # a run that never evaluated (or an unreadable file) has no curve
        if entries:
            curves[path.parent.name] = entries
    return curves


def plot_learning_curves(runs_dir: Path, path: Path, title: str) -> Path | None:
    """One PNG with a panel per :data:`PANELS` entry and a line per run; ``None`` if no run
    under ``runs_dir`` has a curve (e.g. models reused from elsewhere)."""
    curves = read_curves(runs_dir)
    if not curves:
        return None
    from experiments.plots import plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(12.0, 3.6))
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for name, entries in curves.items():
            ax.plot(
                [e["timesteps"] for e in entries], [e[key] for e in entries], "-o", ms=3,
                label=name,
            )  # fmt: skip
        ax.set_xlabel("training steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
