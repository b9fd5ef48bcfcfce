"""KV cache: bytes per token, per-side cached prefix of an append-only dialogue, eviction."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from cost_models.kv_cache import (
    DialogueKVState,
    capacity_tokens,
    edge_retention_probability,
    kv_bytes_per_token,
    migrate_time_s,
    restore_time_s,
)


@pytest.mark.parametrize(
    "model,expected",
    [("qwen2.5-1.5b", 28_672), ("qwen2.5-7b", 57_344), ("llama-3.1-8b", 131_072),
     ("llama-3.1-70b", 327_680), ("llama-3.2-3b", 114_688)],
)  # fmt: skip
def test_kv_bytes_per_token_fp16(model: str, expected: int) -> None:
    # 2 x layers x kv_heads x head_dim x 2 bytes, e.g. Llama-3.1-8B: 2 x 32 x 8 x 128 x 2
    assert kv_bytes_per_token(model, "fp16") == expected


def test_kv_bytes_per_precision() -> None:
    assert kv_bytes_per_token("llama-3.1-8b", "fp8") == 131_072 // 2
    assert kv_bytes_per_token("llama-3.1-8b", "int4") == 131_072  # fp16 cache with int4 weights
    assert capacity_tokens(2**30, "llama-3.1-8b") == 2**30 // 131_072


def test_dialogue_switching_accounting() -> None:
    kv = DialogueKVState()
    # turn 1 on the device: 50 user tokens, 100 answer tokens
    p1 = kv.commit_turn("device", 50, 100)
    assert (p1.prefill_tokens, p1.recomputed_tokens, p1.uplink_tokens) == (50, 0, 0)
    assert kv.total_tokens == 150 and kv.cached_tokens == {"device": 150, "edge": 0}
    # turn 2 switches to the edge: it recomputes the 150 tokens it never saw and uplinks them
    p2 = kv.plan_turn("edge", 40)
    assert (p2.cached_tokens, p2.recomputed_tokens, p2.prefill_tokens, p2.uplink_tokens) == (
        0, 150, 190, 190)  # fmt: skip
    kv.commit_turn("edge", 40, 60)
    assert kv.total_tokens == 250 and kv.cached_tokens == {"device": 150, "edge": 250}
    # turn 3 back on the device: its prefix of 150 is still valid; it recomputes turn 2
    p3 = kv.plan_turn("device", 30)
    assert (p3.cached_tokens, p3.recomputed_tokens, p3.prefill_tokens) == (150, 100, 130)
    assert p3.context_tokens == 280
    # staying on the edge: nothing to recompute, only this turn's text goes up
    p4 = kv.plan_turn("edge", 30)
    assert (p4.recomputed_tokens, p4.uplink_tokens) == (0, 30)


def test_more_uncached_history_more_recompute() -> None:
    recomputed = []
    for device_turns in (1, 2, 4):
        kv = DialogueKVState()
        for _ in range(device_turns):
            kv.commit_turn("device", 50, 100)
        recomputed.append(kv.plan_turn("edge", 20).recomputed_tokens)
    assert recomputed == [150, 300, 600]


def test_device_capacity_evicts_then_full_recompute() -> None:
    kv = DialogueKVState(device_capacity_tokens=200)
    kv.commit_turn("device", 50, 100)
    assert kv.cached_tokens["device"] == 150
    kv.commit_turn("device", 50, 100)  # 300 > 200: evicted
    assert kv.cached_tokens["device"] == 0 and kv.device_evictions == 1
    plan = kv.plan_turn("device", 10)
    assert plan.recomputed_tokens == 300 and plan.prefill_tokens == 310
    assert kv.device_occupancy() == 0.0


def test_edge_retention_law_and_eviction() -> None:
    assert edge_retention_probability(0.0, 0.5) == 1.0
    idle = np.array([0.0, 10.0, 100.0, 1000.0])
    p = edge_retention_probability(idle, 0.3)
    assert np.all(np.diff(p) < 0)
    assert edge_retention_probability(60.0, 0.9) < edge_retention_probability(60.0, 0.1)
    kv = DialogueKVState()
    kv.commit_turn("edge", 100, 100)
    evicted = [kv.maybe_evict_edge(1e6, 0.5, np.random.default_rng(0))]
    assert evicted == [True] and kv.cached_tokens["edge"] == 0 and kv.edge_evictions == 1
    kv.commit_turn("edge", 10, 10)
    assert kv.maybe_evict_edge(0.0, 0.5, np.random.default_rng(0)) is False


def test_migration_vs_recompute() -> None:
    # KV of 1000 Llama-3.1-8B tokens (131 MB) over 50 Mbit/s takes ~21 s: recompute wins
    t = migrate_time_s("llama-3.1-8b", 1000, 50e6, 0.02)
    assert t == pytest.approx(8 * 131_072 * 1000 / 50e6 + 0.02)
    best, use_migrate = restore_time_s("llama-3.1-8b", "a100_80gb", 1000, 50e6, 0.02)
    assert not use_migrate and best < t
    # on a slow device over a fast link, migrating a small model's cache can win
    best, use_migrate = restore_time_s("qwen2.5-0.5b", "phone_npu", 4000, 1e9, 0.005)
    assert use_migrate


def test_invalid_inputs() -> None:
    kv = DialogueKVState()
    with pytest.raises(EdgeRouteError, match="side"):
        kv.plan_turn("cloud", 10)
    with pytest.raises(EdgeRouteError, match="new_user_tokens"):
        kv.plan_turn("device", 0)
    with pytest.raises(EdgeRouteError, match="device_capacity_tokens"):
        DialogueKVState(device_capacity_tokens=-1)
    with pytest.raises(EdgeRouteError, match="idle_s"):
        edge_retention_probability(-1.0, 0.2)
