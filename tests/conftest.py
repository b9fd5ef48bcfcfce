"""Shared pytest setup: point the data loader at the shared raw mirror and keep tests offline."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO_ROOT.parent / "shared" / "data" / "raw"

os.environ.setdefault("EDGEROUTE_RAW_DIR", str(SHARED_RAW))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
