"""`--help` of every command is complete and plain text; `--version` works."""

import argparse
import subprocess
import sys

import pytest

from subtile.cli.main import COMMANDS, build_parser, main


def _parsers(parser, name="subtile"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _parsers(subparser, f"{name} {sub}")


PARSERS = dict(_parsers(build_parser()))


def test_every_command_module_is_listed():
    assert {name.split()[1] for name in PARSERS if name != "subtile"} == set(COMMANDS)
    assert {"subtile sim tile", "subtile sim mesh", "subtile sim activation", "subtile generate mesh"} <= set(PARSERS)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_describes_every_option_in_plain_text(name):
    parser = PARSERS[name]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help text"
    text = parser.format_help()
    assert "None" not in text and "``" not in text and ":class:" not in text, text


def test_sim_help_lists_every_kind(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sim", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(kind in out for kind in ("tile", "mesh", "activation"))


def test_version():
    proc = subprocess.run([sys.executable, "-m", "subtile", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("subtile ") and proc.stdout.split()[1][0].isdigit()
