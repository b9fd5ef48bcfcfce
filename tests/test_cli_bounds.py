"""Absurd, NaN and negative numbers of every command's numeric options, absurd turn lengths and
bad policy arguments: each a clean error (exit 2, no traceback) naming the value and the
allowed range, before any work starts; strict booleans in policy arguments."""

from __future__ import annotations

import numpy as np
import pytest

from agents.arguments import strict_bool
from agents.registry import make_policy
from cost_models.errors import EdgeRouteError
from cost_models.router_cost import latency_report
from experiments.commands.bounds import MAX_SEED, MAX_TIMESTEPS, float_in, int_in

RUN = ["--out", "/nonexistent/never-written", "--quick"]

BAD_OPTIONS = [
    (["costs", "--prompt-tokens", "100000000000"], "100000000000", "[1, 131,072]"),
    (["costs", "--prompt-tokens", "1e11"], "1e11", "[1, 131,072]"),
    (["costs", "--prompt-tokens", "0"], "'0'", "[1, 131,072]"),
    (["costs", "--output-tokens", "-5"], "'-5'", "[1, 131,072]"),
    (["costs", "--history-tokens", "100000000000"], "100,000,000,400", "at most 131,072"),
    (["costs", "--history-tokens", "0,1000000"], "1,000,400", "at most 131,072"),
    (["costs", "--scenario", "phone_1p5b__edge_7b", "--prompt-tokens", "40000"], "40,200",
     "qwen2.5-1.5b (32,768 tokens)"),
    (["costs", "--seed", "100000000000000000000"], "100000000000000000000", f"{MAX_SEED:,}"),
    (["costs", "--seed", "-1"], "'-1'", "[0, "),
    (["costs", "--n-users", "100000000000"], "100000000000", "[1, 2,222]"),
    (["costs", "--n-users", "0"], "'0'", "[1, 2,222]"),
    (["costs", "--distance-m", "1e30"], "1e30", "(0, 20,000]"),
    (["costs", "--distance-m", "nan"], "nan", "(0, 20,000]"),
    (["costs", "--distance-m", "-5"], "-5", "(0, 20,000]"),
    (["costs", "--bandwidth-hz", "1e30"], "1e30", "[180,000, 400,000,000]"),
    (["costs", "--bandwidth-hz", "inf"], "inf", "[180,000, 400,000,000]"),
    (["costs", "--edge-load", "nan"], "nan", "[0, 1)"),
    (["bench", "costs", "--n", "100000000000"], "100000000000", "[1, 10,000,000]"),
    (["bench", "costs", "--n", "0"], "'0'", "[1, 10,000,000]"),
    (["bench", "costs", "--repeats", "1000000000"], "1000000000", "[1, 1,000]"),
    (["benchmark", *RUN, "--seeds", "-1"], "'-1'", f"[0, {MAX_SEED:,}]"),
    (["benchmark", *RUN, "--seeds", "100000000000000000000"], "1000000000", f"{MAX_SEED:,}"),
    (["benchmark", *RUN, "--ppo-timesteps", "0"], "'0'", f"[1, {MAX_TIMESTEPS:,}]"),
    (["benchmark", *RUN, "--ppo-timesteps", "1e20"], "1e20", f"[1, {MAX_TIMESTEPS:,}]"),
    (["ablate", *RUN, "--seeds", "nan"], "nan", "not an integer"),
    (["crossover", *RUN, "--documents", "nan,100"], "nan,100", "[0, 131,072]"),
    (["crossover", *RUN, "--documents", "0,1e30"], "0,1e30", "[0, 131,072]"),
    (["crossover", *RUN, "--seeds", "-2"], "'-2'", "[0, "),
    (["train", "--env", "EdgeRoute/SingleTurn-v0", *RUN[:2], "--seed", "1e20"], "1e20", "[0, "),
    (["train", "--env", "EdgeRoute/SingleTurn-v0", *RUN[:2], "--timesteps", "1e20"], "1e20",
     f"[1, {MAX_TIMESTEPS:,}]"),
    (["evaluate", "--seeds", "5000000000"], "5000000000", f"[0, {MAX_SEED:,}]"),
    (["evaluate", "--param", "semantic=nein"], "nein", "true or false"),
    (["evaluate", "--param", "alpha=fast"], "fast", "finite number"),
    (["evaluate", "--param", "alpha=.nan"], "nan", "finite number"),
    (["evaluate", "--param", "alpha=-1"], "-1", ">= 0"),
    (["evaluate", "--param", "bogus=1"], "bogus", "allowed"),
    (["evaluate", "--policy", "random", "--param", "p=2"], "p=2", "[0, 1]"),
    (["evaluate", "--policy", "random", "--param", "seed=-1"], "-1", ">= 0"),
    (["evaluate", "--policy", "semantic_threshold", "--param", "threshold=[1]"], "[1]", "finite"),
    (["data", "encoder-speed", "--seed", "-3"], "'-3'", "[0, "),
]


