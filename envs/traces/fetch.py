"""Getting the raw public files: a verified local mirror, else a hash-checked download.

The project's own manifest (``envs/traces/manifest.tsv``, derived from the shared data
``MANIFEST.tsv``) lists every raw file the trace builders read: its local path (the mirror
layout ``<owner>__<repo>/<path in repo>``), origin repository, pinned commit, license, size,
sha256 and the public address of the raw file at that commit.

Resolution order for a file:

1. a mirror directory (``raw_dir`` argument, else the ``EDGEROUTE_RAW_DIR`` environment
   variable) holding the same layout;
2. the download cache ``<cache_dir>/raw/<local path>``, filled by pooch from the public
   address (hash-checked, written to a temporary file and renamed, so nothing half-written is
   ever left under the final name).

Either way the file's size and sha256 are checked against the manifest on every call. A
shortcut keyed by (path, size, modification time) would miss a file altered in place with its
timestamp kept, and hashing is cheap: the 72 files the builders read (17 MB) hash in well under
a second (``edgeroute data prepare`` prints the time).

Every failure (hash mismatch, truncated or missing file, no mirror and no network) raises
:class:`~cost_models.errors.EdgeRouteError` naming the file and how to fix it.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cost_models.errors import EdgeRouteError

#: Environment variable naming a local mirror of the raw files.
RAW_DIR_ENV = "EDGEROUTE_RAW_DIR"
#: Environment variable naming the cache of built artefacts (and downloaded raw files).
CACHE_DIR_ENV = "EDGEROUTE_CACHE_DIR"
#: Where the cache lives when neither ``--cache-dir`` nor the environment variable is set.
DEFAULT_CACHE_DIR = Path("~/.cache/edgeroute")
MANIFEST_PATH = Path(__file__).with_name("manifest.tsv")
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RawFile:
    """One manifest row: a public file pinned to a commit."""

    file: str
    repo: str
    commit: str
    path: str
    license: str
    size_bytes: int
    sha256: str
    url: str


@lru_cache(maxsize=4)
def read_manifest(path: Path = MANIFEST_PATH) -> dict[str, RawFile]:
    """The manifest as ``{local path: RawFile}``."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise EdgeRouteError(f"manifest {str(path)!r} cannot be read: {exc.strerror}") from exc
    needed = {"file", "repo", "commit", "path", "license", "bytes", "sha256", "url"}
    if not rows or not needed <= set(rows[0]):
        raise EdgeRouteError(f"manifest {str(path)!r} needs tab-separated columns {sorted(needed)}")
    return {
        r["file"]: RawFile(
            file=r["file"],
            repo=r["repo"],
            commit=r["commit"],
            path=r["path"],
            license=r["license"],
            size_bytes=int(r["bytes"]),
            sha256=r["sha256"],
            url=r["url"],
        )
        for r in rows
    }


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$EDGEROUTE_CACHE_DIR``, else ``~/.cache/edgeroute`` (created)."""
    chosen = cache_dir or os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR
    path = Path(chosen).expanduser()
    if path.is_dir():
        return path  # possibly read-only: loading needs no write access
    if path.exists():
        raise EdgeRouteError(
            f"cache directory {str(path)!r} (--cache-dir or {CACHE_DIR_ENV}) is a file; "
            "choose a directory"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeRouteError(
            f"cannot create the cache directory {str(path)!r} (--cache-dir or {CACHE_DIR_ENV}): "
            f"{exc.strerror or exc}; choose a writable directory"
        ) from exc
    return path


def resolve_raw_dir(raw_dir: str | os.PathLike | None = None) -> Path | None:
    """``raw_dir``, else ``$EDGEROUTE_RAW_DIR``, else ``None`` (download instead)."""
    chosen = raw_dir or os.environ.get(RAW_DIR_ENV)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise EdgeRouteError(
            f"raw mirror directory {str(path)!r} does not exist; pass --raw-dir (or set "
            f"{RAW_DIR_ENV}) to a directory with the layout of the shared MANIFEST.tsv, or unset "
            "it to download the files from their public addresses"
        )
    return path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path, entry: RawFile, where: str, fix: str) -> None:
    """Raise naming ``entry.file`` unless ``path`` has the manifest's size and sha256."""
    if not path.is_file():
        raise EdgeRouteError(f"raw file {entry.file!r} is missing from the {where}; {fix}")
    size = path.stat().st_size
    if size != entry.size_bytes:
        raise EdgeRouteError(
            f"raw file {entry.file!r} in the {where} is truncated or altered: {size} bytes, "
            f"expected {entry.size_bytes}; {fix}"
        )
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise EdgeRouteError(
            f"raw file {entry.file!r} in the {where} fails its hash check: sha256 {digest}, "
            f"expected {entry.sha256}; {fix}"
        )


