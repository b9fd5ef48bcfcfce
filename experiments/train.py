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

Ctrl-C saves a checkpoint before stopping; ``resume=True`` loads the newest checkpoint (and its
VecNormalize statistics) and continues with ``reset_num_timesteps=False``, so the step count
and the TensorBoard curves continue where they stopped.

Determinism: one torch thread, ``PPO(seed=...)`` seeding torch/numpy/random and the action
space, and the vectorised envs seeded ``seed, seed + 1, ...`` -- the same seed gives the same
weights on the same machine (checked in tests, SB3-test style).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from agents.ppo import MODEL_FILE, RUN_FILE, VECNORMALIZE_FILE
from cost_models.errors import require
from experiments.callbacks import RoutingEvalCallback, RoutingLogCallback
from experiments.config import PPOTrainConfig, load_ppo_config
from experiments.envfactory import make_env
from experiments.files import write_text

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "ppo"
_CKPT_RE = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)_steps\.zip$")
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
    """continue from the newest checkpoint in out_dir/checkpoints"""
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
    ckpt_dir = Path(out_dir) / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := _CKPT_RE.match(p.name))]
    if not found:
        return None
    steps, path = max(found)
    return Checkpoint(path, steps)


def _vecnorm_path_for(ckpt: Path, steps: int) -> Path:
    return ckpt.parent / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl"


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


def train_ppo(settings: TrainSettings) -> TrainResult:
    """Train (or resume) PPO as described in the module docstring; returns the run summary."""
    import stable_baselines3
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback
    from stable_baselines3.common.vec_env import VecNormalize

    cfg = load_ppo_config(settings.config_path, settings.env_id)
    total = int(settings.timesteps if settings.timesteps is not None else cfg.n_timesteps)
    require(total >= 1, f"--timesteps {total} must be >= 1")
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_cfg, eval_cfg = _env_configs(cfg, settings.env_overrides)
    ppo_kwargs = {**cfg.ppo, **settings.ppo_overrides}
    drop = tuple(settings.drop_groups)
    torch.set_num_threads(1)

    venv = _make_vec_env(settings.env_id, train_cfg, cfg.n_envs, settings.seed, drop)
    normalize = cfg.normalize_obs or cfg.normalize_reward
    resume_from = latest_checkpoint(out) if settings.resume else None
    require(
        not settings.resume or resume_from is not None,
        f"--resume: no checkpoint in {out / CHECKPOINT_DIR}; start without --resume",
    )
    if normalize:
        if resume_from is not None and _vecnorm_path_for(*resume_from).exists():
            venv = VecNormalize.load(str(_vecnorm_path_for(*resume_from)), venv)
            venv.training = True
        else:
            venv = VecNormalize(
                venv,
                norm_obs=cfg.normalize_obs,
                norm_reward=cfg.normalize_reward,
                gamma=float(ppo_kwargs.get("gamma", 0.99)),
            )

    if resume_from is not None:
        model = PPO.load(
            resume_from.path, env=venv, device="cpu", tensorboard_log=str(out / "tb")
        )
        print(f"resuming from {resume_from.path} at {model.num_timesteps} steps", file=sys.stderr)
    else:
        model = PPO(
            env=venv,
            seed=settings.seed,
            device="cpu",
            tensorboard_log=str(out / "tb"),
            verbose=settings.verbose,
            **ppo_kwargs,
        )
    remaining = total - int(model.num_timesteps)

    hparams = {
        "env_id": settings.env_id,
        "seed": settings.seed,
        "n_timesteps": total,
        "n_envs": cfg.n_envs,
        "normalize_obs": cfg.normalize_obs,
        "normalize_reward": cfg.normalize_reward,
        "drop_observation_groups": ",".join(drop),
        **{f"ppo/{k}": v for k, v in ppo_kwargs.items()},
        **{f"env/{k}": v for k, v in _jsonable(train_cfg).items()},
    }
    callbacks = [
        RoutingLogCallback(hparams),
        CheckpointCallback(
            save_freq=max(cfg.checkpoint_freq // cfg.n_envs, 1),
            save_path=str(out / CHECKPOINT_DIR),
            name_prefix=CHECKPOINT_PREFIX,
            save_vecnormalize=normalize,
        ),
    ]
    if settings.eval:
        eval_env = _make_vec_env(
            settings.env_id, eval_cfg, 1, settings.seed + EVAL_SEED_OFFSET, drop
        )
        if normalize:
            eval_env = VecNormalize(
                eval_env, norm_obs=cfg.normalize_obs, norm_reward=False, training=False
            )
        callbacks.append(
            RoutingEvalCallback(
                eval_env,
                n_eval_episodes=cfg.n_eval_episodes,
                eval_freq=max(cfg.eval_freq // cfg.n_envs, 1),
                best_model_save_path=str(out / "best"),
                log_path=str(out),
                deterministic=True,
                verbose=settings.verbose,
            )
        )

    run_info = {
        "env_id": settings.env_id,
        "seed": settings.seed,
        "total_timesteps": total,
        "config_file": str(settings.config_path or "experiments/configs/ppo.yaml (shipped)"),
        "train_settings": _jsonable({k: v for k, v in cfg.to_dict().items() if k != "ppo"}),
        "ppo": _jsonable(ppo_kwargs),
        "env_config_train": _jsonable(train_cfg),
        "env_config_eval": _jsonable(eval_cfg),
        "drop_observation_groups": list(drop),
        "versions": {
            "stable_baselines3": str(stable_baselines3.__version__),
            "torch": str(torch.__version__),
        },
    }
    write_text(out / RUN_FILE, yaml.safe_dump(run_info, sort_keys=False))

    t0 = time.perf_counter()
    steps0 = int(model.num_timesteps)
    interrupted = False
    try:
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=CallbackList(callbacks),
                progress_bar=settings.progress_bar,
                tb_log_name="ppo",
                reset_num_timesteps=resume_from is None,
            )
    except KeyboardInterrupt:
        interrupted = True
        ckpt = out / CHECKPOINT_DIR / f"{CHECKPOINT_PREFIX}_{model.num_timesteps}_steps.zip"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        model.save(ckpt)
        if normalize:
            venv.save(str(_vecnorm_path_for(ckpt, int(model.num_timesteps))))
        print(f"interrupted: saved {ckpt}; continue with --resume", file=sys.stderr)
        raise
    finally:
        wall_s = time.perf_counter() - t0
        if not interrupted:
            model.save(out / MODEL_FILE)
            # A final checkpoint too, so that --resume with a larger --timesteps extends it.
            final = out / CHECKPOINT_DIR / f"{CHECKPOINT_PREFIX}_{model.num_timesteps}_steps.zip"
            final.parent.mkdir(parents=True, exist_ok=True)
            model.save(final)
            if normalize:
                venv.save(str(out / VECNORMALIZE_FILE))
                venv.save(str(_vecnorm_path_for(final, int(model.num_timesteps))))
        steps = int(model.num_timesteps) - steps0
        run_info.update(
            num_timesteps=int(model.num_timesteps),
            wall_s=round(wall_s, 3),
            steps_per_s=round(steps / wall_s, 1) if wall_s > 0 else None,
            interrupted=interrupted,
        )
        write_text(out / RUN_FILE, yaml.safe_dump(run_info, sort_keys=False))
        venv.close()
    return TrainResult(
        out_dir=out,
        model_path=out / MODEL_FILE,
        num_timesteps=int(model.num_timesteps),
        wall_s=wall_s,
        steps_per_s=steps / wall_s if wall_s > 0 else float("nan"),
        interrupted=interrupted,
        model=model,
    )
