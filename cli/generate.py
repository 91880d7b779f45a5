"""``subtile generate activation|tile|mesh``: Verilog and a manifest."""

from __future__ import annotations

from pathlib import Path

from subtile.cli.options import (EXIT_OK, activation_spec, add_activation_options, add_config_option,
                                 add_contents_option, add_quiet_option, mesh_config, mesh_contents_arg, path_arg,
                                 tile_config)


def register(commands):
    generate = commands.add_parser("generate", help="write Verilog and a manifest",
                                   description="Write the Verilog of one unit, a tile or a mesh, and its "
                                               "manifest.json.")
    kinds = generate.add_subparsers(dest="kind", required=True, metavar="KIND")
    activation = kinds.add_parser("activation", help="one smooth-activation unit")
    add_activation_options(activation)
    activation.add_argument("-o", "--output-dir", required=True, type=path_arg("output-dir", "dir"),
                            help="folder for <top>.v and manifest.json")
    add_quiet_option(activation)
    activation.set_defaults(handler=run_activation)

    tile = kinds.add_parser("tile", help="a neuromorphic tile")
    add_config_option(tile, "tile")
    tile.add_argument("-o", "--output-dir", required=True, type=path_arg("output-dir", "dir"),
                      help="folder for <name>.v and manifest.json")
    add_quiet_option(tile)
    tile.set_defaults(handler=run_tile)

    mesh = kinds.add_parser("mesh", help="a mesh of tiles joined by event routers")
    add_config_option(mesh, "mesh")
    add_contents_option(mesh)
    mesh.add_argument("-o", "--output-dir", required=True, type=path_arg("output-dir", "dir"),
                      help="folder for <name>.v and manifest.json")
    add_quiet_option(mesh)
    mesh.set_defaults(handler=run_mesh)


def run_activation(args):
    from subtile.gen.activation import generate_activation
    spec = activation_spec(args)
    design = generate_activation(spec, top=args.top)
    path = design.write(args.output_dir)
    accuracy = design.manifest_extra["parameters"]["accuracy"]
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: latency {spec.latency}, max error {accuracy['max_error_lsb']:.3f} LSB "
          f"(goal {accuracy['goal_lsb']}), verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def run_tile(args):
    from subtile.gen.tile import generate_tile
    config = tile_config(args)
    design = generate_tile(config)
    path = design.write(args.output_dir)
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: {config.neurons} neurons x {config.branches} branches x {config.synapses} synapses, "
          f"{config.addresses} addresses, gating {config.gating}, verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def run_mesh(args):
    from subtile.gen.mesh import generate_mesh
    config = mesh_config(args)
    contents, axons = mesh_contents_arg(args, config)
    design = generate_mesh(config, contents=contents, axons=axons)
    path = design.write(args.output_dir)
    packets = sum(len(d) for tile in design.manifest_extra["axons"] for d in tile)
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: {config.width} x {config.height} tiles, FIFO depth {config.fifo_depth}, "
          f"{packets} axon-table entries, inputs at {list(map(list, config.inputs))}, outputs at "
          f"{list(map(list, config.outputs))}, verilog sha256 {design.sha256[:16]}")
    return EXIT_OK
