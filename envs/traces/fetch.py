"""Getting the raw public files: a verified local mirror, else a hash-checked download.

The project's own manifest (``envs/traces/manifest.tsv``, derived from the shared data
``MANIFEST.tsv``) lists every raw file the trace builders read: its local path (the mirror
layout ``<owner>__<repo>/<path in repo>``), origin repository, pinned commit, license, size,
sha256 and the public address of the raw file at that commit.

Resolution order for a file:

1. a mirror directory (``raw_dir`` argument, else the ``EDGEROUTE_RAW_DIR`` environment
   variable) holding the same layout: the file is checked against its sha256 once; the
   verification is remembered in ``<cache_dir>/raw_verified.json`` keyed by path, size and
   modification time so later runs do not re-hash;
2. the download cache ``<cache_dir>/raw/<local path>``, filled by :mod:`pooch` from the public
   address (hash-checked, written to a temporary file and renamed, so nothing half-written is
   ever left under the final name).

Every failure (hash mismatch, truncated or missing file, no mirror and no network) raises
:class:`~cost_models.errors.EdgeRouteError` naming the file and how to fix it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
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
_VERIFIED_NAME = "raw_verified.json"
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
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
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
    path.mkdir(parents=True, exist_ok=True)
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


def _load_verified(cache_dir: Path) -> dict[str, list]:
    try:
        return json.loads((cache_dir / _VERIFIED_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _store_verified(cache_dir: Path, verified: dict[str, list]) -> None:
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".verified-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(verified, fh)
    os.replace(tmp, cache_dir / _VERIFIED_NAME)


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
    cache = resolve_cache_dir(cache_dir)
    mirror = resolve_raw_dir(raw_dir)
    if mirror is not None:
        path = mirror / entry.file
        fix = (
            f"restore it from {entry.url} (sha256 {entry.sha256}) or point --raw-dir / "
            f"{RAW_DIR_ENV} at a correct mirror"
        )
        if not path.is_file():
            raise EdgeRouteError(
                f"raw file {entry.file!r} is missing from the mirror {mirror}; {fix}"
            )
        stat = path.stat()
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns, entry.sha256]
        verified = _load_verified(cache)
        if verified.get(key) != stamp:
            _check_file(path, entry, f"mirror {mirror}", fix)
            verified = _load_verified(cache)
            verified[key] = stamp
            _store_verified(cache, verified)
        return path
    target = cache / "raw" / entry.file
    fix = f"delete it and run `edgeroute data prepare` again to re-download from {entry.url}"
    if not target.is_file():
        _download(entry, target, progress)
    stat = target.stat()
    key = str(target.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns, entry.sha256]
    verified = _load_verified(cache)
    if verified.get(key) != stamp:
        try:
            _check_file(target, entry, f"download cache {cache / 'raw'}", fix)
        except EdgeRouteError:
            target.unlink(missing_ok=True)  # never keep a bad file under the final name
            raise
        verified = _load_verified(cache)
        verified[key] = stamp
        _store_verified(cache, verified)
    return target


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
