"""``edgeroute costs`` and ``edgeroute bench``: output, JSON keys, invalid input, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from experiments.cli import main

REQUIRED_NESTED = {
    "device": ["total_s", "prefill_s", "decode_s", "kv_bytes_per_token"],
    "edge": ["total_s", "uplink_s", "queue_s", "prefill_s", "decode_s", "downlink_s",
             "kv_bytes_per_token"],
}  # fmt: skip


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_costs_json_has_required_keys_and_sums(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, ["costs", "--json"])
    for side, keys in REQUIRED_NESTED.items():
        for key in keys:
            assert isinstance(r[side][key], (int, float)), (side, key)
    assert r["uplink_bps"] > 0 and r["downlink_bps"] > 0
    d, e = r["device"], r["edge"]
    assert d["total_s"] == pytest.approx(d["prefill_s"] + d["decode_s"])
    assert e["total_s"] == pytest.approx(
        e["uplink_s"] + e["queue_s"] + e["prefill_s"] + e["decode_s"] + e["downlink_s"])
    assert d["kv_bytes_per_token"] == 114_688  # Llama-3.2-3B fp16 KV cache


def test_costs_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, ["costs", "--json", "--device-model", "qwen2.5-1.5b", "--device-hw",
                       "phone_npu", "--device-precision", "fp16", "--edge-model", "qwen2.5-7b",
                       "--edge-hw", "a100_80gb", "--edge-precision", "fp16", "--prompt-tokens",
                       "64", "--output-tokens", "32", "--history-tokens", "500",
                       "--distance-m", "800", "--channel", "near", "--edge-load", "0.5"])
    assert r["device"]["kv_bytes_per_token"] == 28_672
    assert r["edge"]["kv_bytes_per_token"] == 57_344
    assert r["distance_m"] == 800 and r["edge_utilisation"] == 0.5


def test_costs_laws_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    near = _json(capsys, ["costs", "--json", "--distance-m", "100"])
    far = _json(capsys, ["costs", "--json", "--distance-m", "900"])
    assert far["uplink_bps"] < near["uplink_bps"]
    assert far["edge"]["uplink_s"] > near["edge"]["uplink_s"]
    short = _json(capsys, ["costs", "--json", "--output-tokens", "50"])
    long = _json(capsys, ["costs", "--json", "--output-tokens", "500"])
    assert long["device"]["decode_s"] > short["device"]["decode_s"]
    h0 = _json(capsys, ["costs", "--json", "--history-tokens", "0"])
    h1 = _json(capsys, ["costs", "--json", "--history-tokens", "3000"])
    assert h1["device"]["prefill_s"] > h0["device"]["prefill_s"]
    assert h1["edge"]["terms"]["switching_s"] > 0 == h0["edge"]["terms"]["switching_s"]


def test_costs_seed_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    a = _json(capsys, ["costs", "--json", "--seed", "11"])
    b = _json(capsys, ["costs", "--json", "--seed", "11"])
    c = _json(capsys, ["costs", "--json", "--seed", "12"])
    assert a == b and a["uplink_snr_db"] != c["uplink_snr_db"]


def test_costs_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--scenario", "jetson_7b__edge_14b"]) == 0
    out = capsys.readouterr().out
    for word in ("prefill", "decode", "uplink", "queue", "downlink", "total", "qwen2.5-14b",
                 "modelled"):  # fmt: skip
        assert word in out


@pytest.mark.parametrize(
    "argv,needle",
    [(["--distance-m", "-5"], "'-5' must be a number in (0, 20,000]"),
     (["--bandwidth-hz=-1e6"], "'-1e6' must be a number in [180,000, 400,000,000]"),
     (["--device-model", "gpt-9"], "allowed: llama-2-7b"),
     (["--edge-hw", "tpu"], "allowed: a100_80gb"),
     (["--prompt-tokens", "0"], "--prompt-tokens: '0' must be an integer in [1, 131,072]"),
     (["--output-tokens", "0"], "--output-tokens: '0' must be an integer in [1, 131,072]"),
     (["--history-tokens", "-3"], "--history-tokens must be >= 0"),
     (["--history-tokens", "0,2000,-1"], "--history-tokens must be >= 0"),
     (["--history-tokens", "1k"], "comma list of integers"),
     (["--edge-load", "1.5"], "edge load must be in [0, 1)"),
     (["--scenario", "nope"], "allowed: phone_3b__edge_70b"),
     (["--channel", "mars"], "allowed: near")],
)  # fmt: skip
def test_costs_invalid_input_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    try:
        code = main(["costs", *argv])
    except SystemExit as exc:  # argparse refuses out-of-range numbers at parse time
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("edgeroute costs: error:") and needle in err
    assert "Traceback" not in err


def test_costs_real_subprocess() -> None:
    ok = subprocess.run([sys.executable, "-m", "experiments.cli", "costs", "--json"],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["edge"]["total_s"] > 0
    bad = subprocess.run([sys.executable, "-m", "experiments.cli", "costs", "--edge-model",
                          "nope"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert "unknown model 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_costs_json(capsys: pytest.CaptureFixture[str]) -> None:
    r = _json(capsys, ["bench", "costs", "--json", "--n", "20000", "--repeats", "1"])
    assert r["queries_per_batch"] == 20000 and r["evaluations_per_s"] > 0


def test_bench_env_missing_module_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "experiments.bench_env", None)
    assert main(["bench", "env", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "bench_env" in err and "Traceback" not in err


def test_bench_env_dispatches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    fake = types.ModuleType("experiments.bench_env")

    def run_env_benchmark(quick: bool) -> dict:
        calls.append(quick)
        return {"benchmark": "env", "steps_per_s": 1234.5}

    fake.run_env_benchmark = run_env_benchmark  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "experiments.bench_env", fake)
    r = _json(capsys, ["bench", "env", "--json", "--quick"])
    assert calls == [True] and r["steps_per_s"] == 1234.5


@pytest.mark.parametrize(
    "scenario",
    ["phone_3b__edge_70b", "laptop_8b__edge_70b", "jetson_7b__edge_14b", "phone_1p5b__edge_7b"],
)
def test_costs_shows_a_tradeoff_for_each_default_scenario(
    capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    """``edgeroute costs`` over channel presets, distances and loads: both sides win somewhere."""
    winners = set()
    for channel in ("near", "urban", "cell_edge", "congested"):
        for load in ("idle", "saturated"):
            for distance in ("150", "1500"):
                r = _json(capsys, ["costs", "--json", "--scenario", scenario, "--channel",
                                   channel, "--edge-load", load, "--distance-m", distance])
                assert r["faster"] == min(("device", "edge"), key=lambda s: r[s]["total_s"])
                winners.add(r["faster"])
    assert winners == {"device", "edge"}


def test_costs_world_trace_link_and_shared_edge(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["costs", "--json", "--link", "trace:verizon-lte-short", "--at-s", "30",
            "--prompt-tokens", "150", "--output-tokens", "60"]
    alone = _json(capsys, [*base, "--users", "0"])["world"]
    crowd = _json(capsys, [*base, "--users", "1500"])["world"]
    for w in (alone, crowd):
        e = w["edge"]
        assert e["total_s"] == pytest.approx(e["uplink_s"] + e["queue_s"] + e["prefill_s"]
                                             + e["decode_s"] + e["downlink_s"])
        assert w["link"]["mode"] == "trace:verizon-lte-short" and not w["link"]["uplink_modelled"]
    # 1,500 users at 1/30 req/s = 50 req/s overload the server: the query queues and decodes
    # slower than on an otherwise idle server
    assert crowd["shared_edge"]["report_at_send"]["running"] > 100
    assert crowd["edge"]["queue_s"] + crowd["edge"]["decode_s"] > 2 * (
        alone["edge"]["queue_s"] + alone["edge"]["decode_s"])
    photo = _json(capsys, [*base, "--users", "0", "--attachment", "photo"])["world"]
    assert photo["edge"]["uplink_s"] > 1.0 > alone["edge"]["uplink_s"]  # 3 MB on LTE
    hot = _json(capsys, [*base, "--device-heat", "1.0"])["world"]
    assert hot["device"]["total_s"] == pytest.approx(alone["device"]["total_s"] / 0.59, rel=0.02)


def test_costs_world_table_and_bad_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--link", "trace:5gophers-walking", "--users", "100"]) == 0
    out = capsys.readouterr().out
    assert "stateful world" in out and "scaled downlink" in out and "energy (J)" in out
    assert main(["costs", "--link", "trace:nope"]) == 2
    assert "unknown link trace 'nope'" in capsys.readouterr().err
    assert main(["costs", "--link", "wifi"]) == 2
    assert "trace:<name>" in capsys.readouterr().err
def test_history_sweep_table_shows_each_side_winning_somewhere(capsys) -> None:
    rows = _json(capsys, ["costs", "--json", "--history-tokens", "0,2000,8000,16000",
                          "--prompt-tokens", "150", "--output-tokens", "100"])  # fmt: skip
    assert [r["history_tokens"] for r in rows] == [0, 0, 2000, 2000, 8000, 8000, 16000, 16000]
    winners = {w for r in rows for w in r["winner"].values()}
    assert winners == {"device", "edge"}
    # serving the next turn on the side that holds the history is cheaper than switching
    by = {(r["history_tokens"], r["cached_on"]): r for r in rows}
    assert by[(8000, "edge")]["device_s"] > by[(8000, "device")]["device_s"] + 4.0
    assert by[(8000, "device")]["edge_s"]["idle"] > by[(8000, "edge")]["edge_s"]["idle"]
    # 16k tokens overflow the phone's app KV budget: the device recomputes a window
    cap = rows[0]["device_capacity_tokens"]
    assert 8000 < cap < 16000 and by[(16000, "device")]["overflow"]
    assert by[(16000, "device")]["device_recomputed_tokens"] == cap - 150 - 100
