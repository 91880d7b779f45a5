"""``subtile export``: the RTL of a tile as a project for FPGA and ASIC flows."""

from __future__ import annotations

from subtile.cli.options import EXIT_OK, add_config_option, add_quiet_option, float_arg, path_arg, tile_config


def register(commands):
    export = commands.add_parser("export", help="RTL export for FPGA and ASIC flows (files, .f, FuseSoC core, SDC)")
    add_config_option(export, "tile")
    export.add_argument("-o", "--output-dir", required=True, type=path_arg("output-dir", "dir"),
                        help="folder to write")
    export.add_argument("--single-file", action="store_true", help="one Verilog file instead of one per module")
    export.add_argument("--sv", action="store_true", help="add the SystemVerilog struct wrapper and assertions")
    export.add_argument("--period-ns", type=float_arg("period-ns"), default=20.0, help="SDC clock period")
    export.add_argument("--icg-cell", default=None, help="clock-gate cell (default sky130_fd_sc_hd__dlclkp_1)")
    export.add_argument("--icg-pins", default=None,
                        help="its pins CLOCK,ENABLE,GATED_CLOCK (default CLK,GATE,GCLK)")
    add_quiet_option(export)
    export.set_defaults(handler=run)


def run(args) -> int:
    from subtile.gen.export import export_tile, icg_instances
    from subtile.gen.synth import IcgCell
    config = tile_config(args)
    icg = IcgCell.parse(args.icg_cell, args.icg_pins)
    result = export_tile(config, args.output_dir, single_file=args.single_file, sv=args.sv,
                         period_ns=args.period_ns, icg=icg)
    design = result.design
    modules = sum(1 for f in result.files if f.startswith("rtl/"))
    print(f"wrote {len(result.files)} files to {result.out_dir}: {modules} Verilog file(s), "
          f"{design.top}.f, {design.top}.core ({result.core_name}), {design.top}.sdc, README.md, manifest.json"
          + (", sv/ (struct wrapper and assertions)" if args.sv else ""))
    if config.gating == "icg":
        print(f"clock gates: {len(icg_instances(design.verilog))} x subtile_icg; ASIC file list {design.top}_asic.f "
              f"maps them to {icg.name}; for FPGAs export with gating = \"enable\"")
    return EXIT_OK
