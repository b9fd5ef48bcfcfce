"""Device heat (calibrated throttling; sustained use slows, idle restores), device and radio
energy, attachments and KV migration payloads."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from cost_models import energy
from cost_models.errors import EdgeRouteError
from cost_models.kv_cache import kv_bytes_per_token
from cost_models.payload import (
    ATTACHMENTS,
    DOCUMENT_CHARS,
    get_attachment,
    kv_migration_bits,
    prompt_upload_bits,
)
from cost_models.roofline import decode_time_s
from cost_models.thermal import (
    PUBLISHED_THROTTLING,
    DeviceThermalState,
    get_thermal_profile,
    heat_after_busy,
    speed_fraction,
    throttled_time_s,
    work_done_s,
)

RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])  # conftest.py sets a default


@pytest.mark.parametrize("name, tol", [("npu", 0.015), ("gpu_litert", 0.005),
                                       ("gpu_mlx", 0.06)])  # fmt: skip
def test_profiles_reproduce_the_published_throttling(name: str, tol: float) -> None:
    p = get_thermal_profile(name)
    for t, frac in PUBLISHED_THROTTLING[name]:
        # continuous generation from cold: speed(heat after t busy seconds)
        assert speed_fraction(p, heat_after_busy(p, 0.0, t)) == pytest.approx(frac, abs=tol)
    # after 10 minutes: the NPU keeps ~67%, the GPU runtimes 38% and 48%
    ten = speed_fraction(p, heat_after_busy(p, 0.0, 600.0))
    assert ten == pytest.approx(dict(npu=0.67, gpu_mlx=0.38, gpu_litert=0.48)[name], abs=0.01)


def test_sustained_use_lowers_decode_speed_and_idle_restores_it() -> None:
    dev = DeviceThermalState("npu")
    job = decode_time_s("llama-3.2-3b", "phone_npu", 200, 60, "int4")  # ~2 s cold
    walls = [dev.run(start_s=i * job * 1.01, work_s=job) for i in range(300)]  # ~10 min busy
    assert walls[0] == pytest.approx(job, rel=0.01)
    assert walls[-1] / job == pytest.approx(1.0 / 0.67, rel=0.05)  # ~1.5x slower when hot
    assert dev.speed_at(dev.time_s) < 0.7
    # 20 minutes idle: heat decays by exp(-1200 / 383) ~ 0.04, speed back above 98%
    later = dev.time_s + 1200.0
    assert dev.speed_at(later) > 0.98
    assert dev.run(later, job) == pytest.approx(job, rel=0.03)


def test_throttled_time_inverts_the_work_done() -> None:
    p = get_thermal_profile("gpu_mlx")
    for h0 in (0.0, 0.3, 0.9, 1.0):
        for work in (0.01, 1.0, 30.0, 500.0):
            T = throttled_time_s(p, h0, work)
            assert work_done_s(p, h0, T) == pytest.approx(work, rel=1e-9)
            assert work <= T  # never faster than cold
    assert throttled_time_s(p, 1.0, 10.0) == pytest.approx(10.0 / p.s_min)
    with pytest.raises(EdgeRouteError, match="thermal profile"):
        get_thermal_profile("nope")


def test_device_energy_per_token_and_battery() -> None:
    # 7 W x the roofline step of Llama-3.2-3B int4 on the phone NPU (~33 ms): ~0.23 J/token
    step = decode_time_s("llama-3.2-3b", "phone_npu", 128, 1, "int4")
    e = energy.device_energy_per_token_j("llama-3.2-3b", "phone_npu", "int4")
    assert e == pytest.approx(7.0 * step) and 0.15 < e < 0.35
    capacity = energy.BATTERY_CAPACITY_J
    assert capacity == pytest.approx(69_840.0)
    assert energy.battery_fraction(6984.0) == pytest.approx(0.9)


def test_radio_energy_follows_the_lte_power_model() -> None:
    # 1 Mbit up in 0.1 s: 438.39 mJ + 1288.04 mW x 0.1 s = 0.567 J
    assert energy.transfer_energy_j(1e6, 0.1, uplink=True) == pytest.approx(0.43839 + 0.128804)
    assert energy.transfer_energy_j(1e6, 0.1, uplink=False) == pytest.approx(0.05197 + 0.128804)
    # the 11.6 s tail at 1.06 W costs more than a text request itself
    assert energy.tail_energy_j(60.0) == pytest.approx(1.06 * 11.576)
    assert energy.tail_energy_j(2.0) == pytest.approx(1.06 * 2.0)
    e = energy.edge_request_energy_j(8_000, 0.01, 1_600, 0.01, wait_s=2.0)
    assert e == pytest.approx(0.0035 + 0.0129 + 2.12 + 0.0008 + 0.0129 + 12.27, abs=0.01)


def test_attachments_make_the_uplink_heavy() -> None:
    text = prompt_upload_bits(100)
    assert prompt_upload_bits(100, "photo") == pytest.approx(text + 8 * 3.0e6)
    resized = get_attachment("photo_resized")
    assert resized.wire_bytes == pytest.approx(3.0e6 * 1024 * 768 / 12e6)  # 196.6 kB
    assert ATTACHMENTS["photo"].prefill_tokens == 576
    assert get_attachment("document").prefill_tokens == 549
    with pytest.raises(EdgeRouteError, match="attachment"):
        get_attachment("video")


@pytest.mark.skipif(not (RAW / "KwanWaiChung__MT-Eval").is_dir(), reason="no raw mirror")
def test_document_size_is_the_mt_eval_mean() -> None:
    path = RAW / "KwanWaiChung__MT-Eval/raw_data/documents.jsonl"
    docs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    assert round(np.mean([len(d["gen_resp"]) for d in docs])) == DOCUMENT_CHARS


def test_kv_migration_bits() -> None:
    # 1,000 tokens of Llama-3.2-3B fp16 KV: 1000 x 114,688 B x 8
    assert kv_bytes_per_token("llama-3.2-3b") == 2 * 28 * 8 * 128 * 2
    assert kv_migration_bits("llama-3.2-3b", 1000) == 8 * 1000 * 114_688
    assert math.isclose(kv_migration_bits("llama-3.1-70b", 1, "fp8"), 8 * 163_840)
