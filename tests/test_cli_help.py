"""`--help` of every command: plain text (no reStructuredText), every option and subcommand
described."""

from __future__ import annotations

import argparse
import re

import pytest

from experiments.cli import build_parser

RST = re.compile(r"``|:(?:mod|func|class|meth|data|attr|obj):`")


def _parsers():
    def walk(parser: argparse.ArgumentParser, name: str):
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    yield from walk(subparser, f"{name} {sub}")

    return list(walk(build_parser(), "edgeroute"))


PARSERS = _parsers()


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[n for n, _ in PARSERS])
def test_help_is_plain_and_complete(name, parser):
    text = parser.format_help()
    assert not RST.search(text), (name, RST.findall(text))
    undocumented = [
        a.option_strings or a.dest
        for a in parser._actions
        if not a.help and not isinstance(a, argparse._SubParsersAction)
    ]
    assert undocumented == [], name
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, (name, choice.dest)


@pytest.mark.parametrize(
    "name",
    [
        "edgeroute data prepare",
        "edgeroute data summary",
        "edgeroute data import",
        "edgeroute data encoder-speed",
        "edgeroute train",
        "edgeroute evaluate",
    ],
)
def test_data_train_evaluate_commands_have_a_description(name):
    parser = dict(PARSERS)[name]
    assert parser.description and len(parser.description) > 40
