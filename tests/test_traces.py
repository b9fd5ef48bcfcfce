"""Real traces from the public files: counts, source accuracies, schema, splits, modelling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cost_models.errors import EdgeRouteError
from envs.traces import COLUMNS, SPLITS, Trace, load_trace
from envs.traces import mt_bench_101 as mtb101
from envs.traces.common import keep_duplicates_in_one_split, split_of
from envs.traces.mt_bench import answer_from_judge_prompt
from envs.traces.prepare import build_frames, fetch_benchmark
from envs.traces.schema import OUTCOME_PREFIX


@pytest.fixture(scope="session")
def frames(tmp_path_factory):
    """Frames of every pair of every benchmark, built once from the raw mirror."""
    cache = tmp_path_factory.mktemp("verify")
    out = {}
    for b in ("mmlu", "gsm8k", "mt_bench", "mt_bench_101"):
        out[b] = build_frames(b, fetch_benchmark(b, cache_dir=cache))
    return out


def acc(frame: pd.DataFrame, col: str) -> float:
    return round(float(frame[col].mean()), 3)


def test_mmlu_counts_and_source_accuracies(frames) -> None:
    pairs = frames["mmlu"]
    frame, meta = pairs["llama31_8b__gpt4o_mini"]
    assert len(frame) == 14042 and frame["subject"].nunique() == 57
    assert acc(frame, "quality_small") == 0.689 and acc(frame, "quality_large") == 0.809
    assert meta["small"] == "Llama-3.1-8B-Instruct" and meta["default_pair"]
    assert meta["deployment"] == "phone_3b__edge_70b"
    mix, _ = pairs["mixtral__gpt4_1106"]
    assert mix["text"].tolist() == frame["text"].tolist()
    assert set(frame["quality_small"].unique()) <= {0.0, 1.0}
    assert "MODELLED" in frame["tokens_source"].iloc[0]


def test_mmlu_keeps_routellm_gpt4_math_defect_visible(tmp_path) -> None:
    from envs.traces import mmlu
    from envs.traces.fetch import read_manifest

    paths = fetch_benchmark("mmlu", cache_dir=tmp_path)
    table = mmlu.subject_accuracy(paths.__getitem__, read_manifest())
    assert table["items"].sum() == 14042
    assert table.loc["high_school_mathematics", mmlu.GPT4] < 0.1  # extraction failure
    assert table.loc["high_school_mathematics", mmlu.GPT4O_MINI] > 0.5


def test_gsm8k_counts_and_source_accuracies(frames) -> None:
    frame, meta = frames["gsm8k"]["gpt3_6b__175b_verifier"]
    assert len(frame) == 1319
    assert acc(frame, "quality_small") == 0.390 and acc(frame, "quality_large") == 0.563
    assert "100" in meta["flag"] and not meta["default_pair"]
    # The default pair: one fine-tuned sample per model, as the latency model times it.
    ft, ft_meta = frames["gsm8k"]["gpt3_6b__175b_finetuned"]
    assert ft_meta["default_pair"] and "flag" not in ft_meta
    assert acc(ft, "quality_small") == 0.217 and acc(ft, "quality_large") == 0.347
    assert sorted(c for c in ft.columns if c.startswith(OUTCOME_PREFIX)) == sorted(
        OUTCOME_PREFIX + m
        for m in (
            "GPT-3 6B (fine-tuned)",
            "GPT-3 175B (fine-tuned)",
            "GPT-3 6B (fine-tuned, verifier)",
            "GPT-3 175B (fine-tuned, verifier)",
            "mistralai/Mixtral-8x7B-Instruct-v0.1",
            "gpt-4-1106-preview",
        )
    )
    assert (ft[OUTCOME_PREFIX + "GPT-3 175B (fine-tuned)"] == ft["quality_large"]).all()
    mix, _ = frames["gsm8k"]["mixtral__gpt4_1106"]
    assert acc(mix, "quality_small") == 0.638 and acc(mix, "quality_large") == 0.857
    # output lengths come from the real solution texts: they differ per model
    assert (frame["output_tokens_small"] != mix["output_tokens_small"]).mean() > 0.9
    assert frame["output_tokens_small"].between(5, 1000).all()


def test_mt_bench_turn_means(frames) -> None:
    mix, meta = frames["mt_bench"]["vicuna_7b__mixtral"]
    gpt4, _ = frames["mt_bench"]["vicuna_7b__gpt4_1106"]
    assert len(mix) == 160 and mix["dialogue_id"].nunique() == 80 and meta["multi_turn"]
    means = mix.groupby("turn_index")["quality_large"].mean() * 10
    assert means.round(2).tolist() == [8.69, 7.99]
    means = gpt4.groupby("turn_index")["quality_large"].mean() * 10
    assert means.round(2).tolist() == [9.41, 9.05]
    # vicuna output lengths are Medusa's real new_tokens; turn 2 carries turn 1 as history
    assert mix.loc[0, "output_tokens_small"] == 908 and mix.loc[1, "output_tokens_small"] == 917
    assert mix.loc[1, "history_tokens"] == mix.loc[0, "prompt_tokens"] + 908
    assert (mix.loc[mix["turn_index"] == 0, "history_tokens"] == 0).all()
    # RouteLLM's own pair: Mixtral -> GPT-4, with Mixtral's answers as turn-2 history.
    rl, _ = frames["mt_bench"]["mixtral__gpt4_1106"]
    assert (rl.groupby("turn_index")["quality_small"].mean() * 10).round(2).tolist() == [
        8.69,
        7.99,
    ]
    assert (
        rl.loc[1, "history_tokens"] == rl.loc[0, "prompt_tokens"] + rl.loc[0, "output_tokens_small"]
    )
    assert sum(c.startswith(OUTCOME_PREFIX) for c in rl.columns) == 5


def test_answer_extraction_from_judge_prompts() -> None:
    single = (
        "[Question]\nQ\n\n[The Start of Assistant's Answer]\nAns one\n"
        "[The End of Assistant's Answer]"
    )
    assert answer_from_judge_prompt(single, 1) == "Ans one"
    multi = (
        "<|The Start of Assistant A's Conversation with User|>\n\n### User:\nq1\n\n"
        "### Assistant A:\na1\n\n### User:\nq2\n\n### Assistant A:\na2\n\n"
        "<|The End of Assistant A's Conversation with User|>"
    )
    assert answer_from_judge_prompt(multi, 2) == "a2"
    with pytest.raises(EdgeRouteError):
        answer_from_judge_prompt("no markers", 2)


def test_mt_bench_101_counts_and_modelled_task_means(frames) -> None:
    table = mtb101.published_scores()
    for name, (frame, meta) in frames["mt_bench_101"].items():
        assert len(frame) == 4208 and frame["dialogue_id"].nunique() == 1388
        assert (frame["quality_source"] == "modelled").all()
        assert meta["quality_source"] == "modelled" and "MODELLED" in meta["quality_note"]
        for side, model in (("small", meta["small"]), ("large", meta["large"])):
            got = frame.groupby("subject")[f"quality_{side}"].mean() * 10
            for task in mtb101.TASKS:
                assert abs(got[task] - table[model][task]) < 0.1, (name, model, task)
    frame, meta = frames["mt_bench_101"]["qwen_7b__qwen_14b"]
    assert meta["default_pair"] and meta["deployment"] == "jetson_7b__edge_14b"
    # the latent difficulty is shared: both models' scores correlate across dialogues
    assert np.corrcoef(frame["quality_small"], frame["quality_large"])[0, 1] > 0.5
    # both outcomes occur: routing has something to decide
    needed = (frame["quality_large"] > frame["quality_small"]).mean()
    assert 0.1 < needed < 0.7


def test_mt_bench_101_history_accumulates(frames) -> None:
    frame, _ = frames["mt_bench_101"]["qwen_7b__qwen_14b"]
    d = frame[frame["dialogue_id"] == frame["dialogue_id"].iloc[0]]
    assert d["turn_index"].tolist() == list(range(len(d)))
    assert d["history_tokens"].iloc[0] == 0
    assert (
        d["history_tokens"].iloc[1] == d["prompt_tokens"].iloc[0] + d["output_tokens_small"].iloc[0]
    )


def test_schema_and_splits(frames) -> None:
    for pairs in frames.values():
        for frame, _meta in pairs.values():
            assert list(frame.columns)[: len(COLUMNS)] == list(COLUMNS)
            assert all(c.startswith(OUTCOME_PREFIX) for c in frame.columns[len(COLUMNS) :])
            assert frame["id"].is_unique
            # exact-duplicate texts never cross splits
            assert (frame.groupby("text")["split"].nunique() == 1).all()
            assert set(frame["split"]) == set(SPLITS)
            # by dialogue: no dialogue spans two splits
            assert (frame.groupby("dialogue_id")["split"].nunique() == 1).all()
            share = frame.drop_duplicates("dialogue_id")["split"].value_counts(normalize=True)
            if len(share) and frame["dialogue_id"].nunique() > 1000:
                assert abs(share["train"] - 0.6) < 0.03 and abs(share["test"] - 0.2) < 0.03
            assert frame["quality_small"].between(0, 1).all()
            assert (frame["prompt_tokens"] > 0).all()


def test_split_is_stable_and_seeded() -> None:
    assert split_of("mmlu/00042") == split_of("mmlu/00042")
    keys = [f"k{i}" for i in range(2000)]
    a = [split_of(k, 1) for k in keys]
    b = [split_of(k, 2) for k in keys]
    assert a != b and a == [split_of(k, 1) for k in keys]


def test_modelled_scores_hit_target_mean() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 2, 300)
    s = mtb101._calibrated_scores(3.5, base)
    assert abs(s.mean() - 3.5) < 0.02 and s.min() >= 1 and s.max() <= 10
    assert np.all(s == np.round(s))


def test_load_trace_missing_names_prepare(tmp_path) -> None:
    with pytest.raises(EdgeRouteError, match="edgeroute data prepare"):
        load_trace("mmlu", cache_dir=tmp_path)


def test_trace_checks_alignment(frames) -> None:
    frame, meta = frames["gsm8k"]["gpt3_6b__175b_verifier"]
    with pytest.raises(EdgeRouteError, match="embeddings"):
        Trace(frame, meta, embeddings=np.zeros((3, 4), np.float32))
    with pytest.raises(EdgeRouteError, match="missing columns"):
        Trace(frame.drop(columns=["text"]), meta)


def test_duplicate_texts_join_one_split() -> None:
    frame = pd.DataFrame(
        {
            "dialogue_id": ["a", "a", "b", "c", "d"],
            "text": ["x", "y", "y", "z", "x"],
            "split": ["test", "test", "train", "validation", "train"],
        }
    )
    split, stats = keep_duplicates_in_one_split(frame)
    # a-b share "y", a-d share "x": all three take a's split; c keeps its own.
    assert split.tolist() == ["test", "test", "test", "validation", "test"]
    assert stats == {"duplicate_texts": 2, "dialogues_moved": 2, "rows_moved": 2}


def test_prepared_builds_report_the_duplicates_moved(frames) -> None:
    _, meta = frames["mmlu"]["llama31_8b__gpt4o_mini"]
    assert meta["duplicates"]["rows_moved"] > 0
    assert meta["duplicates"]["rows_moved"] <= 2 * meta["duplicates"]["duplicate_texts"] + 50
