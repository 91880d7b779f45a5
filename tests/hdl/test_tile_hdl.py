"""The tile in Amaranth's simulator, event for event and state for state against the golden
model (``golden.tile.TileModel``), in the ``enable`` and ``none`` gating modes (``icg`` needs
the clock-gate cell's Verilog model: it is simulated under Verilator), plus Verilog generation.

Amaranth's simulator is about 1000x slower than Verilator: the configs here are tiny.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator
from amaranth.hdl import ClockDomain, Fragment, Module, Signal

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.golden.tile import SynapseTable, TileModel, TileState, initial_contents, random_stimulus
from subtile.hdl.clock_gate import ICG_MODULE, add_gated_submodule, icg_verilog
from subtile.hdl.tile import RegisterBudget, Tile


# -- a reusable bench ----------------------------------------------------------------------------
@dataclass
class Step:
    """One time step: send ``events`` ((address, payload) rows), then tick."""
    events: np.ndarray


@dataclass
class Program:
    """Programming writes between steps: (target, row, neuron, data) tuples."""
    writes: list


@dataclass
class StepRecord:
    events_out: np.ndarray          # (K, 2) (neuron, payload), in the order received
    state: TileState                # read from the named registers after ``done``
    update_cycles: int              # from the tick's clock edge to the end of the done cycle
    stall_cycles: int               # update-phase cycles with events_out valid and ready low


@dataclass
class Bench:
    """Drives a :class:`Tile` in Amaranth's simulator.

    Events are offered with random idle cycles (probability ``idle``) between them; the output
    stream's ready is low with probability ``stall``, or follows ``ready_pattern(cycle)`` when
    given (for long backpressure).
    """

    tile: Tile
    seed: int = 0
    idle: float = 0.3
    stall: float = 0.3
    ready_pattern: object = None
    max_cycles: int = 20_000
    _out: list = field(default_factory=list)
    _stalls: int = 0

    def read_state(self, ctx) -> TileState:
        regs = self.tile.registers
        acc = np.array([[ctx.get(r) for r in row] for row in regs.acc], dtype=np.int64)
        return TileState(acc, np.array([ctx.get(r) for r in regs.v], dtype=np.int64),
                         np.array([ctx.get(r) for r in regs.y_sent], dtype=np.int64),
                         np.array([bool(ctx.get(r)) for r in regs.dirty]),
                         int(ctx.get(self.tile.unmapped)))

    def run(self, actions) -> list[StepRecord]:
        tile, rng = self.tile, np.random.default_rng(self.seed)
        records: list[StepRecord] = []
        out = tile.events_out

        async def monitor(ctx):
            cycle = 0
            while True:
                ready = (self.ready_pattern(cycle) if self.ready_pattern is not None
                         else rng.random() >= self.stall)
                ctx.set(out.ready, ready)
                _, _, valid, neuron, payload = await ctx.tick().sample(
                    out.valid, out.payload.neuron, out.payload.payload)
                if valid and ready:
                    self._out.append((neuron, payload))
                elif valid:
                    self._stalls += 1
                cycle += 1

        async def wait_for(ctx, signal):
            for _ in range(self.max_cycles):
                _, _, value = await ctx.tick().sample(signal)
                if value:
                    return
            raise AssertionError(f"timeout waiting for {signal.name}")

        async def driver(ctx):
            inp = tile.events_in
            for action in actions:
                if isinstance(action, Program):
                    for target, row, neuron, value in action.writes:
                        ctx.set(tile.prog.payload.target, target)
                        ctx.set(tile.prog.payload.row, row)
                        ctx.set(tile.prog.payload.neuron, neuron)
                        ctx.set(tile.prog.payload.data, value)
                        ctx.set(tile.prog.valid, 1)
                        await wait_for(ctx, tile.prog.ready)
                        ctx.set(tile.prog.valid, 0)
                    continue
                for address, payload in np.asarray(action.events).reshape(-1, 2):
                    while rng.random() < self.idle:
                        await ctx.tick()
                    ctx.set(inp.payload.address, int(address))
                    ctx.set(inp.payload.payload, int(payload))
                    ctx.set(inp.valid, 1)
                    await wait_for(ctx, inp.ready)
                    ctx.set(inp.valid, 0)
                ctx.set(tile.tick, 1)
                await wait_for(ctx, tile.tick_ready)
                ctx.set(tile.tick, 0)
                self._out.clear()
                self._stalls = 0
                cycles = 0
                for cycles in range(1, self.max_cycles):
                    _, _, done = await ctx.tick().sample(tile.done)
                    if done:
                        break
                else:
                    raise AssertionError("timeout waiting for done")
                records.append(StepRecord(np.array(self._out, dtype=np.int64).reshape(-1, 2),
                                          self.read_state(ctx), cycles, self._stalls))

        sim = Simulator(tile)
        sim.add_clock(1e-6)
        sim.add_testbench(monitor, background=True)
        sim.add_testbench(driver)
        sim.run()
        return records


def small(**changes) -> TileConfig:
    base = dict(neurons=4, branches=2, synapses=4, addresses=8, lanes=2, gating="enable",
                leak_shift=2, delta=2, seed=3, weight_density=0.7, table_fill=0.9)
    base.update(changes)
    return TileConfig(**base)


def check_against_golden(config, steps, *, weights=None, table=None, **bench):
    tile = Tile(config, weights=weights, table=table)
    model = TileModel(config, weights, table)
    records = Bench(tile, **bench).run([Step(events) for events in steps])
    assert len(records) == len(steps)
    total_events = 0
    for index, (events, record) in enumerate(zip(steps, records)):
        expected = model.step(events)
        assert record.events_out.tolist() == expected.events_out.tolist(), f"step {index}"
        assert not expected.state.diff(record.state), f"step {index}: {expected.state.diff(record.state)}"
        # Timing: one cycle per visited group, one per event sent, one per stall, one for done.
        assert record.update_cycles == (expected.visited_groups + len(expected.events_out)
                                        + record.stall_cycles + 1), f"step {index}"
        total_events += len(expected.events_out)
    return records, total_events


# -- bit-exact against the golden model ------------------------------------------------------------
@pytest.mark.parametrize("gating", ["enable", "none"])
@pytest.mark.parametrize("changes", [
    dict(lanes=2, branch_activation="identity", leak_shift=2, delta=2),
    dict(lanes=1, branch_activation="tanh", leak_shift=0, delta=0),
    dict(lanes=4, branch_activation="identity", leak_shift=3, delta=9, soma_activation="sigmoid"),
    # 4-bit payloads: tanh swings of up to 16 codes saturate the payload, leaving a rest
    dict(lanes=2, branch_activation="identity", leak_shift=0, delta=1, payload_format="fixed<4,1>",
         weight_format="fixed<6,3>"),
    # sizes that are not powers of two (padded selects, range checks)
    dict(neurons=3, branches=3, synapses=3, addresses=5, lanes=3, branch_activation="identity"),
    dict(neurons=1, branches=1, synapses=1, addresses=1, lanes=1, table_fill=1.0),
], ids=["L2-identity-k2-d2", "L1-tanh-k0-d0", "L4-identity-k3-d9-sigmoid", "L2-p4-k0-d1", "N3-B3-S3-A5",
        "N1-B1-S1-A1"])
def test_random_steps_match_golden(gating, changes):
    config = small(gating=gating, **changes)
    steps = random_stimulus(config, 12, 0.6, seed=11, jump=0.45)
    _, sent = check_against_golden(config, steps, seed=5)
    assert sent > 0 and sum(len(s) for s in steps) > 3 * config.addresses


def test_default_config_matches_golden():
    """The default tile (N=16, B=4, tanh branches, 4 lanes): the reset state is settled
    (tanh(0) = 0), so the first tick visits no group; busy steps take 4 + (events sent) + 1 cycles."""
    config = TileConfig(gating="enable")
    steps = [np.zeros((0, 2), np.int64)] + random_stimulus(config, 2, 1.0, seed=1, jump=0.45)
    records, sent = check_against_golden(config, steps, seed=0, stall=0.0, idle=0.0)
    assert records[0].update_cycles == 1
    assert records[1].state.dirty.all()
    assert records[1].update_cycles == config.groups + len(records[1].events_out) + 1
    assert sent > 10


def test_unmapped_addresses_are_counted():
    config = small(table_fill=0.5)
    weights, table = initial_contents(config)
    unmapped = np.flatnonzero(~table.valid)
    assert unmapped.size
    steps = [np.array([[a, 3] for a in unmapped] + [[a, -2] for a in unmapped[:1]], dtype=np.int64),
             random_stimulus(config, 1, 1.0, seed=2)[0]]
    records, _ = check_against_golden(config, steps, weights=weights, table=table, seed=1)
    assert records[0].state.unmapped == unmapped.size + 1
    # An unmapped event changes no accumulator and marks nothing dirty.
    assert not records[0].state.acc.any()


def test_addresses_beyond_the_table_are_unmapped():
    """Hardware beyond the golden contract: an address >= A (the port is wider than A needs)
    is dropped and counted, and a table write to a row >= A is ignored."""
    config = small(neurons=3, branches=3, synapses=3, addresses=5, lanes=3)
    model = TileModel(config)
    expected = model.step(np.zeros((0, 2), np.int64))
    records = Bench(Tile(config), seed=0).run([
        Program([(0, 6, 0, 1)]),                 # row 6 >= A: ignored
        Step(np.array([[5, 1], [6, 2], [7, 3]])),
    ])
    assert records[0].state.unmapped == 3
    expected.state.unmapped = 3
    assert not expected.state.diff(records[0].state)


def test_programming_port_rewrites_weights_and_table():
    config = small(lanes=2)
    tile = Tile(config)
    model = TileModel(config)
    bw = config.branch_index_width
    mask = (1 << config.weight_format.width) - 1
    address = int(np.flatnonzero(~model.table.valid)[0]) if (~model.table.valid).any() else 0
    writes = []
    # map `address` to (b=1, s=2) and give that row new weights (one of them zero)
    writes.append((0, address, 0, 1 | (1 << 1) | (2 << (1 + bw))))
    row = 1 * config.synapses + 2
    new = [-7, 0, 5, config.weight_format.min_code]
    writes += [(1, row, n, w & mask) for n, w in enumerate(new)]
    # unmap another address
    other = int(np.flatnonzero(model.table.valid & (np.arange(config.addresses) != address))[0])
    writes.append((0, other, 0, 0))
    model.program_table(address, True, 1, 2)
    for n, w in enumerate(new):
        model.program_weight(row, n, w)
    model.program_table(other, False)
    steps = [np.array([[address, 5], [other, 3], [address, -1]], dtype=np.int64)]
    records = Bench(tile, seed=3).run([Program(writes), Step(steps[0])])
    result = model.step(steps[0])
    assert records[0].events_out.tolist() == result.events_out.tolist()
    assert not result.state.diff(records[0].state)
    assert records[0].state.acc[:, 1].tolist() == [-28, 0, 20, 4 * config.weight_format.min_code]
    assert records[0].state.unmapped == 1


def test_long_backpressure_loses_nothing():
    config = small(lanes=4, delta=0, leak_shift=0)
    steps = random_stimulus(config, 3, 1.0, seed=4, jump=0.45)
    records, sent = check_against_golden(config, steps, seed=2, ready_pattern=lambda c: c % 40 == 39)
    assert sent >= 6
    # ready is high one cycle in 40: every event but the first of a step waits 39 cycles
    assert sum(r.stall_cycles for r in records) >= 39 * (sent - len(records))


@pytest.mark.parametrize("soma", ["sigmoid", "tanh"])
def test_tick_with_no_events(soma):
    config = small(soma_activation=soma)
    records, _ = check_against_golden(config, [np.zeros((0, 2), np.int64)] * 3, seed=0, stall=0.0)
    # sigmoid(0) = 0.5: the first tick visits every group (all neurons start dirty); tanh(0) = 0:
    # the reset state is settled and nothing is visited. Afterwards nothing is dirty.
    assert records[0].update_cycles == (config.groups + len(records[0].events_out) + 1 if soma == "sigmoid" else 1)
    assert records[1].update_cycles == records[2].update_cycles == 1
    assert not records[2].state.dirty.any()


def test_clean_groups_are_skipped():
    config = small(neurons=4, lanes=1, delta=0)
    weights = np.zeros((config.rows, config.neurons), dtype=np.int64)
    weights[0, 2] = 5           # row (b=0, s=0) reaches neuron 2 only
    weights[1, :] = 3           # row (b=0, s=1) reaches every neuron
    table = SynapseTable.decode([1, 1 | (1 << (1 + config.branch_index_width))] + [0] * 6, config)
    steps = [np.zeros((0, 2), np.int64), np.array([[0, 8]]), np.array([[1, 8]])]
    records, _ = check_against_golden(config, steps, weights=weights, table=table, seed=0, stall=0.0)
    settled, one_dirty, every_dirty = records
    assert settled.update_cycles == 1              # tanh(0) = 0: the reset state is settled, done
    assert one_dirty.update_cycles == 1 + len(one_dirty.events_out) + 1      # 1 group visited
    assert every_dirty.update_cycles == 4 + len(every_dirty.events_out) + 1


def test_event_pipeline_latency():
    """An event accepted at a clock edge is in the accumulators three edges later, and the
    tile takes one event per cycle."""
    config = small(weight_density=1.0, table_fill=1.0)
    tile = Tile(config)
    weights, table = initial_contents(config)
    address = int(np.flatnonzero(table.valid)[0])
    b = int(table.branch[address])
    trace = {}

    async def bench(ctx):
        inp = tile.events_in
        ctx.set(inp.payload.address, address)
        ctx.set(inp.payload.payload, 1)
        ctx.set(inp.valid, 1)
        _, _, ready = await ctx.tick().sample(inp.ready)
        assert ready
        ctx.set(inp.payload.payload, 2)          # a second event right behind the first
        _, _, ready = await ctx.tick().sample(inp.ready)
        assert ready
        ctx.set(inp.valid, 0)
        for cycle in range(1, 6):
            trace[cycle] = (ctx.get(tile.registers.acc[0][b]), ctx.get(tile.tick_ready))
            await ctx.tick()

    sim = Simulator(tile)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    w = int(weights[table.branch[address] * config.synapses + table.slot[address], 0])
    # edges: the first event is accepted at edge 0, the second at edge 1; trace[c] is read
    # after edge c. Accepted in the cycle ending at edge t, an event is in the state after t + 2.
    assert [trace[c][0] for c in range(1, 6)] == [0, w, 3 * w, 3 * w, 3 * w]
    assert [trace[c][1] for c in range(1, 6)] == [0, 0, 1, 1, 1]


def test_prog_and_tick_wait_for_offered_events():
    config = small()
    tile = Tile(config)
    seen = []

    async def bench(ctx):
        await ctx.tick()
        seen.append((ctx.get(tile.tick_ready), ctx.get(tile.prog.ready)))
        ctx.set(tile.events_in.valid, 1)
        seen.append((ctx.get(tile.tick_ready), ctx.get(tile.prog.ready)))

    sim = Simulator(tile)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(1, 1), (0, 0)]


def test_contents_are_validated():
    config = small()
    weights, table = initial_contents(config)
    with pytest.raises(ConfigError, match="weights: expected an integer array of shape"):
        Tile(config, weights=weights[:-1], table=table)
    with pytest.raises(ConfigError, match="weights: codes outside"):
        Tile(config, weights=weights * 1000, table=table)
    with pytest.raises(ConfigError, match="table: expected 8 words"):
        Tile(config, weights=weights, table=table.encode()[:-1])
    tile = Tile(config, weights=weights, table=list(table.encode()))       # words work too
    assert tile.table_words == table.encode().tolist()
    verilog.convert(tile, name="tile", emit_src=False)


# -- Verilog ----------------------------------------------------------------------------------------
def test_icg_verilog_instantiates_clock_gates():
    config = small(gating="icg")
    text = verilog.convert(Tile(config), name="tile", emit_src=False)
    # one gate per accumulator, per neuron and per lane; their three parents; the pipeline's
    # three and the sequencer's three
    gates = config.neurons * config.branches + config.neurons + config.lanes + 9
    assert text.count(f"{ICG_MODULE} icg_g_") == gates == RegisterBudget(config).gates
    # the children are clocked by their parents' gated clocks
    assert re.search(r"subtile_icg icg_g_acc_0_0 \(\s*\.CLK\(g_branches_clk\)", text)
    assert re.search(r"subtile_icg icg_g_neuron_0 \(\s*\.CLK\(g_neurons_clk\)", text)
    assert re.search(r"subtile_icg icg_g_operands_0 \(\s*\.CLK\(g_lanes_clk\)", text)
    assert f"module {ICG_MODULE}" in icg_verilog()
    module = text[text.index("module \\tile.state"):]
    for name in ("acc_3_1", "v_3", "y_sent_3", "dirty_3"):
        assert f" {name} =" in module, name
    assert "always @(posedge g_acc_3_1_clk)" in module


@pytest.mark.parametrize("gating", ["enable", "none"])
def test_state_registers_are_named_in_verilog(gating):
    config = small(gating=gating)
    text = verilog.convert(Tile(config), name="tile", emit_src=False)
    assert ICG_MODULE not in text
    module = text[text.index("module \\tile.state"):]
    for n in range(config.neurons):
        for name in [f"acc_{n}_{b}" for b in range(config.branches)] + [f"v_{n}", f"y_sent_{n}", f"dirty_{n}"]:
            assert f" {name} =" in module, name         # `reg [..] name = init;`


def test_big_config_converts():
    """A 64-neuron, 8-branch tile elaborates and converts, with every clock gate."""
    config = TileConfig(neurons=64, branches=8, synapses=32, addresses=1024, lanes=8, gating="icg")
    text = verilog.convert(Tile(config), name="tile", emit_src=False)
    assert "acc_63_7" in text and "icg_g_neuron_63" in text
    assert text.count("subtile_icg icg_g_") == RegisterBudget(config).gates


def test_dirty_reset_value_agrees_with_the_golden_model():
    """hdl derives the dirty flags' reset value on its own (resting_state_settled); the golden
    model derives it by running its update rule on the zero state. They must agree for every
    activation, branch choice, delta and leak."""
    from subtile.golden.tile import reset_dirty
    from subtile.hdl.neuron import resting_state_settled
    from subtile.spec.activation import FUNCTIONS
    checked = 0
    for function in FUNCTIONS:
        for branch in ("identity", {"function": function}):
            for delta in (0, 1, 2, 5):
                for leak in (0, 2):
                    config = TileConfig(neurons=4, lanes=4, soma_activation={"function": function},
                                        branch_activation=branch, delta=delta, leak_shift=leak)
                    assert reset_dirty(config) == (not resting_state_settled(config)), (function, branch, delta, leak)
                    checked += 1
    assert checked == 4 * 2 * len(FUNCTIONS) * 2


# -- the clock tree, read from the design -------------------------------------------------------------
def _tile_with(extra):
    """An icg tile whose module() also runs ``extra(module, tile)``."""
    class Extended(Tile):
        def module(self, platform):
            m = super().module(platform)
            extra(m, self)
            return m
    return Extended(small(gating="icg"))


def test_register_budget_follows_a_register_added_to_a_gated_unit():
    """A register added behind an existing gate is in the budget without touching it."""
    def counter(m, tile):
        count = Signal(3, name="extra")
        m.d.g_control += count.eq(count + 1)
    before, after = RegisterBudget(small(gating="icg")), RegisterBudget.of(_tile_with(counter))
    gates, flops = before.gated["control"]
    assert after.gated["control"] == (gates, flops + 3)
    assert {u: v for u, v in after.gated.items() if u != "control"} == \
        {u: v for u, v in before.gated.items() if u != "control"}
    assert after.parent == before.parent and after.unit_of == before.unit_of


def test_register_budget_refuses_a_clock_tree_it_cannot_describe():
    def ungated(m, tile):
        m.domains += ClockDomain("other", local=True)
        count = Signal(2, name="extra")
        m.d.other += count.eq(count + 1)

    def foreign_gate(m, tile):
        enable = Signal(name="foreign_en")
        add_gated_submodule(m, "foreign", Module(), {"g_foreign": enable}, mode="icg")

    def uneven(m, tile):
        m.d.g_acc_0_0 += Signal(name="extra").eq(1)

    with pytest.raises(RuntimeError, match="flops in domains without a clock gate: other"):
        RegisterBudget.of(_tile_with(ungated))
    with pytest.raises(RuntimeError, match="clock gate of g_foreign has an enable in no unit"):
        RegisterBudget.of(_tile_with(foreign_gate))
    with pytest.raises(RuntimeError, match="clock gates of accumulators differ in flops"):
        RegisterBudget.of(_tile_with(uneven))
    plain = Tile(small(gating="none"))
    Fragment.get(plain, None)                   # (used: no UnusedElaboratable warning)
    with pytest.raises(ValueError, match="read from an icg tile"):
        RegisterBudget.of(plain)


@pytest.mark.parametrize("gating", ["icg", "enable", "none"])
def test_register_budget_names_every_gated_domain(gating):
    """Every clock gate of the tile's Verilog (one per gated domain) has its unit, and the units'
    gate counts add up to the gates in the Verilog."""
    config = small(gating=gating, lanes=2)
    budget = RegisterBudget(config)
    text = verilog.convert(Tile(config.replace(gating="icg")), name="tile", emit_src=False)
    domains = set(re.findall(rf"{ICG_MODULE} icg_(g_\w+)", text))
    assert domains == set(budget.unit_of) and len(domains) == budget.gates
    assert {unit for unit in budget.unit_of.values()} == {u for u, (n, _f) in budget.gated.items() if n}



@pytest.mark.parametrize("lanes", [1, 4])
def test_scoped_gated_domains_leave_the_verilog_unchanged(monkeypatch, lanes):
    """Tile.elaborate scopes its gated domains to their users for speed only: the Verilog is the
    one Amaranth writes with every domain propagated everywhere."""
    import subtile.hdl.tile as tile_module
    config = small(gating="icg", lanes=lanes)
    scoped = verilog.convert(Tile(config), name="t", emit_src=False)
    monkeypatch.setattr(tile_module, "scope_local_domains", lambda fragment: fragment)
    assert verilog.convert(Tile(config), name="t", emit_src=False) == scoped


@pytest.mark.parametrize("changes", [dict(gating="icg"), dict(lanes=1, gating="icg"), dict(lanes=4),
                                     dict(gating="none", branch_activation="identity")])
def test_clock_tree_walks_one_lane_and_finds_what_walking_every_lane_finds(monkeypatch, changes):
    """clock_tree elaborates one neuron lane per distinct lane (they clock nothing): the flops,
    memories, clock gates and flip-flop outputs it finds, and the register units of the probes,
    are those of a walk through every lane."""
    from subtile.hdl import flops
    from subtile.hdl.tile_probes import register_units_of

    def summary(tree, tile):
        probes = tile.probes()
        return (tree.flops, tree.memory_bits, tree.memory_domains, sorted(tree.gates), len(tree.registers),
                register_units_of(probes, tree),
                {unit: [tree.is_register(value) for value in values] for unit, values in probes.data.items()})

    config = small(**changes)
    tile = Tile(config)
    once = summary(flops.clock_tree(tile), tile)
    monkeypatch.setattr(flops._EachLaneOnce, "get_neuron_lane", lambda self, lane: lane.elaborate(None))
    assert summary(flops.clock_tree(tile), tile) == once
    assert once[0] and once[5]                   # (the design has flops and register units)


def test_clock_tree_refuses_to_skip_a_lane_that_clocks_something():
    from subtile.hdl import flops
    from subtile.hdl.neuron import NeuronLane

    class RegisteredLane(NeuronLane):
        def elaborate(self, platform):
            if hasattr(platform, "get_neuron_lane") and platform.top is not self:
                return platform.get_neuron_lane(self)
            m = super().elaborate(None)
            m.d.sync += Signal(name="extra").eq(self.dirty)
            return m

    from subtile.hdl.amaranth_internals import silence_unused
    tile = Tile(small(gating="icg"))
    replaced, tile.lane_units = tile.lane_units, [RegisteredLane(lane.config) for lane in tile.lane_units]
    with pytest.raises(AssertionError, match="a neuron lane clocks .*clock_tree must walk every lane"):
        flops.clock_tree(tile)
    for lane in (*replaced, *tile.lane_units):      # (neither is elaborated to the end)
        for part in (lane, *lane.parts):
            silence_unused(part)
    for part in (tile, tile.synapses, tile.sequencer, tile.lane_operands, tile.state):
        silence_unused(part)
