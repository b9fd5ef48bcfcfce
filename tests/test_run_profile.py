"""The typed run profile of benchmark.yaml: defaults, unknown keys, bad values, CLI overrides."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from cost_models.errors import EdgeRouteError
from experiments.cli import main as cli_main
from experiments.run_profile import (
    AblationProfile,
    BenchmarkSpec,
    RunProfile,
    load_run_profile,
)

SINGLE = "EdgeRoute/SingleTurn-v0"
#: The keys a profile must have.
REQUIRED = {
    "benchmarks": ["mmlu", "mt_bench_101"],
    "seeds": [3, 4],
    "episodes_per_seed": 2,
    "sweep_points": 5,
    "alpha_grid": [0.1, 1],
    "ppo_timesteps": 1000,
}


def test_defaults_live_in_the_dataclass():
    prof = RunProfile.from_mapping(REQUIRED)
    assert prof.tune_seeds == (3,)  # the first evaluation seed
    assert prof.max_steps_per_episode is None
    assert prof.ppo_seeds == (0,)
    assert prof.ppo_latency_weight_factors == (1.0,)
    assert prof.pgr_levels == (0.8, 0.9, 0.95)
    assert prof.env_config == {}
    assert prof.ablation == AblationProfile(benchmarks=None, ppo_timesteps=None)
    # Normalised: tuples, floats.
    assert prof.seeds == (3, 4) and prof.alpha_grid == (0.1, 1.0)
    assert isinstance(prof.alpha_grid[1], float)
    assert prof.budget.episodes == 2 and prof.budget.max_steps is None
    # The ablation view without an ablation entry is the profile itself.
    assert prof.for_ablation() == prof
    # Every field survives a round trip through plain values (results.json meta).
    assert RunProfile.from_mapping(prof.to_dict()) == prof


def test_shipped_profiles_are_valid_and_resolve_to_specs():
    quick = load_run_profile(None, "quick")
    specs = {s.key: s for s in quick.specs()}
    assert set(specs) == {
        "mmlu", "gsm8k", "mt_bench_101", "mt_eval", "long_sessions", "mmlu_shared_edge",
        "mt_bench_101_shared_edge",
    }  # fmt: skip
    assert specs["mmlu"].env_id == SINGLE
    # The profile's env_config for the env id is merged into each benchmark's config.
    assert specs["mmlu"].env_config == {"episode_queries": 200, "benchmark": "mmlu"}
    abl = quick.for_ablation()
    assert abl.benchmarks == ("mt_bench_101", "mt_eval", "long_sessions")
    assert abl.ppo_timesteps == 8000
    assert load_run_profile(None, "full").for_ablation().ppo_timesteps == 60000


def test_mapping_entries_and_selection():
    entry = {"key": "syn", "env_id": SINGLE, "env_config": {"benchmark": "synthetic"}}
    prof = RunProfile.from_mapping(
        {**REQUIRED, "benchmarks": ["mmlu", entry], "env_config": {SINGLE: {"episode_queries": 9}}}
    )
    assert prof.benchmarks[1] == BenchmarkSpec("syn", SINGLE, {"benchmark": "synthetic"})
    syn = prof.select(["syn"]).specs()
    assert syn == [BenchmarkSpec("syn", SINGLE, {"episode_queries": 9, "benchmark": "synthetic"})]
    # A name the profile does not list is taken as a plain benchmark name.
    assert prof.select(["gsm8k"]).benchmarks == ("gsm8k",)
    with pytest.raises(EdgeRouteError, match="unknown benchmark 'nope'"):
        prof.select(["nope"])


def test_unknown_key_is_rejected_with_the_allowed_list(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"quick": {**REQUIRED, "sweep_point": 7}}))
    with pytest.raises(EdgeRouteError) as err:
        load_run_profile(path, "quick")
    msg = str(err.value)
    assert msg.startswith(f"{path}: profile 'quick': unknown key(s) ['sweep_point']; allowed: [")
    assert "'sweep_points'" in msg and "'pgr_levels'" in msg and "'ablation'" in msg
    with pytest.raises(EdgeRouteError, match=r"ablation: unknown key\(s\) \['ppo_timestep'\]"):
        RunProfile.from_mapping({**REQUIRED, "ablation": {"ppo_timestep": 5}})
    with pytest.raises(EdgeRouteError, match=r"unknown key\(s\) \['envid'\]"):
        RunProfile.from_mapping({**REQUIRED, "benchmarks": [{"key": "x", "envid": SINGLE}]})


def test_missing_key_is_named():
    partial = {k: v for k, v in REQUIRED.items() if k != "ppo_timesteps"}
    with pytest.raises(EdgeRouteError, match=r"profile is missing key\(s\) \['ppo_timesteps'\]"):
        RunProfile.from_mapping(partial)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("seeds", [-1], "seeds = [-1] must be a non-empty list of integers in [0, 2147483647]"),
        ("seeds", [0.5], "seeds = [0.5] must be a non-empty list of integers in [0, 2147483647]"),
        ("seeds", [], "seeds = [] must be a non-empty list of integers in [0, 2147483647]"),
        ("seeds", "0", "seeds = '0' must be a list of integers in [0, 2147483647]"),
        ("seeds", [1, 1], "seeds = [1, 1] repeats a value"),
        (
            "tune_seeds",
            [True],
            "tune_seeds = [True] must be a non-empty list of integers in [0, 2147483647]",
        ),
        ("episodes_per_seed", 0, "episodes_per_seed = 0 must be an integer in [1, 1000]"),
        ("episodes_per_seed", 1001, "episodes_per_seed = 1001 must be an integer in [1, 1000]"),
        ("max_steps_per_episode", 0, "max_steps_per_episode = 0 must be an integer >= 1"),
        ("sweep_points", 1, "sweep_points = 1 must be an integer >= 2"),
        ("ppo_timesteps", 0, "ppo_timesteps = 0 must be an integer in [1, 10000000000]"),
        ("ppo_timesteps", True, "ppo_timesteps = True must be an integer in [1, 10000000000]"),
        ("ppo_timesteps", 1e4, "ppo_timesteps = 10000.0 must be an integer in [1, 10000000000]"),
        (
            "alpha_grid",
            [-0.1],
            "alpha_grid = [-0.1] must be a non-empty list of numbers in [0, inf]",
        ),
        ("alpha_grid", [float("nan")], "alpha_grid = [nan] must be a non-empty list of numbers"),
        (
            "ppo_seeds",
            [-2],
            "ppo_seeds = [-2] must be a non-empty list of integers in [0, 2147483647]",
        ),
        (
            "ppo_latency_weight_factors",
            [0.3],
            "ppo_latency_weight_factors = [0.3] must be > 0 and hold 1.0 (the headline PPO)",
        ),
        ("pgr_levels", [1.5], "pgr_levels = [1.5] must be a list of numbers in [0, 1]"),
        ("pgr_levels", [0.0], "pgr_levels = [0.0] must be in (0, 1]"),
        ("env_config", {"EdgeRoute/Nope-v0": {}}, "env_config: unknown env id 'EdgeRoute/Nope-v0'"),
        ("env_config", {SINGLE: 3}, f"env_config.{SINGLE} = 3 must be a mapping"),
        ("benchmarks", ["nope"], "unknown benchmark 'nope'; allowed: ["),
        ("benchmarks", [], "benchmarks: the profile lists no benchmarks"),
        ("benchmarks", ["mmlu", "mmlu"], "benchmarks = ['mmlu', 'mmlu'] repeats a benchmark key"),
        ("benchmarks", [{"key": "x"}], "is missing key(s) ['env_id']"),
        (
            "ablation",
            {"ppo_timesteps": 0},
            "ablation.ppo_timesteps = 0 must be an integer in [1, 10000000000]",
        ),
        ("ablation", {"benchmarks": []}, "ablation.benchmarks: empty"),
    ],
)
def test_bad_value_names_key_value_and_what_is_allowed(key, value, message):
    with pytest.raises(EdgeRouteError) as err:
        RunProfile.from_mapping({**REQUIRED, key: value}, "my.yaml: profile 'quick'")
    assert str(err.value).startswith("my.yaml: profile 'quick'")
    assert message in str(err.value)


def test_replace_validates_too():
    prof = RunProfile.from_mapping(REQUIRED)
    with pytest.raises(EdgeRouteError, match=r"seeds = \[-3\] must be"):
        dataclasses.replace(prof, seeds=[-3])


def test_cli_bad_profile_and_bad_override_exit_2(tmp_path, capsys):
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"quick": {**REQUIRED, "seeds": [-1]}, "full": REQUIRED}))
    out = str(tmp_path / "out")
    assert cli_main(["benchmark", "--quick", "--config", str(path), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "edgeroute benchmark: error:" in err and "seeds = [-1] must be" in err
    assert "Traceback" not in err
    for cmd in ("benchmark", "ablate"):
        with pytest.raises(SystemExit) as exc:  # refused by argparse, before the profile loads
            cli_main([cmd, "--config", str(path), "--out", out, "--ppo-timesteps", "0"])
        assert exc.value.code == 2
        assert "'0' must be an integer in [1, 10,000,000,000]" in capsys.readouterr().err


SHARED = {
    "key": "costly",
    "env_id": SINGLE,
    "env_config": {"benchmark": "mmlu"},
    "profile": {"seeds": [0], "sweep_points": 3, "alpha_grid": [0.1]},
}


def test_a_workload_has_its_own_profile_values_and_the_rest_is_the_profile():
    prof = RunProfile.from_mapping({**REQUIRED, "benchmarks": ["mmlu", SHARED]})
    plain, costly = prof.specs()
    assert plain.profile_for(prof) is prof
    own = costly.profile_for(prof)
    assert own.seeds == (0,) and own.sweep_points == 3 and own.alpha_grid == (0.1,)
    assert own.ppo_timesteps == prof.ppo_timesteps == 1000  # not overridden: the profile's
    assert own.episodes_per_seed == 2
    # results.json's meta keeps the override, and it survives the round trip.
    again = RunProfile.from_mapping(prof.to_dict())
    assert again.specs()[1].profile_for(again) == own


@pytest.mark.parametrize(
    "override, message",
    [
        ({"seeds": [-1]}, "seeds = [-1] must be a non-empty list of integers"),
        ({"sweep_points": 1}, "sweep_points = 1 must be an integer >= 2"),
        ({"benchmarks": ["gsm8k"]}, "unknown key(s) ['benchmarks']"),
        ({"sweep_point": 3}, "unknown key(s) ['sweep_point']; allowed: ['seeds'"),
    ],
)
def test_a_bad_workload_profile_value_names_the_workload_and_the_key(override, message):
    prof = RunProfile.from_mapping({**REQUIRED, "benchmarks": [{**SHARED, "profile": override}]})
    with pytest.raises(EdgeRouteError) as err:
        prof.specs()[0].profile_for(prof)
    assert "benchmark 'costly': profile" in str(err.value)
    assert message in str(err.value)


def test_a_workload_profile_that_is_not_a_mapping_is_refused():
    with pytest.raises(EdgeRouteError, match="profile = 3 must be a mapping"):
        RunProfile.from_mapping({**REQUIRED, "benchmarks": [{**SHARED, "profile": 3}]})


def test_a_command_line_override_beats_the_workloads_own_value():
    prof = RunProfile.from_mapping({**REQUIRED, "benchmarks": [SHARED]})
    flagged = prof.overridden(seeds=(7, 8))
    own = flagged.specs()[0].profile_for(flagged)
    assert own.seeds == (7, 8)  # --seeds wins over the workload's [0]
    assert own.sweep_points == 3  # the workload's other values stay
