"""``edgeroute train``: train a PPO routing agent (SB3) with TensorBoard logs, eval and checkpoints.

PPO on the train split of one environment with RL-Zoo-style YAML hyperparameters, an
EvalCallback on validation and atomic checkpoints. A run directory that already holds a run is
refused unless --resume (same env, benchmark, observation shape, seed and configs as its
run.yaml; continues from the newest checkpoint that loads) or --overwrite. Ctrl-C and SIGTERM
save a checkpoint and exit with status 130 / 143.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.commands._common import (
    clean_os_errors,
    command_parser,
    int_at_least,
    parse_assignments,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "train", __doc__)
    p.add_argument("--env", required=True, help="environment id, e.g. EdgeRoute/SingleTurn-v0")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="PPO YAML keyed by env id (default: experiments/configs/ppo.yaml)",
    )
    p.add_argument(
        "--seed", type=int_at_least(0), default=0, help="training seed, >= 0 (default 0)"
    )
    p.add_argument("--out", type=Path, required=True, help="run directory")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint that loads",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the run already in --out (model, checkpoints, logs) and start anew",
    )
    p.add_argument(
        "--timesteps",
        type=int_at_least(1),
        default=None,
        help="total environment steps, >= 1 (default: the config's n_timesteps; PPO rounds "
        "up to whole rollouts)",
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
    p.set_defaults(func=clean_os_errors(run))


def run(args: argparse.Namespace) -> int:
    from experiments.interrupt import exit_code
    from experiments.train import TrainSettings, train_ppo

    overrides = parse_assignments(args.env_config, "--env-config")
    if args.benchmark:
        overrides["benchmark"] = args.benchmark
    try:
        result = train_ppo(
            TrainSettings(
                env_id=args.env,
                out_dir=args.out,
                seed=args.seed,
                config_path=args.config,
                timesteps=args.timesteps,
                resume=args.resume,
                overwrite=args.overwrite,
                env_overrides=overrides,
                drop_groups=tuple(args.drop_obs),
                progress_bar=not args.no_progress,
                eval=not args.no_eval,
            )
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM; train_ppo said what it saved
        print(f"edgeroute train: stopped ({exc or 'SIGINT'})", file=sys.stderr)
        return exit_code(exc)
    print(
        f"trained {result.num_timesteps} steps in {result.wall_s:.1f} s "
        f"({result.steps_per_s:.0f} steps/s); model: {result.model_path}; "
        f"TensorBoard: tensorboard --logdir {result.out_dir / 'tb'}"
    )
    return 0