def _download(entry: RawFile, target: Path, progress: bool) -> None:
    """Fetch ``entry`` to ``target`` with pooch (hash-checked, temp file then rename)."""
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            url=entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=progress,
        )
    except ValueError as exc:  # pooch's hash mismatch; it has already removed the download
        raise EdgeRouteError(
            f"raw file {entry.file!r} downloaded from {entry.url} fails its hash check ({exc}); "
            "the pinned file may have moved: use a mirror with --raw-dir"
        ) from exc
    except Exception as exc:  # network errors come from requests/urllib3 under several types
        raise EdgeRouteError(
            f"raw file {entry.file!r} is not in a mirror and could not be downloaded from "
            f"{entry.url} ({type(exc).__name__}: {exc}); connect to the internet or pass "
            f"--raw-dir (or set {RAW_DIR_ENV}) to a local mirror of the raw files"
        ) from exc


def fetch(
    file: str,
    raw_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> Path:
    """A verified local path of the manifest file ``file`` (mirror first, else download)."""
    manifest = read_manifest()
    if file not in manifest:
        raise EdgeRouteError(
            f"raw file {file!r} is not in the project's manifest {MANIFEST_PATH.name}; "
            f"known files are e.g. {sorted(manifest)[:3]}"
        )
    entry = manifest[file]
    mirror = resolve_raw_dir(raw_dir)
    if mirror is not None:
        fix = (
            f"restore it from {entry.url} (sha256 {entry.sha256}) or point --raw-dir / "
            f"{RAW_DIR_ENV} at a correct mirror"
        )
        path = mirror / entry.file
        _check_file(path, entry, f"mirror {mirror}", fix)
        return path
    cache = resolve_cache_dir(cache_dir)
    target = cache / "raw" / entry.file
    fix = f"delete it and run `edgeroute data prepare` again to re-download from {entry.url}"
    if not target.is_file():
        _download(entry, target, progress)
    try:
        _check_file(target, entry, f"download cache {cache / 'raw'}", fix)
    except EdgeRouteError:
        target.unlink(missing_ok=True)  # never keep a bad file under the final name
        raise
    return target


def verify_mirror(
    raw_dir: str | os.PathLike | None = None, manifest: Path = MANIFEST_PATH
) -> tuple[int, int, float, list[str]]:
    """Check every file of ``manifest`` in the mirror by size and sha256.

    Returns (files checked, bytes hashed, seconds, one message per bad file). ``manifest`` may
    be the shared data folder's ``MANIFEST.tsv`` (same columns) to check the whole mirror.
    """
    import time

    mirror = resolve_raw_dir(raw_dir)
    if mirror is None:
        raise EdgeRouteError(f"no raw mirror to verify; pass --raw-dir or set {RAW_DIR_ENV}")
    entries = read_manifest(Path(manifest))
    failures: list[str] = []
    hashed = 0
    start = time.perf_counter()
    for entry in entries.values():
        path = mirror / entry.file
        try:
            _check_file(path, entry, f"mirror {mirror}", f"restore it from {entry.url}")
            hashed += entry.size_bytes
        except EdgeRouteError as exc:
            failures.append(str(exc))
    return len(entries), hashed, time.perf_counter() - start, failures


def fetch_all(
    files: list[str] | None = None,
    raw_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Resolve (and verify or download) several manifest files; all of them by default."""
    from tqdm.auto import tqdm

    names = list(read_manifest()) if files is None else list(files)
    out: dict[str, Path] = {}
    for name in tqdm(names, desc="raw files", unit="file", disable=not progress, leave=False):
        out[name] = fetch(name, raw_dir=raw_dir, cache_dir=cache_dir, progress=progress)
    return out
