"""Issue 8's structural contracts, checked mechanically: small modules, and one scalar step
path (``envs/base.py``) beside the batched vector envs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cost_models", "envs", "agents", "experiments")
#: Longest module allowed under the packages (DEVELOPERS standards, issue 8).
MAX_LINES = 450
#: The modules that may define an env ``step``: the base env and the batched vector envs.
STEP_HOMES = {"envs/base.py", "envs/vector.py", "envs/shared_vector.py"}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_is_over_the_line_limit():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_step_is_defined_only_in_the_base_env_and_the_vector_envs():
    homes = {
        str(p.relative_to(ROOT))
        for p in _modules()
        if re.search(r"^\s+def step\(", p.read_text(encoding="utf-8"), re.M)
    }
    assert homes == STEP_HOMES
