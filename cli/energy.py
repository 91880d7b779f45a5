"""``subtile energy``: switching energy of a tile or mesh from toggles counted in simulation,
per activity and gating mode, optionally versus the supply."""

from __future__ import annotations

import sys
from pathlib import Path

import subtile.progress as progress
from subtile.cli import options
from subtile.cli.options import (aligned_table, EXIT_FAIL, EXIT_OK, add_config_option, add_contents_option, add_json_option,
                                 add_quiet_option, mesh_contents_arg,
                                 add_work_dir_option, any_config, check_range, emit_json, float_arg,
                                 float_list, int_arg, path_arg)
from subtile.errors import ConfigError

#: The instance path of the tile in the energy bench's SAIF files.
SAIF_SCOPE = "tb/dut"


def register(commands):
    energy = commands.add_parser("energy", help="switching-energy estimate from toggles counted in simulation")
    add_config_option(energy, "any")
    add_contents_option(energy)
    energy.add_argument("--steps", type=int_arg("steps"), default=100,
                        help="time steps per run (1..100000; default %(default)s)")
    energy.add_argument("--activity", default="0.0,0.1,0.5,1.0",
                        help="comma-separated fractions of input addresses sending an event per step")
    energy.add_argument("--seed", type=int_arg("seed"), default=1,
                        help="seed of the random stimulus (default %(default)s)")
    energy.add_argument("--lib", type=path_arg("lib", "file"), default=None,
                        help="Liberty file (default: sky130_fd_sc_hd tt 1.80 V)")
    energy.add_argument("--vdd", default=None, metavar="START:STOP:STEP",
                        help="also sweep the supply, e.g. 0.2:1.8:0.05 (V): energy, delay, EDP/EDS/EDD per Vdd")
    energy.add_argument("--delay-weight", type=float_arg("delay-weight"), default=0.0, metavar="PJ_PER_S",
                        help="weight of delay in the energy-delay sum E + w*D (pJ per second of step time)")
    energy.add_argument("--calibration", type=path_arg("calibration", "file"), default=None, metavar="JSON",
                        help="per-unit gate-level factors (default: the shipped sky130 calibration with the "
                             "default Liberty; see docs/gate-level.md)")
    energy.add_argument("--uncalibrated", action="store_true",
                        help="report the structural RTL estimate without gate-level factors")
    energy.add_argument("--capture", default="fast", choices=["fast", "coverage"],
                        help="fast: counters inside the simulation (default); coverage: also Verilator toggle "
                             "coverage of every net, compared per unit (several times slower; calibration)")
    energy.add_argument("--saif", type=path_arg("saif", "out"), default=None, metavar="FILE",
                        help="also write a SAIF per activity and gating mode for power tools (FILE_<activity>_...)")
    energy.add_argument("--saif-scope", default=None, metavar="PATH",
                        help=f"with --saif: instance path of the tile in the SAIF (default {SAIF_SCOPE})")
    energy.add_argument("--plot", type=path_arg("plot", "dir"), default=None, metavar="DIR",
                        help="write PNG and SVG plots: energy versus activity (and versus Vdd with --vdd)")
    add_work_dir_option(energy)
    add_json_option(energy)
    add_quiet_option(energy)
    energy.set_defaults(handler=run)


def run(args):
    from subtile.golden.tile import random_stimulus
    from subtile.sim.tile_bench import StepStimulus, TileCase
    from subtile.power.toggle_capture import capture_bench, coverage_report, write_run_saifs
    from subtile.spec.config import MeshConfig
    config = any_config(args)
    mesh_contents_arg(args, config)         # refuses --contents with a tile config
    if isinstance(config, MeshConfig):
        return run_mesh(args, config)
    activities, vdd_values = _energy_options(args)
    tech, voltage, calibration, work_dir = _energy_setup(args)
    # The three gating modes side by side in one build, each run on the same stimulus.
    configs = [config.replace(gating=mode, name=f"{config.name}_{mode}") for mode in ("icg", "enable", "none")]
    bench = capture_bench(configs, capture=args.capture, saif=bool(args.saif), name=f"{config.name}_energy")
    rows, captured = [], {}
    for number, activity in enumerate(activities, 1):
        progress.report(f"activity {activity:g} ({number} of {len(activities)}): {args.steps} steps in "
                        f"{len(configs)} gating modes")
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
        emit_json(report, args.json)
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
    """Steps, activities, supplies and delay weight of `subtile energy`, checked; options that
    contradict each other or do nothing refused."""
    if args.calibration and args.uncalibrated:
        raise ConfigError("calibration: --calibration and --uncalibrated contradict each other; give one")
    if args.saif_scope is not None and not args.saif:
        raise ConfigError("saif-scope: names the tile's scope in the SAIF and needs --saif")
    if args.saif_scope is None:
        args.saif_scope = SAIF_SCOPE
    check_range("steps", args.steps, 1, 100_000)
    activities = float_list("activity", args.activity)
    for activity in activities:
        check_range("activity", activity, 0.0, 1.0)
    vdd_values = _vdd_range(args.vdd) if args.vdd else None
    check_range("delay-weight", args.delay_weight, 0.0, 1e30)
    return activities, vdd_values


