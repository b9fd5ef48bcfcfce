"""``edgeroute tune-ppo``: Optuna search of PPO hyperparameters on the validation split.

RL-Baselines3-Zoo style: TPE sampler (seeded), median pruner, each trial trained on the train
split and scored by its mean validation episode reward (the test split is never used). The
budget (--n-trials x --timesteps) is printed and written to OUT/tune.json; the best
hyperparameters go to OUT/best_ppo.yaml, usable as --ppo-config of train and benchmark. The
study is stored in OUT/study.db: an interrupted search continues with --resume; --overwrite
starts anew.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.commands._common import (
    clean_os_errors,
    command_parser,
    int_at_least,
    parse_assignments,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "tune-ppo", __doc__)
    p.add_argument("--benchmark", required=True, help="workload, e.g. mmlu, gsm8k, mt_eval")
    p.add_argument("--out", type=Path, required=True, help="output directory of the search")
    p.add_argument("--n-trials", type=int_at_least(1), required=True, help="trials, >= 1")
    p.add_argument(
        "--timesteps", type=int_at_least(1), required=True, help="training steps per trial"
    )
    p.add_argument(
        "--n-evaluations", type=int_at_least(1), default=4,
        help="validation evaluations per trial (pruning points; default 4)",
    )  # fmt: skip
    p.add_argument(
        "--n-eval-episodes", type=int_at_least(1), default=2,
        help="validation episodes per evaluation (default 2)",
    )  # fmt: skip
    p.add_argument("--seed", type=int_at_least(0), default=0, help="sampler and training seed")
    p.add_argument("--ppo-config", type=Path, default=None, help="base PPO YAML (default shipped)")
    p.add_argument(
        "--env-config", nargs="*", metavar="KEY=VALUE", default=None,
        help="environment config overrides (YAML values); `split` is not allowed",
    )  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the search in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the search in --out")
    p.set_defaults(func=clean_os_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from experiments.tune_ppo import TuneSettings, tune_ppo

    settings = TuneSettings(
        benchmark=args.benchmark,
        out_dir=args.out,
        n_trials=args.n_trials,
        timesteps=args.timesteps,
        n_evaluations=args.n_evaluations,
        n_eval_episodes=args.n_eval_episodes,
        seed=args.seed,
        ppo_config=args.ppo_config,
        env_overrides=parse_assignments(args.env_config, "--env-config"),
    )
    tune_ppo(settings, resume=args.resume, overwrite=args.overwrite,
             log=lambda s: print(s, flush=True))  # fmt: skip
    return 0
