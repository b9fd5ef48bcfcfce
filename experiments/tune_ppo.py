"""``edgeroute tune-ppo``: Optuna search of PPO hyperparameters on the validation split.

Done the RL-Baselines3-Zoo way (``rl_zoo3/exp_manager.py`` and ``hyperparams_opt.py``):

* a TPE sampler (multivariate, seeded with ``--seed``, so the same storage and seed propose
  the same trials) and a median pruner that stops a trial whose intermediate validation reward
  falls below the median of earlier trials at the same evaluation (not before a third of the
  evaluations, the Zoo's ``n_warmup_steps = n_evaluations // 3``);
* each trial trains ``--timesteps`` steps on the **train** split and is evaluated
  ``--n-evaluations`` times on the **validation** split (``TrialEvalCallback``); the objective
  is the mean validation episode reward of the last evaluation. The test split is never
  touched (an ``--env-config split=...`` is refused);
* the search space follows the Zoo's ``sample_ppo_params`` (learning rate, n_steps, batch size,
  epochs, entropy, clip range, gradient norm, network size and activation) except the
  discount: single-turn is a contextual bandit (``experiments/configs/ppo.yaml``), so gamma
  stays 0 there; on the multi-turn env gamma and GAE lambda are searched.

The study lives in ``<out>/study.db`` (SQLite): an interrupted search continues with
``--resume`` (trials left running by the interruption are marked failed and the remaining
ones run until ``n_trials`` trials have finished); ``--overwrite`` starts anew; without either
an existing study is refused. ``<out>/best_ppo.yaml`` is the base PPO YAML with the best
trial's hyperparameters, usable as ``--ppo-config``; ``<out>/tune.json`` states the budget and
every trial.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cost_models.errors import EdgeRouteError, require
from envs.traces.atomic import atomic_write_text, writable_dir
from experiments.config import DEFAULT_PPO_CONFIG, load_ppo_config, read_yaml
from experiments.envfactory import env_id_for
from experiments.ppo_checks import check_ppo_kwargs

STUDY_FILE = "study.db"
SETTINGS_FILE = "tune_settings.json"
BEST_FILE = "best_ppo.yaml"
SUMMARY_FILE = "tune.json"
#: Network sizes of the search (the Zoo's ``tiny`` / ``small`` / ``medium``).
NET_ARCHS: dict[str, list[int]] = {"tiny": [64], "small": [64, 64], "medium": [256, 256]}


@dataclass(frozen=True)
class TuneSettings:
    """One search: what is tuned, on what, with which budget."""

    benchmark: str
    out_dir: Path
    n_trials: int
    timesteps: int
    n_evaluations: int = 4
    n_eval_episodes: int = 2
    seed: int = 0
    ppo_config: Path | None = None
    env_overrides: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What a resumed search must share with the stored one."""
        d = asdict(self)
        d.pop("out_dir")
        d.pop("n_trials")  # more trials may be asked for on resume
        d["ppo_config"] = str(self.ppo_config or DEFAULT_PPO_CONFIG)
        return json.loads(json.dumps(d, default=str))


def sample_params(trial: Any, multi_turn: bool, n_envs: int) -> dict[str, Any]:
    """PPO keyword arguments of one trial (see the module docstring)."""
    n_steps = 2 ** trial.suggest_int("n_steps_pow", 6, 10)
    batch = min(2 ** trial.suggest_int("batch_size_pow", 5, 9), n_steps * n_envs)
    params: dict[str, Any] = {
        "n_steps": n_steps,
        "batch_size": batch,
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
        "n_epochs": trial.suggest_categorical("n_epochs", [1, 5, 10, 20]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4]),
        "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 2.0),
        "policy_kwargs": {
            "net_arch": NET_ARCHS[trial.suggest_categorical("net_arch", list(NET_ARCHS))],
            "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
        },
    }
    if multi_turn:
        params["gamma"] = trial.suggest_categorical("gamma", [0.5, 0.9, 0.95, 0.99])
        params["gae_lambda"] = trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0])
    else:
        params["gamma"] = 0.0  # the bandit: nothing to discount (experiments/configs/ppo.yaml)
    return params


