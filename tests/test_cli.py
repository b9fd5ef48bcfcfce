"""The command line: every listed command module is loaded; a missing one is an error."""

from __future__ import annotations

import pytest

from experiments import cli


def test_every_command_module_registers_its_command(capsys):
    parser = cli.build_parser()
    for module in cli.COMMAND_MODULES:
        name = module.replace("_", "-")  # module load_delay -> command load-delay
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert f"edgeroute {name}" in capsys.readouterr().out


def test_missing_command_module_is_an_error_not_skipped(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="experiments.commands.no_such_command"):
        cli.build_parser()


def test_evaluate_command_matches_evaluate_and_calibrates_edge_share(tmp_path, capsys):
    import json

    from agents.registry import make_policy
    from experiments.envfactory import make_env
    from experiments.evaluate import evaluate

    env_args = ["--env-config", "synthetic_size=120", "episode_queries=30"]
    out = tmp_path / "analytic.json"
    args = ["evaluate", "--benchmark", "synthetic", *env_args, "--seeds", "0", "1"]
    code = cli.main(
        [*args, "--policy", "analytic", "--param", "alpha=0.2", "theta=0.1", "--json", str(out)]
    )
    assert code == 0
    got = json.loads(out.read_text())
    env = make_env(
        "EdgeRoute/SingleTurn-v0",
        {"benchmark": "synthetic", "synthetic_size": 120, "episode_queries": 30, "split": "test"},
    )
    want = evaluate(env, make_policy("analytic", alpha=0.2, theta=0.1), [0, 1]).metrics
    env.close()
    assert got["metrics"] == want
    assert got["config"]["split"] == "test"
    # --edge-share calibrates the threshold on validation: the share holds there, roughly on test.
    out = tmp_path / "semantic.json"
    args += ["--policy", "semantic_threshold", "--edge-share", "0.5", "--json", str(out)]
    assert cli.main(args) == 0
    assert "of validation queries above it" in capsys.readouterr().out
    assert 0.2 < json.loads(out.read_text())["metrics"]["edge_rate"] < 0.8
