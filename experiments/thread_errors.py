"""One line, not a traceback, when a library's background thread dies of an ``OSError``.

TensorBoard's event writer (used by SB3's logger) writes from a thread of its own; when the disk
fills up it dies with a traceback on stderr, next to the clean error the main thread reports
(:mod:`experiments.train` saves what it can and says so). Within
:func:`thread_os_errors_as_lines`, such a thread's ``OSError`` prints one line naming the file
and the reason; every other exception keeps Python's default report.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def thread_os_errors_as_lines(prog: str) -> Iterator[None]:
    """Report background threads' ``OSError`` as ``"<prog>: warning: ..."`` lines."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, OSError):
            exc = args.exc_value
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            name = args.thread.name if args.thread is not None else "a background thread"
            print(
                f"{prog}: warning: {name} could not write{where}: {exc.strerror or exc} (its "
                "output, e.g. TensorBoard logs, is incomplete)",
                file=sys.stderr,
            )
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
