"""The command line: every listed command module is loaded; a missing one is an error."""

from __future__ import annotations

import pytest

from experiments import cli


def test_every_command_module_registers_its_command(capsys):
    parser = cli.build_parser()
    for name in cli.COMMAND_MODULES:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert f"edgeroute {name}" in capsys.readouterr().out


def test_missing_command_module_is_an_error_not_skipped(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="experiments.commands.no_such_command"):
        cli.build_parser()
