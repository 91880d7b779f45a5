"""``subtile sim [tile|activation]``: generated RTL under Verilator against the golden model.

``subtile sim --config ...`` (no kind) means ``sim tile``, which takes a tile or a mesh config.
"""

from __future__ import annotations

import time
from pathlib import Path

from subtile.cli.options import (EXIT_FAIL, EXIT_OK, activation_spec, add_activation_options,
                                 add_config_option, add_contents_option, add_json_option, add_quiet_option, add_work_dir_option,
                                 any_config, calibration, check_range, check_simulator, emit_json, float_arg, int_arg,
                                 is_temporary, mesh_config, mesh_contents_arg, path_arg, work_dir)
from subtile.errors import ConfigError


def register(commands):
    sim = commands.add_parser("sim", help="simulate generated RTL under Verilator against the golden model",
                              description="Simulate a tile or mesh (`subtile sim --config FILE`, the kind "
                                          "`tile` is the default) or one activation unit (`subtile sim "
                                          "activation`) under Verilator against the golden model.")
    kinds = sim.add_subparsers(dest="kind", required=True, metavar="KIND")
    tile = kinds.add_parser("tile", help="seeded random stimulus through a tile or a mesh (the default kind)")
    _add_network_options(tile, "any")
    tile.set_defaults(handler=run_tile)
    mesh = kinds.add_parser("mesh", help="the same for a mesh (--config must have a [mesh] table)")
    _add_network_options(mesh, "mesh")
    mesh.set_defaults(handler=lambda args: run_mesh(args, mesh_config(args)))

    activation = kinds.add_parser("activation", help="every input code of one activation unit")
    add_activation_options(activation)
    add_work_dir_option(activation)
    activation.add_argument("--seed", type=int_arg("seed"), default=None,
                            help="simulator random seed (default: a new one each run)")
    add_json_option(activation)
    add_quiet_option(activation)
    activation.set_defaults(handler=run_activation)


def _add_network_options(parser, kinds):
    """The options of `sim tile` and `sim mesh`."""
    add_config_option(parser, kinds)
    add_contents_option(parser)
    parser.add_argument("--steps", type=int_arg("steps"), default=100,
                        help="time steps (1..100000; default %(default)s)")
    parser.add_argument("--activity", type=float_arg("activity"), default=0.1,
                        help="fraction of input addresses sending an event per step (0..1)")
    parser.add_argument("--seed", type=int_arg("seed"), default=1,
                        help="seed of the random stimulus and of the simulator (default %(default)s)")
    parser.add_argument("--idle", type=float_arg("idle"), default=0.0,
                        help="probability of an idle cycle before each input event")
    parser.add_argument("--stall", type=float_arg("stall"), default=0.0,
                        help="probability of output backpressure in each cycle")
    parser.add_argument("--lib", type=path_arg("lib", "file"), default=None,
                        help="Liberty file for the energy line (default: sky130 HD tt)")
    parser.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"],
                        help="Verilator (default; fast, compiled) or Icarus Verilog (interpreted, several "
                             "times slower; the same bench, stimulus and checks)")
    add_work_dir_option(parser)
    parser.add_argument("--waves", type=path_arg("waves", "out"), default=None, metavar="PATH",
                        help="when the run fails, rerun it with tracing and write its waves to PATH "
                             "(FST; VCD when liblz4-dev/zlib1g-dev are missing; the suffix says which)")
    add_json_option(parser, "the report (one object)")
    add_quiet_option(parser)


def run_activation(args):
    from subtile.sim.activation_bench import simulate
    spec = activation_spec(args)
    plan = spec.plan()
    check_simulator()
    folder = work_dir(args, "sim")
    start = time.perf_counter()
    results, build, test_run = simulate([plan], folder, top=args.top or "activation_bench", seed=args.seed)
    (result,) = results.values()
    seconds = time.perf_counter() - start
    report = {
        "pass": result.passed, "unit": result.name, "codes": result.compared,
        "mismatches": result.mismatches, "first_mismatches": result.first_mismatches,
        "accuracy": plan.accuracy.to_dict(), "build_cached": build.cached,
        "build_seconds": round(build.seconds, 3), "seconds": round(seconds, 3),
        "work_dir": None if is_temporary(folder) and result.passed else str(folder),
    }
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(("PASS " if result.passed else "FAIL ") + result.describe())
        print(f"accuracy: max {plan.accuracy.max_error:.3f} LSB, mean {plan.accuracy.mean_error:.3f} LSB; "
              f"build {'reused' if build.cached else 'compiled'} in {build.seconds:.1f} s; "
              f"total {seconds:.1f} s" + (f"; files in {folder}" if report["work_dir"] else ""))
    return EXIT_OK if result.passed else EXIT_FAIL


