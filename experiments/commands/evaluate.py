"""``edgeroute evaluate``: evaluate one policy (or a trained PPO model) on a split.

Runs a policy with common random numbers for each seed and prints mean/p50/p95 latency,
quality, edge rate (mean ± std over seeds). A PPO model is evaluated only on the env and
benchmark of its run.yaml unless --allow-transfer. Seeds, steps, --param values and the --json
path are checked before any episode runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.commands._common import (
    clean_os_errors,
    command_parser,
    fraction,
    int_at_least,
    parse_assignments,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "evaluate", __doc__)
    p.add_argument("--benchmark", default="mmlu", help="trace (default mmlu)")
    p.add_argument("--env", default=None, help="environment id (default: by benchmark)")
    p.add_argument(
        "--split",
        default="test",
        choices=["train", "validation", "test"],
        help="trace split to run on (default test; tune on validation)",
    )
    p.add_argument(
        "--policy",
        default="analytic",
        help="policy name (always_device, always_edge, random, semantic_threshold, "
        "latency_greedy, analytic, oracle, ppo)",
    )
    p.add_argument(
        "--param",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="policy arguments, e.g. alpha=0.1 theta=0.5",
    )
    p.add_argument("--model", type=Path, default=None, help="PPO run directory (policy ppo)")
    p.add_argument(
        "--allow-transfer",
        action="store_true",
        help="policy ppo: allow an env or benchmark other than the one the model was trained "
        "on (its run.yaml)",
    )
    p.add_argument(
        "--edge-share",
        type=fraction,
        default=None,
        help="semantic_threshold only: calibrate the threshold on the validation split so "
        "that this share of queries goes to the edge (RouteLLM-style)",
    )
    p.add_argument(
        "--seeds",
        type=int_at_least(0),
        nargs="+",
        default=[0, 1, 2],
        help="evaluation seeds, integers >= 0 (common random numbers; default 0 1 2)",
    )
    p.add_argument(
        "--episodes", type=int_at_least(1), default=1, help="episodes per seed (default 1)"
    )
    p.add_argument(
        "--max-steps",
        type=int_at_least(1),
        default=None,
        help="cap on steps per episode, >= 1 (default: until the episode ends)",
    )
    p.add_argument(
        "--env-config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment config overrides (YAML values), e.g. channel=cell_edge",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    p.set_defaults(func=clean_os_errors(run))


def _check_policy(name: str, params: dict) -> None:
    """Build the policy once, so that a bad --param fails now with a clean message (some
    constructors raise a bare TypeError/ValueError on a wrong type)."""
    from agents.registry import make_policy
    from cost_models.errors import EdgeRouteError

    try:
        make_policy(name, **params)
    except EdgeRouteError:
        raise
    except (TypeError, ValueError) as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "model_dir")
        raise EdgeRouteError(f"policy {name!r} rejects --param {shown or '(none)'}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from agents.calibration import calibrate_threshold
    from cost_models.errors import require
    from envs.traces.atomic import writable_dir
    from experiments.envfactory import env_id_for
    from experiments.evaluate import check_run_args
    from experiments.files import write_json
    from experiments.report import POLICY_KEYS
    from experiments.run_dir import check_model_matches
    from experiments.run_profile import BenchmarkSpec, EvalBudget
    from experiments.runs import InProcessExecutor, policy_runs, split_runs
    from experiments.tables import headers_for, metric_rows, text_table
    from experiments.tuning import record_validation

    check_run_args(args.seeds, args.episodes, args.max_steps)
    if args.json is not None:  # before any work: a bad path fails now, not after the run
        require(not args.json.is_dir(), f"--json {str(args.json)!r} is a directory; name a file")
        writable_dir(args.json.parent, f"--json {str(args.json)!r}: its directory")
    params = parse_assignments(args.param, "--param")
    env_id = args.env or env_id_for(args.benchmark)
    bench = BenchmarkSpec(args.benchmark, env_id)
    config = {"benchmark": args.benchmark, **parse_assignments(args.env_config, "--env-config")}
    require(
        args.model is None or args.policy == "ppo",
        f"--model is for --policy ppo, not {args.policy!r}",
    )
    if args.policy == "ppo":
        require(args.model is not None, "--policy ppo needs --model RUN_DIR")
        if not args.allow_transfer:
            check_model_matches(args.model, env_id, config.get("benchmark"))
        params["model_dir"] = args.model
    if args.edge_share is None:
        _check_policy(args.policy, params)
    budget = EvalBudget(args.episodes, args.max_steps)
    executor = InProcessExecutor()
    try:
        if args.edge_share is not None:
            require(
                args.policy == "semantic_threshold",
                f"--edge-share calibrates semantic_threshold, not {args.policy!r}",
            )
            val = split_runs(bench, config, "validation", args.seeds, budget)
            scores = [r["semantic_p"] for r in record_validation(executor, val).records]
            params["threshold"] = calibrate_threshold(scores, args.edge_share)
            print(
                f"threshold {params['threshold']:.4g}: {args.edge_share:.0%} of validation "
                "queries above it"
            )
        runs = policy_runs(
            executor.map(
                split_runs(bench, config, args.split, args.seeds, budget).specs(args.policy, params)
            )
        )
    finally:
        executor.close()
    print(f"{runs.label} on {args.benchmark} ({env_id}, {args.split}), seeds {args.seeds}")
    print(
        text_table(
            headers_for("policy", POLICY_KEYS), metric_rows({runs.label: runs.metrics}, POLICY_KEYS)
        )
    )
    if args.json:
        write_json(
            args.json,
            {
                "policy": runs.label,
                "metrics": runs.metrics,
                "per_seed": runs.per_seed,
                "config": {
                    k: v for k, v in {**config, "split": args.split}.items() if k != "trace"
                },
            },
        )
    return 0
