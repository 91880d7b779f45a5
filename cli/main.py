"""The ``subtile`` command.

Every parameter is validated before any tool runs; a bad value gives one line naming the
parameter and the allowed range, and exit code 2. A missing or broken tool (C++ compiler,
make, Verilator) gives one line saying what to install, and exit code 3.

Each command is a module of this folder with ``register(commands)``, which adds the command's
parser to the argparse subparsers object ``commands`` and sets its ``handler``; shared option
helpers live in :mod:`subtile.cli.options`. :data:`COMMANDS` lists the modules in help order.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import subtile.progress as progress
from subtile.cli.options import EXIT_FAIL, EXIT_TOOL, EXIT_USAGE, finish_temporary, resolve_paths
from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError

#: The command modules (``subtile.cli.<name>``), in the order ``subtile --help`` lists them.
COMMANDS = ["generate", "sim", "energy", "run", "mutate", "export", "synth", "sweep", "report", "accuracy",
            "digits", "env"]


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, naming the option, with exit code 2 (argparse prints the usage
    block first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="subtile", description="Neuromorphic tiles and meshes in Amaranth: generate Verilog, simulate it "
        "under Verilator against the golden model, estimate its energy, export, synthesize and sweep it. "
        "Bad options give one line and exit code 2; a missing tool exit code 3.",
        epilog="`subtile COMMAND --help` describes each command's options.")
    parser.add_argument("--version", action="version", version=f"subtile {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"subtile.cli.{name}").register(commands)
    return parser


def _version() -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version("subtile")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `subtile sim --config ...` means the tile (the common case); `subtile sim activation` stays.
    if argv[:1] == ["sim"] and (len(argv) == 1 or argv[1].startswith("-")) and argv[1:2] not in (["-h"], ["--help"]):
        argv.insert(1, "tile")
    args = parser.parse_args(argv)
    previous = progress.set_reporter(None if getattr(args, "quiet", False) else _progress_line)
    code = EXIT_FAIL
    try:
        resolve_paths(args)
        code = args.handler(args)
    except ConfigError as error:
        print(f"subtile: error: {error}", file=sys.stderr)
        code = EXIT_USAGE
    except ToolchainError as error:
        # A missing or broken tool: one line saying what to install, no traceback.
        print(f"subtile: error: {error}", file=sys.stderr)
        code = EXIT_TOOL
    except KeyboardInterrupt:
        print("subtile: interrupted", file=sys.stderr)
        code = 130
    finally:
        progress.set_reporter(previous)
        finish_temporary(code)
    return code


def _progress_line(line: str) -> None:
    """Progress goes to stderr, so stdout holds only the result (``--json -`` stays valid JSON)."""
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