def run_tile(args):
    from subtile.golden.tile import random_stimulus
    from subtile.sim.tile_bench import StepStimulus, simulate
    from subtile.spec.config import MeshConfig
    config = any_config(args)
    mesh_contents_arg(args, config)         # refuses --contents with a tile config
    if isinstance(config, MeshConfig):
        return run_mesh(args, config)
    technology = energy_tech(args.lib)
    folder = _sim_work_dir(args, config, "tile.toml")
    stimulus = [StepStimulus(events) for events in
                random_stimulus(config, args.steps, args.activity, args.seed)]
    start = time.perf_counter()
    run = simulate(config, stimulus, work_dir=folder, seed=args.seed, idle=args.idle, stall=args.stall,
                   simulator=args.simulator)
    report = run.summary()
    energy = energy_estimate(config, run, technology)
    report["energy"] = energy
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["simulation_seconds"] = round(run.seconds, 3)
    report["events_per_second"] = round(run.events_in / run.seconds) if run.seconds else None
    report["work_dir"] = None if is_temporary(folder) and run.passed else str(folder)
    report["reproduce"] = (f"subtile sim --config {folder / 'tile.toml'} --steps {args.steps} "
                           f"--activity {args.activity} --seed {args.seed} --idle {args.idle} --stall {args.stall}"
                           + (" --simulator icarus" if args.simulator == "icarus" else ""))
    report["seed"] = args.seed
    report["simulator"] = args.simulator
    report["waves"] = None
    if not run.passed and args.waves:
        # Waves only for a failing run: the tracing build is separate and much slower.
        rerun = simulate(config, stimulus, work_dir=folder / "waves", seed=args.seed, idle=args.idle,
                         stall=args.stall, waves=Path(args.waves))
        report["waves"] = rerun.waves
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(("PASS" if run.passed else "FAIL") + f" {config.name}: {run.steps} steps, "
              f"{run.events_in} events in, {run.events_out} events out, {run.synaptic_ops} synaptic ops")
        print(f"{run.cycles} cycles in {run.seconds:.2f} s of simulation ({report['cycles_per_second']} cycles/s, "
              f"{report['events_per_second']} events/s, {args.simulator}); build "
              f"{'reused' if run.build.cached else 'compiled'} in {run.build.seconds:.1f} s; total {report['seconds']:.1f} s")
        if energy:
            print(f"energy: {energy['energy_per_step_pj']:.1f} pJ per step, "
                  f"{energy['energy_per_synaptic_op_pj'] or 0:.2f} pJ per synaptic op at {energy['vdd']:g} V "
                  f"({energy['technology']}; breakdown: subtile energy)")
        if not run.passed:
            print(f"first mismatch: {run.mismatch}")
            print(f"seed: {args.seed}")
            print(f"reproduce: {report['reproduce']}")
            if report.get("waves"):
                print(f"waves: {report['waves']}")
    return EXIT_OK if run.passed else EXIT_FAIL


def energy_tech(lib):
    """The technology of the energy line, read before the run (a bad ``--lib`` is refused up
    front): sky130 (or ``lib``), else Horowitz's 45 nm figures when no Liberty file can be found.
    Returns ``(tech, name, calibration)``."""
    from subtile.power.tech_model import TechModel
    try:
        tech, name = TechModel.from_liberty(lib), Path(lib).name if lib else "sky130_fd_sc_hd tt"
    except ConfigError:
        if lib:
            raise
        tech, name = TechModel.fallback(), "Horowitz 45 nm fallback, no Liberty found"
    return tech, name, calibration(lib, None, False)


def energy_estimate(config, run, technology) -> dict:
    """Energy of a tile or mesh run from its toggle counts with ``technology`` (:func:`energy_tech`)."""
    from subtile.power.energy import estimate
    tech, name, factors = technology
    result = estimate(config, run, tech, calibration=factors).to_dict()
    return {"energy_per_step_pj": result["energy_per_step_pj"],
            "energy_per_synaptic_op_pj": result["energy_per_synaptic_op_pj"],
            "vdd": tech.vdd, "technology": name, "breakdown_pj": result["breakdown_pj"],
            **({"energy_by_kind_pj": result["energy_by_kind_pj"]} if "energy_by_kind_pj" in result else {})}


