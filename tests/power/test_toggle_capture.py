"""The three toggle capture modes (in-simulation counters, Verilator toggle coverage, SAIF) on
designs with known toggle counts, and on the tile, where they must agree net for net; the
coverage and SAIF readers; the SAIF export for power tools.

Two Verilator builds: a counter design with coverage and SAIF (both flags in one build) plus
fast counters, and a tile bench with all three.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.gen.verilog import generate
from subtile.golden.tile import random_stimulus, reset_dirty
from subtile.hdl.tile import PROBE_UNITS
from subtile.toolchain import runner
from subtile.power.coverage import BitToggles, demangle, read_points, read_toggle_coverage
from subtile.power.saif import parse_saif, read_saif, write_saif
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.sim.tile_harness import SIM_BUFFERS_VERILOG
from subtile.power.toggle_capture import (capture_bench, coverage_report, coverage_toggles, export_run_saif,
                                        net_table, probe_layout, saif_toggles, tile_scope, toggle_counter,
                                        unit_toggles, write_run_saifs)

TESTS_DIR = Path(__file__).resolve().parent
BITS, COPIES, CYCLES = 8, 9, 1000       # a 72-bit copy: wider than 64 bits, Verilator's wide path
TOP = "toggle_demo"


class ToggleDemo(wiring.Component):
    """A free-running counter (counting while ``run``), a register holding ``COPIES`` copies of
    it (one cycle late), a register with reset value 1 that never changes, and in-simulation
    toggle counters on every counter bit and on the copies."""

    def __init__(self):
        super().__init__({"run": In(1), "count": Out(BITS), "flag": Out(1), "toggles_wide": Out(64),
                          **{f"toggles_{i}": Out(64) for i in range(BITS)}})

    def elaborate(self, platform):
        m = Module()
        counter = Module()
        value = Signal(BITS, name="value")
        wide = Signal(BITS * COPIES, name="wide")
        flag = Signal(init=1, name="flag")
        with counter.If(self.run):
            counter.d.sync += value.eq(value + 1)
        counter.d.sync += [wide.eq(Cat(*[value] * COPIES)), flag.eq(flag)]
        counter.d.comb += [self.count.eq(value), self.flag.eq(flag)]
        m.submodules.counter = counter
        for i in range(BITS):
            m.submodules[f"fast_{i}"] = toggle_counter(value[i], en=1, count=getattr(self, f"toggles_{i}"))
        m.submodules.fast_wide = toggle_counter(wide, en=1, count=self.toggles_wide)
        return m


def counter_toggles(cycles: int, bits: int) -> list[tuple[int, int]]:
    """(rises, falls) of each bit of a ``bits``-bit counter stepping 0, 1, ... ``cycles`` times."""
    rises, falls = [0] * bits, [0] * bits
    mask = (1 << bits) - 1
    for k in range(1, cycles + 1):
        before, after = (k - 1) & mask, k & mask
        for i in range(bits):
            if (before ^ after) >> i & 1:
                if after >> i & 1:
                    rises[i] += 1
                else:
                    falls[i] += 1
    return list(zip(rises, falls))


def test_counter_arithmetic_gives_n_over_two_to_the_i():
    expected = counter_toggles(CYCLES, BITS)
    assert [r + f for r, f in expected] == [CYCLES >> i for i in range(BITS)]
    assert expected[0] == (500, 500) and expected[3] == (63, 62)


@pytest.fixture(scope="class")
def counter_run(tmp_path_factory):
    """The counter design built with coverage and SAIF, run for ``CYCLES`` counting cycles."""
    work = tmp_path_factory.mktemp("toggle_demo")
    verilog = generate(ToggleDemo(), top=TOP, extra_verilog="\n" + SIM_BUFFERS_VERILOG).write(work)
    build = runner.build([verilog], TOP, coverage="toggle", saif=True)
    output = work / "fast.json"
    run = runner.run(build, "cocotb_toggle_counter", test_dir=work / "run", saif=work / "run.saif",
                     extra_env={"PYTHONPATH": str(TESTS_DIR), "TOGGLE_CYCLES": str(CYCLES),
                                "TOGGLE_BITS": str(BITS), "TOGGLE_OUTPUT": str(output)})
    run.raise_for_failures()
    run.coverage_counts = read_toggle_coverage(run.coverage)     # parsed once for all tests
    run.saif_data = read_saif(run.saif)
    run.verilog, run.build = verilog, build
    return run, json.loads(output.read_text())


class TestCounterModes:
    """One build: coverage and SAIF together, the fast counters inside the design."""

    def test_build_options_are_part_of_the_key(self, counter_run, tmp_path):
        run, _ = counter_run
        assert (run.build.coverage, run.build.saif) == ("toggle", True)
        assert runner.build_key([run.verilog], TOP, coverage="toggle", saif=True) == run.build.key
        assert runner.build_key([run.verilog], TOP, coverage="toggle") != run.build.key
        with pytest.raises(ValueError, match="coverage"):
            runner.build([run.verilog], TOP, coverage="branch")
        plain = runner.Build(run.build.directory, TOP, run.build.key, True, 0.0)
        with pytest.raises(ValueError, match="saif"):
            runner.run(plain, "cocotb_toggle_counter", test_dir=tmp_path, saif=tmp_path / "x.saif")

    def test_coverage_counts_rises_and_falls_of_each_bit(self, counter_run):
        run, _ = counter_run
        value = run.coverage_counts[f"{TOP}.counter.value"]
        assert [(value[i].rises, value[i].falls) for i in range(BITS)] == counter_toggles(CYCLES, BITS)

    def test_saif_and_fast_counters_count_the_same(self, counter_run):
        run, fast = counter_run
        expected = [r + f for r, f in counter_toggles(CYCLES, BITS)]
        saif = run.saif_data.toggles()
        assert [saif[f"{TOP}.counter.value"][i] for i in range(BITS)] == expected
        assert fast["bits"] == expected

    def test_wide_signals_after_undoing_verilators_miscount(self, counter_run):
        run, fast = counter_run
        expected = [r + f for r, f in counter_toggles(CYCLES, BITS)] * COPIES
        coverage = run.coverage_counts[f"{TOP}.counter.wide"]
        assert [coverage[k].toggles for k in range(BITS * COPIES)] == expected
        saif = run.saif_data.toggles()[f"{TOP}.counter.wide"]
        assert [saif[k] for k in range(BITS * COPIES)] == expected
        assert fast["wide"] == sum(expected)
        # Verilator 5.48 writes bit k as the sum of bits k, k-32, k-64, ... (see coverage.py).
        raw = read_toggle_coverage(run.coverage, unfold_wide=False)[f"{TOP}.counter.wide"]
        assert [raw[k].toggles for k in range(BITS * COPIES)] == [
            sum(expected[j] for j in range(k % 32, k + 1, 32)) for k in range(BITS * COPIES)]

    def test_power_up_to_a_nonzero_reset_value_counts_once(self, counter_run):
        run, _ = counter_run
        # Verilator is two-state and starts at 0: the register declared with value 1 rises once.
        assert run.coverage_counts[f"{TOP}.counter.flag"] == {None: BitToggles(1, 0)}
        assert run.saif_data.toggles()[f"{TOP}.counter.flag"] == {None: 1}

    def test_coverage_and_saif_agree_on_every_net(self, counter_run):
        run, _ = counter_run
        coverage = {net: {bit: counts.toggles for bit, counts in bits.items()}
                    for net, bits in run.coverage_counts.items()}
        saif = run.saif_data.toggles()
        # SAIF also lists parameters (WIDTH); coverage lists only variables.
        assert set(coverage) <= set(saif) and len(coverage) > 20
        assert {net: coverage[net] for net in coverage} == {net: saif[net] for net in coverage}

    def test_saif_export_under_a_user_scope(self, counter_run, tmp_path):
        run, _ = counter_run
        source = run.saif_data
        assert [root.name for root in source.instances] == ["$rootio", TOP]
        out = write_saif(source, tmp_path / "out.saif", scope="tb/dut")
        text = out.read_text()
        exported = read_saif(out)
        assert [root.name for root in exported.instances] == ["tb"]
        assert list(exported.instances[0].children) == ["dut"]
        assert exported.duration == source.duration and exported.timescale == "1 ps"
        # the design's nets, under the new scope; Yosys-internal `$` nets left out
        original = {net[len(TOP):]: bits for net, bits in source.toggles(TOP).items()}
        moved = {net[len("tb.dut"):]: bits for net, bits in exported.toggles("tb/dut").items()}
        assert moved == {net: bits for net, bits in original.items() if "$" not in net}
        assert moved[".counter.value"][0] == CYCLES
        assert "(count\\[0\\] (T0 " in text and "$" not in text
        # one instance of the design only
        sub = read_saif(write_saif(source, tmp_path / "sub.saif", instance=f"{TOP}/counter", scope="top"))
        assert set(sub.toggles("top")) == {f"top.{name}" for name in ("clk", "count", "flag", "rst", "run",
                                                                        "value", "wide")}
        with pytest.raises(ValueError, match="scope"):
            write_saif(source, tmp_path / "bad.saif", scope="tb/1dut")


def test_saif_parser_reads_the_standard_records():
    saif = parse_saif("""
        // comment
        (SAIFILE (SAIFVERSION "2.0") (DIRECTION "backward") (DESIGN ) (DIVIDER / )
         (TIMESCALE 10 ns) (DURATION 500)
         /* block
            comment */
         (INSTANCE "top_module" top
           (PORT (a (T0 100) (T1 400) (TC 7)))
           (NET (bus\\[1\\] (T0 250) (T1 250) (TX 0) (TC 9) (IG 2)) (bus\\[0\\] (T0 500) (TC 0)))
           (INSTANCE sub (NET (x (T1 500) (TC 1))))))
    """)
    assert saif.timescale == "10 ns" and saif.duration == 500
    top = saif.find("top")
    assert top.module == "top_module" and top.ports["a"]["TC"] == 7
    assert top.nets["bus[1]"] == {"T0": 250, "T1": 250, "TX": 0, "TC": 9, "IG": 2}
    assert saif.toggles() == {"top.bus": {1: 9, 0: 0}, "top.sub.x": {None: 1}}
    assert saif.toggles("top/sub") == {"top.sub.x": {None: 1}}
    with pytest.raises(KeyError, match="nope"):
        saif.find("top.nope")
    with pytest.raises(ValueError, match="TIMESCALE"):
        parse_saif("(SAIFILE (TIMESCALE 3 ns))")
    with pytest.raises(ValueError, match="unknown record"):
        parse_saif("(SAIFILE (INSTANCE t (NET (n (T9 1)))))")


def test_coverage_reader_keys_and_errors(tmp_path):
    point = "C '\x01t\x02toggle\x01page\x02v_toggle/m\x01o\x02{name}:{edge}\x01h\x02top.u' {count}\n"
    path = tmp_path / "coverage.dat"
    path.write_text("# SystemC::Coverage-3\n"
                    + point.format(name="__0241[0]", edge="0->1", count=3)
                    + point.format(name="__0241[0]", edge="1->0", count=2)
                    + point.format(name="__0241[1]", edge="1->0", count=1)
                    + point.format(name="en", edge="0->1", count=1)
                    + "C '\x01t\x02line\x01h\x02top' 9\n")
    assert demangle("__0241") == "$1"
    assert read_toggle_coverage(path) == {"top.u.$1": {0: BitToggles(3, 2), 1: BitToggles(0, 1)},
                                          "top.u.en": {None: BitToggles(1, 0)}}
    assert len(list(read_points(path))) == 5
    path.write_text("C 'broken\n")
    with pytest.raises(ValueError, match="coverage point"):
        read_toggle_coverage(path)


# sigmoid soma: sigmoid(0) != 0, so the dirty flags reset to 1 and the reset-value correction is exercised
TILE = TileConfig(name="cap_icg", neurons=8, lanes=2, branches=2, synapses=4, addresses=16, gating="icg",
                  soma_activation="sigmoid")


@pytest.fixture(scope="class")
def tile_run(tmp_path_factory):
    """A tile bench with the fast counters, toggle coverage and SAIF in the same run."""
    bench = TileBench([TILE], name="capture_bench", stimulus_depth=1 << 12, response_depth=1 << 12,
                      coverage=True, saif=True)
    stimulus = [StepStimulus(np.asarray(e)) for e in random_stimulus(TILE, 30, 0.3, seed=5)]
    run = bench.run({0: TileCase(stimulus, seed=2, stall=0.3, idle=0.2, read_state=False)},
                    work_dir=tmp_path_factory.mktemp("tile_capture"))[0]
    assert run.passed, run.mismatch
    run.coverage_counts = coverage_toggles(run.coverage)     # parsed once for all tests
    return (run, *probe_layout(TILE), bench)


class TestTileCapture:
    """The three modes on one tile run; the fast counters are the reference."""

    CONFIG = TILE

    def test_shared_lanes_count_what_lanes_of_their_own_count(self, tile_run, tmp_path):
        """The coverage build has a module per lane (Verilator's coverage counts every instance of
        a module in the first); a plain build shares one lane module, whose instances drive the
        observed nets inside the lane (branch and soma activations) through extra ports: the
        same run counts the same toggles, unit by unit."""
        run, _, _, bench = tile_run
        shared = TileBench([TILE], name="capture_shared")
        stimulus = [StepStimulus(np.asarray(e)) for e in random_stimulus(TILE, 30, 0.3, seed=5)]
        again = shared.run({0: TileCase(stimulus, seed=2, stall=0.3, idle=0.2, read_state=False)}, work_dir=tmp_path)[0]
        assert again.passed, again.mismatch
        assert "module capture_shared_lane(" in shared._verilog.read_text()
        assert "module capture_bench_lane(" not in bench._verilog.read_text()
        assert again.toggles == run.toggles and min(run.toggles["branch_activation"], run.toggles["soma_activation"]) > 0

    def test_coverage_matches_the_fast_counters_on_every_unit(self, tile_run):
        run, nets, reset, _ = tile_run
        coverage = unit_toggles(run.coverage_counts, nets, scope=tile_scope("capture_bench"),
                                reset=reset)
        assert set(coverage) == set(PROBE_UNITS) and min(run.toggles.values()) > 0
        for unit in ("synapse", "accumulators", "neuron_state", "neuron_update"):
            assert coverage[unit] == run.toggles[unit], unit
        # The output payload's neuron field idles at a non-zero value (the lowest-set-bit encoder
        # of no pending lane), reached at power-up before the counters start: at most one
        # transition per bit more.
        width = sum(w for _, w in nets["output"])
        assert 0 <= coverage["output"] - run.toggles["output"] <= width

    def test_reset_values_are_the_only_window_difference_of_registers(self, tile_run):
        run, nets, reset, _ = tile_run
        # dirty resets to 1 unless the all-zero state is settled (golden.tile.reset_dirty)
        dirty = int(reset_dirty(self.CONFIG))
        assert reset == {f"state.dirty_{n}": 1 for n in range(self.CONFIG.neurons) if dirty}
        raw = unit_toggles(run.coverage_counts, nets, scope=tile_scope("capture_bench"))
        assert raw["neuron_state"] == run.toggles["neuron_state"] + dirty * self.CONFIG.neurons

    def test_saif_matches_coverage_net_for_net(self, tile_run):
        run, nets, _, _ = tile_run
        coverage, saif = run.coverage_counts, saif_toggles(run.saif)
        scope = tile_scope("capture_bench")
        table = net_table(coverage, scope=scope, nets=nets)
        assert [row["per_bit"] for row in table] == [row["per_bit"] for row in net_table(saif, scope=scope, nets=nets)]
        assert len(table) == sum(len(n) for n in nets.values())
        # the per-net table adds up to the unit counts
        for unit in PROBE_UNITS:
            assert sum(row["toggles"] for row in table if row["unit"] == unit) == \
                unit_toggles(coverage, {unit: nets[unit]}, scope=scope)[unit]
        everything = net_table(coverage, scope=scope)
        assert len(everything) > len(table)

    def test_exported_saif_puts_the_tile_under_the_scope(self, tile_run, tmp_path):
        run, _, _, bench = tile_run
        out = export_run_saif(run, tmp_path / "tile.saif", scope="tb/dut")
        exported = read_saif(out).toggles("tb/dut")
        coverage = run.coverage_counts
        for n in range(self.CONFIG.neurons):
            assert exported[f"tb.dut.state.v_{n}"] == coverage[f"capture_bench.h0.tile.state.v_{n}"]
        assert not any(net.startswith("tb.dut.h0") for net in exported)
        # the CLI's entry point writes the same file
        [written] = write_run_saifs(bench, {0: run}, tmp_path / "cli.saif", scope="tb/dut")
        assert written.read_text() == out.read_text()
        with pytest.raises(ConfigError, match="scope"):
            export_run_saif(run, tmp_path / "bad.saif", scope="tb/d-ut")

    def test_coverage_report_for_the_cli(self, tile_run):
        run, nets, _, bench = tile_run
        report = coverage_report(bench, {0: run}, nets=True)[self.CONFIG.name]
        assert {unit: row["fast"] for unit, row in report["units"].items()} == run.toggles
        assert report["units"]["accumulators"]["coverage"] == run.toggles["accumulators"]
        assert len(report["nets"]) == sum(len(n) for n in nets.values())
        assert sum(row["toggles"] for row in report["nets"] if row["unit"] == "accumulators") == \
            run.toggles["accumulators"]



def test_capture_modes():
    assert (capture_bench([TILE], capture="coverage").coverage, capture_bench([TILE], capture="saif").saif) == (True, True)
    fast = capture_bench([TILE])
    assert (fast.count_toggles, fast.coverage, fast.saif) == (True, False, False)
    with pytest.raises(ValueError, match="capture"):
        capture_bench([TILE], capture="vcd")
    nets, reset = probe_layout(TILE)
    assert list(nets) == list(PROBE_UNITS)
    assert ("state.acc_7_1", TILE.accumulator_width) in nets["accumulators"]
    assert ("synapses.weights", TILE.neurons * TILE.weight_format.width) in nets["synapse"]
    assert ("events_out__valid", 1) in nets["output"]