def claim(settings: TuneSettings, resume: bool, overwrite: bool) -> Path:
    """The output directory, checked like a run directory (``experiments.run_dir``)."""
    require(not (resume and overwrite), "--resume and --overwrite exclude each other")
    out = writable_dir(settings.out_dir, "--out")
    used = [n for n in (STUDY_FILE, SETTINGS_FILE, BEST_FILE, SUMMARY_FILE) if (out / n).exists()]
    if resume:
        require(
            (out / SETTINGS_FILE).exists() and (out / STUDY_FILE).exists(),
            f"--resume: {out} holds no search ({STUDY_FILE} / {SETTINGS_FILE} missing)",
        )
        before = json.loads((out / SETTINGS_FILE).read_text())
        now = settings.identity()
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        require(
            not changed,
            f"--resume: settings {changed} differ from the search in {out}; resume with the "
            "same ones, or start another --out",
        )
        return out
    if used and overwrite:
        for name in used:
            (out / name).unlink()
        shutil.rmtree(out / "trials", ignore_errors=True)
    elif used:
        raise EdgeRouteError(
            f"--out {str(out)!r} already holds a search ({', '.join(used)}); continue it with "
            "--resume, replace it with --overwrite, or choose another --out"
        )
    atomic_write_text(out / SETTINGS_FILE, json.dumps(settings.identity(), indent=1))
    return out


def run_trial(trial: Any, settings: TuneSettings, env_id: str) -> float:
    """Train one trial on train, report validation rewards, return the last one."""
    import optuna
    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.algorithms import algorithm_class
    from experiments.train import EVAL_SEED_OFFSET, _make_vec_env

    cfg = load_ppo_config(settings.ppo_config, env_id)
    base = {**cfg.env_config, **settings.env_overrides, "benchmark": settings.benchmark}
    sampled = sample_params(trial, env_id.endswith("MultiTurn-v0"), cfg.n_envs)
    kwargs = check_ppo_kwargs({**cfg.ppo, **sampled}, cfg.n_envs, "tune-ppo trial")
    torch.set_num_threads(1)
    venv = _make_vec_env(env_id, {**base, "split": "train"}, cfg.n_envs, settings.seed, ())
    eval_env = _make_vec_env(
        env_id, {**base, "split": "validation"}, 1, settings.seed + EVAL_SEED_OFFSET, ()
    )
    if cfg.normalize_obs or cfg.normalize_reward:
        gamma = float(kwargs.get("gamma", 0.99))
        venv = VecNormalize(
            venv, norm_obs=cfg.normalize_obs, norm_reward=cfg.normalize_reward, gamma=gamma
        )
        eval_env = VecNormalize(
            eval_env, norm_obs=cfg.normalize_obs, norm_reward=False, training=False
        )
    model = algorithm_class(kwargs["policy"])(env=venv, seed=settings.seed, device="cpu", **kwargs)
    callback = _TrialEval(trial, eval_env, settings, cfg.n_envs)
    try:
        model.learn(settings.timesteps, callback=callback)
    finally:
        venv.close()
        eval_env.close()
    if callback.pruned:
        raise optuna.TrialPruned()
    return float(callback.last_mean_reward)


