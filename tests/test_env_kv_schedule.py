"""A hand-built three-turn dialogue served device -> edge -> device: the KV rules, exactly.

The token counts and bytes asserted here are derived in the comments from the KV-cache rules of
``cost_models.kv_cache`` and the text-payload rule of ``cost_models.link`` (4 bytes per token,
300 bytes of framing per message, 61 bytes per 1460-byte TCP segment), not read from the env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import envs  # noqa: F401  (registers the environments)
from cost_models import deployment, roofline, router_cost
from envs.traces.schema import COLUMNS, Trace

PROMPTS = (50, 30, 20)
OUT_SMALL = (100, 60, 40)
OUT_LARGE = (120, 80, 70)


def three_turn_trace() -> Trace:
    """One dialogue of three user turns (train split) plus two single-turn fillers so the PCA
    and train means have something to fit on."""
    rows = []
    for t in range(3):
        rows.append(
            {
                "id": f"hand/d0/t{t}",
                "benchmark": "hand",
                "subject": "test",
                "split": "train",
                "dialogue_id": "hand/d0",
                "turn_index": t,
                "text": f"turn {t}",
                "prompt_tokens": PROMPTS[t],
                "history_tokens": sum(PROMPTS[:t]) + sum(OUT_LARGE[:t]),
                "output_tokens_small": OUT_SMALL[t],
                "output_tokens_large": OUT_LARGE[t],
                "quality_small": 0.5,
                "quality_large": 1.0,
                "quality_source": "modelled",
                "tokens_source": "hand-built",
            }
        )
    frame = pd.DataFrame(rows)[list(COLUMNS)]
    emb = np.eye(3, 4, dtype=np.float32)
    return Trace(
        frame=frame,
        meta={"benchmark": "hand", "multi_turn": True, "quality_source": "modelled"},
        embeddings=emb,
        semantic_p=np.array([0.2, 0.6, 0.4], dtype=np.float32),
    )


@pytest.fixture
def env():
    e = gym.make(
        "EdgeRoute/MultiTurn-v0",
        config={
            "trace": three_turn_trace(),
            "split": "train",
            "observation": {"embedding": "none"},
            "think_time_mean_s": 5.0,
            "think_time_cv": 0.0,
        },
    )
    yield e
    e.close()


def test_device_edge_device_schedule_recomputes_and_uplinks_exactly(env):
    obs, info = env.reset(seed=3)
    u = env.unwrapped
    names = u.observation_names

    # Turn 0 on the device: nothing cached anywhere, nothing to recompute, nothing uplinked.
    _, _, term, _, i0 = env.step(0)
    assert (i0["model"], i0["switched"], term) == ("device", False, False)
    assert i0["recomputed_tokens"] == 0
    assert i0["uplink_tokens"] == 0 and i0["uplink_bytes"] == 0.0
    # Dialogue after turn 0: 50 user + 100 device answer = 150 tokens, all cached on device.
    assert u.kv.total_tokens == 150
    assert u.kv.cached_tokens == {"device": 150, "edge": 0}

    # Turn 1 on the edge: the edge never served this dialogue, so it must prefill (recompute)
    # the 150-token history plus the 30 new user tokens, and receive all 180 as text.
    _, _, term, _, i1 = env.step(1)
    assert (i1["model"], i1["switched"], term) == ("edge", True, False)
    assert i1["recomputed_tokens"] == 150
    assert i1["uplink_tokens"] == 180
    # 180 tokens * 4 B = 720 B of text + 300 B framing = 1020 B -> one 1460-byte segment
    # (+61 B): 1081 bytes on the wire.
    assert i1["uplink_bytes"] == 1081.0
    # Prefill covered the 180 uncached tokens after an empty cache.
    sc = u.scenario
    assert i1["latency"]["prefill_s"] == pytest.approx(
        roofline.prefill_time_s(sc.edge_model, sc.edge_hw, 180, 0, sc.edge_precision), rel=1e-12
    )
    # Dialogue after turn 1: 150 + 30 user + 80 edge answer = 260, all cached on the edge;
    # the device still holds its valid 150-token prefix.
    assert u.kv.total_tokens == 260
    assert u.kv.cached_tokens["device"] == 150
    # The edge kept or lost its cache over the 5 s gap by the retention draw; either way the
    # device numbers below do not depend on it.

    # Turn 2 on the device: it must recompute what the edge served (30 user + 80 answer = 110
    # tokens) and prefill the 20 new tokens after its 150 cached ones; no uplink.
    obs2 = u._obs
    assert obs2[names.index("last_model_edge")] == 1.0
    assert obs2[names.index("log1p_device_cached_tokens")] == pytest.approx(np.log1p(150))
    _, _, term, _, i2 = env.step(0)
    assert (i2["model"], i2["switched"], term) == ("device", True, True)
    assert i2["recomputed_tokens"] == 110
    assert i2["uplink_tokens"] == 0 and i2["uplink_bytes"] == 0.0
    expected = router_cost.device_latency(sc, 130, OUT_SMALL[2], cached_tokens=150)
    for key in ("prefill_s", "decode_s", "total_s"):
        assert i2["latency"][key] == pytest.approx(expected[key], rel=1e-12)
    assert i2["quality"] == 0.5


def test_staying_on_one_side_recomputes_nothing(env):
    env.reset(seed=3)
    infos = [env.step(0)[4] for _ in range(3)]
    assert [i["recomputed_tokens"] for i in infos] == [0, 0, 0]
    assert [i["switched"] for i in infos] == [False, False, False]


def test_device_capacity_overflow_recomputes_the_documented_window():
    # A device KV budget of 200 tokens of the device model. Turn 0 (50 + 100 = 150) fits; at
    # turn 1 the context 150 + 30 + 60 = 240 does not: the device keeps the most recent
    # 200 - 30 - 60 = 110 history tokens and recomputes them (cost_models.device_memory
    # .device_turn), after which it holds no valid prefix; turn 2 overflows again and
    # recomputes its own window.
    from cost_models.device_memory import device_turn

    sc = deployment.get_scenario("phone_3b__edge_70b")
    per_token = sc.kv_bytes_per_token("device")
    e = gym.make(
        "EdgeRoute/MultiTurn-v0",
        config={
            "trace": three_turn_trace(),
            "observation": {"embedding": "none"},
            "deployment": "phone_3b__edge_70b",
            "device_kv_budget_bytes": float(200 * per_token),
        },
    )
    e.reset(seed=0)
    i0 = e.step(0)[4]
    assert e.unwrapped.kv.cached_tokens["device"] == 150  # fits: 150 <= 200
    i1 = e.step(0)[4]
    assert e.unwrapped.kv.cached_tokens["device"] == 0  # 240 > 200: a window, no prefix
    i2 = e.step(0)[4]
    h2 = 150 + PROMPTS[1] + OUT_SMALL[1]
    window2 = device_turn(h2, 0, PROMPTS[2], OUT_SMALL[2], 200).kept_history
    assert [i0["recomputed_tokens"], i1["recomputed_tokens"], i2["recomputed_tokens"]] == [
        0,
        110,
        window2,
    ]
    assert window2 == 200 - PROMPTS[2] - OUT_SMALL[2]
