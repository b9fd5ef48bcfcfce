"""What code and which libraries produced a results file (its ``meta.code`` entry).

A results table is only as reproducible as the code behind it: the git commit of the project
(with a flag when the work tree had uncommitted changes) and the versions of the libraries whose
numerics enter the figures (PPO's torch and stable-baselines3, the envs' gymnasium and numpy,
the bootstrap's numpy, the scorer's transformers and scikit-learn).
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions a results file records (PyPI names).
PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "gymnasium",
    "stable-baselines3",
    "sb3-contrib",
    "transformers",
    "scikit-learn",
    "rliable",
    "optuna",
    "ray",
)

_ROOT = Path(__file__).resolve().parent.parent
#: Pathspecs of run outputs, left out of the dirty check (a run rewrites its own results).
_OUTPUTS = (":(exclude)results", ":(exclude)runs")


def _git(*args: str) -> str | None:
    """``git <args>`` in the project's source tree; None where there is no git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`PACKAGES` (None where one is not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def code_provenance() -> dict[str, Any]:
    """The commit, whether the code differed from it (outputs under results/ and runs/ left
    out), Python's and the libraries' versions."""
    commit = _git("rev-parse", "HEAD")
    # Uncommitted changes to the code count; the run's own outputs (results/, runs/) do not.
    status = (
        _git("status", "--porcelain", "--untracked-files=no", "--", ".", *_OUTPUTS)
        if commit
        else None
    )
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "python": platform.python_version(),
        "packages": package_versions(),
    }
