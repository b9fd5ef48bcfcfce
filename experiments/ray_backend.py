"""Ray, the optional distributed engine: a session, and the executor that fans runs out on it.

Ray is an optional extra (``pip install -e ".[ray]"``); nothing imports it unless ``edgeroute
sweep`` or ``--ray`` asks for it, and without it they stop with :data:`INSTALL_HINT`.

- :func:`ray_session`: starts Ray locally (``address=None``: a fresh local instance with
  ``num_cpus`` CPUs) or connects to a running cluster (``auto``, ``HOST:PORT``,
  ``ray://HOST:PORT``). Usage statistics and the dashboard UI are off (Ray's minimal head
  process listens on 127.0.0.1 only), every worker gets this process's BLAS thread count
  (:func:`blas_env`: the same floating-point results), and a locally started Ray keeps its
  session files (logs, spilled objects) under ``<out>/.ray`` instead of ``/tmp/ray``. A
  session already open in this process is reused (tests share one per module) and left open.
- :class:`RayExecutor`: the :class:`experiments.runs.Executor` of ``benchmark --ray`` and
  ``ablate --ray``: each spec is one Ray task calling :func:`experiments.runs.execute` on a
  worker, which keeps its own :class:`experiments.runs.EnvCache` across tasks. Results come
  back in the order of the specs; a run's :class:`EdgeRouteError` is re-raised as itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_models.errors import EdgeRouteError, require
from experiments.runs import EnvCache, RunResult, RunSpec, execute

INSTALL_HINT = (
    'Ray is not installed; it is an optional extra: pip install -e ".[ray]" '
    "(or pip install 'ray[tune]')"
)
#: Environment of every Ray process this module starts: no usage statistics are sent.
RAY_ENV: dict[str, str] = {"RAY_USAGE_STATS_ENABLED": "0"}
#: AF_UNIX socket paths are limited to 107 bytes (Linux ``sun_path``); Ray puts its sockets at
#: ``<temp>/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store``, 64 bytes after ``<temp>``.
MAX_TEMP_DIR_CHARS = 107 - len("/session_2025-01-01_00-00-00_000000_9999999/sockets/plasma_store")
_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9_.-]+:\d{1,5})$")
#: Progress of a long executor call: a line when runs finished and this many seconds passed
#: since the last line, and one every HEARTBEAT_S seconds while nothing finishes (training).
PROGRESS_EVERY_S = 10.0
HEARTBEAT_S = 60.0


def require_ray() -> Any:
    """The ``ray`` module, or :class:`EdgeRouteError` saying how to install it."""
    try:
        import ray
        from ray import tune  # noqa: F401  (the sweep needs Tune, part of ray[tune])
    except ImportError as exc:
        raise EdgeRouteError(f"{INSTALL_HINT} ({exc})") from None
    return ray


@dataclass(frozen=True)
class RaySettings:
    """Where the runs go: a fresh local Ray (``address=None``) or a running cluster."""

    address: str | None = None
    """None: start Ray locally; `auto`, HOST:PORT or ray://HOST:PORT: connect to a cluster"""
    num_cpus: int | None = None
    """local: CPUs Ray starts with (None: all); cluster: the most runs in flight (None: no cap)"""

    def __post_init__(self) -> None:
        if self.address is not None:
            require(
                bool(_ADDRESS.match(self.address)),
                f"--address {self.address!r}: allowed: auto, HOST:PORT or ray://HOST:PORT",
            )
        if self.num_cpus is not None:
            ok = isinstance(self.num_cpus, int) and self.num_cpus >= 1
            require(ok, f"--num-cpus {self.num_cpus!r} must be an integer >= 1")

    @property
    def max_in_flight(self) -> int | None:
        """Runs in flight at once: Ray's own scheduling locally, ``num_cpus`` on a cluster."""
        return self.num_cpus if self.address is not None else None


@dataclass(frozen=True)
class RayInfo:
    """What was started or joined, for the outputs' ``meta``."""

    address: str
    """the cluster address (local instances too)"""
    started_locally: bool
    """True if this process started Ray"""
    cpus: float
    """CPUs of the cluster"""
    temp_dir: str | None
    """session files of a local Ray"""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def blas_env() -> dict[str, str]:
    """``OPENBLAS_NUM_THREADS`` of this process, for every Ray worker.

    Why: float32 matmuls round differently with another number of BLAS threads (the PCA
    projection of the embeddings in ``envs/observation.py`` is one), and Ray sets
    ``OMP_NUM_THREADS=1`` in its workers, which OpenBLAS follows. A worker would then build
    observations a few ulps off this process's, and PPO would learn other weights; with this
    process's thread count every worker computes what this process computes (the in-process
    executor's results, bit for bit).
    """
    import numpy  # noqa: F401  (loads numpy's OpenBLAS, so threadpoolctl sees it)
    from threadpoolctl import threadpool_info

    counts = [d["num_threads"] for d in threadpool_info() if d.get("internal_api") == "openblas"]
    return {"OPENBLAS_NUM_THREADS": str(counts[0])} if counts else {}