class _TrialEval:
    """Factory of the Zoo's ``TrialEvalCallback`` on :class:`RoutingEvalCallback` (built
    lazily: SB3 imports torch)."""

    def __new__(cls, trial: Any, eval_env: Any, settings: TuneSettings, n_envs: int) -> Any:
        from experiments.callbacks import RoutingEvalCallback

        class TrialEval(RoutingEvalCallback):
            pruned = False
            eval_idx = 0

            def _on_step(self) -> bool:
                keep = super()._on_step()
                if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
                    self.eval_idx += 1  # the pruner compares trials at the same evaluation
                    trial.report(float(self.last_mean_reward), self.eval_idx)
                    if trial.should_prune():
                        self.pruned = True
                        return False
                return keep

        freq = max(settings.timesteps // settings.n_evaluations // n_envs, 1)
        return TrialEval(
            eval_env, n_eval_episodes=settings.n_eval_episodes, eval_freq=freq,
            deterministic=True, verbose=0,
        )  # fmt: skip


def tune_ppo(
    settings: TuneSettings,
    resume: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or continue) the search; write ``best_ppo.yaml`` and ``tune.json``."""
    import optuna

    env_id = env_id_for(settings.benchmark)
    require(
        "split" not in settings.env_overrides,
        "tune-ppo trains on train and scores on validation; --env-config split=... is not "
        "allowed (the test split is never used for tuning)",
    )
    budget = {"--n-trials": settings.n_trials, "--timesteps": settings.timesteps,
              "--n-evaluations": settings.n_evaluations}  # fmt: skip
    for name, value in budget.items():
        require(isinstance(value, int) and value >= 1, f"{name} {value!r} must be an integer >= 1")
    load_ppo_config(settings.ppo_config, env_id)  # a bad base config fails before any trial
    out = claim(settings, resume, overwrite)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    study = optuna.create_study(
        study_name="tune-ppo",
        storage=f"sqlite:///{out / STUDY_FILE}",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed, multivariate=True),
        # No pruning before 5 trials have finished (Optuna's default): one trial's noisy
        # validation reward is no median to prune against.
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=settings.n_evaluations // 3
        ),
    )
    stale = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    for t in stale:  # left running by an interruption
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    finished = lambda: [t for t in study.trials if t.state.is_finished()  # noqa: E731
                        and t.state != optuna.trial.TrialState.FAIL]  # fmt: skip
    todo = max(settings.n_trials - len(finished()), 0)
    log(
        f"tune-ppo {settings.benchmark} ({env_id}): {settings.n_trials} trials x "
        f"{settings.timesteps:,} steps, {settings.n_evaluations} validation evaluations of "
        f"{settings.n_eval_episodes} episodes each; TPE seed {settings.seed}, median pruner"
        + (f"; resuming: {len(finished())} done, {len(stale)} interrupted marked failed" if
           resume else "")  # fmt: skip
    )
    t0 = time.perf_counter()
    for _ in range(todo):
        trial = study.ask()
        t1 = time.perf_counter()
        try:
            value = run_trial(trial, settings, env_id)
            study.tell(trial, value)
            log(f"trial {trial.number}: validation reward {value:.5f} "
                f"({time.perf_counter() - t1:.0f} s)")  # fmt: skip
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            log(f"trial {trial.number}: pruned ({time.perf_counter() - t1:.0f} s)")
    return _write_results(study, settings, env_id, out, time.perf_counter() - t0, log)


def _write_results(study, settings: TuneSettings, env_id: str, out: Path, wall_s: float, log):
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    require(complete, f"no trial of the search in {out} completed; nothing to write")
    best = study.best_trial
    params = sample_params(optuna.trial.FixedTrial(best.params), env_id.endswith("MultiTurn-v0"),
                           load_ppo_config(settings.ppo_config, env_id).n_envs)  # fmt: skip
    base = read_yaml(settings.ppo_config or DEFAULT_PPO_CONFIG)
    entry = dict(base[env_id])
    entry["ppo"] = {**(entry.get("ppo") or {}), **params}
    header = (
        f"# Written by edgeroute tune-ppo: best of {len(study.trials)} trials "
        f"({len(complete)} complete) x {settings.timesteps} steps on {settings.benchmark}, "
        f"validation reward {best.value:.5f} (trial {best.number}).\n"
    )
    atomic_write_text(out / BEST_FILE, header + yaml.safe_dump({env_id: entry}, sort_keys=False))
    summary = {
        "benchmark": settings.benchmark,
        "env_id": env_id,
        "budget": {"n_trials": settings.n_trials, "timesteps_per_trial": settings.timesteps,
                   "n_evaluations": settings.n_evaluations,
                   "n_eval_episodes": settings.n_eval_episodes},  # fmt: skip
        "objective": "mean validation episode reward of the last evaluation (never test)",
        "sampler": f"TPE (multivariate, seed {settings.seed})",
        "pruner": f"median (after 5 trials; warm-up {settings.n_evaluations // 3} evaluations)",
        "best": {"trial": best.number, "value": best.value, "params": best.params},
        "trials": [_trial_dict(t) for t in study.trials],
        "wall_s_this_call": round(wall_s, 1),
    }
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1, default=str))
    log(f"best trial {best.number}: validation reward {best.value:.5f}; wrote {out / BEST_FILE}")
    return summary


def _trial_dict(t: Any) -> Mapping[str, Any]:
    return {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
