"""``nonmyopic_gap`` pairs dialogues of two runs and reads latency at matched quality."""

from __future__ import annotations

import pytest

from cost_models.errors import EdgeRouteError
from experiments.frontier import FrontierPoint
from experiments.metrics import StepLog
from experiments.nonmyopic import dialogue_rewards, nonmyopic_gap


def _log(rows):
    log = StepLog()
    for d, r, *t in rows:
        info = {"latency_s": 1.0, "quality": 0.5, "model": "edge", "dialogue_id": d,
                "turn_index": t[0] if t else 1}  # fmt: skip
        log.record(info, r)
    return log


def test_gap_pairs_dialogues_and_counts_strict_improvements():
    h = _log([("a", 1.0), ("a", 1.0), ("b", 0.5), ("a", 0.2)])  # "a" again: a new dialogue
    m = _log([("a", 1.0), ("a", 0.5), ("b", 0.5), ("a", 0.2)])
    assert dialogue_rewards(h) == (["a", "b", "a"], pytest.approx([2.0, 0.5, 0.2]))
    gap = nonmyopic_gap([h], [m])
    assert gap["reward_per_dialogue"] == pytest.approx(0.5 / 3)
    assert gap["share_of_dialogues_improved"] == pytest.approx(1 / 3)
    assert gap["dialogues"] == 3 and gap["latency_s_at_matched_quality"] is None


def test_latency_at_the_myopic_quality_on_the_hindsight_frontier():
    h, m = _log([("a", 1.0)]), _log([("a", 1.0)])
    front = [FrontierPoint(0.6, 2.0, 0.5), FrontierPoint(0.8, 3.0, 0.7)]
    gap = nonmyopic_gap([h], [m], FrontierPoint(0.7, 3.1, 0.6), front)
    assert gap["latency_s_at_matched_quality"] == pytest.approx(3.1 - 2.5)
    unreachable = nonmyopic_gap([h], [m], FrontierPoint(0.9, 3.1, 0.6), front)
    assert unreachable["latency_s_at_matched_quality"] is None


def test_the_same_dialogue_in_consecutive_episodes_is_two_entries():
    log = _log([("a", 1.0, 0), ("a", 2.0, 1), ("a", 3.0, 0), ("a", 4.0, 1)])
    assert dialogue_rewards(log) == (["a", "a"], pytest.approx([3.0, 7.0]))


def test_runs_must_share_dialogues():
    with pytest.raises(EdgeRouteError, match="common random numbers"):
        nonmyopic_gap([_log([("a", 1.0)])], [_log([("b", 1.0)])])
