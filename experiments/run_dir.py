"""A PPO run directory: never overwrite a used one by accident, resume only the same run, and
write every artefact atomically.

- :func:`prepare_run_dir` refuses a directory that already holds a run (``model.zip``,
  ``run.yaml``, checkpoints, ...) unless the caller resumes it or explicitly overwrites it
  (which deletes the old run's artefacts first, so that old checkpoints never mix in).
- :func:`run_differences` lists, key by key, how a resumed command differs from the run's
  ``run.yaml`` (env id, benchmark, observation shape, seed, env and PPO config, dropped
  observation groups); resuming with any difference is refused.
- :func:`save_model`, :func:`save_vecnormalize` and :func:`save_checkpoint` write through
  :func:`envs.traces.atomic.atomic_write`: a full disk or a signal mid-write leaves the
  previous file, never a truncated ``model.zip``. :func:`checkpoints` lists them newest first
  so that resuming can fall back to the newest one that loads.
- :func:`check_model_matches` refuses to evaluate a model on an env or benchmark other than
  the one in its ``run.yaml``.
"""

from __future__ import annotations

import pickle
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agents.ppo import MODEL_FILE, RUN_FILE, VECNORMALIZE_FILE
from cost_models.errors import EdgeRouteError
from envs.traces.atomic import atomic_write, atomic_write_text, writable_dir

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "ppo"
EVALUATIONS_FILE = "evaluations.npz"
BEST_DIR = "best"
TB_DIR = "tb"
_CKPT_RE = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)_steps\.zip$")
#: What a run writes; any of them makes a directory "used".
RUN_ARTEFACTS = (
    MODEL_FILE,
    VECNORMALIZE_FILE,
    RUN_FILE,
    EVALUATIONS_FILE,
    CHECKPOINT_DIR,
    BEST_DIR,
    TB_DIR,
)
#: The keys of ``run.yaml`` a resumed run must share with the command that resumes it.
RESUME_KEYS = (
    "env_id",
    "benchmark",
    "observation_shape",
    "seed",
    "env_config_train",
    "ppo",
    "drop_observation_groups",
    "n_envs",
    "normalize_obs",
    "normalize_reward",
)


def used_artefacts(out: Path) -> list[str]:
    """The run artefacts present in ``out`` (empty: a fresh directory)."""
    return [name for name in RUN_ARTEFACTS if (Path(out) / name).exists()]


def prepare_run_dir(out: str | Path, resume: bool, overwrite: bool) -> Path:
    """``out`` checked (writable; not another run unless resuming or overwriting) and ready."""
    if resume and overwrite:
        raise EdgeRouteError("--resume and --overwrite exclude each other; choose one")
    out = writable_dir(out, "--out")
    used = used_artefacts(out)
    if resume:
        if not checkpoints(out):
            raise EdgeRouteError(
                f"--resume: no checkpoint in {out / CHECKPOINT_DIR}; start without --resume"
            )
    elif used and overwrite:
        for name in used:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif used:
        raise EdgeRouteError(
            f"--out {str(out)!r} already holds a run ({', '.join(used)}); continue it with "
            "--resume, replace it with --overwrite (deletes those files), or choose another --out"
        )
    return out


def read_run(out: Path) -> dict[str, Any]:
    """``run.yaml`` of a run directory as a mapping (``{}`` if absent)."""
    path = Path(out) / RUN_FILE
    if not path.exists():
        return {}
    try:
        run = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EdgeRouteError(f"{path} cannot be read ({exc})") from exc
    if not isinstance(run, dict):
        raise EdgeRouteError(f"{path} is not a run description (a YAML mapping)")
    return run


def write_run(out: Path, run: Mapping[str, Any]) -> None:
    atomic_write_text(Path(out) / RUN_FILE, yaml.safe_dump(dict(run), sort_keys=False))


