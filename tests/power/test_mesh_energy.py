"""Toggle counting and energy of meshes: every tile, router and network interface, counted in the
simulator.

One Verilator build holds a 1x1 and a 2x1 mesh (no axons: a tile's output events stay in it, so
the traffic is exactly what the test injects), the 2x1 mesh in the three clock-gating modes; a
second build holds the 1x1 mesh's tile alone.
Counts are checked where they are known by construction: a register's bit flips depend only on
the sequence of values it takes, not on when it takes them.
"""

import types

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from subtile.spec.config import MeshConfig, TileConfig
from subtile.golden.mesh import MeshModel
from subtile.golden.tile import random_stimulus
from subtile.hdl.flops import count_flops
from subtile.hdl.mesh import INTERFACE_GATES, INTERFACE_UNITS, mesh_packet_layout, network_clocks, network_flops
from subtile.hdl.router import COUNTER_LOW_BITS, EAST, LOCAL, ROUTER_GATES, ROUTER_UNITS, WEST
from subtile.hdl.synapse import event_out_layout
from subtile.hdl.tile import GATED_UNITS, PROBE_UNITS, RegisterBudget
from subtile.power.energy import Calibration, estimate
from subtile.sim.mesh_bench import MeshBench, MeshCase, encode_mesh_stimulus
from subtile.sim.mesh_harness import mesh_stimulus_layout
from subtile.power.tech_model import TechModel
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.sim.tile_harness import StimulusKind

SMALL = TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2, payload_format="fixed<6,2>",
                   dendrite_format="fixed<8,3>", membrane_format="fixed<8,3>", branch_activation="identity",
                   soma_activation={"function": "tanh", "impl": "lut"}, delta=1)
# No axons, no external outputs: the network carries only the injected events.
SOLO = MeshConfig(name="solo", width=1, height=1, tile=SMALL, fifo_depth=2, max_destinations=0, outputs=())
PAIR = MeshConfig(name="pair", width=2, height=1, tile=SMALL, fifo_depth=3, max_destinations=0,
                  inputs=((0, 0),), outputs=())
MODES = ("icg", "enable", "none")
#: PAIR in each gating mode (tiles and network), by bench index.
PAIRS = {1 + k: PAIR.replace(name=f"pair_{mode}", tile=SMALL.replace(gating=mode)) for k, mode in enumerate(MODES)}
STEPS = 12
PAIR_STEPS = 30


def _pack(layout, **fields) -> int:
    word = 0
    for name, value in fields.items():
        member = layout[name]
        word |= (int(value) & ((1 << member.shape.width) - 1)) << member.offset
    return word


def _ring_flips(words, slots: int) -> int:
    """Bit flips of a memory of ``slots`` words (cleared) written with ``words`` in turn."""
    ring = [0] * slots
    flips = 0
    for k, word in enumerate(words):
        flips += bin(word ^ ring[k % slots]).count("1")
        ring[k % slots] = word
    return flips


def _sequence_flips(words) -> int:
    """Bit flips of a register (cleared) that takes the values ``words`` in turn."""
    return sum(bin(a ^ b).count("1") for a, b in zip([0, *words], words))


def _fifo_flips(words, depth: int) -> int:
    """A SyncFIFOBuffered of ``depth``: its memory (depth - 1 words, a ring) and its head register."""
    return _ring_flips(words, depth - 1) + _sequence_flips(words)


@pytest.fixture(scope="session")
def energy_mesh_bench():
    return MeshBench([SOLO, *PAIRS.values()], name="mesh_energy_bench")


@pytest.fixture(scope="session")
def solo_stimulus():
    return [events for events in random_stimulus(SOLO.tile_config(0), STEPS, 0.5, 3)]


@pytest.fixture(scope="session")
def pair_packets():
    """One event per step, for tile (1, 0) only, with addresses and payloads of known bit
    patterns (one per step, so that the tile, busy updating when a step's event arrives, never
    takes two events back to back: every packet crosses each link alone)."""
    rng = np.random.default_rng(5)
    config = PAIR.tile_config(1)
    width = config.payload_format.width
    return [[np.zeros((0, 2), dtype=np.int64),
             np.array([[rng.integers(0, config.addresses), rng.integers(-(1 << (width - 1)), 1 << (width - 1))]])]
            for _ in range(PAIR_STEPS)]


