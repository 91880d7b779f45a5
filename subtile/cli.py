"""The ``subtile`` command.

Every parameter is validated before any tool runs; a bad value gives one line naming the
parameter and the allowed range, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .errors import ConfigError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


# -- shared option groups -------------------------------------------------------------------------
def _add_activation_options(parser):
    from .golden.activation import FUNCTIONS, IMPLEMENTATIONS
    parser.add_argument("--function", default="sigmoid", choices=list(FUNCTIONS))
    parser.add_argument("--input", dest="input_format", default="fixed<8,4>",
                        help="input format, fixed<W,I> or ufixed<W,I> (W 1..16); default %(default)s")
    parser.add_argument("--output", dest="output_format", default="ufixed<8,0>",
                        help="output format (W 1..24); default %(default)s")
    parser.add_argument("--impl", default="interp", choices=list(IMPLEMENTATIONS))
    parser.add_argument("--segments", type=_int_arg("segments"), default=None,
                        help="interp segments, a power of two; default: the fewest meeting 1 LSB")
    parser.add_argument("--beta", type=_float_arg("beta"), default=1.0, help="swish beta (0, 64]")
    parser.add_argument("--guard-bits", type=_int_arg("guard-bits"), default=4,
                        help="extra fractional bits inside interp (0..8)")
    parser.add_argument("--latency", type=_int_arg("latency"), default=0,
                        help="0 = combinational, 1 = registered table read")
    parser.add_argument("--top", default=None, help="module name (default: <function>_<impl>)")


def _int_arg(name):
    def parse(text):
        try:
            return int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {text!r} is not an integer") from None
    return parse


def _float_arg(name):
    def parse(text):
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {text!r} is not a number") from None
    return parse


def _activation_spec(args):
    from .golden.activation import ActivationSpec
    return ActivationSpec(function=args.function, impl=args.impl,
                          input_format=args.input_format, output_format=args.output_format,
                          segments=args.segments, beta=args.beta, guard_bits=args.guard_bits,
                          latency=args.latency)


def _emit_json(obj, target):
    text = json.dumps(obj, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text)


# -- commands ----------------------------------------------------------------------------------
def cmd_generate_activation(args):
    from .gen.activation import generate_activation
    from .gen.verilog import check_identifier
    spec = _activation_spec(args)
    if args.top is not None:
        check_identifier(args.top, parameter="top")
    design = generate_activation(spec, top=args.top)
    path = design.write(args.output_dir)
    accuracy = design.manifest_extra["parameters"]["accuracy"]
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: latency {spec.latency}, max error {accuracy['max_error_lsb']:.3f} LSB "
          f"(goal {accuracy['goal_lsb']}), verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def cmd_sim_activation(args):
    from .sim.activation import simulate
    spec = _activation_spec(args)
    plan = spec.plan()
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-sim-"))
    start = time.perf_counter()
    results, build, test_run = simulate([plan], work_dir, top=args.top or "activation_bench",
                                        seed=args.seed)
    (result,) = results.values()
    seconds = time.perf_counter() - start
    report = {
        "pass": result.passed, "unit": result.name, "codes": result.compared,
        "mismatches": result.mismatches, "first_mismatches": result.first_mismatches,
        "accuracy": plan.accuracy.to_dict(), "build_cached": build.cached,
        "build_seconds": round(build.seconds, 3), "seconds": round(seconds, 3),
        "work_dir": str(work_dir),
    }
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(("PASS " if result.passed else "FAIL ") + result.describe())
        print(f"accuracy: max {plan.accuracy.max_error:.3f} LSB, mean {plan.accuracy.mean_error:.3f} LSB; "
              f"build {'reused' if build.cached else 'compiled'} in {build.seconds:.1f} s; "
              f"total {seconds:.1f} s; files in {work_dir}")
    return EXIT_OK if result.passed else EXIT_FAIL


def _tile_config(args):
    from .config import TileConfig, load_config
    return load_config(args.config) if args.config else TileConfig()


def cmd_generate_tile(args):
    from .gen.tile import generate_tile
    config = _tile_config(args)
    design = generate_tile(config)
    path = design.write(args.output_dir)
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: {config.neurons} neurons x {config.branches} branches x {config.synapses} synapses, "
          f"{config.addresses} addresses, gating {config.gating}, verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def cmd_sim_tile(args):
    from .golden.tile import random_stimulus
    from .sim.tile import StepStimulus, simulate
    config = _tile_config(args)
    _check_range("steps", args.steps, 1, 100_000)
    _check_range("activity", args.activity, 0.0, 1.0)
    _check_range("idle", args.idle, 0.0, 0.99)
    _check_range("stall", args.stall, 0.0, 0.99)
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-sim-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "tile.toml").write_text(config.to_toml())
    stimulus = [StepStimulus(events) for events in
                random_stimulus(config, args.steps, args.activity, args.seed)]
    start = time.perf_counter()
    run = simulate(config, stimulus, work_dir=work_dir, seed=args.seed, idle=args.idle, stall=args.stall)
    report = run.summary()
    energy = _energy_estimate(config, run, args.lib)
    report["energy"] = energy
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["simulation_seconds"] = round(run.seconds, 3)
    report["events_per_second"] = round(run.events_in / run.seconds) if run.seconds else None
    report["work_dir"] = str(work_dir)
    report["reproduce"] = (f"subtile sim --config {work_dir / 'tile.toml'} --steps {args.steps} "
                           f"--activity {args.activity} --seed {args.seed} --idle {args.idle} --stall {args.stall}")
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(("PASS" if run.passed else "FAIL") + f" {config.name}: {run.steps} steps, "
              f"{run.events_in} events in, {run.events_out} events out, {run.synaptic_ops} synaptic ops")
        print(f"{run.cycles} cycles in {run.seconds:.2f} s of simulation ({report['cycles_per_second']} cycles/s, "
              f"{report['events_per_second']} events/s); build {'reused' if run.build.cached else 'compiled'} "
              f"in {run.build.seconds:.1f} s; total {report['seconds']:.1f} s")
        if energy:
            print(f"energy: {energy['energy_per_step_pj']:.1f} pJ per step, "
                  f"{energy['energy_per_synaptic_op_pj'] or 0:.2f} pJ per synaptic op at {energy['vdd']:g} V "
                  f"({energy['technology']}; breakdown: subtile energy)")
        if not run.passed:
            print(f"first mismatch: {run.mismatch}")
            print(f"reproduce: {report['reproduce']}")
    return EXIT_OK if run.passed else EXIT_FAIL


def _energy_estimate(config, run, lib) -> dict:
    """Energy of a tile run from its toggle counts: sky130 (or --lib), else Horowitz's 45 nm
    figures when no Liberty file can be found."""
    from .sim.energy import estimate
    from .sim.tech import TechModel
    try:
        tech, name = TechModel.from_liberty(lib), Path(lib).name if lib else "sky130_fd_sc_hd tt"
    except ConfigError:
        if lib:
            raise
        tech, name = TechModel.fallback(), "Horowitz 45 nm fallback, no Liberty found"
    result = estimate(config, run, tech).to_dict()
    return {"energy_per_step_pj": result["energy_per_step_pj"],
            "energy_per_synaptic_op_pj": result["energy_per_synaptic_op_pj"],
            "vdd": tech.vdd, "technology": name, "breakdown_pj": result["breakdown_pj"]}


def cmd_energy(args):
    from .golden.tile import random_stimulus
    from .sim.energy import estimate
    from .sim.tech import TechModel
    from .sim.tile import StepStimulus, TileBench, TileCase
    config = _tile_config(args)
    _check_range("steps", args.steps, 1, 100_000)
    activities = _float_list("activity", args.activity)
    for activity in activities:
        _check_range("activity", activity, 0.0, 1.0)
    tech = TechModel.from_liberty(args.lib) if args.lib else TechModel.from_liberty()
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-energy-"))
    # The three gating modes side by side in one build, each run on the same stimulus.
    configs = [config.replace(gating=mode, name=f"{config.name}_{mode}") for mode in ("icg", "enable", "none")]
    bench = TileBench(configs, name=f"{config.name}_energy")
    rows = []
    for activity in activities:
        stimulus = [StepStimulus(e) for e in random_stimulus(config, args.steps, activity, args.seed)]
        runs = bench.run({i: TileCase(stimulus, seed=args.seed, read_state=False) for i in range(len(configs))},
                         work_dir=work_dir / f"activity_{activity:g}")
        for index, run in runs.items():
            if not run.passed:
                print(f"FAIL {configs[index].gating} at activity {activity}: {run.mismatch}", file=sys.stderr)
                return EXIT_FAIL
            rows.append({"activity": activity, **estimate(configs[index], run, tech).to_dict()})
    report = {"config": config.to_dict(), "steps": args.steps, "seed": args.seed,
              "technology": tech.to_dict(), "rows": rows, "proportionality": _proportionality(rows)}
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(format_energy_table(rows))
        for mode, ratio in report["proportionality"].items():
            print(f"{mode}: energy per step at activity 0.1 is {100 * ratio:.1f} % of that at 1.0")
    return EXIT_OK


def _proportionality(rows) -> dict:
    """Energy per step at activity 0.1 over that at 1.0, per gating mode (when both ran)."""
    ratios = {}
    for mode in ("icg", "enable", "none"):
        per_step = {r["activity"]: r["energy_per_step_pj"] for r in rows if r["gating"] == mode}
        if 0.1 in per_step and per_step.get(1.0):
            ratios[mode] = per_step[0.1] / per_step[1.0]
    return ratios


def format_energy_table(rows) -> str:
    headers = ["activity", "gating", "data toggles", "clock toggles", "pJ/step", "pJ/syn op", "data pJ",
               "clock pJ", "min-energy Vdd", "pJ/step there"]
    body = []
    for r in rows:
        breakdown = r["breakdown_pj"]
        body.append([f"{r['activity']:g}", r["gating"], str(r["data_toggles"]), str(r["clock_toggles"]),
                     f"{r['energy_per_step_pj']:.1f}",
                     "-" if r["energy_per_synaptic_op_pj"] is None else f"{r['energy_per_synaptic_op_pj']:.2f}",
                     f"{sum(v for k, v in breakdown.items() if k.startswith('data.')):.0f}",
                     f"{sum(v for k, v in breakdown.items() if k.startswith('clock.')):.0f}",
                     f"{r['minimum_energy_point']['vdd']:.3f} V",
                     f"{r['minimum_energy_point']['energy_per_step_pj']:.2f}"])
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


def _float_list(name, text):
    try:
        return [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a comma-separated list of numbers") from None


def _check_range(name, value, lo, hi):
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")


def cmd_accuracy(args):
    from .golden.activation import standard_specs
    if args.input_format:
        specs = [_activation_spec(args)]
    else:
        specs = standard_specs(functions=args.functions)
    rows = []
    for spec in specs:
        plan = spec.plan()
        rows.append({"function": spec.function, "impl": spec.impl,
                     "input_format": str(spec.input_format), "output_format": str(spec.output_format),
                     "segments": plan.segments, "table_entries": plan.table_entries(),
                     "table_bits": plan.table_bits(), **plan.accuracy.to_dict()})
    if args.json:
        _emit_json({"rows": rows, "all_meet_goal": all(r["meets_goal"] for r in rows)}, args.json)
    if args.json != "-":
        print(format_accuracy_table(rows, markdown=args.markdown))
    return EXIT_OK if all(r["meets_goal"] for r in rows) else EXIT_FAIL


def format_accuracy_table(rows, *, markdown=False) -> str:
    headers = ["function", "impl", "input", "output", "segments", "table bits",
               "max err (LSB)", "mean err (LSB)", "monotonic", "goal met"]
    body = [[r["function"], r["impl"], r["input_format"], r["output_format"],
             "-" if r["segments"] is None else str(r["segments"]), str(r["table_bits"]),
             f"{r['max_error_lsb']:.3f}", f"{r['mean_error_lsb']:.3f}",
             {True: "yes", False: "NO", None: "n/a"}[r["monotonic"]],
             "yes" if r["meets_goal"] else "NO"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


# -- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="subtile", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="write Verilog and a manifest")
    generate_kinds = generate.add_subparsers(dest="kind", required=True, metavar="KIND")
    gen_act = generate_kinds.add_parser("activation", help="one smooth-activation unit")
    _add_activation_options(gen_act)
    gen_act.add_argument("-o", "--output-dir", required=True, help="folder for <top>.v and manifest.json")
    gen_act.set_defaults(handler=cmd_generate_activation)

    gen_tile = generate_kinds.add_parser("tile", help="a neuromorphic tile")
    gen_tile.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    gen_tile.add_argument("-o", "--output-dir", required=True, help="folder for <name>.v and manifest.json")
    gen_tile.set_defaults(handler=cmd_generate_tile)

    sim = commands.add_parser("sim", help="simulate generated RTL under Verilator against the golden model")
    sim_kinds = sim.add_subparsers(dest="kind", required=True, metavar="KIND")
    sim_tile = sim_kinds.add_parser("tile", help="seeded random stimulus through a tile (the default kind)")
    sim_tile.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    sim_tile.add_argument("--steps", type=_int_arg("steps"), default=100)
    sim_tile.add_argument("--activity", type=_float_arg("activity"), default=0.1,
                          help="fraction of input addresses sending an event per step (0..1)")
    sim_tile.add_argument("--seed", type=_int_arg("seed"), default=1)
    sim_tile.add_argument("--idle", type=_float_arg("idle"), default=0.0,
                          help="probability of an idle cycle before each input event")
    sim_tile.add_argument("--stall", type=_float_arg("stall"), default=0.0,
                          help="probability of output backpressure in each cycle")
    sim_tile.add_argument("--lib", default=None, help="Liberty file for the energy line (default: sky130 HD tt)")
    sim_tile.add_argument("--work-dir", default=None)
    sim_tile.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                          help="print (or write to FILE) the report as one JSON object")
    sim_tile.set_defaults(handler=cmd_sim_tile)
    sim_act = sim_kinds.add_parser("activation", help="every input code of one activation unit")
    _add_activation_options(sim_act)
    sim_act.add_argument("--work-dir", default=None, help="folder for Verilog, samples and results")
    sim_act.add_argument("--seed", type=_int_arg("seed"), default=None)
    sim_act.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                         help="print (or write to FILE) the report as JSON")
    sim_act.set_defaults(handler=cmd_sim_activation)

    energy = commands.add_parser("energy", help="switching-energy estimate from toggles counted in simulation")
    energy.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    energy.add_argument("--steps", type=_int_arg("steps"), default=100)
    energy.add_argument("--activity", default="0.0,0.1,0.5,1.0",
                        help="comma-separated fractions of input addresses sending an event per step")
    energy.add_argument("--seed", type=_int_arg("seed"), default=1)
    energy.add_argument("--lib", default=None, help="Liberty file (default: sky130_fd_sc_hd tt 1.80 V)")
    energy.add_argument("--work-dir", default=None)
    energy.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="print (or write to FILE) the report as JSON")
    energy.set_defaults(handler=cmd_energy)

    export = commands.add_parser("export", help="RTL export for FPGA and ASIC flows (files, .f, FuseSoC core, SDC)")
    export.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    export.add_argument("-o", "--output-dir", required=True, help="folder to write")
    export.add_argument("--single-file", action="store_true", help="one Verilog file instead of one per module")
    export.add_argument("--sv", action="store_true", help="add the SystemVerilog struct wrapper and assertions")
    export.add_argument("--period-ns", type=_float_arg("period-ns"), default=20.0, help="SDC clock period")
    export.add_argument("--icg-cell", default=None, help="clock-gate cell (default sky130_fd_sc_hd__dlclkp_1)")
    export.add_argument("--icg-pins", default=None, help="its pins CLOCK,ENABLE,GATED_CLOCK (default CLK,GATE,GCLK)")
    export.set_defaults(handler=lambda args: __import__("subtile.gen.export", fromlist=["run_command"]).run_command(args))

    synth = commands.add_parser("synth", help="synthesize the tile (Yosys, nextpnr; yowasp from PyPI)")
    synth.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    synth.add_argument("--target", default="generic", choices=["generic", "ice40", "ecp5", "sky130"])
    synth.add_argument("--device", default=None, help="FPGA device: ice40 hx8k (default), hx1k, up5k; "
                       "ecp5 45k (default), 12k, 25k, 85k")
    synth.add_argument("--lib", default=None, help="sky130: Liberty file (default: sky130_fd_sc_hd tt)")
    synth.add_argument("--icg-cell", default=None, help="sky130: clock-gate cell (default sky130_fd_sc_hd__dlclkp_1)")
    synth.add_argument("--icg-pins", default=None, help="its pins CLOCK,ENABLE,GATED_CLOCK (default CLK,GATE,GCLK)")
    synth.add_argument("--keep-gating", action="store_true",
                       help="FPGA: keep gating = icg (default: synthesize the bit-exact enable mode)")
    synth.add_argument("--no-cache", action="store_true", help="rerun even when a cached result exists")
    synth.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                       help="print (or write to FILE) the figures as JSON")
    synth.set_defaults(handler=lambda args: __import__("subtile.gen.synth", fromlist=["run_command"]).run_command(args))

    accuracy = commands.add_parser("accuracy", help="exhaustive accuracy of activation units (golden model)")
    _add_activation_options(accuracy)
    accuracy.set_defaults(input_format=None)
    accuracy.add_argument("--functions", nargs="*", default=None, help="restrict the standard matrix")
    accuracy.add_argument("--markdown", action="store_true", help="print a Markdown table")
    accuracy.add_argument("--json", default=None, metavar="FILE", help="write the rows as JSON ('-' = stdout)")
    accuracy.set_defaults(handler=cmd_accuracy)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `subtile sim --config ...` means the tile (the common case); `subtile sim activation` stays.
    if argv[:1] == ["sim"] and (len(argv) == 1 or argv[1].startswith("-")):
        argv.insert(1, "tile")
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"subtile: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("subtile: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
