"""``edgeroute data prepare|summary|import`` end to end on the real traces.

The prepared cache is reused when ``EDGEROUTE_CACHE_DIR`` points at one that CI built with
``edgeroute data prepare``; otherwise it is built once per session in a temporary directory
(a few minutes, dominated by embedding ~20k texts).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from envs.traces import load_trace
from envs.traces.prepare import prepare
from experiments.cli import main


@pytest.fixture(scope="session")
def prepared_cache(tmp_path_factory) -> Path:
    cache = os.environ.get("EDGEROUTE_CACHE_DIR") or tmp_path_factory.mktemp("edgeroute-cache")
    prepare(cache_dir=cache, progress=False)  # a no-op when the cache is current
    return Path(cache)


@pytest.fixture(scope="session")
def summary(prepared_cache: Path) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["data", "summary", "--json", "--cache-dir", str(prepared_cache)]) == 0
    return json.loads(out.getvalue())


def test_summary_counts(summary: dict) -> None:
    assert {"mmlu", "gsm8k", "mt_bench", "mt_bench_101"} <= set(summary)
    assert summary["mmlu"]["items"] == 14042 and summary["gsm8k"]["items"] == 1319
    assert summary["mt_bench"]["items"] == 80 and summary["mt_bench"]["rows"] == 160
    assert summary["mt_bench_101"]["items"] == 1388 and summary["mt_bench_101"]["rows"] == 4208
    for b in summary.values():
        assert sum(b["splits"].values()) == b["rows"]
        assert set(b["scorer"]) >= {"auc", "brier", "length_only_auc"}


def test_summary_lists_the_long_dialogue_workloads(summary: dict) -> None:
    mte, ls = summary["mt_eval"], summary["long_sessions"]
    assert (mte["dialogues"], mte["turns"]) == (168, 1368)
    assert ls["dialogues"] == 400 and 6 * 400 <= ls["turns"] <= 9 * 400
    for b in (mte, ls, summary["mt_bench_101"]):
        h = b["history_tokens"]
        assert 0 < h["mean"] <= h["p90"] <= h["max"] == b["history_tokens_last_turn"]["max"]
    # MT-Eval's dialogues are an order of magnitude longer than MT-Bench-101's
    assert mte["history_tokens"]["mean"] > 5 * summary["mt_bench_101"]["history_tokens"]["mean"]
    assert all(p["quality_source"] == "modelled" for p in mte["pairs"].values())


def test_summary_reproduces_source_accuracies(summary: dict) -> None:
    mmlu = summary["mmlu"]["pairs"]["llama31_8b__gpt4o_mini"]
    assert (round(mmlu["small_quality"], 3), round(mmlu["large_quality"], 3)) == (0.689, 0.809)
    assert mmlu["quality_source"] == "measured" and mmlu["small"] == "Llama-3.1-8B-Instruct"
    gsm = summary["gsm8k"]["pairs"]["gpt3_6b__175b_verifier"]
    assert (round(gsm["small_quality"], 3), round(gsm["large_quality"], 3)) == (0.390, 0.563)
    assert "100" in gsm["flag"] and not gsm["default"]
    assert summary["gsm8k"]["default_pair"] == "gpt3_6b__175b_finetuned"
    mix = summary["mt_bench"]["pairs"]["vicuna_7b__mixtral"]
    assert [round(10 * x, 2) for x in mix["large_turn_means"]] == [8.69, 7.99]
    mtb101 = summary["mt_bench_101"]["pairs"]["qwen_7b__qwen_14b"]
    assert mtb101["quality_source"] == "modelled"
    assert mtb101["deployment"] == "jetson_7b__edge_14b"


def test_scorer_beats_length_only_on_mmlu_and_gsm8k(summary: dict) -> None:
    for b in ("mmlu", "gsm8k"):
        s = summary[b]["scorer"]
        assert s["auc"] > s["length_only_auc"], (b, s)
        assert 0 < s["brier"] < 0.25


def test_scorer_zoo_and_length_predictor_in_summary(summary: dict) -> None:
    for b in summary.values():
        assert {"logistic", "knn", "length_only"} <= set(b["scorers"])
        assert sum(m["selected"] for m in b["scorers"].values()) == 1
        assert not b["scorers"]["length_only"]["selected"]
        for m in b["scorers"].values():
            assert {"auc", "brier", "apgr"} <= set(m)
        assert {"mae_log_tokens", "baseline_mae_log_tokens"} <= set(b["length_predictor"])
    # MF only where a source measured more than two models (not on modelled MT-Bench-101).
    assert "mf" in summary["mmlu"]["scorers"] and "mf" not in summary["mt_bench_101"]["scorers"]
    # README: on MMLU every semantic scorer beats the length-only reference on APGR.
    mmlu = summary["mmlu"]["scorers"]
    for kind in ("logistic", "knn", "mf"):
        assert mmlu[kind]["apgr"] > mmlu["length_only"]["apgr"] + 0.05, kind
    # README: the length predictor beats the constant where real lengths exist; MMLU's are
    # modelled, so it keeps the constant there.
    for b in ("gsm8k", "mt_bench", "mt_bench_101"):
        lp = summary[b]["length_predictor"]
        assert lp["trained"] and lp["mae_log_tokens"] < lp["baseline_mae_log_tokens"], b
    assert not summary["mmlu"]["length_predictor"]["trained"]
    # README: exact-duplicate texts moved into one split.
    assert summary["mmlu"]["duplicates_moved"]["rows_moved"] == 60
    assert summary["mt_bench_101"]["duplicates_moved"]["rows_moved"] == 133
    assert summary["gsm8k"]["duplicates_moved"]["rows_moved"] == 0


def test_prepared_trace_arrays(prepared_cache: Path) -> None:
    trace = load_trace("gsm8k", cache_dir=prepared_cache)
    assert trace.embeddings.shape == (1319, 384) and trace.embeddings.dtype == np.float32
    assert (
        trace.semantic_p.shape == (1319,)
        and ((trace.semantic_p > 0) & (trace.semantic_p < 1)).all()
    )
    assert "out-of-fold" in trace.meta["scorer"]["semantic_p_train"]
    assert trace.expected_gain.shape == (1319,)
    assert (trace.frame["predicted_output_tokens_small"] >= 1).all()
    test = load_trace("gsm8k", split="test", cache_dir=prepared_cache)
    assert set(test.frame["split"]) == {"test"} and len(test.semantic_p) == len(test)
    root = prepared_cache / "traces" / "gsm8k" / trace.meta["pair"]
    assert (root / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_prepare_second_run_is_a_no_op(prepared_cache: Path, capsys) -> None:
    assert main(["data", "prepare", "--cache-dir", str(prepared_cache), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "built: none" in out and "no new texts to embed" in out


def _write_user_csv(path: Path, n: int = 40, bad: bool = False) -> None:
    rng = np.random.default_rng(0)
    lines = [
        "id,text,quality_small,quality_large,output_tokens_small,output_tokens_large,"
        "dialogue_id,turn_index"
    ]
    topics = [
        "integral of x squared",
        "capital of France",
        "prove sqrt 2 irrational",
        "write a haiku about rain",
    ]
    for i in range(n):
        hard = i % 2
        d, t = f"d{i // 2}", i % 2
        lines.append(
            f'q{i},"{topics[(i * 7) % 4]} #{i}",{0 if hard else 1},1,'
            f"{int(rng.integers(10, 90))},{int(rng.integers(10, 90))},{d},{t}"
        )
    if bad:
        lines[3] = 'q2,"fine",1.5,1,10,10,d1,0'  # line 4: quality out of range
        lines[6] = 'q5,"",1,1,-3,10,d2,1'  # line 7: empty text, negative tokens
    path.write_text("\n".join(lines) + "\n")


def test_import_user_trace(tmp_path: Path, capsys) -> None:
    src = tmp_path / "mine.csv"
    _write_user_csv(src)
    cache = tmp_path / "cache"
    code = main(
        [
            "data",
            "import",
            str(src),
            "--name",
            "mine",
            "--cache-dir",
            str(cache),
            "--small",
            "tiny",
            "--large",
            "huge",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    trace = load_trace("mine", cache_dir=cache)
    assert len(trace) == 40 and trace.meta["small"] == "tiny" and trace.meta["multi_turn"]
    assert (trace.frame.groupby("dialogue_id")["split"].nunique() == 1).all()
    assert trace.frame["prompt_tokens"].min() > 0  # counted with the tokenizer
    second = trace.frame.iloc[1]
    assert (
        second["history_tokens"]
        == trace.frame.iloc[0]["prompt_tokens"] + trace.frame.iloc[0]["output_tokens_small"]
    )
    assert trace.embeddings.shape == (40, 384)
    out = capsys.readouterr().out
    assert "semantic scorer on the" in out and "vs length-only" in out


def test_import_reports_bad_rows_with_line_numbers(tmp_path: Path, capsys) -> None:
    src = tmp_path / "bad.csv"
    _write_user_csv(src, bad=True)
    code = main(["data", "import", str(src), "--name", "bad", "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "line 4: quality_small must be in [0, 1]" in err
    assert "line 7:" in err and "text is empty" in err and "output_tokens_small" in err
    assert not (tmp_path / "traces" / "bad").exists()


def test_import_jsonl_bad_json_and_name(tmp_path: Path, capsys) -> None:
    src = tmp_path / "x.jsonl"
    src.write_text(
        '{"id": "a", "text": "hi", "quality_small": 0, "quality_large": 1, '
        '"output_tokens_small": 3, "output_tokens_large": 4}\n{not json}\n'
    )
    assert main(["data", "import", str(src), "--name", "x", "--cache-dir", str(tmp_path)]) == 2
    assert "line 2: not valid JSON" in capsys.readouterr().err
    assert main(["data", "import", str(src), "--name", "mmlu", "--cache-dir", str(tmp_path)]) == 2
    assert "built-in benchmark" in capsys.readouterr().err


def test_summary_without_cache_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["data", "summary", "--cache-dir", str(tmp_path)]) == 2
    assert "edgeroute data prepare" in capsys.readouterr().err


def test_gsm8k_default_scores_carry_no_signal_and_say_so(prepared_cache: Path) -> None:
    """README: on GSM8K's default pair no scorer beats chance, so p is the base rate."""
    trace = load_trace("gsm8k", cache_dir=prepared_cache)
    assert np.ptp(trace.semantic_p) == 0.0
    assert (
        abs(float(trace.semantic_p[0]) - trace.labels[trace.frame["split"] == "validation"].mean())
        < 1e-3
    )


