"""``edgeroute bench costs|env|estimate``: speed figures of the cost functions and of the
environments; how well the router's latency estimate predicts the realised difference.

``costs`` times the vectorised latency functions (:mod:`experiments.bench_costs`); ``env``
calls :func:`experiments.bench_env.run_env_benchmark` (environment steps per second, and each
one's ratio to Gymnasium's CartPole-v1 timed in the same process). Both print a short report,
or one JSON object with ``--json``.
"""

from __future__ import annotations

import argparse
import importlib
import json

from cost_models.errors import EdgeRouteError, require
from experiments.commands._common import plain_help


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="speed benchmarks (costs, env)", description=plain_help(__doc__)
    )
    sub = p.add_subparsers(dest="bench_target", metavar="TARGET")
    sub.required = True

    c = sub.add_parser("costs", help="latency evaluations per second of the cost functions")
    c.add_argument("--n", type=int, default=1_000_000, help="queries per batch (default 1e6)")
    c.add_argument("--repeats", type=int, default=5, help="timed repeats, best kept")
    c.add_argument("--scenario", default="phone_3b__edge_70b", help="deployment preset")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=run_costs)

    e = sub.add_parser("env", help="environment steps per second")
    e.add_argument("--quick", action="store_true", help="a short run")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=run_env)

    s = sub.add_parser(
        "estimate",
        help="R^2 of the router's latency estimate against the realised difference",
        description="Replay test episodes with a seeded random router and score the estimated "
        "T_edge - T_device (info['estimate']) against the realised difference "
        "(info['hindsight']), with per-query predicted output lengths and with the constant "
        "train-split mean (config output_length).",
    )
    s.add_argument(
        "--benchmarks",
        nargs="+",
        default=["mmlu", "gsm8k", "mt_bench", "mt_bench_101"],
        help="prepared benchmarks (default: the four built-in ones)",
    )
    s.add_argument("--split", default="test", help="split replayed (default test)")
    s.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..N-1 (default 3)")
    s.add_argument("--episodes", type=int, default=3, help="episodes per seed (default 3)")
    s.add_argument(
        "--dialogues-per-episode",
        type=int,
        default=20,
        help="dialogues per multi-turn episode (default 20)",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run_estimate)


def run_costs(args: argparse.Namespace) -> int:
    from experiments.bench_costs import run_cost_benchmark

    require(args.n >= 1, f"--n must be >= 1, got {args.n}")
    require(args.repeats >= 1, f"--repeats must be >= 1, got {args.repeats}")
    r = run_cost_benchmark(n=args.n, repeats=args.repeats, scenario=args.scenario)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(
            f"cost functions: {r['evaluations_per_s']:,.0f} query evaluations/s "
            f"({r['side_evaluations_per_s']:,.0f} side evaluations/s); best of {r['repeats']} "
            f"batches of {r['queries_per_batch']:,} queries in {r['best_s'] * 1000:.1f} ms "
            f"[{r['scenario']}, numpy {r['numpy']}]\n({r['definition']})"
        )
    return 0


def run_env(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module("experiments.bench_env")
    except ModuleNotFoundError as exc:
        if exc.name in ("experiments.bench_env",):
            raise EdgeRouteError(
                "the environment benchmark is not available: experiments/bench_env.py "
                "(run_env_benchmark) is missing from this installation"
            ) from None
        raise
    func = getattr(module, "run_env_benchmark", None)
    require(callable(func), "experiments.bench_env has no run_env_benchmark(quick) function")
    r = func(quick=bool(args.quick))
    if args.json:
        print(json.dumps(r, indent=2, default=str))
    else:
        print(module.format_report(r))
    return 0


def run_estimate(args: argparse.Namespace) -> int:
    from experiments.envfactory import env_id_for
    from experiments.estimate_fit import compare_output_length

    require(args.seeds >= 1, f"--seeds must be >= 1, got {args.seeds}")
    require(args.episodes >= 1, f"--episodes must be >= 1, got {args.episodes}")
    require(
        args.dialogues_per_episode >= 1,
        f"--dialogues-per-episode must be >= 1, got {args.dialogues_per_episode}",
    )
    out = {}
    for b in args.benchmarks:
        env_id = env_id_for(b)
        cfg = {"benchmark": b, "split": args.split}
        if "MultiTurn" in env_id:
            cfg["dialogues_per_episode"] = args.dialogues_per_episode
        out[b] = compare_output_length(
            env_id,
            cfg,
            "output_length",
            ["train_mean", "predicted"],
            seeds=range(args.seeds),
            episodes=args.episodes,
        )
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for b, r in out.items():
        c, p = r["train_mean"], r["predicted"]
        print(
            f"{b}: R^2 of estimated vs realised T_edge - T_device {c['r2']:.3f} with the "
            f"train-mean output length -> {p['r2']:.3f} with per-query predictions "
            f"(corr^2 {c['corr2']:.3f} -> {p['corr2']:.3f}; MAE {c['mae_s']:.3f} -> "
            f"{p['mae_s']:.3f} s; {p['n']} steps)"
        )
    return 0