def _yaml_round_trip(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def run_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``"key: run.yaml has X, this command gives Y"`` for each :data:`RESUME_KEYS` that differs
    (keys absent from ``current`` are not compared; nested mappings are compared per key)."""
    diffs = []
    for key in RESUME_KEYS:
        if key not in current:
            continue
        old, new = saved.get(key), _yaml_round_trip(current[key])
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            for sub in sorted(set(old) | set(new), key=str):
                if old.get(sub) != new.get(sub):
                    diffs.append(
                        f"{key}.{sub}: run.yaml has {old.get(sub)!r}, this command gives "
                        f"{new.get(sub)!r}"
                    )
        elif old != new:
            diffs.append(f"{key}: run.yaml has {old!r}, this command gives {new!r}")
    return diffs


def check_resume(out: Path, current: Mapping[str, Any]) -> None:
    """Raise unless ``current`` matches the run in ``out`` (see :func:`run_differences`)."""
    saved = read_run(out)
    if not saved:
        raise EdgeRouteError(
            f"--resume: {out / RUN_FILE} is missing, so the checkpoints in {out} cannot be "
            "checked against this command; start a new run in another --out"
        )
    diffs = run_differences(saved, current)
    if diffs:
        raise EdgeRouteError(
            f"--resume: this command differs from the run in {out / RUN_FILE}:\n  "
            + "\n  ".join(diffs)
            + "\nresume with the same settings, or start a new run (another --out, or --overwrite)"
        )


def checkpoints(out: Path) -> list[tuple[int, Path]]:
    """``[(steps, checkpoints/ppo_<steps>_steps.zip)]``, newest first."""
    ckpt_dir = Path(out) / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := _CKPT_RE.match(p.name))]
    return sorted(found, reverse=True)


def checkpoint_path(out: Path, steps: int) -> Path:
    return Path(out) / CHECKPOINT_DIR / f"{CHECKPOINT_PREFIX}_{steps}_steps.zip"


def vecnormalize_path(ckpt: Path, steps: int) -> Path:
    """The VecNormalize statistics saved with checkpoint ``ckpt``."""
    return ckpt.parent / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl"


def save_model(model: Any, path: Path) -> Path:
    """``model.save`` through a temporary file and a rename."""
    return atomic_write(path, model.save)


def save_vecnormalize(venv: Any, path: Path) -> Path:
    """``VecNormalize.save`` (a pickle of the wrapper without its envs), atomically."""
    return atomic_write(path, lambda fh: pickle.dump(venv, fh))


def save_checkpoint(model: Any, out: Path, venv: Any | None = None) -> Path:
    """``checkpoints/ppo_<steps>_steps.zip`` (+ its VecNormalize statistics, written first so
    that a checkpoint that exists always has them)."""
    steps = int(model.num_timesteps)
    ckpt = checkpoint_path(out, steps)
    if venv is not None:
        save_vecnormalize(venv, vecnormalize_path(ckpt, steps))
    return save_model(model, ckpt)


def check_model_matches(model_dir: Path, env_id: str, benchmark: str | None) -> None:
    """Raise unless the run in ``model_dir`` was trained on ``env_id`` and ``benchmark``.

    A model that was trained on one benchmark's trace and observation layout evaluated on
    another gives numbers that look valid but answer a different question.
    """
    model_dir = Path(model_dir)
    if model_dir.suffix == ".zip":
        model_dir = model_dir.parent
    run = read_run(model_dir)
    if not run:
        return  # a bare model.zip: the observation-shape check of PPOPolicy.bind still applies
    trained_benchmark = run.get("benchmark", (run.get("env_config_train") or {}).get("benchmark"))
    diffs = []
    if run.get("env_id") not in (None, env_id):
        diffs.append(f"env {run['env_id']!r} (evaluating on {env_id!r})")
    if benchmark is not None and trained_benchmark not in (None, benchmark):
        diffs.append(f"benchmark {trained_benchmark!r} (evaluating on {benchmark!r})")
    if diffs:
        raise EdgeRouteError(
            f"the PPO model in {model_dir} was trained on {' and '.join(diffs)}, per "
            f"{model_dir / RUN_FILE}; evaluate it where it was trained, or pass --allow-transfer "
            "to evaluate it elsewhere on purpose"
        )