def test_length_predictor_brings_the_estimate_closer(prepared_cache: Path, monkeypatch) -> None:
    """README: per-query output lengths raise the R^2 of the router's estimated latency
    difference on GSM8K and MT-Bench-101 (test split; edgeroute bench estimate's settings)."""
    from experiments.estimate_fit import compare_output_length

    monkeypatch.setenv("EDGEROUTE_CACHE_DIR", str(prepared_cache))
    for b, env_id, extra in (
        ("gsm8k", "EdgeRoute/SingleTurn-v0", {}),
        ("mt_bench_101", "EdgeRoute/MultiTurn-v0", {"dialogues_per_episode": 20}),
    ):
        r = compare_output_length(
            env_id,
            {"benchmark": b, "split": "test", **extra},
            "output_length",
            ["train_mean", "predicted"],
            seeds=range(3),
            episodes=3,
        )
        assert r["predicted"]["r2"] > r["train_mean"]["r2"] + 0.01, (b, r)


def test_import_with_other_models_outcomes_fits_matrix_factorisation(tmp_path: Path) -> None:
    """quality__<model> columns of a user file reach the trace and the MF scorer."""
    rng = np.random.default_rng(1)
    lines = ["id,text,quality_small,quality_large,output_tokens_small,output_tokens_large,"
             "quality__m1,quality__m2,quality__m3"]  # fmt: skip
    for i in range(160):
        hard = i % 3 == 0
        cells = [0 if hard else 1, 1] + [int(rng.random() < (0.2 if hard else 0.9)) for _ in "ab"]
        m3 = "" if i % 7 == 0 else str(int(rng.random() < 0.5))
        lines.append(f'q{i},"question {i} about {"hard" if hard else "easy"} topic {i % 5}",'
                     f"{cells[0]},{cells[1]},12,30,{cells[2]},{cells[3]},{m3}")  # fmt: skip
    src = tmp_path / "many.csv"
    src.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    assert main(["data", "import", str(src), "--name", "many", "--cache-dir", str(cache),
                 "--quiet"]) == 0  # fmt: skip
    trace = load_trace("many", cache_dir=cache)
    assert {"quality__m1", "quality__m2", "quality__m3"} <= set(trace.frame.columns)
    assert trace.frame["quality__m3"].isna().sum() == 23  # the empty cells stay unmeasured
    scorers = json.loads((cache / "traces" / "many" / "user" / "scorers.json").read_text())
    assert "mf" in scorers["scorers"]
    bad = tmp_path / "bad_outcome.csv"
    bad.write_text(lines[0] + "\n" + lines[1].rsplit(",", 3)[0] + ",2,0,1\n")
    assert main(["data", "import", str(bad), "--name", "bad", "--cache-dir", str(cache)]) == 2
