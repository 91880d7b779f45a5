"""The ``subtile`` command.

Every parameter is validated before any tool runs; a bad value gives one line naming the
parameter and the allowed range, and exit code 2. A missing or broken tool (C++ compiler,
make, Verilator) gives one line saying what to install, and exit code 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from subtile.cli import run
from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TOOL = 0, 1, 2, 3


# -- shared option groups -------------------------------------------------------------------------
def _add_activation_options(parser):
    from subtile.spec.activation import FUNCTIONS, IMPLEMENTATIONS
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
    from subtile.spec.activation import ActivationSpec
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
    from subtile.gen.activation import generate_activation
    from subtile.gen.verilog import check_identifier
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
    from subtile.sim.activation_bench import simulate
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
    from subtile.spec.config import MeshConfig, TileConfig, load_config
    config = load_config(args.config) if args.config else TileConfig()
    if isinstance(config, MeshConfig):
        raise ConfigError(f"config: {args.config} describes a mesh ([mesh]); this command takes a tile")
    return config


def _any_config(args):
    """The tile or mesh config named by --config (default: the default tile)."""
    from subtile.spec.config import TileConfig, load_config
    return load_config(args.config) if args.config else TileConfig()


def cmd_generate_tile(args):
    from subtile.gen.tile import generate_tile
    config = _tile_config(args)
    design = generate_tile(config)
    path = design.write(args.output_dir)
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: {config.neurons} neurons x {config.branches} branches x {config.synapses} synapses, "
          f"{config.addresses} addresses, gating {config.gating}, verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def cmd_sim_tile(args):
    from subtile.spec.config import MeshConfig
    from subtile.golden.tile import random_stimulus
    from subtile.sim.tile_bench import StepStimulus, simulate
    config = _any_config(args)
    if isinstance(config, MeshConfig):
        return cmd_sim_mesh(args, config)
    work_dir = _sim_work_dir(args, config, "tile.toml")
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
    report["seed"] = args.seed
    report["waves"] = None
    if not run.passed and args.waves:
        # Waves only for a failing run: the tracing build is separate and much slower.
        rerun = simulate(config, stimulus, work_dir=work_dir / "waves", seed=args.seed, idle=args.idle,
                         stall=args.stall, waves=Path(args.waves))
        report["waves"] = rerun.waves
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
            print(f"seed: {args.seed}")
            print(f"reproduce: {report['reproduce']}")
            if report.get("waves"):
                print(f"waves: {report['waves']}")
    return EXIT_OK if run.passed else EXIT_FAIL


def _energy_estimate(config, run, lib) -> dict:
    """Energy of a tile or mesh run from its toggle counts: sky130 (or --lib), else Horowitz's
    45 nm figures when no Liberty file can be found."""
    from subtile.power.energy import estimate
    from subtile.power.tech_model import TechModel
    try:
        tech, name = TechModel.from_liberty(lib), Path(lib).name if lib else "sky130_fd_sc_hd tt"
    except ConfigError:
        if lib:
            raise
        tech, name = TechModel.fallback(), "Horowitz 45 nm fallback, no Liberty found"
    result = estimate(config, run, tech, calibration=_calibration(lib, None, False)).to_dict()
    return {"energy_per_step_pj": result["energy_per_step_pj"],
            "energy_per_synaptic_op_pj": result["energy_per_synaptic_op_pj"],
            "vdd": tech.vdd, "technology": name, "breakdown_pj": result["breakdown_pj"],
            **({"energy_by_kind_pj": result["energy_by_kind_pj"]} if "energy_by_kind_pj" in result else {})}


def _calibration(lib, path, uncalibrated):
    """The gate-level calibration to apply: ``path``, else the shipped sky130 one when the
    default Liberty is used; none with ``--uncalibrated`` or another Liberty without ``path``."""
    from subtile.power.energy import Calibration
    if uncalibrated:
        return None
    return Calibration.load(path) if path else Calibration.for_liberty(lib)


def cmd_energy(args):
    from subtile.golden.tile import random_stimulus
    from subtile.sim.tile_bench import StepStimulus, TileCase
    from subtile.power.toggle_capture import capture_bench, coverage_report, write_run_saifs
    from subtile.spec.config import MeshConfig
    config = _any_config(args)
    if isinstance(config, MeshConfig):
        return cmd_energy_mesh(args, config)
    activities, vdd_values = _energy_options(args)
    tech, voltage, calibration, work_dir = _energy_setup(args)
    # The three gating modes side by side in one build, each run on the same stimulus.
    configs = [config.replace(gating=mode, name=f"{config.name}_{mode}") for mode in ("icg", "enable", "none")]
    bench = capture_bench(configs, capture=args.capture, saif=bool(args.saif), name=f"{config.name}_energy")
    rows, captured = [], {}
    for activity in activities:
        stimulus = [StepStimulus(e) for e in random_stimulus(config, args.steps, activity, args.seed)]
        runs = bench.run({i: TileCase(stimulus, seed=args.seed, read_state=False) for i in range(len(configs))},
                         work_dir=work_dir / f"activity_{activity:g}")
        if args.capture == "coverage":
            captured[f"{activity:g}"] = coverage_report(bench, runs)
        if args.saif:
            saif = Path(args.saif)
            captured.setdefault("saif", []).extend(
                str(p) for p in write_run_saifs(bench, runs, saif.with_name(f"{saif.stem}_{activity:g}{saif.suffix}"),
                                                scope=args.saif_scope))
        measured = _energy_rows(configs, runs, activity, tech, voltage, calibration, vdd_values, args.delay_weight)
        if measured is None:
            return EXIT_FAIL
        rows.extend(measured)
    report = {"config": config.to_dict(), "steps": args.steps, "seed": args.seed,
              "technology": tech.to_dict(), "delay_weight_pj_per_s": args.delay_weight,
              "calibration": calibration.source if calibration else None,
              "capture": args.capture, "captured": captured,
              "rows": rows, "proportionality": _proportionality(rows)}
    plots = _energy_plots(rows, Path(args.plot), config.name) if args.plot else []
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(format_energy_table(rows))
        print(f"calibration: {calibration.source}" if calibration else
              "uncalibrated: registers, unit-boundary nets and clocks only (logic inside units not counted)")
        _print_energy_summary(report, vdd_values, args.delay_weight, plots)
        for path in captured.get("saif", []):
            print(f"saif: {path} (tile at scope {args.saif_scope})")
        for activity, tiles in ((a, t) for a, t in captured.items() if a != "saif"):
            for name, table in tiles.items():
                differing = {u: v for u, v in table["units"].items() if v["fast"] != v["coverage"]}
                print(f"coverage at activity {activity}, {name}: fast counters and Verilator toggle coverage "
                      + ("agree on every unit" if not differing else f"differ on {', '.join(differing)}"))
    return EXIT_OK


def _energy_options(args):
    """Steps, activities, supplies and delay weight of `subtile energy`, checked."""
    _check_range("steps", args.steps, 1, 100_000)
    activities = _float_list("activity", args.activity)
    for activity in activities:
        _check_range("activity", activity, 0.0, 1.0)
    vdd_values = _vdd_range(args.vdd) if args.vdd else None
    _check_range("delay-weight", args.delay_weight, 0.0, 1e30)
    return activities, vdd_values


def _energy_setup(args):
    """Technology, voltage model, calibration and work folder of `subtile energy`."""
    from subtile.power.tech_model import TechModel
    from subtile.power.voltage import VoltageModel
    tech = TechModel.from_liberty(args.lib) if args.lib else TechModel.from_liberty()
    voltage = VoltageModel(vdd_nominal=tech.vdd)
    calibration = _calibration(args.lib, args.calibration, args.uncalibrated)
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-energy-"))
    return tech, voltage, calibration, work_dir


def _energy_rows(configs, runs, activity, tech, voltage, calibration, vdd_values, delay_weight):
    """One report row per run (a tile or mesh config each), or ``None`` after printing the first
    run that does not match the golden model."""
    from subtile.power.energy import estimate
    rows = []
    for index, run in runs.items():
        if not run.passed:
            gating = getattr(configs[index], "gating", None) or configs[index].tile.gating
            print(f"FAIL {gating} at activity {activity}: {run.mismatch}", file=sys.stderr)
            return None
        result = estimate(configs[index], run, tech, voltage=voltage, calibration=calibration)
        row = {"activity": activity, **result.to_dict()}
        if vdd_values is not None:
            row["vdd_sweep"] = result.voltage_sweep(vdd_values, voltage, delay_weight=delay_weight)
        rows.append(row)
    return rows


def _print_energy_summary(report, vdd_values, delay_weight, plots) -> None:
    """The proportionality lines, the voltage table and the plot paths of `subtile energy`."""
    for mode, ratio in report["proportionality"].items():
        print(f"{mode}: energy per step at activity 0.1 is {100 * ratio:.1f} % of that at 1.0")
    if vdd_values is not None:
        row = _voltage_row(report["rows"])
        print(f"\nicg at activity {row['activity']:g} versus Vdd (delay weight {delay_weight:g} pJ/s):")
        print(format_voltage_table(row["vdd_sweep"]))
    for path in plots:
        print(f"plot: {path}")


def _mesh_gating(config, mode: str):
    """``config`` with every tile in gating ``mode`` (the routers have no gates in any mode)."""
    return config.replace(name=f"{config.name}_{mode}", tile=config.tile.replace(gating=mode),
                          tiles=tuple(t.replace(gating=mode) for t in config.tiles))


def cmd_energy_mesh(args, config):
    """`subtile energy --config mesh.toml`: the tile command's rows for the whole mesh, with
    every tile, router and network interface in the JSON (``blocks``)."""
    import tomllib
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.sim.mesh_bench import MeshBench, MeshCase, encode_mesh_stimulus
    activities, vdd_values = _energy_options(args)
    if args.capture != "fast" or args.saif:
        raise ConfigError("capture: a mesh is counted by the fast counters only (--capture coverage and "
                          "--saif take a tile config)")
    tech, voltage, calibration, work_dir = _energy_setup(args)
    stimuli = {a: random_mesh_stimulus(config, args.steps, a, args.seed) for a in activities}
    # Buffers sized for the longest program (powers of two, at least the defaults' 1024: few
    # distinct builds); a tile emits at most one event per neuron and step.
    words = max(len(encode_mesh_stimulus(config, s, seed=args.seed)[0]) for s in stimuli.values())
    responses = args.steps * max(config.tile_config(i).neurons for i in range(config.count)) + 1
    depth = lambda n: max(1024, 1 << (int(n) - 1).bit_length())
    # The three gating modes side by side in one build, each run on the same stimulus.
    configs = [_mesh_gating(config, mode) for mode in ("icg", "enable", "none")]
    bench = MeshBench(configs, name=f"{config.name}_energy", stimulus_depth=depth(words),
                      response_depth=depth(responses))
    rows = []
    for activity in activities:
        runs = bench.run({i: MeshCase(stimuli[activity], seed=args.seed) for i in range(len(configs))},
                         work_dir=work_dir / f"activity_{activity:g}")
        measured = _energy_rows(configs, runs, activity, tech, voltage, calibration, vdd_values, args.delay_weight)
        if measured is None:
            return EXIT_FAIL
        rows.extend(measured)
    report = {"config": tomllib.loads(config.to_toml()), "steps": args.steps, "seed": args.seed,
              "technology": tech.to_dict(), "delay_weight_pj_per_s": args.delay_weight,
              "calibration": calibration.source if calibration else None, "capture": args.capture,
              "rows": rows, "proportionality": _proportionality(rows)}
    plots = _energy_plots(rows, Path(args.plot), config.name) if args.plot else []
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(f"{config.name}: {config.width} x {config.height} tiles, {args.steps} steps, seed {args.seed}; "
              f"the gating mode is the tiles' (routers and interfaces are on the root clock in every mode)")
        print(format_mesh_energy_table(rows))
        row = max((r for r in rows if r["gating"] == "icg"), key=lambda r: r["activity"])
        print(f"\nper block, icg at activity {row['activity']:g} (pJ per step):")
        print(format_block_table(row))
        print(f"tiles: calibration {calibration.source}" if calibration else
              "tiles: uncalibrated (registers, unit-boundary nets and clocks only)")
        print("routers and interfaces: no gate-level calibration (Liberty per-toggle model: registers, FIFO "
              "words, link nets, every flop clocked every cycle); per block in the JSON (rows[].blocks)")
        _print_energy_summary(report, vdd_values, args.delay_weight, plots)
    return EXIT_OK


def format_mesh_energy_table(rows) -> str:
    headers = ["activity", "gating", "data toggles", "clock toggles", "pJ/step", "pJ/syn op", "tiles pJ",
               "routers pJ", "interfaces pJ", "pJ/packet (net)", "min-energy Vdd", "pJ/step there"]
    body = []
    for r in rows:
        kinds = r["energy_by_kind_pj"]
        per_packet = r["network_energy_per_packet_pj"]
        body.append([f"{r['activity']:g}", r["gating"], str(r["data_toggles"]), str(r["clock_toggles"]),
                     f"{r['energy_per_step_pj']:.1f}",
                     "-" if r["energy_per_synaptic_op_pj"] is None else f"{r['energy_per_synaptic_op_pj']:.2f}",
                     f"{kinds.get('tile', 0.0):.0f}", f"{kinds.get('router', 0.0):.0f}",
                     f"{kinds.get('interface', 0.0):.0f}", "-" if per_packet is None else f"{per_packet:.1f}",
                     f"{r['minimum_energy_point']['vdd']:.3f} V",
                     f"{r['minimum_energy_point']['energy_per_step_pj']:.2f}"])
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


def format_block_table(row) -> str:
    """One line per block of a mesh row: flops, data, clock and total energy per step."""
    headers = ["block", "flops", "data toggles", "data pJ", "clock pJ", "total pJ", "calibrated"]
    steps = row["steps"] or 1
    body = [[name, str(b["flops"]), str(b["data_toggles"]), f"{sum(b['data_pj'].values()) / steps:.1f}",
             f"{sum(b['clock_pj'].values()) / steps:.1f}", f"{b['energy_pj'] / steps:.1f}",
             "yes" if b["calibrated"] else "no"] for name, b in row["blocks"].items()]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def _vdd_range(text) -> list[float]:
    """``START:STOP:STEP`` (inclusive) or one value, in V; 0.05 <= START < STOP <= 5."""
    parts = _float_list("vdd", str(text).replace(":", ","))
    if len(parts) == 1:
        parts = [parts[0], parts[0], 1.0]
    if len(parts) != 3 or not (0.05 <= parts[0] <= parts[1] <= 5.0) or not 0 < parts[2] <= 5.0:
        raise ConfigError(f"vdd: {text!r} is not START:STOP:STEP with 0.05 <= START <= STOP <= 5 V "
                          f"and 0 < STEP <= 5 V")
    count = int(round((parts[1] - parts[0]) / parts[2])) + 1
    if count > 10_000:
        raise ConfigError(f"vdd: {text!r} gives {count} supplies; at most 10000")
    return [round(parts[0] + i * parts[2], 9) for i in range(count) if parts[0] + i * parts[2] <= parts[1] + 1e-9]


def _voltage_row(rows) -> dict:
    """The icg row shown against Vdd: activity 0.1 when it ran, else the first activity."""
    icg = [r for r in rows if r["gating"] == "icg"]
    return next((r for r in icg if r["activity"] == 0.1), icg[0])


def _energy_plots(rows, out_dir: Path, name: str) -> list[Path]:
    from subtile.power.plots import plot_activity, plot_voltage
    paths = plot_activity(rows, out_dir, title=f"{name}: energy per step versus activity")
    if any("vdd_sweep" in r for r in rows):
        activity = _voltage_row(rows)["activity"]
        sweeps = {r["gating"]: (r["vdd_sweep"], r["minimum_energy_point"])
                  for r in rows if r["activity"] == activity}
        paths += plot_voltage(sweeps, out_dir, title=f"{name} at activity {activity:g}: energy and delay versus Vdd")
    return paths


def format_voltage_table(sweep) -> str:
    headers = ["Vdd", "pJ/step", "leakage pJ", "step time", "max clock", "EDP pJ*s", "EDS pJ", "EDD"]
    body = [[f"{r['vdd']:.3f}", f"{r['energy_per_step_pj']:.2f}", f"{r['leakage_pj']:.3f}",
             f"{r['step_time_s']:.3g} s", f"{r['max_frequency_hz'] / 1e6:.4g} MHz", f"{r['edp_pj_s']:.3g}",
             f"{r['eds_pj']:.4g}", f"{r['edd']:.3f}"] for r in sweep]
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    return "\n".join(["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
                     + ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in body])


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


def cmd_mutate(args):
    from subtile.mutate.mutation import check_count, format_report, load_equivalents, run_mutation_testing
    config = _tile_config(args)
    equivalents = load_equivalents(args.equivalent) if args.equivalent else []
    check_count(args.n)
    _check_range("steps", args.steps, 2, 10_000)
    _check_range("harnesses", args.harnesses, 1, 4)
    if args.db:
        from subtile.store import ResultStore
        ResultStore(args.db, run="-").close()     # a bad database is refused before any tool runs
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-mutate-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    log = (lambda *a, **k: None) if args.quiet else (lambda text: print(text, flush=True))
    report = run_mutation_testing(config, count=args.n, seed=args.seed, steps=args.steps, work_dir=work_dir,
                                  db=Path(args.db) if args.db else None, harnesses=args.harnesses, log=log,
                                  equivalents=equivalents)
    text = format_report(report)
    report["reproduce"] = (f"subtile mutate --config {args.config or '(default tile)'} -n {args.n} "
                           f"--seed {args.seed} --steps {args.steps}")
    (work_dir / "mutation.json").write_text(json.dumps(report, indent=2) + "\n")
    (work_dir / "mutation.txt").write_text(text + "\n")
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(text)
        print(f"report: {work_dir / 'mutation.txt'} and {work_dir / 'mutation.json'}")
    if args.min_score is not None and (report["score_without_equivalent"] or 0) < args.min_score:
        return EXIT_FAIL
    return EXIT_OK


def cmd_accuracy(args):
    from subtile.spec.activation import standard_specs
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


# -- the mesh ------------------------------------------------------------------------------------
def _mesh_config(args):
    from subtile.spec.config import MeshConfig, load_config
    config = load_config(args.config) if args.config else MeshConfig()
    if not isinstance(config, MeshConfig):
        raise ConfigError(f"config: {args.config} has no [mesh] table; `subtile generate tile` takes a tile")
    return config


def cmd_generate_mesh(args):
    from subtile.gen.mesh import generate_mesh
    config = _mesh_config(args)
    design = generate_mesh(config)
    path = design.write(args.output_dir)
    packets = sum(len(d) for tile in design.manifest_extra["axons"] for d in tile)
    print(f"wrote {path} and {Path(args.output_dir) / 'manifest.json'}")
    print(f"{design.top}: {config.width} x {config.height} tiles, FIFO depth {config.fifo_depth}, "
          f"{packets} axon-table entries, inputs at {list(map(list, config.inputs))}, outputs at "
          f"{list(map(list, config.outputs))}, verilog sha256 {design.sha256[:16]}")
    return EXIT_OK


def _sim_work_dir(args, config, config_file: str) -> Path:
    """Check the options shared by tile and mesh simulations; make the work folder and write the
    config that ran into it."""
    _check_range("steps", args.steps, 1, 100_000)
    _check_range("activity", args.activity, 0.0, 1.0)
    _check_range("idle", args.idle, 0.0, 0.99)
    _check_range("stall", args.stall, 0.0, 0.99)
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-sim-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / config_file).write_text(config.to_toml())
    return work_dir


def cmd_sim_mesh(args, config):
    """`subtile sim --config mesh.toml`: the tile command's options, output and JSON keys, plus the
    network's packets and router counters."""
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.sim.mesh_bench import simulate_mesh
    work_dir = _sim_work_dir(args, config, "mesh.toml")
    stimulus = random_mesh_stimulus(config, args.steps, args.activity, args.seed)
    start = time.perf_counter()
    run = simulate_mesh(config, stimulus, work_dir=work_dir, seed=args.seed, idle=args.idle, stall=args.stall)
    report = run.summary()
    delivered = run.events_in + run.packets
    report["energy"] = _energy_estimate(config, run, args.lib)
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["simulation_seconds"] = round(run.seconds, 3)
    report["events_per_second"] = round(run.events_in / run.seconds) if run.seconds else None
    report["delivered_per_second"] = round(delivered / run.seconds) if run.seconds else None
    report["run_cycles_per_second"] = round(run.cycles / run.run_seconds) if run.run_seconds else None
    report["run_delivered_per_second"] = round(delivered / run.run_seconds) if run.run_seconds else None
    report["work_dir"] = str(work_dir)
    report["reproduce"] = (f"subtile sim --config {work_dir / 'mesh.toml'} --steps {args.steps} "
                           f"--activity {args.activity} --seed {args.seed} --idle {args.idle} --stall {args.stall}")
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(("PASS" if run.passed else "FAIL") + f" {config.name} ({config.width} x {config.height} tiles): "
              f"{run.steps} steps, {run.events_in} events in, {run.events_out} events out, "
              f"{run.packets} packets, {run.synaptic_ops} synaptic ops")
        print(f"{run.cycles} cycles in {run.seconds:.2f} s of simulation ({report['cycles_per_second']} cycles/s, "
              f"{report['events_per_second']} events/s; {report['run_cycles_per_second']} cycles/s and "
              f"{report['run_delivered_per_second']} delivered events/s without simulator start-up); build "
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

    gen_mesh = generate_kinds.add_parser("mesh", help="a mesh of tiles joined by event routers")
    gen_mesh.add_argument("--config", default=None, help="mesh TOML with a [mesh] table (default: a 2 x 2 mesh)")
    gen_mesh.add_argument("-o", "--output-dir", required=True, help="folder for <name>.v and manifest.json")
    gen_mesh.set_defaults(handler=cmd_generate_mesh)

    sim = commands.add_parser("sim", help="simulate generated RTL under Verilator against the golden model")
    sim_kinds = sim.add_subparsers(dest="kind", required=True, metavar="KIND")
    sim_tile = sim_kinds.add_parser("tile", help="seeded random stimulus through a tile or a mesh (the default kind)")
    sim_tile.add_argument("--config", default=None,
                          help="tile TOML, or mesh TOML with a [mesh] table (default: the documented default tile)")
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
    sim_tile.add_argument("--waves", default=None, metavar="PATH",
                          help="when the run fails, rerun it with tracing and write its waves to PATH "
                               "(FST; VCD when liblz4-dev/zlib1g-dev are missing; the suffix says which)")
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
    energy.add_argument("--config", default=None,
                        help="tile TOML, or mesh TOML with a [mesh] table (default: the documented default tile)")
    energy.add_argument("--steps", type=_int_arg("steps"), default=100)
    energy.add_argument("--activity", default="0.0,0.1,0.5,1.0",
                        help="comma-separated fractions of input addresses sending an event per step")
    energy.add_argument("--seed", type=_int_arg("seed"), default=1)
    energy.add_argument("--lib", default=None, help="Liberty file (default: sky130_fd_sc_hd tt 1.80 V)")
    energy.add_argument("--vdd", default=None, metavar="START:STOP:STEP",
                        help="also sweep the supply, e.g. 0.2:1.8:0.05 (V): energy, delay, EDP/EDS/EDD per Vdd")
    energy.add_argument("--delay-weight", type=_float_arg("delay-weight"), default=0.0, metavar="PJ_PER_S",
                        help="weight of delay in the energy-delay sum E + w*D (pJ per second of step time)")
    energy.add_argument("--calibration", default=None, metavar="JSON",
                        help="per-unit gate-level factors (default: the shipped sky130 calibration with the "
                             "default Liberty; see docs/gate-level.md)")
    energy.add_argument("--uncalibrated", action="store_true",
                        help="report the structural RTL estimate without gate-level factors")
    energy.add_argument("--capture", default="fast", choices=["fast", "coverage"],
                        help="fast: counters inside the simulation (default); coverage: also Verilator toggle "
                             "coverage of every net, compared per unit (several times slower; calibration)")
    energy.add_argument("--saif", default=None, metavar="FILE",
                        help="also write a SAIF per activity and gating mode for power tools (FILE_<activity>_...)")
    energy.add_argument("--saif-scope", default="tb/dut", metavar="PATH",
                        help="instance path of the tile in the SAIF (default %(default)s)")
    energy.add_argument("--plot", default=None, metavar="DIR",
                        help="write PNG and SVG plots: energy versus activity (and versus Vdd with --vdd)")
    energy.add_argument("--work-dir", default=None)
    energy.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="print (or write to FILE) the report as JSON")
    energy.set_defaults(handler=cmd_energy)

    mutate = commands.add_parser("mutate", help="mutation testing: inject single faults into the tile RTL, "
                                 "report how many the regression catches")
    mutate.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    mutate.add_argument("-n", type=_int_arg("n"), default=50, help="number of mutants (default %(default)s)")
    mutate.add_argument("--seed", type=_int_arg("seed"), default=1, help="picks the mutants and the stimulus")
    mutate.add_argument("--steps", type=_int_arg("steps"), default=24, help="time steps per regression case")
    mutate.add_argument("--harnesses", type=_int_arg("harnesses"), default=4,
                        help="regression cases run side by side per mutant (1..4)")
    mutate.add_argument("--db", default=None, help="results database (default WORK_DIR/mutants.db); "
                        "a killed run started again resumes from it")
    mutate.add_argument("--work-dir", default=None, help="folder for the build, runs and mutation.txt/.json")
    mutate.add_argument("--min-score", type=_float_arg("min-score"), default=None,
                        help="exit 1 when the fraction of mutants killed (analysed equivalent ones left "
                             "out) is below this")
    mutate.add_argument("--equivalent", default=None, metavar="TOML",
                        help="analysed surviving mutants to leave out of the score "
                             "(docs/mutation-equivalents.toml for the default tile)")
    mutate.add_argument("--quiet", action="store_true", help="no line per mutant")
    mutate.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="print (or write to FILE) the report as JSON")
    mutate.set_defaults(handler=cmd_mutate)

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

    sweep = commands.add_parser("sweep", help="bit-width / design-space sweep: energy, area, accuracy per point "
                                "into a resumable SQLite database")
    sweep.add_argument("sweep", help="sweep TOML (see subtile.explore.sweep)")
    sweep.add_argument("-j", "--jobs", type=_int_arg("jobs"), default=1, help="local worker processes")
    sweep.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                       help="run the points on this Dask distributed scheduler (pip install subtile[cluster])")
    sweep.add_argument("--db", default=None, help="results database (default: the sweep file with .sqlite); "
                       "a killed sweep started again resumes from it")
    sweep.add_argument("--work-dir", default=None, help="folder for builds and runs (default: next to the db)")
    sweep.add_argument("--export", action="append", metavar="FILE.csv|FILE.parquet",
                       help="also write the sweep's points as CSV or Parquet (repeatable)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=lambda args: __import__("subtile.explore.sweep", fromlist=["run_command"]).run_command(args))

    report = commands.add_parser("report", help="HTML report of a sweep database: Pareto fronts, rankings, table")
    report.add_argument("db", help="results database written by subtile sweep")
    report.add_argument("-o", "--output-dir", required=True, help="folder for index.html, plots, CSV/Parquet")
    report.add_argument("--run", default=None, help="sweep name in the database (default: all)")
    report.add_argument("--area", default=None, help="area metric column (default: sky130 um^2, else generic cells)")
    report.add_argument("--breakdown", type=_int_arg("breakdown"), default=4,
                        help="points with an energy breakdown plot (the best by EDP)")
    report.add_argument("--points", default=None, metavar="KEY,KEY",
                        help="key prefixes of the points to show in the energy breakdown instead")
    report.set_defaults(handler=lambda args: __import__("subtile.explore.report", fromlist=["run_command"]).run_command(args))

    accuracy = commands.add_parser("accuracy", help="exhaustive accuracy of activation units (golden model)")
    _add_activation_options(accuracy)
    accuracy.set_defaults(input_format=None)
    accuracy.add_argument("--functions", nargs="*", default=None, help="restrict the standard matrix")
    accuracy.add_argument("--markdown", action="store_true", help="print a Markdown table")
    accuracy.add_argument("--json", default=None, metavar="FILE", help="write the rows as JSON ('-' = stdout)")
    accuracy.set_defaults(handler=cmd_accuracy)

    digits = commands.add_parser("digits", help="handwritten digits (scikit-learn's 8x8 set) classified by a "
                                                "2-tile RTL mesh: accuracy and energy per inference")
    digits.add_argument("--hidden", type=_int_arg("hidden"), default=24, help="hidden neurons (2..64)")
    digits.add_argument("--weight-bits", type=_int_arg("weight-bits"), default=8, help="weight width (2..16)")
    digits.add_argument("--sweep-bits", default=None, metavar="LIST",
                        help="run each weight width of LIST (e.g. 3,4,5,6,7,8) instead of --weight-bits")
    digits.add_argument("--steps", type=_int_arg("steps"), default=8, help="time steps T per image (2..64)")
    digits.add_argument("--delta", type=_int_arg("delta"), default=1, help="event threshold in payload LSBs")
    digits.add_argument("--leak-shift", type=_int_arg("leak-shift"), default=1, help="membrane leak k (0..6)")
    digits.add_argument("--seed", type=_int_arg("seed"), default=0, help="split and training seed")
    digits.add_argument("--images", type=_int_arg("images"), default=None,
                        help="only the first N test images (default: the whole test split, 360)")
    digits.add_argument("--golden-only", action="store_true", help="no RTL run (float and golden accuracy only)")
    digits.add_argument("--no-energy", action="store_true", help="RTL run without the tile energy runs")
    digits.add_argument("--lib", default=None, help="Liberty file (default: sky130_fd_sc_hd tt)")
    digits.add_argument("--work-dir", default=None, help="build and run folder (default: a temporary one)")
    digits.add_argument("--plot", default=None, metavar="DIR", help="with --sweep-bits: write the plot to DIR")
    digits.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="print (or write to FILE) the result as JSON")
    digits.set_defaults(handler=cmd_digits)
    run.register(commands)
    return parser


