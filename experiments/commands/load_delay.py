"""edgeroute load-delay: the analytic router's gain over static routing vs load freshness.

For one workload, prints the mean-latency reduction of the analytic rule over the static
semantic threshold at matched quality (0.8 / 0.9 / 0.95 of the device -> edge quality gap),
with the load known exactly and instantly, reported with a delay of 0, 1, 5 or 30 s, or not at
all (the long-run mean). Thresholds, alpha and theta are calibrated on validation; the table
is from test (see experiments/load_delay.py). Latencies are modelled.
"""

from __future__ import annotations

import argparse
import json
import sys

from cost_models.errors import require


def register(subparsers: argparse._SubParsersAction) -> None:
    from experiments.load_delay import BENCHMARK_WORKLOADS, DELAYS_S, WORKLOADS

    p = subparsers.add_parser(
        "load-delay", help="analytic vs static gain as the load report ages",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--workload", default="mmlu_shared_edge",
                   help=f"one of {', '.join([*WORKLOADS, *BENCHMARK_WORKLOADS])} (default "
                   "mmlu_shared_edge; the shared-edge ones are the benchmark's)")
    p.add_argument("--delays", default=",".join(f"{d:g}" for d in DELAYS_S),
                   help="comma-separated report delays in s (default 0,1,5,30)")
    p.add_argument("--quick", action="store_true", help="1 seed, 1 episode, 2 alphas")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.load_delay import FULL, QUICK, format_table, run_load_delay_study, workload

    env_id, cfg = workload(args.workload)
    try:
        delays = tuple(float(x) for x in args.delays.split(",") if x.strip())
    except ValueError:
        delays = ()
    require(len(delays) > 0 and all(d >= 0 for d in delays),
            f"--delays {args.delays!r} must be comma-separated numbers >= 0")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = run_load_delay_study(env_id, cfg, QUICK if args.quick else FULL, delays, log=log)
    result["workload"] = args.workload
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
