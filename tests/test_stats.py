"""The statistics that protect the benchmark's conclusions (issue 14): paired bootstrap CIs on
constructed cases with known answers, the hindsight frontier as a bound (property test), the
frontier interpolation as a mixture, tuning only on validation, the evaluation pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cost_models.errors import EdgeRouteError
from experiments.evaluate import pass_items
from experiments.frontier import FrontierPoint, interpolate_at_quality
from experiments.hindsight_frontier import at_quality as hindsight_at
from experiments.hindsight_frontier import hindsight_frontier
from experiments.matched_ci import family_at, matched_with_ci
from experiments.metrics import StepLog
from experiments.run_profile import EvalBudget
from experiments.runs import EnvRef, SplitRuns
from experiments.stats import (
    draw_resamples,
    iqm_with_ci,
    paired_difference,
    table_means,
)
from experiments.tuning import record_validation, tune
from experiments.units import UnitTable, unit_table


def table(latency, quality, edge, reward=None) -> UnitTable:
    """A UnitTable of single-turn items: arrays (train seeds, eval seeds, units)."""
    lat = np.asarray(latency, dtype=float).reshape((-1, *np.shape(latency)[-2:]))
    q = np.asarray(quality, dtype=float).reshape(lat.shape)
    e = np.asarray(edge, dtype=float).reshape(lat.shape)
    r = np.zeros_like(lat) if reward is None else np.asarray(reward, dtype=float).reshape(lat.shape)
    sums = np.stack([lat, q, e, r], axis=-1)
    units = tuple(f"q{i:04d}" for i in range(lat.shape[-1]))
    return UnitTable(units, sums, np.ones(lat.shape[-1]))


RNG = np.random.default_rng(7)
N = 60
LAT = RNG.gamma(2.0, 1.0, size=(1, 2, N))
QUAL = (RNG.random((1, 2, N)) < 0.7).astype(float)


def test_identical_policies_give_a_zero_width_interval_at_zero():
    a = table(LAT, QUAL, np.zeros_like(LAT))
    res = draw_resamples(N, 500, seed=3)
    d = paired_difference(a, a, "latency_mean_s", res)
    assert d["point"] == 0.0 and d["ci95"] == [0.0, 0.0]
    rel = paired_difference(a, a, "latency_mean_s", res, relative=True)
    assert rel["ci95"] == [0.0, 0.0]


def test_a_constant_shift_gives_exactly_that_shift():
    a = table(LAT, QUAL, np.zeros_like(LAT))
    b = table(LAT + 0.25, QUAL, np.zeros_like(LAT))
    d = paired_difference(a, b, "latency_mean_s", draw_resamples(N, 500, seed=3))
    assert d["point"] == pytest.approx(0.25)
    assert d["ci95"] == pytest.approx([0.25, 0.25])


def test_unpaired_noise_gives_an_interval_around_the_true_difference():
    # b = a + 0.5 + noise: the paired CI covers 0.5 and excludes 0.
    b_lat = LAT + 0.5 + RNG.normal(0.0, 0.3, size=LAT.shape)
    a, b = table(LAT, QUAL, 0 * LAT), table(b_lat, QUAL, 0 * LAT)
    d = paired_difference(a, b, "latency_mean_s", draw_resamples(N, 2000, seed=1))
    lo, hi = d["ci95"]
    assert lo < d["point"] < hi and lo > 0.0 and hi - lo < 0.5


def test_training_seeds_are_resampled_too():
    # Two training seeds, identical on items but 1 s apart: the CI spans the seeds' spread.
    a = table(LAT, QUAL, 0 * LAT)
    b = table(np.concatenate([LAT, LAT + 1.0]), np.concatenate([QUAL, QUAL]), 0 * LAT.repeat(2, 0))
    assert b.n_train == 2
    d = paired_difference(a, b, "latency_mean_s", draw_resamples(N, 1000, seed=5))
    assert d["point"] == pytest.approx(0.5)
    assert d["ci95"] == pytest.approx([0.0, 1.0])


def test_resamples_are_deterministic_bytes():
    one = draw_resamples(N, 200, seed=11)
    two = draw_resamples(N, 200, seed=11)
    assert one.weights.tobytes() == two.weights.tobytes()
    assert one.picks(3).tobytes() == two.picks(3).tobytes()
    assert draw_resamples(N, 200, seed=12).weights.tobytes() != one.weights.tobytes()
    assert np.all(one.weights[0] == 1) and np.all(one.weights[1:].sum(axis=1) == N)


def test_iqm_matches_rliable_definition_and_is_seeded():
    from scipy.stats import trim_mean

    scores = np.array([[0.1], [0.5], [0.6], [0.7], [3.0]])
    out = iqm_with_ci(scores, 500, seed=0)
    assert out["iqm"] == pytest.approx(trim_mean(scores, 0.25, axis=None))
    lo, hi = out["ci95"]
    assert lo <= out["iqm"] <= hi and out["n_runs"] == 5
    assert iqm_with_ci(scores, 500, seed=0) == out


def test_frontier_interpolation_is_the_hand_computed_mixture():
    # A (0.6, 1 s, 0 edge) and B (0.8, 2 s, 1 edge); C is dominated by B and ignored.
    points = [
        FrontierPoint(0.6, 1.0, 0.0),
        FrontierPoint(0.8, 2.0, 1.0),
        FrontierPoint(0.7, 2.5, 1),
    ]
    m = interpolate_at_quality(points, 0.75)
    w = (0.75 - 0.6) / (0.8 - 0.6)  # share of queries served by B
    assert m.latency_mean_s == pytest.approx((1 - w) * 1.0 + w * 2.0)
    assert m.edge_rate == pytest.approx(w)
    assert not interpolate_at_quality(points, 0.81).reachable
    # A target a rounding error above the best quality is that point (it once raised).
    top = interpolate_at_quality(points, 0.8 + 1e-13)
    assert top.reachable and top.latency_mean_s == 2.0
    # The bootstrap path (family_at) on tables of those points gives the same mixture at row 0.
    tables = [table([[[p.latency_mean_s]]], [[[p.quality]]], [[[p.edge_rate]]]) for p in points]
    res = draw_resamples(1, 10, seed=0)
    got = family_at(tables, res, np.full((11, 1), 0.75))
    assert got[0, 0] == pytest.approx([1.75, 0.75])


outcomes = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
        st.lists(st.floats(0.05, 10.0), min_size=n, max_size=n),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
        st.lists(st.floats(0.05, 10.0), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.integers(0, 2**16),
    )
)


@settings(max_examples=150, deadline=None)
@given(outcomes)
@example(  # a quality gain that vanishes in floating point (np.interp got this wrong)
    ([0.0] * 3, [1.0] * 3, [1.0, 4.3e-275, 0.0], [1.0, 2.0, 1.0], [True, False, False], 0)
)
def test_hindsight_frontier_dominates_every_policy(case):
    qd, ld, qe, le, actions, seed = (np.asarray(x) for x in case)
    n = len(qd)
    device = table(ld[None, None], qd[None, None], np.zeros((1, 1, n)))
    edge = table(le[None, None], qe[None, None], np.ones((1, 1, n)))
    chosen = actions.astype(bool)
    policy = table(
        np.where(chosen, le, ld)[None, None], np.where(chosen, qe, qd)[None, None],
        chosen.astype(float)[None, None],
    )  # fmt: skip
    front = hindsight_frontier(device, edge)
    res = draw_resamples(n, 20, seed=int(seed))
    pm = table_means(policy, res)
    got = hindsight_at(front, res, pm[:, [1]])  # the frontier at the policy's own quality
    # In every resample the policy is never faster than the frontier at its quality.
    assert np.all(np.isfinite(got[:, 0, 0]))
    assert np.all(got[:, 0, 0] <= pm[:, 0] + 1e-9)
    # And the frontier reaches the best quality in hindsight (max of the two per query).
    best = np.maximum(qd, qe).mean()
    assert np.isfinite(hindsight_at(front, res, np.full((21, 1), best - 1e-12))[0, 0, 0])


def test_matched_with_ci_of_identical_families_is_zero():
    res = draw_resamples(N, 300, seed=0)
    dev = table(LAT, QUAL * 0.5, 0 * LAT)
    edg = table(LAT * 2, QUAL, 0 * LAT + 1)
    mid = table(LAT * 1.5, QUAL * 0.8, 0 * LAT + 0.5)
    fam = [dev, mid, edg]
    out = matched_with_ci(
        {"semantic_threshold": fam, "analytic": fam, "ppo": fam, "hindsight": fam},
        dev, edg, [0.9], res,
    )  # fmt: skip
    for level in ("1", "0.9"):
        e = out["analytic_vs_static"]["levels"][level]
        assert e["latency_reduction_pct"] == 0.0 and e["latency_reduction_ci95"] == [0.0, 0.0]
    reading = out["paper_claim"]["readings"]["static=always_edge, full quality=exact"]
    assert reading["latency_reduction_pct"] == pytest.approx(0.0)
    assert out["n_train_seeds"] == 1


def test_tuning_on_the_test_split_raises():
    for split in ("test", "train"):
        runs = SplitRuns(EnvRef("EdgeRoute/SingleTurn-v0", {"split": split}), (0,), EvalBudget(1))
        with pytest.raises(EdgeRouteError, match="validation"):
            record_validation(None, runs)  # type: ignore[arg-type]
        with pytest.raises(EdgeRouteError, match="validation"):
            tune(None, runs, 0.5, {})  # type: ignore[arg-type]


def test_a_pass_holds_every_item_once_and_is_the_same_for_every_policy():
    episodes = pass_items(2827, 200, seed=4)
    flat = [i for e in episodes for i in e]
    assert sorted(flat) == list(range(2827)) and len(episodes) == 15
    assert all(len(e) == 200 for e in episodes[:-1]) and len(episodes[-1]) == 27
    assert pass_items(2827, 200, seed=4) == episodes
    assert pass_items(2827, 200, seed=5) != episodes
    with pytest.raises(EdgeRouteError, match="episodes"):
        pass_items(5000, 1, seed=0)


def test_unit_table_refuses_logs_of_different_items():
    def log(ids):
        out = StepLog()
        for i in ids:
            out.record({"latency_s": 1.0, "quality": 1.0, "model": "edge", "dialogue_id": i}, 0.0)
        return out

    unit_table([[log(["a", "b"]), log(["b", "a"])]])  # same items, other order: fine
    with pytest.raises(EdgeRouteError, match="different items"):
        unit_table([[log(["a", "b"]), log(["a", "c"])]])


def test_reset_option_items_serves_exactly_those_items():
    from experiments.envfactory import make_env

    env = make_env(
        "EdgeRoute/SingleTurn-v0",
        config={
            "benchmark": "synthetic",
            "synthetic_size": 200,
            "split": "test",
            "episode_queries": 5,
        },
    )
    base = env.unwrapped
    items = [3, 0, 7]
    env.reset(seed=1, options={"items": items})
    served = []
    done = False
    while not done:
        _, _, done, _, info = env.step(1)
        served.append(info["dialogue_id"])
    ids = [base.data.row_meta[i][1] for i in items]
    assert served == ids
    for bad in ([base.n_items], [1, 1], list(range(6)), []):
        with pytest.raises(EdgeRouteError, match="items"):
            env.reset(seed=1, options={"items": bad})


def test_a_ci_is_reported_only_where_the_statistic_is_defined_almost_everywhere():
    from experiments.stats import MAX_UNDEFINED_SHARE, summarize

    values = np.arange(1001, dtype=float)  # point 0, resamples 1..1000
    full = summarize(values)
    assert full["point"] == 0.0 and full["undefined_share"] == 0.0
    assert full["ci95"] == [pytest.approx(25.975), pytest.approx(975.025)]
    # 5% undefined: still reported, over the defined resamples.
    few = values.copy()
    few[1:51] = np.nan
    assert summarize(few)["undefined_share"] == pytest.approx(MAX_UNDEFINED_SHARE)
    assert summarize(few)["ci95"] is not None
    # One more undefined resample, or an undefined point estimate: no interval, the share kept.
    more = values.copy()
    more[1:52] = np.nan
    assert summarize(more)["ci95"] is None
    assert summarize(more)["undefined_share"] == pytest.approx(0.051)
    no_point = values.copy()
    no_point[0] = np.nan
    out = summarize(no_point)
    assert out["point"] is None and out["ci95"] is None and out["undefined_share"] == 0.0
    assert summarize([None, None, None]) == {"point": None, "ci95": None, "undefined_share": 1.0}