@pytest.fixture(scope="session")
def mesh_runs(energy_mesh_bench, solo_stimulus, pair_packets, tmp_path_factory):
    """Runs of both meshes: traffic (SOLO: random events; PAIR: events through both routers) and idle."""
    runs = {}

    def get(variant):
        if variant not in runs:
            if variant == "traffic":
                cases = {0: MeshCase([[e] for e in solo_stimulus], seed=3),
                         **{k: MeshCase(pair_packets, seed=4) for k in PAIRS}}
            else:
                empty = np.zeros((0, 2), dtype=np.int64)
                cases = {0: MeshCase([[empty]] * STEPS, seed=3),
                         **{k: MeshCase([[empty, empty]] * STEPS, seed=4) for k in PAIRS}}
            runs[variant] = energy_mesh_bench.run(cases, work_dir=tmp_path_factory.mktemp(f"mesh-energy-{variant}"))
        return runs[variant]
    return get


def _program_events(config: MeshConfig, stimulus, seed: int) -> list[np.ndarray]:
    """Per step, the (x, y, address, payload) events of a mesh program in the order the harness
    injects them (the encoder shuffles a step's events)."""
    layout = mesh_stimulus_layout(config)
    width = config.payload_format.width
    field = lambda word, name: (word >> layout[name].offset) & ((1 << layout[name].shape.width) - 1)
    steps, current = [], []
    for word in encode_mesh_stimulus(config, stimulus, seed=seed)[0]:
        kind = field(word, "kind")
        if kind == StimulusKind.EVENT:
            payload = field(word, "payload")
            current.append((field(word, "x"), field(word, "y"), field(word, "address"),
                            payload - (1 << width) if payload >> (width - 1) else payload))
        elif kind == StimulusKind.TICK:
            steps.append(np.array(current, dtype=np.int64).reshape(-1, 4))
            current = []
    return steps


@pytest.fixture(scope="session")
def solo_tile_run(solo_stimulus, tmp_path_factory):
    """The SOLO mesh's tile alone in the tile harness, on the same events in the same order."""
    bench = TileBench([SOLO.tile_config(0)], name="mesh_energy_tile")
    events = [e[:, 2:] for e in _program_events(SOLO, [[e] for e in solo_stimulus], seed=3)]
    assert sum(len(e) for e in events) == sum(len(e) for e in solo_stimulus)
    # spaced: one idle cycle after each event, as the router's local port delivers them
    case = TileCase([StepStimulus(e) for e in events], seed=3, read_state=False, spaced=True)
    return bench.run({0: case}, work_dir=tmp_path_factory.mktemp("mesh-energy-tile"))[0]


