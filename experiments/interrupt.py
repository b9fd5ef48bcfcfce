"""SIGTERM handled like Ctrl-C, so that a stopped job saves its work.

Clusters (Slurm, Kubernetes, systemd) stop a job with SIGTERM and kill it a grace period later
(Slurm's ``KillWait``, 30 s by default; Kubernetes' ``terminationGracePeriodSeconds``, 30 s).
Python's default SIGTERM action ends the process at once, losing everything since the last
checkpoint. Inside :func:`sigterm_as_interrupt` a SIGTERM raises :class:`Interrupted` (a
``KeyboardInterrupt``), so the same code path that saves a checkpoint on Ctrl-C runs;
:func:`exit_code` gives the conventional status 128 + signal number (130 for Ctrl-C, 143 for
SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """A stop request by signal ``signum`` (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (main thread only; elsewhere
    Python cannot install signal handlers and the block runs unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Ignore further SIGTERMs while the block saves work (a second stop request must not abort
    the emergency checkpoint); Ctrl-C still works and writes stay atomic."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: BaseException) -> int:
    """128 + the signal number of an interrupt (130 for a plain ``KeyboardInterrupt``)."""
    return 128 + getattr(exc, "signum", int(signal.SIGINT))
