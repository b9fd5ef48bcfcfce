"""``nonmyopic_gap``: what planning over a dialogue gains over the best per-step choice.

Both references see the realised world. The myopic oracle (``myopic_oracle``) takes, at each
turn, the action with the higher realised reward of that turn; ``hindsight_optimal`` takes the
best action *sequence* of the dialogue (``agents.hindsight_search``), which can accept a worse
turn now to keep a KV cache, or a better history, for later turns. Under common random numbers
both meet the same dialogues in the same order, so their runs pair dialogue by dialogue:

* ``reward_per_dialogue``: mean over dialogues of (hindsight - myopic) summed reward;
* ``share_of_dialogues_improved``: share of dialogues where hindsight earns strictly more;
* ``latency_s_at_matched_quality``: the myopic oracle's mean latency (at the benchmark's
  reward weights) minus the mean latency of the hindsight frontier (swept over the latency
  weight the planner optimises) at the myopic oracle's quality: positive = planning is faster
  at equal quality; ``None`` when the hindsight frontier does not reach that quality.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cost_models.errors import require
from experiments.frontier import FrontierPoint, interpolate_at_quality
from experiments.metrics import StepLog

#: Differences below this (reward units) count as ties, not improvements.
TIE_TOLERANCE = 1e-9


def dialogue_rewards(log: StepLog) -> tuple[list[str], np.ndarray]:
    """Dialogue ids in order of appearance and each dialogue's summed reward: a new entry at
    every first turn (turn index 0) or change of dialogue id, so a dialogue met again, even
    in the next episode, is a new entry."""
    ids: list[str] = []
    sums: list[float] = []
    last = None
    turns = log.turn_index if len(log.turn_index) == len(log.reward) else [1] * len(log.reward)
    for d, t, r in zip(log.dialogue_id, turns, log.reward, strict=True):
        if d != last or t == 0:
            ids.append(d)
            sums.append(0.0)
            last = d
        sums[-1] += r
    return ids, np.asarray(sums, dtype=float)


def paired_gain(hindsight: Sequence[StepLog], myopic: Sequence[StepLog]) -> np.ndarray:
    """Per-dialogue reward gain of hindsight over myopic, over paired runs (same seeds)."""
    require(len(hindsight) == len(myopic) > 0, "need the same number (> 0) of paired runs")
    gains = []
    for h, m in zip(hindsight, myopic, strict=True):
        ids_h, r_h = dialogue_rewards(h)
        ids_m, r_m = dialogue_rewards(m)
        require(
            ids_h == ids_m,
            "hindsight and myopic runs met different dialogues: they must share seeds (common "
            "random numbers)",
        )
        gains.append(r_h - r_m)
    return np.concatenate(gains)


def nonmyopic_gap(
    hindsight: Sequence[StepLog],
    myopic: Sequence[StepLog],
    myopic_point: FrontierPoint | None = None,
    hindsight_frontier: Sequence[FrontierPoint] = (),
) -> dict[str, float | int | None]:
    """The three figures of the module docstring (plus the number of dialogues)."""
    gain = paired_gain(hindsight, myopic)
    latency = None
    if myopic_point is not None and hindsight_frontier:
        at = interpolate_at_quality(hindsight_frontier, myopic_point.quality)
        if at.reachable and at.latency_mean_s is not None:
            latency = float(myopic_point.latency_mean_s - at.latency_mean_s)
    return {
        "reward_per_dialogue": float(gain.mean()),
        "share_of_dialogues_improved": float(np.mean(gain > TIE_TOLERANCE)),
        "latency_s_at_matched_quality": latency,
        "dialogues": int(gain.size),
        "min_gain": float(gain.min()),
    }
