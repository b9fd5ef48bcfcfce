"""Train a PPO routing agent (stable-baselines3) with logs, evaluation, checkpoints and resume.

What a run directory holds after ``train_ppo``::

    model.zip            the final model (SB3 format)
    vecnormalize.pkl     VecNormalize statistics (if observations or rewards are normalised)
    run.yaml             hyperparameters, env id, env configs (train / validation), seed,
                         removed observation groups, steps, wall time, steps/s, versions
    tb/ppo_1/            TensorBoard: SB3's losses and ``time/fps``, every reward term, the
                         rollout and evaluation latency/quality/edge rate, HPARAMS
    checkpoints/         ppo_<steps>_steps.zip (+ ppo_vecnormalize_<steps>_steps.pkl)
    best/best_model.zip  best model on the validation split (EvalCallback)
    evaluations.npz      EvalCallback's history

Nothing is lost or overwritten by accident (:mod:`experiments.run_dir`): a directory that holds
a run is refused unless ``resume=True`` or ``overwrite=True``; every hyperparameter and the seed
are validated before any environment is built (:mod:`experiments.ppo_checks`); every file is
written atomically (temporary file, then rename), so a full disk leaves the previous checkpoint
intact; Ctrl-C and SIGTERM (how clusters stop jobs) save a checkpoint before stopping; any other
failure during training also tries to save one. ``resume=True`` first checks that the env id,
benchmark, observation shape, seed and configs equal those in ``run.yaml`` (listing what
differs), then loads the newest checkpoint that loads (saying which ones it skipped, e.g. a
0-byte file from a full disk) with its VecNormalize statistics, and continues with
``reset_num_timesteps=False``, so the step count and the TensorBoard curves continue.

PPO stops only after whole rollouts of ``n_steps x n_envs`` steps, so it runs the requested
steps rounded up; the progress bar counts those and the run says so.

Determinism: one torch thread, ``PPO(seed=...)`` seeding torch/numpy/random and the action
space, and the vectorised envs seeded ``seed, seed + 1, ...`` -- the same seed gives the same
weights on the same machine (checked in tests, SB3-test style).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from agents.ppo import MODEL_FILE, VECNORMALIZE_FILE
from cost_models.errors import EdgeRouteError
from experiments.callbacks import (
    AtomicCheckpointCallback,
    RoutingEvalCallback,
    RoutingLogCallback,
    StepsProgressBar,
    planned_steps,
)
from experiments.config import PPOTrainConfig, load_ppo_config
from experiments.envfactory import make_env
from experiments.interrupt import signals_deferred, sigterm_as_interrupt
from experiments.ppo_checks import check_ppo_kwargs, check_seed
from experiments.run_dir import (
    BEST_DIR,
    CHECKPOINT_DIR,
    EVALUATIONS_FILE,
    TB_DIR,
    check_resume,
    checkpoints,
    prepare_run_dir,
    save_checkpoint,
    save_model,
    save_vecnormalize,
    vecnormalize_path,
    write_run,
)

#: Offset of the validation env's seed from the training seed (a separate stream).
EVAL_SEED_OFFSET = 10_000


@dataclass
class TrainSettings:
    """Arguments of one training run (CleanRL-style: one line per field)."""

    env_id: str
    """environment id, e.g. EdgeRoute/SingleTurn-v0"""
    out_dir: Path
    """run directory (model, logs, checkpoints)"""
    seed: int = 0
    """seed of PPO, torch and the training/validation env streams"""
    config_path: Path | None = None
    """RL-Zoo-style YAML keyed by env id (default: experiments/configs/ppo.yaml)"""
    timesteps: int | None = None
    """total environment steps (default: the config's n_timesteps)"""
    resume: bool = False
    """continue from the newest checkpoint in out_dir/checkpoints that loads"""
    overwrite: bool = False
    """replace a run already in out_dir (its files are deleted first)"""
    env_overrides: dict[str, Any] = field(default_factory=dict)
    """environment config overrides on top of the YAML's env_config (e.g. benchmark)"""
    drop_groups: tuple[str, ...] = ()
    """observation groups removed from the observation (ablation)"""
    progress_bar: bool = True
    """show SB3's progress bar"""
    eval: bool = True
    """run the EvalCallback on the validation split"""
    verbose: int = 0
    """SB3 verbosity"""
    ppo_overrides: dict[str, Any] = field(default_factory=dict)
    """PPO constructor arguments on top of the YAML's (tests use small n_steps)"""


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    out_dir: Path
    model_path: Path
    num_timesteps: int
    wall_s: float
    steps_per_s: float
    interrupted: bool = False
    model: Any = None  # the trained PPO object (in memory), for callers that keep using it


class Checkpoint(NamedTuple):
    """A saved checkpoint: its file and the step count it was saved at."""

    path: Path
    steps: int


def latest_checkpoint(out_dir: Path) -> Checkpoint | None:
    """The newest ``checkpoints/ppo_<n>_steps.zip`` and its step count, or ``None``."""
    found = checkpoints(out_dir)
    return Checkpoint(found[0][1], found[0][0]) if found else None


def _env_configs(cfg: PPOTrainConfig, overrides: Mapping[str, Any]) -> tuple[dict, dict]:
    base = {**cfg.env_config, **overrides}
    return {**base, "split": "train"}, {**base, "split": "validation"}


def _make_vec_env(
    env_id: str, config: Mapping[str, Any], n_envs: int, seed: int, drop: Iterable[str]
):
    from stable_baselines3.common.env_util import make_vec_env

    drop = tuple(drop)
    return make_vec_env(
        lambda: make_env(env_id, config, drop), n_envs=n_envs, seed=seed, vec_env_cls=None
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if k != "trace"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def _check_timesteps(value: Any, default: int) -> int:
    total = default if value is None else value
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise EdgeRouteError(f"--timesteps {total!r} is not allowed; use an integer >= 1")
    return int(total)


def _identity(settings: TrainSettings, cfg: PPOTrainConfig, ppo: Mapping, train_cfg: Mapping):
    """What a resumed command must share with the run (see ``run_dir.RESUME_KEYS``)."""
    return {
        "env_id": settings.env_id,
        "benchmark": train_cfg.get("benchmark"),
        "seed": settings.seed,
        "env_config_train": _jsonable(train_cfg),
        "ppo": _jsonable(ppo),
        "drop_observation_groups": list(settings.drop_groups),
        "n_envs": cfg.n_envs,
        "normalize_obs": cfg.normalize_obs,
        "normalize_reward": cfg.normalize_reward,
    }


def _load_newest(out: Path, base_venv: Any, normalize: bool, tb_dir: Path):
    """The newest checkpoint that loads: (model, venv, path, messages about skipped ones)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    skipped: list[str] = []
    for steps, ckpt in checkpoints(out):
        try:
            venv = base_venv
            if normalize:
                venv = VecNormalize.load(str(vecnormalize_path(ckpt, steps)), base_venv)
                venv.training = True
            model = PPO.load(ckpt, env=venv, device="cpu", tensorboard_log=str(tb_dir))
            return model, venv, ckpt, skipped
        except Exception as exc:  # zipfile, pickle, torch and SB3 raise many types
            size = ckpt.stat().st_size if ckpt.exists() else 0
            skipped.append(f"{ckpt.name} ({size} bytes) does not load: {type(exc).__name__}: {exc}")
    raise EdgeRouteError(
        f"--resume: none of the checkpoints in {out / CHECKPOINT_DIR} loads:\n  "
        + "\n  ".join(skipped)
        + "\nstart a new run (another --out, or --overwrite)"
    )


def train_ppo(settings: TrainSettings) -> TrainResult:
    """Train (or resume) PPO as described in the module docstring; returns the run summary.

    Bad settings raise :class:`EdgeRouteError` before any environment is built. Ctrl-C and
    SIGTERM save a checkpoint and re-raise (an :class:`experiments.interrupt.Interrupted` for
    SIGTERM); a failure to write (e.g. a full disk) raises :class:`EdgeRouteError` naming the
    file and the newest complete checkpoint.
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    cfg = load_ppo_config(settings.config_path, settings.env_id)
    source = f"{settings.config_path or 'experiments/configs/ppo.yaml'} [{settings.env_id}]"
    total = _check_timesteps(settings.timesteps, cfg.n_timesteps)
    check_seed(settings.seed, "--seed")
    raw_ppo = {**cfg.ppo, **settings.ppo_overrides}
    ppo_kwargs = check_ppo_kwargs(raw_ppo, cfg.n_envs, source)
    drop = tuple(settings.drop_groups)
    train_cfg, eval_cfg = _env_configs(cfg, settings.env_overrides)
    identity = _identity(settings, cfg, raw_ppo, train_cfg)
    out = prepare_run_dir(settings.out_dir, settings.resume, settings.overwrite)
    if settings.resume:
        check_resume(out, identity)
    torch.set_num_threads(1)
    normalize = cfg.normalize_obs or cfg.normalize_reward
    tb_dir = out / TB_DIR

    with sigterm_as_interrupt():
        venv = _make_vec_env(settings.env_id, train_cfg, cfg.n_envs, settings.seed, drop)
        identity["observation_shape"] = list(venv.observation_space.shape)
        if settings.resume:
            check_resume(out, {"observation_shape": identity["observation_shape"]})
            model, venv, resumed_from, skipped = _load_newest(out, venv, normalize, tb_dir)
            for line in skipped:
                print(f"--resume: skipped {line}", file=sys.stderr)
            print(
                f"resuming from {resumed_from} at {model.num_timesteps} steps"
                + (f" (the newest {len(skipped)} checkpoint(s) do not load)" if skipped else ""),
                file=sys.stderr,
            )
        else:
            if normalize:
                venv = VecNormalize(
                    venv,
                    norm_obs=cfg.normalize_obs,
                    norm_reward=cfg.normalize_reward,
                    gamma=float(ppo_kwargs.get("gamma", 0.99)),
                )
            model = PPO(
                env=venv,
                seed=settings.seed,
                device="cpu",
                tensorboard_log=str(tb_dir),
                verbose=settings.verbose,
                **ppo_kwargs,
            )
        return _learn(settings, cfg, out, model, venv, normalize, total, identity, eval_cfg)


def _callbacks(
    settings, cfg, out: Path, normalize: bool, eval_cfg: Mapping, hparams, planned, resumed_steps
):
    from stable_baselines3.common.vec_env import VecNormalize

    callbacks = [
        RoutingLogCallback(hparams),
        AtomicCheckpointCallback(max(cfg.checkpoint_freq // cfg.n_envs, 1), out, normalize),
    ]
    if settings.progress_bar:
        callbacks.append(StepsProgressBar(planned))
    if settings.eval:
        eval_env = _make_vec_env(
            settings.env_id,
            eval_cfg,
            1,
            settings.seed + EVAL_SEED_OFFSET,
            tuple(settings.drop_groups),
        )
        if normalize:
            eval_env = VecNormalize(
                eval_env, norm_obs=cfg.normalize_obs, norm_reward=False, training=False
            )
        evaluator = RoutingEvalCallback(
            eval_env,
            n_eval_episodes=cfg.n_eval_episodes,
            eval_freq=max(cfg.eval_freq // cfg.n_envs, 1),
            best_model_save_path=str(out / BEST_DIR),
            log_path=str(out),
            deterministic=True,
            verbose=settings.verbose,
        )
        history = out / EVALUATIONS_FILE
        if settings.resume and history.exists():
            warning = evaluator.continue_history(history, resumed_steps)
            if warning:
                print(f"--resume: {warning}", file=sys.stderr)
        callbacks.append(evaluator)
    return callbacks


def _learn(settings, cfg, out, model, venv, normalize, total, identity, eval_cfg) -> TrainResult:
    """Run ``learn`` and save: the model on success, a checkpoint on interrupt or failure."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.callbacks import CallbackList

    steps0 = int(model.num_timesteps)
    remaining = total - steps0
    n_steps = int(model.n_steps)
    planned = planned_steps(remaining, n_steps, cfg.n_envs)
    if planned != max(remaining, 0):
        print(
            f"PPO collects whole rollouts of n_steps x n_envs = {n_steps} x {cfg.n_envs} = "
            f"{n_steps * cfg.n_envs} steps: {max(remaining, 0):,} steps requested, "
            f"{planned:,} will run",
            file=sys.stderr,
        )
    hparams = {
        "env_id": settings.env_id,
        "seed": settings.seed,
        "n_timesteps": total,
        "n_envs": cfg.n_envs,
        "normalize_obs": cfg.normalize_obs,
        "normalize_reward": cfg.normalize_reward,
        "drop_observation_groups": ",".join(settings.drop_groups),
        **{f"ppo/{k}": v for k, v in identity["ppo"].items()},
        **{f"env/{k}": v for k, v in identity["env_config_train"].items()},
    }
    run_info = {
        **identity,
        "total_timesteps": total,
        "config_file": str(settings.config_path or "experiments/configs/ppo.yaml (shipped)"),
        "train_settings": _jsonable({k: v for k, v in cfg.to_dict().items() if k != "ppo"}),
        "env_config_eval": _jsonable(eval_cfg),
        "versions": {
            "stable_baselines3": str(stable_baselines3.__version__),
            "torch": str(torch.__version__),
        },
        "status": "running",
    }
    callbacks = _callbacks(settings, cfg, out, normalize, eval_cfg, hparams, planned, steps0)
    write_run(out, run_info)
    vecnorm = venv if normalize else None
    t0 = time.perf_counter()
    status = "complete"
    try:
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=CallbackList(callbacks),
                progress_bar=False,
                tb_log_name="ppo",
                reset_num_timesteps=not settings.resume,
            )
        save_model(model, out / MODEL_FILE)
        # A final checkpoint too, so that --resume with a larger --timesteps extends it.
        save_checkpoint(model, out, vecnorm)
        if normalize:
            save_vecnormalize(venv, out / VECNORMALIZE_FILE)
    except KeyboardInterrupt:
        status = "interrupted"
        with signals_deferred():
            ckpt = save_checkpoint(model, out, vecnorm)
        print(
            f"interrupted at {model.num_timesteps} steps: saved {ckpt}; continue with --resume",
            file=sys.stderr,
        )
        raise
    except BaseException as exc:
        status = "failed"
        raise _failure(exc, model, out, vecnorm) from exc
    finally:
        wall_s = time.perf_counter() - t0
        steps = int(model.num_timesteps) - steps0
        run_info.update(
            num_timesteps=int(model.num_timesteps),
            wall_s=round(wall_s, 3),
            steps_per_s=round(steps / wall_s, 1) if wall_s > 0 else None,
            interrupted=status == "interrupted",
            status=status,
        )
        with suppress(EdgeRouteError):  # a full disk must not hide the original error
            write_run(out, run_info)
        shutil.rmtree(out / RoutingEvalCallback.STAGING, ignore_errors=True)
        venv.close()
    return TrainResult(
        out_dir=out,
        model_path=out / MODEL_FILE,
        num_timesteps=int(model.num_timesteps),
        wall_s=wall_s,
        steps_per_s=steps / wall_s if wall_s > 0 else float("nan"),
        interrupted=False,
        model=model,
    )


def _failure(exc: BaseException, model: Any, out: Path, vecnorm: Any) -> EdgeRouteError:
    """The error to raise when training fails: save a checkpoint if possible and name it."""
    try:
        with signals_deferred():
            saved = f"saved {save_checkpoint(model, out, vecnorm)}"
    except Exception:  # the disk may be full: fall back to the newest complete checkpoint
        newest = checkpoints(out)
        saved = f"the newest complete checkpoint is {newest[0][1]}" if newest else "nothing saved"
    what = str(exc) if isinstance(exc, EdgeRouteError) else f"{type(exc).__name__}: {exc}"
    return EdgeRouteError(
        f"training stopped at {model.num_timesteps} steps: {what}; {saved}; fix the cause and "
        "continue with --resume"
    )
