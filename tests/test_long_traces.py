"""The ``mt_eval`` and ``long_sessions`` traces: modelled quality reproduces what MT-Eval
publishes, the advantage of the large model depends on the turn, the vLLM shape holds and the
document knob sweeps the history."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from envs.traces import long_sessions, mt_eval, mt_eval_quality
from envs.traces.fetch import read_manifest
from envs.traces.schema import Trace

RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])  # conftest.py sets the default mirror
pytestmark = pytest.mark.skipif(
    not (RAW / "KwanWaiChung__MT-Eval/raw_data/documents.jsonl").is_file(),
    reason="raw mirror not available",
)
#: Stated tolerances (0-10 points): per-task means to 0.02, the Refinement first-six minus
#: last-six drop to 0.02, the no-history (single-turn) means to 0.05.
MEAN_TOL, DROP_TOL, SINGLE_TOL = 0.02, 0.02, 0.05


def _get(f: str) -> Path:
    return RAW / f


@pytest.fixture(scope="module")
def mt_pairs():
    return mt_eval.build(_get, {}, None, "")


@pytest.fixture(scope="module")
def sessions():
    frame, meta = long_sessions.build(_get, read_manifest(), None, "")[long_sessions.DEFAULT_PAIR]
    return Trace(frame=frame, meta=meta)


@pytest.mark.parametrize("pair", list(mt_eval.PAIRS))
def test_modelled_quality_reproduces_published_task_means_and_refinement_drop(mt_pairs, pair):
    frame, meta = mt_pairs[pair]
    scored = np.asarray(meta["scored_turns"])
    table = mt_eval_quality.published_scores()
    late = (frame["turn_index"] >= 6).to_numpy()
    refinement = (frame["subject"] == "refinement").to_numpy()
    for side in ("small", "large"):
        model = meta[side]
        q = frame[f"quality_{side}"].to_numpy() * 10
        for task in mt_eval_quality.TASKS:
            rows = (frame["subject"] == task).to_numpy() & scored
            published = table[model][f"{mt_eval_quality._COLUMN[task]}_multi"]
            assert abs(q[rows].mean() - published) <= MEAN_TOL, (model, task)
        first, last = mt_eval_quality.refinement_halves(model)
        drop = q[refinement & ~late].mean() - q[refinement & late].mean()
        assert abs(drop - (first - last)) <= DROP_TOL, model
        for task, fit in meta["fit"][model].items():
            if fit["kind"] == "single":
                assert abs(fit["achieved"] - fit["target"]) <= SINGLE_TOL, (model, task)


def test_large_model_advantage_depends_on_the_turn_not_only_the_dialogue(mt_pairs):
    frame, meta = mt_pairs[mt_eval.DEFAULT_PAIR]
    fit = meta["fit"]
    small, large = meta["small"], meta["large"]
    # per task: the location gap differs, and the small model loses more per distance
    gaps = {t: fit[large][t]["c"] - fit[small][t]["c"] for t in mt_eval_quality.TASKS}
    assert max(gaps.values()) - min(gaps.values()) > 0.3
    assert fit[small]["refinement"]["b"] > fit[large]["refinement"]["b"] > 0
    # within dialogues the realised advantage grows with the distance to the document
    ref = frame[frame["subject"] == "refinement"]
    adv = (ref["quality_large"] - ref["quality_small"]).to_numpy()
    late = (ref["turn_index"] >= 6).to_numpy()
    assert adv[late].mean() > adv[~late].mean() + 0.02
    # instruction acknowledgements are ties; unscored follow-up turns are modelled
    rec0 = frame[(frame["subject"] == "recollection") & (frame["turn_index"] == 0)]
    assert (rec0["quality_small"] == 1).all() and (rec0["quality_large"] == 1).all()


def test_whose_answers_form_the_history_shift():
    k = mt_eval_quality.kappa()
    # (7.00 - 4.43) / (9.61 - 4.43) and (7.11 - 3.21) / (9.61 - 3.21), averaged
    assert k == pytest.approx((2.57 / 5.18 + 3.90 / 6.40) / 2, rel=1e-9)
    assert mt_eval_quality.author_shift_points(6.0, 8.0) == pytest.approx(2 * k)
    assert mt_eval_quality.author_shift_points(6.0, 6.0) == 0.0


def test_mt_eval_tokens_history_and_splits(mt_pairs):
    frame, _ = mt_pairs[mt_eval.DEFAULT_PAIR]
    assert len(frame) == 1368 and frame["dialogue_id"].nunique() == 168
    first = frame["turn_index"] == 0
    assert (frame.loc[first, "history_tokens"] == 0).all()
    # history grows within a dialogue by the previous user turn and answer
    d = frame[frame["dialogue_id"] == frame["dialogue_id"].iloc[0]]
    step = (d["prompt_tokens"] + d["output_tokens_large"]).to_numpy()
    assert (np.diff(d["history_tokens"].to_numpy()) == step[:-1]).all()
    # split by dialogue
    assert (frame.groupby("dialogue_id")["split"].nunique() == 1).all()
    assert frame["tokens_source"].str.contains("Mistral-7B").all()


def test_long_sessions_have_the_vllm_shape(sessions):
    f = sessions.frame
    turns = f.groupby("dialogue_id").size()
    assert turns.min() >= 6 and turns.max() <= 9  # 12-18 messages
    later = f["turn_index"] > 0
    assert f.loc[later, "prompt_tokens"].between(120, 160).all()
    assert f["output_tokens_large"].between(80, 120).all()
    first = f[f["turn_index"] == 0]
    doc = (
        first["prompt_tokens"].to_numpy()
        - long_sessions.COMMON_PREFIX_TOKENS
        - np.asarray(sessions.meta["regen"]["user_tokens"])[first.index]
    )
    assert abs(doc.mean() - long_sessions.DOCUMENT_TOKENS_MEAN) < 0.02 * 1000  # cap trims little
    assert doc.max() <= long_sessions.DOCUMENT_CAP_FACTOR * 1000
    # texts are real MMLU questions, and a session never repeats one
    assert f["text"].str.endswith("Answer:").all()
    assert (f.groupby("dialogue_id")["text"].nunique() == turns).all()


def test_document_knob_sweeps_history_and_quality_falls_with_it(sessions):
    means = {}
    for d in (0.0, 4000.0, 14000.0):
        t = long_sessions.with_document_tokens(sessions, d)
        last = t.frame.groupby("dialogue_id")["history_tokens"].max()
        means[d] = (last.mean(), t.frame["quality_small"].mean(), t.frame["quality_large"].mean())
        assert (t.frame["text"] == sessions.frame["text"]).all()
    assert means[0.0][0] < 2500 and means[14000.0][0] > 15000
    assert means[0.0][1] > means[4000.0][1] > means[14000.0][1]
    # the small model loses more than the large one as history grows
    assert means[0.0][1] - means[14000.0][1] > means[0.0][2] - means[14000.0][2]
    with pytest.raises(EdgeRouteError, match="document_tokens_mean"):
        long_sessions.with_document_tokens(sessions, -1.0)


def test_history_authors_shift_is_zero_for_one_side_and_helps_the_small_model_after_edge():
    k = mt_eval_quality.kappa()
    q = [(0.5, 0.9), (0.6, 0.8), (0.4, 0.7)]
    for side in (0, 1):  # one side serves everything: the trace qualities, unchanged
        h = mt_eval_quality.HistoryAuthors(k)
        for qs, ql in q:
            got = h.quality(side, qs, ql)
            assert got == (ql if side else qs)
            h.served(got, qs, ql)
    h = mt_eval_quality.HistoryAuthors(k)
    for qs, ql in q[:2]:  # the edge answers the first two turns
        h.served(h.quality(1, qs, ql), qs, ql)
    # the device's third answer is better than its own-history quality by kappa x mean gap
    assert h.quality(0, *q[2]) == pytest.approx(0.4 + k * ((0.9 + 0.8) - (0.5 + 0.6)) / 2)
    # and the edge, after device answers, is worse
    h2 = mt_eval_quality.HistoryAuthors(k)
    for qs, ql in q[:2]:
        h2.served(h2.quality(0, qs, ql), qs, ql)
    assert h2.quality(1, *q[2]) < 0.7
    assert mt_eval_quality.HistoryAuthors(0.0).quality(1, 0.1, 0.2) == 0.2


def _prepared(benchmark: str) -> bool:
    from envs.traces.store import read_index

    return read_index(benchmark) is not None


@pytest.mark.skipif(not _prepared("long_sessions"), reason="long_sessions not prepared")
def test_env_document_knob_lengthens_history_and_rejects_other_benchmarks():
    import gymnasium as gym

    import envs  # noqa: F401

    lengths = {}
    for doc in (None, 8000.0):
        env = gym.make("EdgeRoute/MultiTurn-v0", config={
            "benchmark": "long_sessions", "split": "test", "document_tokens_mean": doc,
        }).unwrapped  # fmt: skip
        env.reset(seed=0)
        hist = []
        done = False
        while not done:
            _, _, done, _, info = env.step(0)
            hist.append(env.kv.total_tokens)
        lengths[doc] = max(hist)
    assert lengths[8000.0] > lengths[None] + 3000
    with pytest.raises(EdgeRouteError, match="long_sessions"):
        gym.make("EdgeRoute/MultiTurn-v0", config={"benchmark": "synthetic",
                                                   "document_tokens_mean": 100.0})  # fmt: skip
