"""A results file names the commit and the library versions that produced it."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from experiments.provenance import code_provenance
from experiments.report import code_lines

ROOT = Path(__file__).resolve().parent.parent


def test_code_provenance_names_this_checkout_and_the_installed_versions() -> None:
    code = code_provenance()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:  # a git checkout (CI's clean clone is one)
        assert code["git_commit"] == head.stdout.strip()
        assert isinstance(code["git_dirty"], bool)
    assert code["packages"]["numpy"] == np.__version__
    assert code["packages"]["stable-baselines3"] == metadata.version("stable-baselines3")


def test_the_results_markdown_line_shows_commit_dirty_flag_and_versions() -> None:
    line = code_lines(
        {
            "git_commit": "0123456789abcdef0123",
            "git_dirty": True,
            "python": "3.11.9",
            "packages": {"numpy": "2.1.0", "ray": None},
        }
    )
    assert line == [
        "Code: commit `0123456789ab` (with uncommitted changes), Python 3.11.9; numpy 2.1.0."
    ]
    assert code_lines(None) == []


def test_run_outputs_do_not_make_the_code_dirty(tmp_path, monkeypatch):
    """A clone whose only change is under results/ is clean; a changed module is dirty."""
    from experiments import provenance

    repo = tmp_path / "repo"
    cloned = subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], capture_output=True)
    if cloned.returncode != 0:
        pytest.skip("no git checkout to clone")
    monkeypatch.setattr(provenance, "_ROOT", repo)
    assert code_provenance()["git_dirty"] is False
    (repo / "results" / "benchmark").mkdir(parents=True, exist_ok=True)
    (repo / "results" / "benchmark" / "results.md").write_text("rewritten by a run\n")
    assert code_provenance()["git_dirty"] is False
    with (repo / "experiments" / "__init__.py").open("a") as f:
        f.write("# changed\n")
    assert code_provenance()["git_dirty"] is True
