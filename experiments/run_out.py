"""The ``--out`` directory of ``benchmark`` and ``ablate``, and the trained models they reuse.

Like ``edgeroute train`` (:mod:`experiments.run_dir`) and ``edgeroute sweep``, a run command
never overwrites an earlier run silently, and says so before any work starts (not an hour later,
when the first PPO run finds its directory taken):

- ``new`` (the default): ``--out`` must not hold a run (results, ablation tables, plots,
  trained models under ``ppo/``); else the error lists what is there and the two options.
- ``resume`` (``--resume``): the finished pieces are kept. Every PPO run directory with a
  checkpoint is continued by :func:`experiments.train.train_ppo` with ``resume=True`` (which
  refuses one whose ``run.yaml`` differs from this command's env, benchmark, seed or PPO
  config, and trains only the steps still missing: none for a finished run); one that died
  before its first checkpoint starts anew. Evaluations are re-run (they are cheap next to
  training, and common random numbers make them identical).
- ``overwrite`` (``--overwrite``): the earlier run's outputs are deleted first, so that no old
  model or plot mixes in.

:func:`check_reused_model` checks a model of ``--models DIR`` against the run that would reuse
it (env id, benchmark, observation layout) before any run starts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cost_models.errors import EdgeRouteError
from envs.traces.atomic import writable_dir
from experiments.run_dir import RUN_FILE, checkpoints, read_run, used_artefacts

OUT_MODES = ("new", "resume", "overwrite")
#: What benchmark and ablate write at the top of ``--out`` (besides ``*.png`` plots).
RUN_OUTPUT_FILES = ("results.json", "results.md", "ablation.json", "ablation.md")
#: Their trained models: ``ppo/<benchmark>/<variant>_seed<seed>/``.
RUN_MODELS_DIR = "ppo"
#: Env config keys that fix the observation layout (besides the env id and dropped groups).
LAYOUT_KEYS = ("benchmark", "observation")


def used_outputs(out: Path) -> list[str]:
    """The outputs of an earlier run present in ``out`` (empty: fresh)."""
    out = Path(out)
    if not out.is_dir():
        return []
    names = [n for n in (*RUN_OUTPUT_FILES, RUN_MODELS_DIR) if (out / n).exists()]
    return names + sorted(p.name for p in out.glob("*.png"))


def _profile_differences(out: Path, command: str, profile: Mapping[str, Any]) -> list[str]:
    """How ``profile`` differs from the one recorded in the run's results file (a resumed run
    rewrites that file: with other benchmarks or budgets, the earlier sections would be lost)."""
    path = out / ("ablation.json" if command == "ablate" else "results.json")
    if not path.exists():
        return []
    try:
        saved = (json.loads(path.read_text(encoding="utf-8")).get("meta") or {}).get("profile")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise EdgeRouteError(f"--resume: {path} cannot be read ({exc}); use --overwrite") from exc
    current = json.loads(json.dumps({k: v for k, v in profile.items() if k != "ablation"}))
    saved = {k: v for k, v in (saved or {}).items() if k != "ablation"}
    return [
        f"{key}: {path.name} has {saved.get(key)!r}, this command gives {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    ]


def prepare_run_out(
    out: Path, mode: str, command: str, profile: Mapping[str, Any] | None = None
) -> Path:
    """Check ``out`` for ``edgeroute <command>`` in ``mode`` (see the module docstring) and
    make it ready; raises :class:`EdgeRouteError` before any work when it holds a run and
    ``mode`` is ``new``, or when ``mode`` is ``resume`` and ``profile`` (the run's budgets and
    benchmarks, :meth:`RunProfile.to_dict`) differs from the one the run recorded."""
    if mode not in OUT_MODES:
        raise EdgeRouteError(f"output mode {mode!r} is not one of {list(OUT_MODES)}")
    used = used_outputs(Path(out).expanduser())
    out = writable_dir(out, "--out")
    if used and mode == "new":
        shown = ", ".join(used[:8]) + (f" and {len(used) - 8} more" if len(used) > 8 else "")
        raise EdgeRouteError(
            f"--out {str(out)!r} already holds a run ({shown}); add --resume to keep its "
            f"finished PPO runs and complete it, --overwrite to delete those outputs and start "
            f"anew, or choose another --out (edgeroute {command} never overwrites silently)"
        )
    if used and mode == "resume" and profile is not None:
        diffs = _profile_differences(out, command, profile)
        if diffs:
            raise EdgeRouteError(
                f"--resume: this command differs from the run in {str(out)!r}:\n  "
                + "\n  ".join(diffs)
                + "\nresume with the same --quick/--config/--benchmarks/--seeds/--ppo-timesteps, "
                "or start anew (--overwrite, or another --out)"
            )
    if used and mode == "overwrite":
        for name in used:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return out


def train_flags(run_dir: Path, mode: str) -> dict[str, bool]:
    """``resume`` / ``overwrite`` of :class:`experiments.train.TrainSettings` for one PPO run
    directory of a run in ``mode``: resume one with a checkpoint, restart one that died before
    its first checkpoint (nothing finished to keep); a fresh directory needs neither."""
    if mode != "resume" or not used_artefacts(run_dir):
        return {"resume": False, "overwrite": False}
    if checkpoints(run_dir):
        return {"resume": True, "overwrite": False}
    return {"resume": False, "overwrite": True}


def _covers(trained: Any, wanted: Any) -> bool:
    """``trained`` equals ``wanted``, or holds each key of a ``wanted`` mapping with its value
    (the run.yaml records the full observation options, a run may override one of them)."""
    if isinstance(trained, Mapping) and isinstance(wanted, Mapping):
        return all(trained.get(k) == v for k, v in wanted.items())
    return trained == wanted


def check_reused_model(
    model_dir: Path,
    env_id: str,
    env_config: Mapping[str, Any],
    drop_groups: Sequence[str],
    models_option: Path,
) -> None:
    """Raise unless the model in ``model_dir`` (from ``--models``) was trained on ``env_id``,
    the benchmark and observation options of ``env_config`` and without ``drop_groups``, per
    its ``run.yaml``: a model trained on another layout would fail at its first step, or worse,
    act on features that mean something else."""
    run = read_run(model_dir)
    if not run:
        raise EdgeRouteError(
            f"--models {models_option}: {model_dir / RUN_FILE} is missing, so the model in "
            f"{model_dir} cannot be checked against this run; reuse a directory a benchmark "
            "run wrote"
        )
    trained_cfg = run.get("env_config_train") or {}
    diffs = []
    if run.get("env_id") != env_id:
        diffs.append(f"env id: run.yaml has {run.get('env_id')!r}, this run needs {env_id!r}")
    for key in LAYOUT_KEYS:
        if key in env_config and not _covers(trained_cfg.get(key), env_config[key]):
            diffs.append(
                f"{key}: run.yaml has {trained_cfg.get(key)!r}, this run needs {env_config[key]!r}"
            )
    dropped = list(run.get("drop_observation_groups") or [])
    if dropped != list(drop_groups):
        diffs.append(
            f"dropped observation groups: run.yaml has {dropped}, this run needs "
            f"{list(drop_groups)}"
        )
    if diffs:
        raise EdgeRouteError(
            f"--models {models_option}: the model in {model_dir} does not match this run:\n  "
            + "\n  ".join(diffs)
            + "\npass the --out of a run of the same benchmarks and env config, or train anew "
            "(omit --models)"
        )