class TestMeshCounters:
    def test_runs_match_the_golden_model(self, mesh_runs):
        for variant in ("traffic", "idle"):
            for run in mesh_runs(variant).values():
                assert run.passed, run.mismatch

    def test_every_block_is_counted(self, mesh_runs):
        solo, pair = mesh_runs("traffic")[0], mesh_runs("traffic")[1]
        assert set(pair.toggles) == {f"{kind}_{x}_0" for kind in ("tile", "router", "interface") for x in (0, 1)}
        assert set(pair.pulses) == set(pair.toggles)
        for name, units in solo.toggles.items():
            expected = {"tile": PROBE_UNITS, "router": ROUTER_UNITS, "interface": INTERFACE_UNITS}[name.split("_")[0]]
            assert tuple(units) == expected
        for name, units in solo.pulses.items():
            expected = {"tile": GATED_UNITS, "router": ROUTER_GATES, "interface": INTERFACE_GATES}[name.split("_")[0]]
            assert tuple(units) == expected

    def test_tile_registers_count_as_in_the_tile_bench(self, mesh_runs, solo_tile_run):
        """The tile in the mesh sees the same events in the same order as in the tile harness
        (spaced as a router delivers them; only the idle cycles between them differ), so its
        registers take the same sequences of values and flip the same bits; the nets between
        registers see the same values too. (Back to back, the pipeline's valid flags and the MAC's
        nets switch less: the unspaced tile harness gives other counts, so ``spaced``.)
        (Clock pulses are not compared: the event pipeline's and the sequencer's gates open for
        the cycles an event or a tick waits, which differ.)"""
        assert solo_tile_run.passed, solo_tile_run.mismatch
        mesh = mesh_runs("traffic")[0].toggles["tile_0_0"]
        assert sum(mesh.values()) > 0
        for unit in RegisterBudget(SOLO.tile_config(0)).register_units:
            assert mesh[unit] == solo_tile_run.toggles[unit], unit
        assert mesh == solo_tile_run.toggles

    @pytest.mark.parametrize("index", PAIRS)
    def test_routers_count_the_bits_of_the_packets_they_carry(self, mesh_runs, pair_packets, index):
        run, mode = mesh_runs("traffic")[index], MODES[index - 1]
        layout = mesh_packet_layout(PAIR)
        # In injection order; the harness leaves the src_* fields of external packets at 0.
        words = [_pack(layout, x=x, y=y, address=a, payload=p)
                 for step in _program_events(PAIR, pair_packets, seed=4) for x, y, a, p in step]
        count = len(words)
        assert run.routers[0].forwarded[EAST] == count and run.routers[1].forwarded[LOCAL] == count
        assert run.routers[1].forwarded[WEST] == 0 and run.routers[0].forwarded[LOCAL] == 0
        # Each packet is written once into router (0, 0)'s local FIFO and once into router
        # (1, 0)'s west FIFO, in order; no other FIFO is written.
        fifo = _fifo_flips(words, PAIR.fifo_depth)
        assert run.toggles["router_0_0"]["fifo"] == fifo
        assert run.toggles["router_1_0"]["fifo"] == fifo
        # Each packet leaves alone (injected every other cycle): valid pulses. Isolated links
        # (icg, enable) show a packet only while it is valid, zero otherwise, so each of the two
        # links it crosses flips its bits twice and the idle ones nothing. Without isolation,
        # router (0, 0)'s east and local outputs both show its local FIFO's head (the only
        # requester, and the default grant); router (1, 0)'s local output shows each packet
        # while it is valid and its absent local FIFO's head (0) otherwise.
        ones = sum(bin(w).count("1") for w in words)
        if mode == "none":
            assert run.toggles["router_0_0"]["links"] == 2 * _sequence_flips(words) + 2 * count
        else:
            assert run.toggles["router_0_0"]["links"] == 2 * ones + 2 * count
        assert run.toggles["router_1_0"]["links"] == 2 * ones + 2 * count
        # The arbiters: router (0, 0)'s east output always grants the local FIFO (port 0) after
        # reset (last grant 4), router (1, 0)'s local output the west FIFO (4): one change each.
        assert run.toggles["router_0_0"]["arbiter"] == bin(4 ^ LOCAL).count("1")
        assert run.toggles["router_1_0"]["arbiter"] == 0
        # FIFO control: occupancy 0 -> 1 -> 0 and the head flag 0 -> 1 -> 0 per packet, and its
        # write and read pointers (one bit each: depth 3 keeps two inner words) one step each.
        assert PAIR.fifo_depth == 3
        assert run.toggles["router_0_0"]["fifo_control"] == run.toggles["router_1_0"]["fifo_control"] == 6 * count
        # Counters: a counter counting to n flips 2n - popcount(n) bits (packets and stall
        # cycles: the tile is busy updating when a step's packet arrives); each occupancy
        # high-water mark goes from 0 to at most 1 (one packet at a time).
        counted = lambda n: 2 * n - bin(n).count("1")
        assert run.routers[1].stalls[LOCAL] > 0
        for index, router in enumerate(run.routers):
            assert max(router.max_level) == 1
            expected = sum(counted(n) for n in (*router.forwarded, *router.stalls)) + sum(router.max_level)
            assert run.toggles[f"router_{index}_0"]["counters"] == expected

    @pytest.mark.parametrize("index", PAIRS)
    def test_a_packet_clocks_exactly_the_gates_on_its_path(self, mesh_runs, pair_packets, index):
        """Each packet, alone in the network, opens the control gate of each FIFO it passes for
        three cycles (written, its word moved into the head register, read), that FIFO's head
        gate and one word gate once, the arbiter gate of each output it leaves by once and its
        stall gate in each cycle it waits there; every other gate of the routers stays shut. The
        enables are the same in every mode."""
        run = mesh_runs("traffic")[index]
        count = sum(len(step) for step in _program_events(PAIR, pair_packets, seed=4))
        first, second = run.routers
        for name in ("router_0_0", "router_1_0"):
            pulses = run.pulses[name]
            assert pulses["fifo"] == 3 * count and pulses["fifo_head"] == pulses["fifo_word"] == count
            # The router's gate is open while a child's is: never more cycles than they add up to.
            children = pulses["fifo"] + pulses["arbiter"] + pulses["stalls"]
            assert max(pulses["fifo"], pulses["arbiter"], pulses["stalls"]) <= pulses["router"] <= children
            assert pulses["router"] < run.cycles
        assert run.pulses["router_0_0"]["arbiter"] == first.forwarded[EAST] == count
        assert run.pulses["router_0_0"]["stalls"] == first.stalls[EAST] == 0
        assert run.pulses["router_1_0"]["arbiter"] == second.forwarded[LOCAL] == count
        assert run.pulses["router_1_0"]["stalls"] == second.stalls[LOCAL] > 0
        # The counters' high bits are clocked once per carry out of their low bits.
        step = 2 ** COUNTER_LOW_BITS
        for name, router in (("router_0_0", first), ("router_1_0", second)):
            assert run.pulses[name]["packets_high"] == sum(n // step for n in router.forwarded)
            assert run.pulses[name]["stalls_high"] == sum(n // step for n in router.stalls)
        assert run.pulses["router_1_0"]["stalls_high"] > 0 or second.stalls[LOCAL] < step
        # The merge at tile (0, 0) is clocked while it offers a packet; tile (1, 0) has none.
        assert run.pulses["interface_0_0"]["merge"] >= count and run.pulses["interface_1_0"]["merge"] == 0
        for other in PAIRS:
            assert mesh_runs("traffic")[other].pulses == run.pulses

    def test_output_fifo_counts_the_tile_output_events(self, mesh_runs, pair_packets):
        run = mesh_runs("traffic")[1]
        model = MeshModel(PAIR)
        outputs = [[], []]
        for step in pair_packets:
            result = model.step(step)
            for i, tile in enumerate(result.tiles):
                outputs[i] += [tuple(e) for e in np.asarray(tile.events_out).reshape(-1, 2)]
        assert outputs[1] and not outputs[0]
        for i, events in enumerate(outputs):
            config = PAIR.tile_config(i)
            layout = event_out_layout(config)
            words = [_pack(layout, neuron=n, payload=p) for n, p in events]
            x, y = PAIR.position(i)
            assert run.toggles[f"interface_{x}_{y}"]["out_fifo"] == _fifo_flips(words, max(2, config.neurons))

    def test_idle_mesh_has_no_data_toggles(self, mesh_runs):
        """Nothing switches in an idle mesh; with gating none, the tiles (not operand-isolated)
        may still flip a bit after reset, the network never."""
        for index, run in mesh_runs("idle").items():
            assert run.cycles > 0 and run.events_in == 0
            for block, units in run.toggles.items():
                if index != 3 or not block.startswith("tile"):
                    assert all(count == 0 for count in units.values()), (block, units)

    def test_idle_network_clocks_no_flop(self, mesh_runs):
        """No gate of an idle router or network interface opens, so with icg no flop of theirs
        is clocked: the only clock energy left is the gates on the root clock, one per block
        (their children's clocks stop with their parents)."""
        tech = TechModel.from_liberty()
        run = mesh_runs("idle")[1]
        for block, units in run.pulses.items():
            if not block.startswith("tile"):
                assert all(count == 0 for count in units.values()), (block, units)
        report = estimate(PAIRS[1], run, tech)
        for name, block in report.blocks.items():
            if block["kind"] in ("router", "interface"):
                assert block["clock_toggles"] == 0, name
                assert sum(block["clock_pj"].values()) == pytest.approx(run.cycles * tech.icg_disabled_cycle_energy_pj())

    def test_energy_is_the_sum_of_its_parts(self, mesh_runs):
        tech = TechModel.from_liberty()
        calibration = Calibration.load()
        run = mesh_runs("traffic")[3]                   # gating none: every flop on the clock
        report = estimate(PAIRS[3], run, tech, calibration=calibration)
        result = report.to_dict()
        blocks = result["blocks"]
        assert report.total_pj == pytest.approx(sum(b["energy_pj"] for b in blocks.values()))
        assert report.total_pj == pytest.approx(sum(result["energy_by_kind_pj"].values()))
        assert report.total_pj == pytest.approx(sum(result["breakdown_by_unit_pj"].values()))
        assert report.total_pj == pytest.approx(sum(result["breakdown_pj"].values()))
        assert result["energy_per_step_pj"] == pytest.approx(report.total_pj / PAIR_STEPS)
        assert report.data_toggles == sum(sum(units.values()) for units in run.toggles.values())
        assert result["packets"] == run.events_in + run.packets == PAIR_STEPS
        kinds = result["energy_by_kind_pj"]
        assert result["network_energy_per_packet_pj"] == pytest.approx(
            (kinds["router"] + kinds["interface"]) / PAIR_STEPS)
        # Each packet passes both routers (forwarded east, then to tile (1, 0)): two hops.
        assert result["hops"] == 2 * PAIR_STEPS
        assert result["network_energy_per_hop_pj"] == pytest.approx(result["network_energy_per_packet_pj"] / 2)
        # At the minimum-energy point a hop and a synaptic op cost less than at the nominal supply.
        assert 0 < result["minimum_energy_network_per_hop_pj"] < result["network_energy_per_hop_pj"]
        assert sorted(result["uncalibrated_blocks"]) == sorted(n for n in blocks if n.startswith("interface"))
        # A router's terms are its RTL terms times the shipped router factors.
        factors = calibration.router_term_factors()
        assert factors and set(factors.values()) != {1.0}
        for name in (n for n in blocks if n.startswith("router")):
            plain = estimate(PAIRS[3], run, tech).blocks[name]
            for group in ("data_pj", "clock_pj"):
                kind = group.split("_")[0]
                assert blocks[name][group] == pytest.approx(
                    {u: pj * factors[f"{kind}.{u}"] for u, pj in plain[group].items()})
        flops = network_flops(PAIR)
        for i in range(PAIR.count):
            x, y = PAIR.position(i)
            # A tile's terms are the tile model's (with the tile calibration) over the mesh's cycles.
            alone = types.SimpleNamespace(steps=run.steps, cycles=run.cycles, synaptic_ops=0, events_in=0,
                                          toggles=run.toggles[f"tile_{x}_{y}"], pulses=run.pulses[f"tile_{x}_{y}"])
            tile = estimate(PAIRS[3].tile_config(i), alone, tech, calibration=calibration)
            assert blocks[f"tile_{x}_{y}"]["data_pj"] == pytest.approx(tile.data_pj)
            assert blocks[f"tile_{x}_{y}"]["clock_pj"] == pytest.approx(tile.clock_pj)
            # Ungated routers: every flop's clock pin toggles twice per cycle (the structural
            # terms, before the router factors checked above).
            router = estimate(PAIRS[3], run, tech).blocks[f"router_{x}_{y}"]
            assert router["flops"] == flops["router"][i]
            assert router["clock_toggles"] == 2 * run.cycles * flops["router"][i]
            assert sum(router["clock_pj"].values()) == pytest.approx(
                run.cycles * flops["router"][i] * tech.flop_clock_cycle_energy_pj())
            assert router["data_pj"]["links"] == pytest.approx(
                run.toggles[f"router_{x}_{y}"]["links"] * tech.net_toggle_energy_pj())
            assert router["data_pj"]["fifo"] == pytest.approx(
                run.toggles[f"router_{x}_{y}"]["fifo"] * tech.register_bit_toggle_energy_pj())
        assert result["minimum_energy_point"]["vdd"] < tech.vdd

    def test_gated_network_clocks_only_what_its_gates_pass(self, mesh_runs):
        """With icg a router's flops see a clock edge only in their gate's open cycles; the same
        run's data energy does not depend on the mode but for the isolated links."""
        tech = TechModel.from_liberty()
        gated, ungated = mesh_runs("traffic")[1], mesh_runs("traffic")[3]
        assert gated.cycles == ungated.cycles
        icg, none = estimate(PAIRS[1], gated, tech).blocks, estimate(PAIRS[3], ungated, tech).blocks
        trees = network_clocks(PAIR)
        for i in range(PAIR.count):
            x, y = PAIR.position(i)
            for kind in ("router", "interface"):
                name, tree = f"{kind}_{x}_{y}", trees[kind][i]["clocks"]
                clocked = sum(gated.pulses[name][unit] * flops for unit, (gates, flops) in tree.items() if gates)
                assert icg[name]["clock_toggles"] == 2 * clocked
                assert none[name]["clock_toggles"] == 2 * gated.cycles * icg[name]["flops"]
                # A router carries a packet in few cycles; tile (1, 0)'s output FIFO holds events
                # in about half of them (the small tile emits in most steps).
                share = 1 / 3 if kind == "router" else 1
                assert sum(icg[name]["clock_pj"].values()) < share * sum(none[name]["clock_pj"].values())
                assert icg[name]["clock_gates"] == sum(gates for gates, _ in tree.values() if gates)

    def test_idle_mesh_energy_is_clock_and_leakage(self, mesh_runs):
        tech = TechModel.from_liberty()
        run = mesh_runs("idle")[2]                       # gating enable: every flop on the clock
        report = estimate(PAIRS[2], run, tech)
        assert report.data_toggles == 0 and all(v == 0 for v in report.data_pj.values())
        routers = sum(b["energy_pj"] for n, b in report.blocks.items() if n.startswith("router"))
        assert routers > 0


def test_count_flops_counts_registers_and_writable_memories():
    class Part(wiring.Component):
        address: In(3)
        data: Out(8)

        def __init__(self):
            self.fifo = SyncFIFOBuffered(width=8, depth=4)
            super().__init__()

        def elaborate(self, platform):
            m = Module()
            counter = Signal(5)
            m.d.sync += counter.eq(counter + 1)
            m.submodules.fifo = self.fifo
            m.submodules.rom = rom = Memory(shape=8, depth=8, init=range(8))
            read = rom.read_port(domain="comb")
            m.d.comb += [read.addr.eq(self.address), self.data.eq(read.data + counter)]
            return m

    # counter 5; FIFO: 3 words of 8 in memory, the 8-bit head register, produce, consume and
    # level (2 bits each), r_rdy 1; the ROM is logic.
    assert count_flops(Part()) == 5 + 3 * 8 + 8 + 2 + 2 + 2 + 1


def test_network_flops_follow_the_fifo_depth():
    shallow, deep = network_flops(PAIR), network_flops(PAIR.replace(fifo_depth=7))
    width = mesh_packet_layout(PAIR).size
    # Each connected input FIFO of a router (local and east or west) holds depth - 1 words of one
    # packet in memory (and its pointers grow with the depth).
    assert all(d - s >= 2 * 4 * width for s, d in zip(shallow["router"], deep["router"]))
    assert shallow["interface"] == deep["interface"]


def test_network_flops_are_those_of_each_part_at_its_position():
    """network_clocks elaborates one router per set of connected ports and one interface per
    kind: each position's totals must still be those of its own router and interface parts."""
    from subtile.hdl.mesh import _fanout, _merge, _output_fifo
    from subtile.hdl.router import Router
    config = MeshConfig(name="grid", width=4, height=3, tile=SMALL, fifo_depth=3, max_destinations=2,
                        inputs=((0, 0), (2, 1)), outputs=((3, 2), (1, 1)))
    flops = network_flops(config)
    layout = mesh_packet_layout(config)
    for i in range(config.count):
        x, y = config.position(i)
        router = Router(layout=layout, x=x, y=y, width=config.width, height=config.height,
                        fifo_depth=config.fifo_depth, gating="icg")
        assert flops["router"][i] == count_flops(router), (x, y)
        parts = [_output_fifo(config.tile_config(i), "icg"), _fanout(config, i, [[] for _ in range(SMALL.neurons)])]
        parts += [_merge(config)] if (x, y) in config.inputs else []
        assert flops["interface"][i] == sum(count_flops(part) for part in parts), (x, y)


def test_tile_energy_budget_ignores_the_contents_draw():
    """RegisterBudget reads one clock structure for tiles that differ only in seed and fills (the
    tiles of a mesh), on the premise that those draw memory contents, not registers: a tile
    elaborated with other contents (RegisterBudget.of reads that tile itself) has the same."""
    from subtile.hdl.tile import Tile

    def structure(b):
        return b.gated, b.parent, b.root_flops, b.unit_of, b.register_units
    for config in (SMALL.replace(gating="icg"), TileConfig()):
        other = config.replace(seed=12345, weight_density=0.05, table_fill=0.2)
        assert structure(RegisterBudget.of(Tile(other))) == structure(RegisterBudget(config))
        assert structure(RegisterBudget(other)) == structure(RegisterBudget(config))


@pytest.mark.parametrize("config", [SMALL, SMALL.replace(gating="none", lanes=1), TileConfig()],
                         ids=["small", "small-none", "default"])
def test_count_flops_agrees_with_the_tile_register_budget(config):
    """The tile's flop budget (the energy model's clock tree, read from the icg tile) against the
    design in each gating mode: every flop of the tile but its two memories (synapse table and
    weight rows, not modelled as flops) is in the budget."""
    from subtile.golden.tile import initial_contents
    from subtile.hdl.tile import RegisterBudget, Tile
    weights, table = initial_contents(config)
    budget = RegisterBudget(config)
    memories = (config.addresses * config.table_entry_width
                + config.branches * config.synapses * config.neurons * config.weight_format.width)
    assert count_flops(Tile(config, weights=weights, table=table)) == budget.root_flops + budget.gated_flops + memories