def _sim_work_dir(args, config, config_file: str) -> Path:
    """Check the options shared by tile and mesh simulations; make the work folder and write the
    config that ran into it."""
    check_range("steps", args.steps, 1, 100_000)
    check_range("activity", args.activity, 0.0, 1.0)
    check_range("idle", args.idle, 0.0, 0.99)
    check_range("stall", args.stall, 0.0, 0.99)
    if args.simulator == "icarus" and args.waves:
        raise ConfigError("waves: Verilator only; drop --waves or use --simulator verilator")
    check_simulator(args.simulator)
    folder = work_dir(args, "sim")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / config_file).write_text(config.to_toml())
    return folder


def run_mesh(args, config):
    """`subtile sim --config mesh.toml`: the tile command's options, output and JSON keys, plus the
    network's packets and router counters."""
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.sim.mesh_bench import simulate_mesh
    contents, axons = mesh_contents_arg(args, config)
    technology = energy_tech(args.lib)
    folder = _sim_work_dir(args, config, "mesh.toml")
    stimulus = random_mesh_stimulus(config, args.steps, args.activity, args.seed)
    start = time.perf_counter()
    run = simulate_mesh(config, stimulus, work_dir=folder, seed=args.seed, idle=args.idle, stall=args.stall,
                        contents=contents, axons=axons, simulator=args.simulator)
    report = run.summary()
    delivered = run.events_in + run.packets
    report["energy"] = energy_estimate(config, run, technology)
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["simulation_seconds"] = round(run.seconds, 3)
    report["events_per_second"] = round(run.events_in / run.seconds) if run.seconds else None
    report["delivered_per_second"] = round(delivered / run.seconds) if run.seconds else None
    report["run_cycles_per_second"] = round(run.cycles / run.run_seconds) if run.run_seconds else None
    report["run_delivered_per_second"] = round(delivered / run.run_seconds) if run.run_seconds else None
    report["work_dir"] = None if is_temporary(folder) and run.passed else str(folder)
    report["reproduce"] = (f"subtile sim --config {folder / 'mesh.toml'} --steps {args.steps} "
                           f"--activity {args.activity} --seed {args.seed} --idle {args.idle} --stall {args.stall}"
                           + (f" --contents {args.contents}" if args.contents else "")
                           + (" --simulator icarus" if args.simulator == "icarus" else ""))
    report["contents"] = args.contents
    report["simulator"] = args.simulator
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(("PASS" if run.passed else "FAIL") + f" {config.name} ({config.width} x {config.height} tiles): "
              f"{run.steps} steps, {run.events_in} events in, {run.events_out} events out, "
              f"{run.packets} packets, {run.synaptic_ops} synaptic ops")
        print(f"{run.cycles} cycles in {run.seconds:.2f} s of simulation ({report['cycles_per_second']} cycles/s, "
              f"{report['events_per_second']} events/s; {report['run_cycles_per_second']} cycles/s and "
              f"{report['run_delivered_per_second']} delivered events/s without simulator start-up, {args.simulator}); build "
              f"{'reused' if run.build.cached else 'compiled'} in {run.build.seconds:.1f} s; "
              f"total {report['seconds']:.1f} s")
        print(f"routers: max FIFO occupancy {report['max_fifo_occupancy']} of {config.fifo_depth}, "
              f"{report['stall_cycles']} stall cycles; forwarded per port (local north east south west), "
              f"stalls, max occupancy:")
        for router in run.routers:
            print(f"  ({router.x}, {router.y}): forwarded {' '.join(map(str, router.forwarded))}; "
                  f"stalls {' '.join(map(str, router.stalls))}; max {' '.join(map(str, router.max_level))}")
        energy = report["energy"]
        print(f"energy: {energy['energy_per_step_pj']:.1f} pJ per step, "
              f"{energy['energy_per_synaptic_op_pj'] or 0:.2f} pJ per synaptic op at {energy['vdd']:g} V "
              f"({energy['technology']}; routers uncalibrated; breakdown: subtile energy)")
        if not run.passed:
            print(f"first mismatch: {run.mismatch}")
            print(f"reproduce: {report['reproduce']}")
    return EXIT_OK if run.passed else EXIT_FAIL
