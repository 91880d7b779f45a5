"""Gate-level calibration of a mesh router (issue 17), as :mod:`subtile.power.gate_level` does for
the tile.

One router of a :class:`~subtile.sim.mesh_bench.MeshBench` mesh is synthesized to sky130 HD cells
(:func:`~subtile.power.gate_level.synthesize_netlist`, the tile's flow: hierarchy kept through
mapping, clock gates mapped to ``dlclkp``); the netlist replaces the router's modules in the mesh
harness Verilog (same module name and ports, the toggle probes among them), and the whole mesh
runs the recorded traffic of a random stimulus under Verilator with ``--coverage-toggle`` on the
netlist only. The run is scored against the golden mesh model like the RTL (so the netlist is
checked equivalent on that traffic), and the harness's toggle counters, which see the same ports,
give the RTL estimate of that router (:func:`subtile.power.energy.mesh_blocks`) on the same run.

Each netlist net goes to a unit of :data:`~subtile.power.energy.ROUTER_GATE_LEVEL_GROUPS` by its
names (registers and named signals: FIFO words and heads, FIFO control, arbiter grants and
requests, output links, counters), an unnamed net to the unit of the first named net it feeds; a
clock net to the clock unit of the gate driving it (:func:`clock_unit`). The per-group factors
(gate-level over RTL energy at the busiest activity) are the router calibration
(``--write-calibration``; power/calibration/sky130_fd_sc_hd_tt_router.json ships one), with the
design fingerprint of the router (:func:`router_fingerprint`) so that a stale file is detected.
``--factors-from`` applies the factors of an earlier run to this one: the check out of sample on
another mesh size or FIFO depth.

    python -m subtile.power.router_gate_level [--config examples/mesh.toml] [--router X,Y]
        [--width W --height H --fifo-depth D] [--steps 20] [--activity 0.1,1.0] [--json out.json]
        [--write-calibration JSON] [--factors-from JSON]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from subtile.errors import ConfigError
from subtile.power.energy import ROUTER_GATE_LEVEL_GROUPS
from subtile.power.gate_level import (COVERAGE_ARGS, SYNTH_SCRIPT, _modules, gate_energy, icg_cell_verilog,
                                      net_toggles, subtract_coverage, synthesize_netlist)
from subtile.sim.mesh_bench import PUBLIC_SIGNALS, MeshBench, MeshCase
from subtile.spec.config import MeshConfig
from subtile.toolchain import runner

__all__ = ["RouterGateBench", "net_units", "clock_unit", "router_fingerprint", "check_router_calibration",
           "compare_router", "router_unit_table", "router_factors", "router_calibrated_ratio", "main"]

#: A net's unit from its names (any name of the net, first rule that matches wins). The FIFO's
#: storage words and head register (and the router's copy of each head) are ``fifo``; its
#: pointers, occupancy, flags and the gate enables it computes ``fifo_control``; the grant
#: registers, requests, routes and the arbiter/stall/router gate enables ``arbiter``; the output
#: ports ``links``; the packet, stall and occupancy counters ``counters`` (in this order: a net
#: with names of two units, such as a FIFO's ``r_rdy`` that is also a request, takes the first).
_NET_RULES = (
    ("counters", re.compile(r"(^|\.)((packets|stalls)_\w+_(low|high)|(forwarded|stalls|max_level)__\d+|"
                            r"level_after_\w+)$")),
    ("links", re.compile(r"(^|\.)outputs__\d+__(payload|valid)(\.\w+)?$")),
    ("arbiter", re.compile(r"(^|\.)(arb_\w+_(last|grant|any|advance)|(req|route|fire|pop)_\w+|"
                           r"g_(arb|stall|pkthi|stallhi)_\w+_en|g_router_en)$")),
    ("fifo_control", re.compile(r"(^|\.)(level|r_rdy|w_rdy|r_en|produce|consume|do_inner_read|empty|"
                                r"(word_\d+|head|fifo)_en|g_fifo_\w+_en)(\$\d+)?$")),
    ("fifo", re.compile(r"(^|\.)(storage\.word_\d+|head|r_data|head_(local|north|east|south|west)|stored)"
                        r"(\$\d+)?(\.\w+)?$")),
)

#: Clock-gate cell (its last ``icg_<domain>`` component) to the router's clock unit.
_CLOCK_RULES = (
    ("router", re.compile(r"^g_router$")), ("fifo", re.compile(r"^g_fifo_\w+$")),
    ("fifo_head", re.compile(r"^head$")), ("fifo_word", re.compile(r"^word_\d+$")),
    ("arbiter", re.compile(r"^g_arb_\w+$")), ("packets_high", re.compile(r"^g_pkthi_\w+$")),
    ("stalls", re.compile(r"^g_stall_\w+$")), ("stalls_high", re.compile(r"^g_stallhi_\w+$")),
)


def _named_unit(names) -> str | None:
    for unit, rule in _NET_RULES:
        if any(rule.search(name) for name in names):
            return unit
    return None


def clock_unit(cell: str) -> str:
    """``clock.<unit>`` of a router clock-gate cell (``icg_g_fifo_east.cell``,
    ``core.fifo_east.icg_word_0.cell``)."""
    found = re.findall(r"(?:^|\.)icg_(\w+)", cell)
    if found:
        for unit, rule in _CLOCK_RULES:
            if rule.match(found[-1]):
                return f"clock.{unit}"
    raise ValueError(f"netlist: clock gate {cell} gates no clock unit of the router")


def net_units(graph: dict) -> dict[int, str]:
    """Unit of every net bit of a router netlist graph (Yosys JSON module): by its names
    (:data:`_NET_RULES`), else the unit of the first named net it feeds through logic, else by
    the driving cell's place (a FIFO's storage, the rest of a FIFO, the router core's logic with
    the arbiter)."""
    names: dict[int, list[str]] = {}
    for net, info in graph["netnames"].items():
        for bit in info["bits"]:
            if not isinstance(bit, str):
                names.setdefault(bit, []).append(net.lstrip("\\"))
    outputs_of: dict[str, list[int]] = {}
    loads: dict[int, list[str]] = {}
    driver: dict[int, str] = {}
    for name, cell in graph["cells"].items():
        directions = cell.get("port_directions", {})
        for pin, bits in cell["connections"].items():
            for bit in bits:
                if isinstance(bit, str):
                    continue
                if directions.get(pin) == "output":
                    outputs_of.setdefault(name, []).append(bit)
                    driver[bit] = name
                else:
                    loads.setdefault(bit, []).append(name)
    units: dict[int, str | None] = {}

    def resolve(bit: int, seen: set) -> str | None:
        if bit in units:
            return units[bit]
        unit = _named_unit(names.get(bit, ()))
        if unit is None and bit not in seen:
            seen.add(bit)
            for cell in loads.get(bit, ()):
                for out in outputs_of.get(cell, ()):
                    unit = resolve(out, seen)
                    if unit:
                        break
                if unit:
                    break
        if unit is not None:
            units[bit] = unit
        return unit

    result = {}
    for bit in set(names) | set(driver) | set(loads):
        unit = resolve(bit, set())
        if unit is None:
            cell = driver.get(bit, "")
            unit = "fifo" if ".storage." in cell else "fifo_control" if re.match(r"core\.fifo_", cell) else "arbiter"
        result[bit] = unit
    return result


def _config_dict(config: MeshConfig) -> dict:
    """``config`` as the tables :meth:`MeshConfig.from_dict` reads (for the JSON files)."""
    return tomllib.loads(config.to_toml())


def _router_index(config: MeshConfig, router: tuple[int, int]) -> int:
    x, y = router
    if not (0 <= x < config.width and 0 <= y < config.height):
        raise ConfigError(f"router: ({x}, {y}) is outside the {config.width} x {config.height} mesh")
    return config.index(x, y)


class RouterGateBench(MeshBench):
    """A :class:`MeshBench` of one mesh whose router ``router`` (x, y) is its synthesized netlist,
    with toggle coverage of every netlist net (``coverage.dat`` in the run folder)."""

    def __init__(self, config: MeshConfig, router: tuple[int, int], *, lib: Path | None = None, **kwargs):
        super().__init__([config], **kwargs)
        self.router = tuple(router)
        _router_index(config, self.router)
        self.lib = lib
        self.netlist = None

    @property
    def router_module(self) -> str:
        return f"{self.name}.h0.mesh.network.router_{self.router[0]}_{self.router[1]}"

    def build(self, work_dir: Path) -> runner.Build:
        if self._build is None:
            from subtile.sim.mesh_harness import generate_mesh_bench
            design = generate_mesh_bench(self.configs, top=self.name, stimulus_depth=self.stimulus_depth,
                                         response_depth=self.response_depth, contents=self.contents,
                                         axons=self.axons, count_toggles=True)
            self._counters = design.manifest_extra["counters"]
            self.netlist = synthesize_netlist(design.verilog, self.router_module, lib=self.lib)
            work_dir = Path(work_dir)
            work_dir.mkdir(parents=True, exist_ok=True)
            top = self.router_module
            harness = "".join(text for name, text in _modules(design.verilog)
                              if not (name == top or name.startswith(top + ".")))
            files = [work_dir / f"{self.name}_harness.v", work_dir / f"{self.name}_cells.v",
                     work_dir / f"{self.name}_netlist.v"]
            files[0].write_text("/*verilator coverage_off*/\n" + harness)
            shutil.copyfile(self.netlist.models, files[1])
            shutil.copyfile(self.netlist.verilog, files[2])
            self._build = runner.build(files, design.top, public=PUBLIC_SIGNALS,
                                       build_args=[*COVERAGE_ARGS, "-Wno-PINMISSING", "-Wno-UNOPTFLAT"])
        return self._build

    def run(self, cases, *, work_dir: Path, **kwargs):
        (Path(work_dir) / "coverage.dat").unlink(missing_ok=True)
        return super().run(cases, work_dir=work_dir, **kwargs)


def router_unit_table(rtl: dict, gate: dict, steps: int = 1) -> dict[str, dict[str, float]]:
    """Per group of :data:`ROUTER_GATE_LEVEL_GROUPS`, the RTL (``{"data_pj", "clock_pj"}`` of a
    router :class:`~subtile.power.energy.Block`) and gate-level dynamic energy, per step."""
    terms = {**{f"data.{k}": v for k, v in rtl["data_pj"].items()},
             **{f"clock.{k}": v for k, v in rtl["clock_pj"].items()}}
    return {label: {"rtl": sum(terms.get(k, 0.0) for k in rtl_keys) / steps,
                    "gate": sum(gate.get(k, 0.0) for k in gate_keys) / steps}
            for label, rtl_keys, gate_keys in ROUTER_GATE_LEVEL_GROUPS}


def router_factors(row: dict) -> dict[str, float]:
    """Gate-level over RTL energy per group of one row of :func:`compare_router` (groups with RTL
    energy only)."""
    return {unit: v["gate"] / v["rtl"] for unit, v in row["per_unit_pj_per_step"].items() if v["rtl"] > 0}


def router_calibrated_ratio(row: dict, factors: dict[str, float]) -> float:
    """RTL/gate dynamic-energy ratio of ``row`` with its RTL groups scaled by ``factors``."""
    units = row["per_unit_pj_per_step"]
    return (sum(v["rtl"] * factors.get(unit, 1.0) for unit, v in units.items())
            / sum(v["gate"] for v in units.values()))


def compare_router(config: MeshConfig, router: tuple[int, int], *, steps: int, activities, seed: int,
                   work_dir: Path, lib: Path | None = None, progress=None) -> dict:
    """Synthesize router ``router`` of mesh ``config``, run the mesh with it as a netlist on a
    random stimulus per activity, and compare its gate-level energy with the RTL estimate of the
    same run, per group; the factors of the busiest activity are checked on the others."""
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.power.energy import mesh_blocks
    from subtile.power.tech_model import TechModel
    from subtile.power.voltage import VoltageModel
    from subtile.sim.mesh_bench import encode_mesh_stimulus
    from subtile.tech.liberty import load_liberty
    say = progress or (lambda line: None)
    work_dir = Path(work_dir)
    index = _router_index(config, router)
    tech = TechModel.from_liberty(lib) if lib else TechModel.from_liberty()
    library = load_liberty(lib)
    cycle_time = float(VoltageModel(vdd_nominal=tech.vdd).cycle_time_s(tech.vdd))
    stimuli = {a: random_mesh_stimulus(config, steps, a, seed) for a in activities}
    words = max(len(encode_mesh_stimulus(config, s, seed=seed)[0]) for s in stimuli.values())
    bench = RouterGateBench(config, router, lib=lib, name=f"{config.name}_rgl",
                            stimulus_depth=1 << max(10, (words - 1).bit_length()), response_depth=1 << 13)
    started = time.monotonic()
    say(f"router gate level: synthesizing router {router} and building the mesh with its netlist")
    build = bench.build(work_dir / "build")
    netlist = bench.netlist
    graph = netlist.graph()
    units = net_units(graph)
    timings = {"synthesis_s": round(netlist.seconds, 1), "gate_build_s": round(build.seconds, 1)}
    # Reset and the cycles around the program are outside the harness counters: an empty
    # program's net toggles are subtracted.
    say("router gate level: empty program (baseline)")
    empty = bench.run({0: MeshCase([], seed=seed)}, work_dir=work_dir / "empty")[0]
    baseline = net_toggles(work_dir / "empty" / "coverage.dat")
    name = f"router_{router[0]}_{router[1]}"
    rows = []
    for activity in activities:
        folder = work_dir / f"activity_{activity:g}"
        say(f"router gate level: activity {activity:g}, {steps} steps")
        t0 = time.monotonic()
        run = bench.run({0: MeshCase(stimuli[activity], seed=seed)}, work_dir=folder)[0]
        seconds = time.monotonic() - t0
        if not run.passed:
            raise RuntimeError(f"the mesh with router {router} as a netlist does not match the golden model at "
                               f"activity {activity}: {run.mismatch}")
        coverage = subtract_coverage(net_toggles(folder / "coverage.dat"), baseline)
        energy = gate_energy(netlist, coverage, tech=tech, library=library, cycles=run.cycles,
                             cycle_time_s=cycle_time, net_units=units, clock_unit=clock_unit)
        block = next(b for b in mesh_blocks(config, run) if b.name == name)
        rtl = block.energy(run.cycles, tech)
        table = router_unit_table(rtl, energy.dynamic_pj, steps)
        rtl_total = sum(v["rtl"] for v in table.values())
        gate_total = energy.total_dynamic_pj / steps
        hops = sum(run.routers[index].forwarded)
        rows.append({"activity": activity, "steps": steps, "cycles": run.cycles, "golden_match": run.passed,
                     "packets_through_router": hops, "rtl_dynamic_pj_per_step": rtl_total,
                     "gate_dynamic_pj_per_step": gate_total,
                     "ratio_rtl_to_gate": rtl_total / gate_total if gate_total else None,
                     "per_unit_pj_per_step": table,
                     "gate_units_pj_per_step": {k: v / steps for k, v in sorted(energy.dynamic_pj.items())},
                     "gate_leakage_pj_per_step": energy.leakage_pj / steps,
                     "nets": energy.nets, "nets_toggled": energy.nets_toggled,
                     "nets_without_coverage": energy.unmatched, "gate_sim_s": round(seconds, 1)})
    reference = max(rows, key=lambda r: r["activity"])
    factors = router_factors(reference)
    for row in rows:
        row["calibrated_ratio_rtl_to_gate"] = router_calibrated_ratio(row, factors)
        row["calibrated_on_activity"] = reference["activity"]
    timings["total_s"] = round(time.monotonic() - started, 1)
    timings["empty_program_cycles"] = empty.cycles
    return {"config": _config_dict(config), "router": list(router), "seed": seed, "vdd": tech.vdd,
            "synthesis": {"cells": netlist.cell_count, "flops": netlist.flops, "area_um2": netlist.area_um2,
                          "directory": str(netlist.directory)},
            "timings": timings, "rows": rows, "factors": factors}


def router_fingerprint(config: MeshConfig, router: tuple[int, int]) -> str:
    """sha256 of what a router calibration fitted on router ``router`` of ``config`` depends on:
    the router's Verilog (icg mode), its probes' widths per unit, its clock tree
    (:func:`subtile.hdl.mesh.network_clocks`), the comparison groups, the net and clock rules
    and the synthesis flow. Cheap: one elaboration, no tool run."""
    from amaranth.back import verilog as amaranth_verilog
    from amaranth.hdl import Value

    from subtile.cache import verilog_digest
    from subtile.hdl.clock_gate import icg_verilog
    from subtile.hdl.mesh import mesh_packet_layout, network_clocks
    from subtile.hdl.router import Router
    index = _router_index(config, router)
    x, y = router
    design = Router(layout=mesh_packet_layout(config), x=x, y=y, width=config.width, height=config.height,
                    fifo_depth=config.fifo_depth, gating="icg")
    probes = design.probes()
    tree = network_clocks(config)["router"][index]
    parts = {
        "router_verilog": verilog_digest(amaranth_verilog.convert(design, name="router", emit_src=False)
                                         + icg_verilog()),
        "probes": {unit: sum(len(Value.cast(v)) for v in values) for unit, values in probes.data.items()},
        "clock_tree": {unit: [*map(str, clocks), tree["parent"].get(unit)] for unit, clocks in tree["clocks"].items()},
        "groups": [[label, list(rtl), list(gate)] for label, rtl, gate in ROUTER_GATE_LEVEL_GROUPS],
        "rules": [[unit, rule.pattern] for unit, rule in (*_NET_RULES, *_CLOCK_RULES)],
        "synthesis": hashlib.sha256((SYNTH_SCRIPT + icg_cell_verilog()).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def check_router_calibration(path: Path) -> str | None:
    """``None`` when the router calibration ``path`` was fitted on the current router design (its
    ``design_sha256`` is :func:`router_fingerprint` of its ``config`` and ``router``), else one
    line saying it is stale and the command that regenerates it."""
    data = json.loads(Path(path).read_text())
    config = MeshConfig.from_dict(data["config"])
    if data.get("design_sha256") == router_fingerprint(config, tuple(data["router"])):
        return None
    command = data.get("source", "python -m subtile.power.router_gate_level --write-calibration ...").split(" (")[0]
    return (f"calibration: {path} was fitted on another router design than the current one; "
            f"regenerate it with `{command}` (gate level, a few minutes)")


def format_router_report(result: dict) -> str:
    synth = result["synthesis"]
    lines = [f"router {tuple(result['router'])}: {synth['cells']} cells ({synth['flops']} flip-flops), "
             f"{synth['area_um2']:,.0f} um^2; synthesis {result['timings']['synthesis_s']} s, "
             f"gate-level build {result['timings']['gate_build_s']} s, total {result['timings']['total_s']} s",
             f"{'activity':>8} {'cycles':>7} {'packets':>8} {'RTL pJ/step':>12} {'gate pJ/step':>13} "
             f"{'RTL/gate':>9} {'calibrated':>11} {'golden':>7}"]
    for row in result["rows"]:
        lines.append(f"{row['activity']:>8g} {row['cycles']:>7} {row['packets_through_router']:>8} "
                     f"{row['rtl_dynamic_pj_per_step']:>12.2f} {row['gate_dynamic_pj_per_step']:>13.2f} "
                     f"{row['ratio_rtl_to_gate']:>9.3f} {row['calibrated_ratio_rtl_to_gate']:>11.3f} "
                     f"{'match' if row['golden_match'] else 'FAIL':>7}")
    for row in result["rows"]:
        lines.append(f"per unit at activity {row['activity']:g} (pJ per step, dynamic):")
        lines.append(f"  {'unit':<26} {'RTL':>9} {'gate':>9} {'gate/RTL':>9}")
        for unit, v in row["per_unit_pj_per_step"].items():
            factor = f"{v['gate'] / v['rtl']:.3f}" if v["rtl"] else "-"
            lines.append(f"  {unit:<26} {v['rtl']:>9.2f} {v['gate']:>9.2f} {factor:>9}")
    return "\n".join(lines)


def _pair(text: str) -> tuple[int, int]:
    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"router: {text!r} is not X,Y (two integers)") from None
    return x, y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subtile.power.router_gate_level",
                                     description="gate-level calibration of a mesh router")
    parser.add_argument("--config", default="examples/mesh.toml", help="mesh TOML (default %(default)s)")
    parser.add_argument("--router", default="0,0", help="X,Y of the router to synthesize (default %(default)s)")
    parser.add_argument("--width", type=int, default=None, help="override the mesh width")
    parser.add_argument("--height", type=int, default=None, help="override the mesh height")
    parser.add_argument("--fifo-depth", type=int, default=None, help="override the router FIFO depth")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--activity", default="0.1,1.0", help="comma-separated input activities")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None, help="write the result as JSON to this file")
    parser.add_argument("--factors-from", default=None, metavar="JSON",
                        help="a calibration or --json result of this command: apply its factors to this run "
                             "(the check out of sample)")
    parser.add_argument("--write-calibration", default=None, metavar="JSON",
                        help="write the factors of the busiest activity as the router calibration "
                             "(power/calibration/sky130_fd_sc_hd_tt_router.json ships one)")
    args = parser.parse_args(argv)
    try:
        from subtile.spec.config import load_config
        config = load_config(args.config)
        if not isinstance(config, MeshConfig):
            raise ConfigError(f"config: {args.config} is a tile config; a mesh config ([mesh]) is needed")
        overrides = {k: v for k, v in (("width", args.width), ("height", args.height),
                                       ("fifo_depth", args.fifo_depth)) if v is not None}
        if overrides:
            config = config.replace(**overrides)
        router = _pair(args.router)
        _router_index(config, router)
        if not 1 <= args.steps <= 10_000:
            raise ConfigError(f"steps: {args.steps} is outside the allowed range 1..10000")
        try:
            activities = [float(a) for a in args.activity.split(",") if a.strip()]
        except ValueError:
            raise ConfigError(f"activity: {args.activity!r} is not a comma-separated list of numbers") from None
        if not activities or any(not 0.0 < a <= 1.0 for a in activities):
            raise ConfigError(f"activity: {args.activity!r}: give activities in (0, 1]")
        given = None
        if args.factors_from:
            try:
                given = json.loads(Path(args.factors_from).read_text())["factors"]
                given = {str(k): float(v) for k, v in given.items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                raise ConfigError(f"factors-from: {args.factors_from} is not a result or calibration of this "
                                  f"command ({error})") from None
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-router-gates-"))
    result = compare_router(config, router, steps=args.steps, activities=activities, seed=args.seed,
                            work_dir=work_dir, progress=lambda line: print(line, file=sys.stderr))
    print(format_router_report(result))
    if given is not None:
        result["factors_from"] = {"file": args.factors_from, "factors": given}
        for row in result["rows"]:
            row["ratio_with_given_factors"] = router_calibrated_ratio(row, given)
        print(f"RTL/gate with the factors of {args.factors_from}: "
              + ", ".join(f"{row['ratio_with_given_factors']:.3f} at activity {row['activity']:g}"
                          for row in result["rows"])
              + " (uncalibrated: " + ", ".join(f"{row['ratio_rtl_to_gate']:.3f}" for row in result["rows"]) + ")")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.write_calibration:
        busiest = max(result["rows"], key=lambda r: r["activity"])
        words, kept = list(argv if argv is not None else sys.argv[1:]), []
        while words:                        # the command without where it wrote its scratch files
            word = words.pop(0)
            if word in ("--work-dir", "--json"):
                words = words[1:]
            elif not word.startswith(("--work-dir=", "--json=")):
                kept.append(word)
        command = "python -m subtile.power.router_gate_level " + " ".join(kept)
        Path(args.write_calibration).write_text(json.dumps({
            "source": f"{command} (router {router} of {config.name}, factors of activity {busiest['activity']:g}, "
                      f"seed {args.seed})",
            "factors": result["factors"], "config": _config_dict(config), "router": list(router),
            "design_sha256": router_fingerprint(config, router),
            "check": {f"{row['activity']:g}": {"uncalibrated": row["ratio_rtl_to_gate"],
                                               "calibrated": row["calibrated_ratio_rtl_to_gate"]}
                      for row in result["rows"]},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