@pytest.mark.parametrize(("argv", "value", "allowed"), BAD_OPTIONS, ids=lambda x: str(x))
def test_bad_numeric_option_is_a_clean_error(run_cli, argv, value, allowed) -> None:
    code, _, err = run_cli(argv)
    assert code == 2
    assert value in err and allowed in err, err


def test_turn_within_context_is_served_and_one_token_more_is_refused() -> None:
    """The device model of phone_3b__edge_70b (llama-3.2-3b) has a 131,072-token context."""
    ok = latency_report("phone_3b__edge_70b", 130_000, 1_072)
    assert ok["prompt_tokens"] == 130_000
    with pytest.raises(EdgeRouteError, match="131,073 tokens"):
        latency_report("phone_3b__edge_70b", 130_001, 1_072)


def test_bounded_types_accept_their_ends_and_integral_floats() -> None:
    assert int_in(1, 10)("10") == 10 and int_in(1, 10)("1e1") == 10 and int_in(0, 5)("0") == 0
    assert float_in(0.0, 2.0, low_open=True)("2") == 2.0
    for bad in ("1.5", "nan", "inf", "x"):
        with pytest.raises(Exception, match="not an integer"):
            int_in(0, 10)(bad)
    with pytest.raises(Exception, match=r"\(0, 2\]"):
        float_in(0.0, 2.0, low_open=True)("0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("no", False), ("YES", True), ("off", False),
     (True, True), (np.bool_(False), False)],
)  # fmt: skip
def test_strict_bool_reads_yaml_booleans(text, expected) -> None:
    assert strict_bool(text, "x") is expected


@pytest.mark.parametrize("bad", ["nein", "", "2", 1, 0, None, 0.0, [True]])
def test_strict_bool_refuses_everything_else(bad) -> None:
    with pytest.raises(EdgeRouteError, match="not a boolean"):
        strict_bool(bad, "analytic semantic")


def test_semantic_no_turns_the_semantic_term_off_and_nein_is_refused() -> None:
    assert make_policy("analytic", semantic="no").terms.semantic is False
    assert make_policy("analytic", semantic="true").terms.semantic is True
    with pytest.raises(EdgeRouteError, match="'nein'"):
        make_policy("analytic", semantic="nein")
    from agents.analytic import Analytic

    with pytest.raises(EdgeRouteError, match="'maybe'"):
        Analytic(switching="maybe")  # built directly, not through the registry


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("analytic", {"alpha": "fast"}, "alpha = 'fast'"),
        ("analytic", {"alpha": float("nan")}, "alpha = nan"),
        ("analytic", {"alpha": -0.1}, "alpha=-0.1"),
        ("analytic", {"theta": None}, "theta = None"),
        ("analytic", {"form": 3}, "form = 3"),
        ("analytic", {"gamma": 1}, "unknown argument(s) ['gamma']"),
        ("random", {"p": 1.5}, "p=1.5"),
        ("random", {"seed": 0.5}, "seed = 0.5"),
        ("random", {"seed": -1}, "seed=-1"),
        ("semantic_threshold", {"threshold": "high"}, "threshold = 'high'"),
        ("myopic_oracle", {"latency_weight": 0.5}, "latency_weight=0.5"),
        ("myopic_oracle", {"edge_call_weight": float("inf")}, "edge_call_weight = inf"),
        ("hindsight_optimal", {"latency_weight": "slow"}, "latency_weight = 'slow'"),
        ("ppo", {"model_dir": 5}, "model_dir = 5"),
        ("ppo", {"model_dir": "x", "deterministic": "sometimes"}, "'sometimes'"),
    ],
)
def test_bad_policy_argument_is_a_clean_error(name, kwargs, message) -> None:
    with pytest.raises(EdgeRouteError) as exc:
        make_policy(name, **kwargs)
    assert message in str(exc.value)


def test_numpy_and_numeric_string_arguments_are_converted() -> None:
    p = make_policy("analytic", alpha=np.float64(0.25), theta="1e-3", semantic=np.bool_(False))
    assert p.params()["alpha"] == 0.25 and p.params()["theta"] == 0.001
    assert p.terms.semantic is False
    assert make_policy("random", seed=np.int64(3), p=1).params()["seed"] == 3
