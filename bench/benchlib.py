"""What the benchmark scripts share: their error line, and ``--json`` checked before any work.

A script in ``bench/`` imports it as ``from benchlib import ...`` (its own folder is first on
``sys.path`` when it is run as ``python bench/<script>.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["fail", "json_option", "check_paths", "emit_json"]


def fail(message: str):
    """One line naming the script and the problem on stderr, then exit code 2."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def json_option(parser) -> None:
    """``--json FILE``, checked by :func:`check_paths` before any work (the project's path rules)."""
    from subtile.cli.options import path_arg
    parser.add_argument("--json", type=path_arg("json", "out"), default=None, help="also write the JSON there")


def check_paths(args) -> None:
    """The path options of ``args`` resolved and checked (:func:`subtile.cli.options.resolve_paths`),
    or one line and exit code 2."""
    from subtile.cli.options import resolve_paths
    from subtile.errors import ConfigError
    try:
        resolve_paths(args)
    except ConfigError as error:
        fail(str(error))


def emit_json(result: dict, path: str | None) -> None:
    """``result`` as indented JSON on stdout, and into ``path`` when given."""
    from subtile.cli.options import emit_json as write_json
    for target in ("-", path) if path else ("-",):
        write_json(result, target)
