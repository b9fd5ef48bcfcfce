"""Shared pytest setup: point the data loader at the shared raw mirror and keep tests offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO_ROOT.parent / "shared" / "data" / "raw"

os.environ.setdefault("EDGEROUTE_RAW_DIR", str(SHARED_RAW))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def run_cli(capsys):
    """``run_cli(argv) -> (exit code, stdout, stderr)`` of ``edgeroute ARGV`` in-process;
    argparse errors count as exit code 2, and stderr must never hold a traceback."""
    from experiments.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run
