"""The load-baseline table is read from ``load_baselines.vs_static`` of the results file."""

from __future__ import annotations

from experiments.report_baselines import baseline_rows, baseline_table


def test_rows_read_each_router_at_each_level_and_say_n_a_where_undefined():
    def reading(pct):
        return {"latency_reduction_pct": pct, "edge_call_reduction_pct": 0.0}

    level = {
        "analytic_vs_static": reading(5.25),
        "analytic_load_blind_vs_static": reading(-0.04),
        "load_aware_semantic_blind_vs_static": reading(None),
    }
    results = {
        "meta": {},
        "w": {"load_baselines": {"vs_static": {"0.8": level, "0.9": level, "0.95": level,
                                               "1": level}}},  # fmt: skip
        "old": {},  # a section of an older protocol: no row
    }
    rows = baseline_rows(results)
    assert rows == [
        ["w", "analytic", "+5.2%", "+5.2%", "+5.2%", "+5.2%"],
        ["w", "load-blind analytic", "-0.0%", "-0.0%", "-0.0%", "-0.0%"],
        ["w", "load-aware, semantic-blind", "n/a", "n/a", "n/a", "n/a"],
    ]
    assert baseline_table({"meta": {}}) == ""
    assert "| w | analytic | +5.2% |" in baseline_table(results)


def test_nonmyopic_rows_read_the_gap_of_each_multi_turn_workload():
    from experiments.report_baselines import nonmyopic_rows, nonmyopic_table

    gap = {"dialogues": 51, "reward_per_dialogue": 0.01338, "share_of_dialogues_improved": 0.15686,
           "min_gain": 0.0, "latency_s_at_matched_quality": 0.00456}  # fmt: skip
    results = {"meta": {}, "single": {"policies": {}}, "multi": {"nonmyopic_gap": gap}}
    assert nonmyopic_rows(results) == [["multi", "51", "+0.0134", "15.7%", "+0.0000", "0.005"]]
    assert nonmyopic_table({"meta": {}}) == ""
