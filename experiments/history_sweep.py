"""Who wins a dialogue turn as the history grows: device vs edge over history length and load.

For each history length ``H`` and each side that holds the dialogue in its KV cache (the side
that served the earlier turns), the latency of serving the next turn on the device and on the
edge at each edge load, from the deployment's cost model (``cost_models.router_cost``) on the
median link of its channel. The device's KV capacity is the app budget of
``cost_models.device_memory`` (RAM share less weights); past it the device keeps and recomputes
a window (``device_memory.device_turn``), which the table marks. A balanced deployment is one
where each side wins somewhere: ``edgeroute costs --history-tokens 0,2000,...`` prints this.
Every number is modelled (roofline + link budget), not measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cost_models.channel import get_channel_scenario, mean_channel_state
from cost_models.deployment import DeploymentScenario, get_scenario
from cost_models.device_memory import capacity_tokens, device_turn
from cost_models.edge_load import LOAD_PRESETS
from cost_models.errors import require
from cost_models.router_cost import device_latency, edge_latency

HOLDERS: tuple[str, str] = ("device", "edge")


def history_sweep(
    scenario: DeploymentScenario | str,
    history_tokens: Sequence[int],
    loads: Mapping[str, float] = LOAD_PRESETS,
    prompt_tokens: int = 150,
    output_tokens: int = 100,
    channel: str | None = None,
) -> list[dict]:
    """One row per ``(history, holder)``: ``device_s``, ``edge_s`` (per load name),
    ``winner`` (per load), ``overflow`` (the device recomputes a window) and the capacity."""
    sc = get_scenario(scenario)
    ch = get_channel_scenario(channel or sc.channel)
    link = mean_channel_state(ch)
    cap = capacity_tokens(sc.device_model, sc.device_hw, sc.device_precision)
    require(prompt_tokens >= 1 and output_tokens >= 1, "prompt and output tokens must be >= 1")
    rows = []
    for H in history_tokens:
        require(int(H) >= 0, f"history tokens must be >= 0, got {H!r}")
        for holder in HOLDERS:
            cached_device = int(H) if holder == "device" else 0
            turn = device_turn(int(H), cached_device, prompt_tokens, output_tokens, cap)
            dev = device_latency(sc, turn.prefill_tokens, output_tokens, turn.cached_tokens)
            cached_edge = int(H) if holder == "edge" else 0
            new_edge = int(H) - cached_edge + prompt_tokens
            edge = {
                name: edge_latency(
                    sc, new_edge, output_tokens, link.uplink_bps, link.downlink_bps, u,
                    cached_tokens=cached_edge, channel=ch,
                )["total_s"]
                for name, u in loads.items()
            }  # fmt: skip
            rows.append(
                {
                    "history_tokens": int(H),
                    "cached_on": holder,
                    "device_capacity_tokens": cap,
                    "overflow": turn.overflow,
                    "device_recomputed_tokens": turn.prefill_tokens - prompt_tokens,
                    "device_s": float(dev["total_s"]),
                    "edge_s": {k: float(v) for k, v in edge.items()},
                    "winner": {k: "device" if dev["total_s"] <= v else "edge"
                               for k, v in edge.items()},
                }
            )  # fmt: skip
    return rows


def wins_both_ways(rows: list[dict]) -> bool:
    """Whether each side wins somewhere in the sweep (the balance criterion)."""
    winners = {w for r in rows for w in r["winner"].values()}
    return winners == {"device", "edge"}


def format_sweep(rows: list[dict], scenario: str) -> str:
    """The sweep as a text table."""
    loads = list(rows[0]["edge_s"]) if rows else []
    head = f"{'history':>8s} {'cached on':>9s} {'device s':>9s} " + " ".join(
        f"{'edge s ' + k:>15s}" for k in loads
    )
    lines = [
        f"scenario {scenario}: next turn of {rows[0]['device_capacity_tokens'] if rows else 0:,}"
        "-token device KV capacity (app budget); D/E = faster side per edge load",
        head,
    ]
    for r in rows:
        cells = " ".join(f"{r['edge_s'][k]:>12.2f} {r['winner'][k][0].upper():>2s}" for k in loads)
        mark = " overflow: window recomputed" if r["overflow"] else ""
        lines.append(
            f"{r['history_tokens']:>8d} {r['cached_on']:>9s} {r['device_s']:>9.2f} {cells}{mark}"
        )
    lines.append(
        "each side wins somewhere: "
        + ("yes" if wins_both_ways(rows) else "NO")
        + "   (modelled: roofline + 3GPP link budget on the median link, not measured)"
    )
    return "\n".join(lines)
