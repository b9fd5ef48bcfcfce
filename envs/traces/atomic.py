"""Atomic file writes and writable-directory checks, with errors that name the path.

Every file edgeroute writes that a later run reads (built traces, PPO checkpoints, models,
``run.yaml``, evaluation histories, JSON results) goes through :func:`atomic_write`: the bytes
go to a temporary file in the same directory, are flushed and fsync'ed, and only then renamed
over the final name (``os.replace`` is atomic on POSIX and Windows within one filesystem). A
full disk, a crash or a signal in the middle of a write therefore leaves the previous file (or
no file), never a truncated one under the final name, and the temporary file is removed.

:func:`writable_dir` checks an output directory before any work starts, so that ``--out`` being
a file, lying under a file, or being read-only stops with a message instead of a traceback
after minutes of computation.

The module lives in ``envs.traces`` (the lowest package that writes files and may import
``cost_models.errors``); ``experiments`` uses it too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from cost_models.errors import EdgeRouteError

#: Prefix of temporary files (hidden, so that directory listings and globs skip them).
TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"


def os_error_text(exc: OSError) -> str:
    """``"No space left on device"``-style text of an ``OSError`` (without the path)."""
    return exc.strerror or str(exc) or type(exc).__name__


def _open_temp(directory: Path, name: str) -> tuple[str, BinaryIO]:
    """A new temporary file beside ``directory / name``: (its path, an open binary writer).

    A separate function so that tests can replace it by a writer that fails like a full disk.
    """
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f"{TMP_PREFIX}{name}.", suffix=TMP_SUFFIX)
    return tmp, os.fdopen(fd, "wb")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary file that is then renamed.

    Raises :class:`EdgeRouteError` naming ``path`` and the reason (e.g. "No space left on
    device") if anything fails; ``path`` then still holds its previous content, if any.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fh = _open_temp(path.parent, path.name)
        with fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise EdgeRouteError(
            f"could not write {path}: {os_error_text(exc)}; "
            + ("its previous content is intact" if path.exists() else "nothing was written")
        ) from exc
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def writable_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a directory that exists and accepts new files (created if needed).

    ``what`` names the option in the message (e.g. ``"--out"``). Raises
    :class:`EdgeRouteError` when ``path`` is a file, lies under a file, cannot be created or is
    read-only.
    """
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise EdgeRouteError(f"{what} {str(p)!r} is a file, not a directory; choose a directory")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise EdgeRouteError(
                    f"{what} {str(p)!r} lies under {str(parent)!r}, which is a file; choose a "
                    "directory path"
                )
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=f"{TMP_PREFIX}write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise EdgeRouteError(
            f"{what} {str(p)!r} is not a writable directory ({os_error_text(exc)}); choose "
            "another path"
        ) from exc
    return p
