"""``edgeroute evaluate``: evaluate one policy (or a trained PPO model) on a split.

Runs a policy with common random numbers for each seed and prints mean/p50/p95 latency,
quality, edge rate (mean ± std over seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.commands._common import command_parser, parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(subparsers, "evaluate", __doc__)
    p.add_argument("--benchmark", default="mmlu", help="trace (default mmlu)")
    p.add_argument("--env", default=None, help="environment id (default: by benchmark)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
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
        "--edge-share",
        type=float,
        default=None,
        help="semantic_threshold only: calibrate the threshold on the validation split so "
        "that this share of queries goes to the edge (RouteLLM-style)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=1, help="episodes per seed")
    p.add_argument("--max-steps", type=int, default=None, help="cap on steps per episode")
    p.add_argument("--env-config", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agents.calibration import calibrate_threshold
    from cost_models.errors import require
    from experiments.envfactory import env_id_for
    from experiments.files import write_json
    from experiments.report import POLICY_KEYS
    from experiments.run_profile import BenchmarkSpec, EvalBudget
    from experiments.runs import InProcessExecutor, policy_runs, split_runs
    from experiments.tables import headers_for, metric_rows, text_table
    from experiments.tuning import record_validation

    params = parse_assignments(args.param, "--param")
    if args.policy == "ppo":
        require(args.model is not None, "--policy ppo needs --model RUN_DIR")
        params["model_dir"] = args.model
    env_id = args.env or env_id_for(args.benchmark)
    bench = BenchmarkSpec(args.benchmark, env_id)
    config = {"benchmark": args.benchmark, **parse_assignments(args.env_config, "--env-config")}
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
