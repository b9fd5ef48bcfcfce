"""``edgeroute train``: train a PPO routing agent (SB3) with TensorBoard logs, eval and checkpoints.

PPO on the train split of one environment with RL-Zoo-style YAML hyperparameters;
EvalCallback on validation; Ctrl-C saves a checkpoint and --resume continues from the newest
one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.commands._common import command_parser, parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "train", __doc__)
    p.add_argument("--env", required=True, help="environment id, e.g. EdgeRoute/SingleTurn-v0")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="PPO YAML keyed by env id (default: experiments/configs/ppo.yaml)",
    )
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument(
        "--timesteps",
        type=int,
        default=None,
        help="total environment steps (default: the config's n_timesteps)",
    )
    p.add_argument(
        "--benchmark",
        default=None,
        help="trace to replay (env config `benchmark`, e.g. mmlu, gsm8k, mt_bench_101)",
    )
    p.add_argument(
        "--env-config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment config overrides (YAML values)",
    )
    p.add_argument(
        "--drop-obs",
        nargs="*",
        default=[],
        metavar="GROUP",
        help="observation groups to remove (ablation): semantic embedding tokens channel load kv",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-eval", action="store_true", help="skip the validation EvalCallback")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.train import TrainSettings, train_ppo

    overrides = parse_assignments(args.env_config, "--env-config")
    if args.benchmark:
        overrides["benchmark"] = args.benchmark
    result = train_ppo(
        TrainSettings(
            env_id=args.env,
            out_dir=args.out,
            seed=args.seed,
            config_path=args.config,
            timesteps=args.timesteps,
            resume=args.resume,
            env_overrides=overrides,
            drop_groups=tuple(args.drop_obs),
            progress_bar=not args.no_progress,
            eval=not args.no_eval,
        )
    )
    print(
        f"trained {result.num_timesteps} steps in {result.wall_s:.1f} s "
        f"({result.steps_per_s:.0f} steps/s); model: {result.model_path}; "
        f"TensorBoard: tensorboard --logdir {result.out_dir / 'tb'}"
    )
    return 0
