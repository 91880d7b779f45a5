"""``subtile synth``: synthesis of a tile (Yosys, nextpnr from PyPI) and its figures."""

from __future__ import annotations

import sys
import time

from subtile.cli.options import (EXIT_FAIL, EXIT_OK, add_config_option, add_json_option, add_quiet_option, check_liberty,
                                 emit_json, path_arg, tile_config)
from subtile.errors import ConfigError


def register(commands):
    synth = commands.add_parser("synth", help="synthesize the tile (Yosys, nextpnr; yowasp from PyPI)")
    add_config_option(synth, "tile")
    synth.add_argument("--target", default="generic", choices=["generic", "ice40", "ecp5", "sky130"],
                       help="generic Yosys cells (default), an FPGA (place and route with nextpnr), or sky130 "
                            "HD cells with area")
    synth.add_argument("--device", default=None, help="FPGA device: ice40 hx8k (default), hx1k, up5k; "
                       "ecp5 45k (default), 12k, 25k, 85k")
    synth.add_argument("--lib", type=path_arg("lib", "file"), default=None,
                       help="sky130: Liberty file (default: sky130_fd_sc_hd tt)")
    synth.add_argument("--icg-cell", default=None,
                       help="sky130: clock-gate cell (default sky130_fd_sc_hd__dlclkp_1)")
    synth.add_argument("--icg-pins", default=None, help="its pins CLOCK,ENABLE,GATED_CLOCK (default CLK,GATE,GCLK)")
    synth.add_argument("--keep-gating", action="store_true",
                       help="FPGA: keep gating = icg (default: synthesize the bit-exact enable mode)")
    synth.add_argument("--no-cache", action="store_true", help="rerun even when a cached result exists")
    add_json_option(synth, "the figures")
    add_quiet_option(synth)
    synth.set_defaults(handler=run)


def run(args) -> int:
    """Synthesize the tile of ``args.config`` for ``args.target`` and print its figures
    (``--json`` writes them as JSON too). Exit code 0, or 1 when it does not fit."""
    from subtile.gen.synth import IcgCell, SynthError, synthesize_config
    config = tile_config(args)
    icg_cell = IcgCell.parse(args.icg_cell, args.icg_pins)
    if args.lib and args.target != "sky130":
        raise ConfigError(f"lib: only the sky130 target reads a Liberty file, not {args.target}")
    check_liberty(args.lib)
    start = time.monotonic()
    try:
        result = synthesize_config(config, args.target, keep_gating=args.keep_gating, lib=args.lib,
                                   device=args.device, icg_cell=icg_cell, use_cache=not args.no_cache,
                                   progress=(lambda line: None) if args.quiet else
                                   (lambda line: print(line, flush=True, file=sys.stderr)))
    except SynthError as error:
        print(f"subtile: synthesis failed: {error}", file=sys.stderr)
        return EXIT_FAIL
    report = {**result.to_dict(), "config": config.to_dict(), "wall_seconds": round(time.monotonic() - start, 1)}
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(result.summary())
        if result.area_um2 is not None:
            top = sorted(result.cells.items(), key=lambda item: -item[1])[:8]
            print("top cells: " + ", ".join(f"{name.removeprefix('sky130_fd_sc_hd__')} {count}" for name, count in top))
            print(f"netlist: {result.netlist}")
        if result.message:
            print(f"note: {result.message}")
        print(f"{'cached result' if result.cached else 'ran'} ({result.seconds:.0f} s of tools; "
              f"{report['wall_seconds']:.0f} s now); files in {result.directory}")
    return EXIT_FAIL if result.fits is False else EXIT_OK