def ray_temp_dir(out_dir: Path) -> tuple[Path, bool]:
    """``<out>/.ray`` if short enough for Ray's socket paths, else a short directory in the
    system temp dir named after ``out_dir`` (so a resumed run reuses the one an interrupted run
    left); the flag says whether it is such a fallback (removed at shutdown)."""
    own = Path(out_dir).resolve() / ".ray"
    if len(str(own)) <= MAX_TEMP_DIR_CHARS:
        own.mkdir(parents=True, exist_ok=True)
        return own, False
    digest = hashlib.sha1(str(own).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"edgeroute-ray-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short, True


@contextmanager
def ray_session(
    settings: RaySettings, out_dir: Path, log: Callable[[str], None] = print
) -> Iterator[RayInfo]:
    """Start (or join) Ray for the duration of the block; see the module docstring."""
    ray = require_ray()
    if ray.is_initialized():  # a session this process opened earlier: reuse, leave open
        yield _info(ray, started=False, temp_dir=None)
        return
    os.environ.update(RAY_ENV)
    common: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": "warning",
        "log_to_driver": True,
        "runtime_env": {"env_vars": blas_env()},
    }
    temp: Path | None = None
    fallback = False
    if settings.address is None:
        temp, fallback = ray_temp_dir(out_dir)
        kwargs = {"address": "local", "num_cpus": settings.num_cpus, "_temp_dir": str(temp)}
    else:
        kwargs = {"address": settings.address}
    try:
        ray.init(**kwargs, **common)
    except (OSError, RuntimeError, ValueError) as exc:
        where = settings.address or "a local instance"
        hint = " (start a cluster with `ray start --head`)" if settings.address else ""
        raise EdgeRouteError(f"could not start or join Ray at {where}: {exc}{hint}") from None
    info = _info(ray, started=True, temp_dir=None if temp is None else str(temp))
    where = "started locally" if settings.address is None else f"joined {settings.address}"
    log(f"[ray] {where}: {info.cpus:g} CPUs" + (f", session files in {temp}" if temp else ""))
    try:
        yield info
    finally:
        ray.shutdown()
        if fallback and temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _info(ray: Any, started: bool, temp_dir: str | None) -> RayInfo:
    ctx = ray.get_runtime_context()
    address = getattr(ctx, "gcs_address", None) or "unknown"
    return RayInfo(str(address), started, float(ray.cluster_resources().get("CPU", 0)), temp_dir)


#: One environment cache per Ray worker process, kept across the tasks it runs.
_WORKER_ENVS: EnvCache | None = None


def _execute_on_worker(spec: RunSpec) -> RunResult:
    global _WORKER_ENVS
    if _WORKER_ENVS is None:
        _WORKER_ENVS = EnvCache()
    return execute(spec, _WORKER_ENVS)


class RayExecutor:
    """Runs the specs of one ``map`` call as Ray tasks (one CPU each), results in order."""

    def __init__(
        self, max_in_flight: int | None = None, log: Callable[[str], None] = print
    ) -> None:
        self.ray = require_ray()
        self.max_in_flight = max_in_flight
        self.log = log
        self._task = self.ray.remote(num_cpus=1)(_execute_on_worker)

    def map(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        ray = self.ray
        t0 = last = time.perf_counter()
        refs: list[Any] = []
        pending: list[Any] = []
        done = shown = 0
        todo = list(specs)
        while todo or pending:
            cap = self.max_in_flight or len(todo) + len(pending)
            while todo and len(pending) < cap:
                ref = self._task.remote(todo.pop(0))
                refs.append(ref)
                pending.append(ref)
            ready, pending = ray.wait(pending, num_returns=1, timeout=PROGRESS_EVERY_S)
            done += len(ready)
            now = time.perf_counter()
            due = HEARTBEAT_S if done == shown else PROGRESS_EVERY_S
            if len(specs) > 1 and pending and now - last >= due:
                self.log(f"[ray] {done}/{len(specs)} runs done ({now - t0:.0f} s)")
                last, shown = now, done
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, EdgeRouteError):
                raise EdgeRouteError(str(cause)) from None
            raise

    def close(self) -> None:
        """Nothing to release here: the session is closed by :func:`ray_session`."""