def cmd_digits(args):
    from subtile.workloads.digits import DigitsSpec
    from subtile.workloads.digits_rtl import evaluate, plot_sweep
    if args.sweep_bits:
        try:
            bits = [int(b) for b in args.sweep_bits.split(",")]
        except ValueError:
            raise ConfigError(f"sweep-bits: {args.sweep_bits!r} is not a comma-separated list of integers") from None
    else:
        bits = [args.weight_bits]
    specs = [DigitsSpec(hidden=args.hidden, weight_bits=b, steps=args.steps, delta=args.delta,
                        leak_shift=args.leak_shift, seed=args.seed) for b in bits]
    if args.images is not None and not 1 <= args.images <= 360:
        raise ConfigError(f"images: {args.images} is outside the allowed range 1..360")
    if args.plot and not args.sweep_bits:
        raise ConfigError("plot: needs --sweep-bits")
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-digits-"))
    rows = []
    for spec in specs:
        result = evaluate(spec, images=args.images, rtl=not args.golden_only, energy=not args.no_energy,
                          work_dir=work_dir / f"bits{spec.weight_bits}", lib=args.lib)
        rows.append(result.to_dict())
    report = rows[0] if len(rows) == 1 else {"rows": rows}
    if args.json:
        _emit_json(report, args.json)
    if args.json != "-":
        print(format_digits_table(rows))
        for row in rows:
            if row["mismatch"]:
                print(f"weight bits {row['weight_bits']}: RTL differs from the golden model: {row['mismatch']}")
    if args.plot:
        for path in plot_sweep(rows, Path(args.plot)):
            print(f"plot: {path}")
    failed = any(r["rtl_pass"] is False or (r["rtl_golden_agreement"] not in (None, 1.0)) for r in rows)
    return EXIT_FAIL if failed else EXIT_OK


def format_digits_table(rows) -> str:
    """A Markdown table of ``subtile digits`` rows."""
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f} %"

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    headers = ["weight bits", "formats (hidden, output)", "T", "delta", "float", "golden", "RTL",
               "RTL = golden", "events / inf.", "synaptic ops / inf.", "cycles / inf.", "energy / inf. (nJ)"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        lines.append("| " + " | ".join([
            str(r["weight_bits"]), ", ".join(r["weight_formats"]), str(r["steps"]), str(r["delta"]),
            pct(r["accuracy_float"]), pct(r["accuracy_golden"]), pct(r["accuracy_rtl"]),
            pct(r["rtl_golden_agreement"]), f"{r['events_per_inference']:.1f}",
            f"{r['synaptic_ops_per_inference']:.0f}", num(r["cycles_per_inference"], ".0f"),
            num(None if r["energy_per_inference_pj"] is None else r["energy_per_inference_pj"] / 1000, ".2f"),
        ]) + " |")
    return "\n".join(lines)


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
    except ToolchainError as error:
        # A missing or broken tool: one line saying what to install, no traceback.
        print(f"subtile: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    except KeyboardInterrupt:
        print("subtile: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
