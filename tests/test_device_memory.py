"""Device KV memory binds on long sessions, and the two cited phone prefill profiles."""

from __future__ import annotations

import pytest

from cost_models import catalogue, device_memory, roofline
from cost_models.catalogue import kv_bytes_per_token
from cost_models.errors import EdgeRouteError
from cost_models.kv_cache import capacity_tokens


def test_phone_budget_from_ram_less_weights_holds_about_13k_tokens_of_a_3b_model():
    phone = catalogue.get_hardware("phone_npu")
    llama3b = catalogue.get_model("llama-3.2-3b")
    weights = catalogue.weight_bytes(llama3b, "int4", active=False)
    budget = device_memory.kv_budget_bytes(phone.memory_bytes, weights)
    assert budget == pytest.approx(3.3e9 - 3.21e9 * 4.5 / 8)
    cap = capacity_tokens(budget, "llama-3.2-3b", "int4")
    assert kv_bytes_per_token("llama-3.2-3b", "int4") == 114_688
    assert 8_000 < cap < 16_000  # 8-16k-token sessions overflow it
    android = device_memory.kv_budget_bytes(
        phone.memory_bytes, weights, device_memory.ANDROID_APP_MEMORY_SHARE
    )
    assert capacity_tokens(android, "llama-3.2-3b", "int4") > 32_000
    llama8b = catalogue.weight_bytes(catalogue.get_model("llama-3.1-8b"), "int4", active=False)
    with pytest.raises(EdgeRouteError, match="do not fit"):
        device_memory.kv_budget_bytes(phone.memory_bytes, llama8b)


def test_long_session_overflows_and_forces_the_documented_window_recompute():
    cap = 11_000
    # a session whose history grows past the capacity, served on the device every turn
    history, prefix = 0, 0
    recomputed = []
    for prompt, out in [(4_000, 100)] + [(150, 100)] * 40:
        turn = device_memory.device_turn(history, prefix, prompt, out, cap)
        recomputed.append(turn.prefill_tokens - prompt)
        assert turn.context_tokens + out <= cap
        history += prompt + out
        prefix = turn.prefix_after
        if turn.overflow:
            # the kept window fills the cache, the rest is dropped, and all of it is recomputed
            assert turn.kept_history == cap - prompt - out
            assert turn.dropped_history == history - prompt - out - turn.kept_history
            assert turn.cached_tokens == 0 and turn.prefix_after == 0
    first = next(i for i, r in enumerate(recomputed) if r > 0)
    # before the overflow nothing is recomputed (the device served every turn) ...
    assert all(r == 0 for r in recomputed[:first])
    # ... after it every device turn recomputes its whole window: 10,750 tokens per turn
    assert set(recomputed[first:]) == {cap - 150 - 100}


def test_no_overflow_reuses_the_prefix():
    t = device_memory.device_turn(2_000, 1_500, 200, 100, 10_000)
    assert (t.prefill_tokens, t.cached_tokens, t.overflow, t.prefix_after) == (
        700,
        1_500,
        False,
        2_300,
    )


def test_vendor_npu_prefill_is_ten_times_llama_cpp():
    npu = catalogue.get_hardware("phone_npu")
    slow = catalogue.get_hardware("phone_npu_llamacpp")
    t_npu = roofline.prefill_time_s("llama-3.2-3b", npu, 128, 0, "int4")
    t_slow = roofline.prefill_time_s("llama-3.2-3b", slow, 128, 0, "int4")
    assert 128 / t_npu == pytest.approx(1752, rel=0.02)  # the roofline's phone figure
    assert t_slow / t_npu == pytest.approx(catalogue.LLAMA_CPP_PREFILL_GAP, rel=0.01)
    # decode (memory-bound) is the same on both
    d = [roofline.decode_time_s("llama-3.2-3b", hw, 512, 128, "int4") for hw in (npu, slow)]
    assert d[0] == pytest.approx(d[1], rel=1e-9)


def test_deployments_use_the_derived_device_budget():
    from cost_models.deployment import get_scenario

    sc = get_scenario("phone_3b__edge_70b")
    assert sc.device_kv_capacity_tokens == device_memory.capacity_tokens(
        "llama-3.2-3b", "phone_npu", "int4"
    )
    assert 8_000 < sc.device_kv_capacity_tokens < 16_000
    assert get_scenario("phone_3b_llamacpp__edge_70b").device_hw == "phone_npu_llamacpp"