def _energy_setup(args):
    """Technology, voltage model, calibration and work folder of `subtile energy`."""
    from subtile.power.tech_model import TechModel
    from subtile.power.voltage import VoltageModel
    tech = TechModel.from_liberty(args.lib) if args.lib else TechModel.from_liberty()
    voltage = VoltageModel(vdd_nominal=tech.vdd)
    calibration = options.calibration(args.lib, args.calibration, args.uncalibrated)
    options.check_simulator()
    folder = options.work_dir(args, "energy")
    return tech, voltage, calibration, folder


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


def run_mesh(args, config):
    """`subtile energy --config mesh.toml`: the tile command's rows for the whole mesh, with
    every tile, router and network interface in the JSON (``blocks``)."""
    import tomllib
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.sim.mesh_bench import MeshBench, MeshCase, encode_mesh_stimulus
    activities, vdd_values = _energy_options(args)
    if args.capture != "fast" or args.saif:
        raise ConfigError("capture: a mesh is counted by the fast counters only (--capture coverage and "
                          "--saif take a tile config)")
    contents, axons = mesh_contents_arg(args, config)
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
                      response_depth=depth(responses), contents=[contents] * len(configs),
                      axons=[axons] * len(configs))
    rows = []
    for number, activity in enumerate(activities, 1):
        progress.report(f"activity {activity:g} ({number} of {len(activities)}): {args.steps} steps in "
                        f"{len(configs)} gating modes")
        runs = bench.run({i: MeshCase(stimuli[activity], seed=args.seed) for i in range(len(configs))},
                         work_dir=work_dir / f"activity_{activity:g}")
        measured = _energy_rows(configs, runs, activity, tech, voltage, calibration, vdd_values, args.delay_weight)
        if measured is None:
            return EXIT_FAIL
        rows.extend(measured)
    report = {"config": tomllib.loads(config.to_toml()), "steps": args.steps, "seed": args.seed,
              "technology": tech.to_dict(), "delay_weight_pj_per_s": args.delay_weight,
              "calibration": calibration.source if calibration else None, "capture": args.capture,
              "contents": args.contents, "rows": rows, "proportionality": _proportionality(rows)}
    plots = _energy_plots(rows, Path(args.plot), config.name) if args.plot else []
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(f"{config.name}: {config.width} x {config.height} tiles, {args.steps} steps, seed {args.seed}; "
              f"the network's gating mode is the tiles' (docs/architecture.md, \"Clock gating of the network\")")
        print(format_mesh_energy_table(rows))
        row = max((r for r in rows if r["gating"] == "icg"), key=lambda r: r["activity"])
        print(f"\nper block, icg at activity {row['activity']:g} (pJ per step):")
        print(format_block_table(row))
        print(f"tiles: calibration {calibration.source}" if calibration else
              "tiles: uncalibrated (registers, unit-boundary nets and clocks only)")
        print("routers and interfaces: no gate-level calibration (Liberty per-toggle model: registers, FIFO "
              "words, link nets, clock pulses per gate); per block in the JSON (rows[].blocks)")
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
    return aligned_table(headers, body)


def format_block_table(row) -> str:
    """One line per block of a mesh row: flops, data, clock and total energy per step."""
    headers = ["block", "flops", "data toggles", "data pJ", "clock pJ", "total pJ", "calibrated"]
    steps = row["steps"] or 1
    body = [[name, str(b["flops"]), str(b["data_toggles"]), f"{sum(b['data_pj'].values()) / steps:.1f}",
             f"{sum(b['clock_pj'].values()) / steps:.1f}", f"{b['energy_pj'] / steps:.1f}",
             "yes" if b["calibrated"] else "no"] for name, b in row["blocks"].items()]
    return aligned_table(headers, body)


def _vdd_range(text) -> list[float]:
    """``START:STOP:STEP`` (inclusive) or one value, in V; 0.05 <= START < STOP <= 5."""
    try:
        parts = float_list("vdd", str(text).replace(":", ","))
    except ConfigError:
        raise ConfigError(f"vdd: {text!r} is not START:STOP:STEP or one supply in V (e.g. 0.2:1.8:0.05)") from None
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
    return aligned_table(headers, body)


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
    return aligned_table(headers, body)
