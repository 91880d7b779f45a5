"""Router unit tests in Amaranth's simulator (small cases, no Verilator build): XY routing,
round-robin fairness under full load, FIFO full and empty corners, long backpressure, and
random traffic with random backpressure checked packet for packet against a Python model."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from amaranth.sim import Simulator

from subtile.errors import ConfigError
from subtile.hdl.router import COUNTER_LOW_BITS, EAST, LOCAL, NORTH, PORTS, SOUTH, WEST, Router, packet_layout

WIDTH, HEIGHT = 3, 3
LAYOUT = packet_layout(width=WIDTH, height=HEIGHT, address_width=12, payload_width=8, neuron_width=4)


def xy_route(x, y, dest_x, dest_y):
    """The routing rule of docs/architecture.md, written independently of the hardware."""
    if dest_x != x:
        return EAST if dest_x > x else WEST
    if dest_y != y:
        return SOUTH if dest_y > y else NORTH
    return LOCAL


def pack(**fields) -> int:
    word = 0
    for name, value in fields.items():
        member = LAYOUT[name]
        word |= (int(value) & ((1 << member.shape.width) - 1)) << member.offset
    return word


def unpack(word: int) -> dict:
    out = {}
    for name, member in LAYOUT:
        out[name] = (word >> member.offset) & ((1 << member.shape.width) - 1)
    return out


def by_source(received):
    """The words of one output's ``(cycle, word)`` list, grouped by their source port (src_tile)."""
    got = defaultdict(list)
    for _, word in received:
        got[unpack(word)["src_tile"]].append(word)
    return got


def run_router(router, sources, ready, cycles):
    """Drive ``router`` for ``cycles`` cycles.

    ``sources[port]`` is a list of packet words offered in order (each held until taken);
    ``ready(out, cycle)`` gives each output's ready. Returns, per output port, the list of
    (cycle, word) taken, per input port the cycles its ``ready`` was high while offering, and the
    counters at the end.
    """
    queues = [list(s) for s in sources]
    received = [[] for _ in range(PORTS)]
    accepted = [[] for _ in range(PORTS)]
    sim = Simulator(router)
    sim.add_clock(1e-6)
    counters = {}

    async def bench(ctx):
        for cycle in range(cycles):
            for port in range(PORTS):
                link = router.inputs[port]
                if queues[port]:
                    ctx.set(link.valid, 1)
                    ctx.set(link.payload.as_value(), queues[port][0])
                else:
                    ctx.set(link.valid, 0)
                ctx.set(router.outputs[port].ready, int(ready(port, cycle)))
            for port in range(PORTS):
                link = router.inputs[port]
                if queues[port] and ctx.get(link.ready):
                    accepted[port].append(cycle)
                    queues[port].pop(0)
                out = router.outputs[port]
                if ctx.get(out.valid) and ctx.get(out.ready):
                    received[port].append((cycle, ctx.get(out.payload.as_value())))
            await ctx.tick()
        counters.update(forwarded=[ctx.get(router.forwarded[p]) for p in range(PORTS)],
                        stalls=[ctx.get(router.stalls[p]) for p in range(PORTS)],
                        max_level=[ctx.get(router.max_level[p]) for p in range(PORTS)],
                        empty=ctx.get(router.empty))

    sim.add_testbench(bench)
    sim.run()
    return received, accepted, counters, queues


def always(port, cycle):
    return True


def test_xy_routing_every_destination_from_every_port():
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=4)
    sources = [[] for _ in range(PORTS)]
    expected = defaultdict(list)
    for port in range(PORTS):
        for dest_y in range(HEIGHT):
            for dest_x in range(WIDTH):
                word = pack(x=dest_x, y=dest_y, address=port * 16 + dest_y * 3 + dest_x, payload=-3,
                            src_tile=port, src_neuron=dest_x)
                sources[port].append(word)
                expected[(port, xy_route(1, 1, dest_x, dest_y))].append(word)
    received, _, counters, queues = run_router(router, sources, always, 200)
    assert not any(queues)
    for out in range(PORTS):
        got = by_source(received[out])
        for port in range(PORTS):
            assert got[port] == expected[(port, out)], (port, out)
        assert counters["forwarded"][out] == len(received[out])
    assert counters["empty"] == 1


@pytest.mark.parametrize("contenders", [(LOCAL, NORTH, EAST, SOUTH, WEST), (NORTH, SOUTH), (WEST, LOCAL, EAST)])
def test_round_robin_fairness_under_full_load(contenders):
    """Every contender always has a packet for the local port: grants rotate, none starves.
    (Depth 3: a depth-2 FIFO takes a packet only every other cycle under continuous flow, which
    would keep two contenders from both requesting in every cycle.)"""
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=3)
    per_port = 60
    sources = [[] for _ in range(PORTS)]
    for port in contenders:
        sources[port] = [pack(x=1, y=1, address=i, payload=0, src_tile=port) for i in range(per_port)]
    received, _, counters, _ = run_router(router, sources, always, len(contenders) * per_port + 10)
    order = [unpack(word)["src_tile"] for _, word in received[LOCAL]]
    k = len(contenders)
    # Saturated phase: once all FIFOs are primed, the output is busy every cycle and every window
    # of k consecutive grants serves each contender exactly once.
    steady = order[k:]
    for start in range(0, len(steady) - k + 1):
        assert sorted(steady[start:start + k]) == sorted(contenders), (start, steady[start:start + k])
    cycles = [cycle for cycle, _ in received[LOCAL]]
    assert cycles[-1] - cycles[0] == len(cycles) - 1, "the output idled although packets were waiting"
    assert len(order) == k * per_port
    assert counters["stalls"][LOCAL] == 0


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_fifo_full_and_empty_corners(depth):
    """With the output blocked, an input takes exactly ``depth`` packets and then holds ready low;
    released, exactly those packets leave in order and the FIFO reports empty."""
    router = Router(layout=LAYOUT, x=0, y=0, width=WIDTH, height=HEIGHT, fifo_depth=depth)
    words = [pack(x=2, y=0, address=i, payload=i - 4, src_tile=0, src_neuron=i % 16) for i in range(depth + 3)]
    release = 40
    received, accepted, counters, queues = run_router(
        router, [words, [], [], [], []], lambda port, cycle: cycle >= release, release + 30)
    before = [c for c in accepted[LOCAL] if c < release]
    assert len(before) == depth, f"accepted {len(before)} packets while blocked, FIFO depth {depth}"
    assert [w for _, w in received[EAST]] == words
    assert received[EAST][0][0] == release, "a full FIFO must offer its head while blocked"
    assert counters["max_level"][LOCAL] == depth
    assert counters["forwarded"][EAST] == len(words)
    # The head is offered from the second cycle after the first write until the release.
    assert counters["stalls"][EAST] == release - (accepted[LOCAL][0] + 2)
    assert counters["empty"] == 1 and not any(queues)
    assert sum(counters["forwarded"]) == len(words)


def test_empty_router_offers_nothing():
    router = Router(layout=LAYOUT, x=2, y=2, width=WIDTH, height=HEIGHT, fifo_depth=4)
    received, _, counters, _ = run_router(router, [[]] * PORTS, always, 20)
    assert not any(received)
    assert counters["forwarded"] == [0] * PORTS and counters["max_level"] == [0] * PORTS
    assert counters["empty"] == 1


def test_backpressure_held_for_many_cycles():
    """Three inputs compete for the east output, held off for 1500 cycles, then released in
    bursts: nothing lost, duplicated or reordered per source."""
    router = Router(layout=LAYOUT, x=1, y=0, width=WIDTH, height=HEIGHT, fifo_depth=4)
    sources = [[] for _ in range(PORTS)]
    for port in (LOCAL, SOUTH, WEST):
        sources[port] = [pack(x=2, y=2 if port == LOCAL else 0, address=i, payload=port, src_tile=port)
                         for i in range(30)]
    sources[SOUTH] = [pack(x=2, y=0, address=i, payload=1, src_tile=SOUTH) for i in range(30)]

    def ready(port, cycle):
        return port != EAST or (cycle >= 1500 and cycle % 7 != 3)

    received, _, counters, queues = run_router(router, sources, ready, 1700)
    assert not any(queues)
    by_source = defaultdict(list)
    for _, word in received[EAST]:
        fields = unpack(word)
        by_source[fields["src_tile"]].append(fields["address"])
    assert {port: by_source[port] for port in (LOCAL, SOUTH, WEST)} == \
        {port: list(range(30)) for port in (LOCAL, SOUTH, WEST)}
    assert all(cycle >= 1500 for cycle, _ in received[EAST])
    assert counters["forwarded"][EAST] == 90
    assert counters["stalls"][EAST] >= 1500 - 10
    assert max(counters["max_level"]) == 4


@pytest.mark.parametrize("seed, gating", [(1, "none"), (2, "none"), (3, "enable"), (4, "enable")])
def test_random_traffic_random_backpressure(seed, gating):
    """Packet for packet against the routing rule, in the ungated and the clock-enable modes
    (the Python simulator cannot run the ``icg`` cells; the mesh regressions run all three)."""
    rng = np.random.default_rng(seed)
    x, y = int(rng.integers(WIDTH)), int(rng.integers(HEIGHT))
    router = Router(layout=LAYOUT, x=x, y=y, width=WIDTH, height=HEIGHT, fifo_depth=int(rng.integers(2, 5)),
                    gating=gating)
    connected = router.connected_ports()
    sources = [[pack(x=rng.integers(WIDTH), y=rng.integers(HEIGHT), address=i, payload=rng.integers(-128, 128),
                     src_tile=port, src_neuron=rng.integers(16)) for i in range(40)] if port in connected else []
               for port in range(PORTS)]
    readies = rng.random((PORTS, 800)) < 0.6
    received, _, counters, queues = run_router(router, sources, lambda p, c: readies[p, c], 800)
    assert not any(queues)
    for out in range(PORTS):
        got = by_source(received[out])
        for port in range(PORTS):
            want = [w for w in sources[port] if xy_route(x, y, unpack(w)["x"], unpack(w)["y"]) == out]
            assert got[port] == want
        assert counters["forwarded"][out] == len(received[out])


def test_ports_off_the_mesh_take_and_send_nothing():
    """A corner router has no FIFO on its two ports off the mesh: their inputs are never ready,
    their outputs never valid, whatever is offered."""
    router = Router(layout=LAYOUT, x=0, y=0, width=WIDTH, height=HEIGHT, fifo_depth=2)
    assert router.connected_ports() == [LOCAL, EAST, SOUTH]
    word = pack(x=0, y=0, address=1, payload=1)
    received, accepted, counters, queues = run_router(router, [[], [word], [], [], [word]], always, 20)
    assert queues[NORTH] == [word] and queues[WEST] == [word]
    assert not any(received) and counters["forwarded"] == [0] * PORTS


@pytest.mark.parametrize("kwargs, message", [
    (dict(fifo_depth=1), "fifo_depth: 1 is outside the allowed range 2..1024"),
    (dict(x=3), "x: 3 is outside the allowed range 0..2"),
    (dict(width=0), "width: 0 is outside the allowed range 1..64"),
    (dict(gating="clock"), "gating: 'clock' is not one of icg, enable, none"),
])
def test_router_refuses_bad_parameters(kwargs, message):
    args = dict(layout=LAYOUT, x=0, y=0, width=WIDTH, height=HEIGHT, fifo_depth=4)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        Router(**args)


@pytest.mark.parametrize("depth, per_cycle", [(2, 0.5), (3, 1.0), (8, 1.0)])
def test_link_throughput_by_fifo_depth(depth, per_cycle):
    """One stream through the router: depth >= 3 moves a packet per cycle; depth 2 (Amaranth's
    SyncFIFOBuffered writes only while its inner buffer is not full) every other cycle."""
    router = Router(layout=LAYOUT, x=0, y=1, width=WIDTH, height=HEIGHT, fifo_depth=depth)
    words = [pack(x=0, y=0, address=i, payload=1, src_tile=1) for i in range(60)]
    received, _, _, _ = run_router(router, [[], [], [], words, []], always, 200)
    cycles = [cycle for cycle, _ in received[NORTH]]
    assert [w for _, w in received[NORTH]] == words
    assert (len(cycles) - 1) / (cycles[-1] - cycles[0]) == pytest.approx(per_cycle, abs=0.02)


def gate_cycles(router, sources, cycles, *, ready=always):
    """Drive ``router`` (gating ``enable``) with ``sources`` as :func:`run_router` does and count,
    per gate, the cycles its enable is high; also return the packets received."""
    queues = [list(s) for s in sources]
    received = [[] for _ in range(PORTS)]
    counts = {"router": 0, "fifo": [0] * PORTS, "arbiter": [0] * PORTS, "stalls": [0] * PORTS,
              "packets_high": [0] * PORTS, "stalls_high": [0] * PORTS,
              "head": [0] * PORTS, "words": [[0] * (router.fifo_depth - 1) for _ in range(PORTS)]}
    sim = Simulator(router)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for cycle in range(cycles):
            for port in range(PORTS):
                link = router.inputs[port]
                ctx.set(link.valid, int(bool(queues[port])))
                if queues[port]:
                    ctx.set(link.payload.as_value(), queues[port][0])
                ctx.set(router.outputs[port].ready, int(ready(port, cycle)))
            counts["router"] += ctx.get(router.router_enable)
            for port, fifo in enumerate(router.fifos):
                if fifo is not None:
                    counts["head"][port] += ctx.get(fifo.head_enable)
                    for k, enable in enumerate(fifo.word_enables):
                        counts["words"][port][k] += ctx.get(enable)
            for port in range(PORTS):
                counts["fifo"][port] += ctx.get(router.fifo_enables[port])
                counts["arbiter"][port] += ctx.get(router.arbiter_enables[port])
                counts["stalls"][port] += ctx.get(router.stall_enables[port])
                counts["packets_high"][port] += ctx.get(router.packets_high_enables[port])
                counts["stalls_high"][port] += ctx.get(router.stalls_high_enables[port])
                if queues[port] and ctx.get(router.inputs[port].ready):
                    queues[port].pop(0)
                out = router.outputs[port]
                if ctx.get(out.valid) and ctx.get(out.ready):
                    received[port].append(ctx.get(out.payload.as_value()))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    return counts, received


def test_an_idle_router_opens_no_gate():
    """No packet: no gate opens (in icg mode no flop of the router is clocked), and the output
    links, operand-isolated, stay at zero."""
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=3, gating="enable")
    counts, received = gate_cycles(router, [[]] * PORTS, 30)
    assert counts == {"router": 0, "fifo": [0] * PORTS, "arbiter": [0] * PORTS, "stalls": [0] * PORTS,
                      "packets_high": [0] * PORTS, "stalls_high": [0] * PORTS,
                      "head": [0] * PORTS, "words": [[0, 0]] * PORTS}
    assert not any(received)


@pytest.mark.parametrize("source, dest", [(WEST, (2, 1)), (LOCAL, (1, 0)), (SOUTH, (1, 1))])
def test_a_single_packet_opens_only_the_gates_on_its_path(source, dest):
    """One packet through the centre router: its input FIFO's control gate opens for three
    cycles (write, move into the head register, read), the FIFO's head gate and one word gate
    once each, its output's arbiter gate for the cycle it leaves, and every other gate stays
    shut; the router's own gate opens in exactly the cycles a child's does. With the output not
    ready for a while, the stall counter's gate is open while it waits and the FIFO's is not."""
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=3, gating="enable")
    word = pack(x=dest[0], y=dest[1], address=5, payload=-3, src_tile=source)
    out = xy_route(1, 1, *dest)
    sources = [[word] if port == source else [] for port in range(PORTS)]
    counts, received = gate_cycles(router, sources, 20)
    assert received[out] == [word] and sum(map(len, received)) == 1
    assert counts["fifo"] == [3 if port == source else 0 for port in range(PORTS)]
    assert counts["arbiter"] == [1 if port == out else 0 for port in range(PORTS)]
    assert counts["stalls"] == [0] * PORTS
    assert counts["packets_high"] == counts["stalls_high"] == [0] * PORTS     # no carry
    assert counts["router"] == 3                        # the grant is in the read's cycle
    assert counts["head"] == [1 if port == source else 0 for port in range(PORTS)]
    assert counts["words"] == [[1, 0] if port == source else [0, 0] for port in range(PORTS)]
    held = lambda port, cycle: port != out or cycle >= 10
    counts, received = gate_cycles(router, sources, 20, ready=held)
    assert received[out] == [word]
    assert counts["fifo"][source] == 3 and counts["arbiter"][out] == 1
    # Offered from cycle 2 (written in 0, in the head register from 2), taken in cycle 10.
    assert counts["stalls"] == [8 if port == out else 0 for port in range(PORTS)]


@pytest.mark.parametrize("packets, held", [(40, 100), (15, 47), (16, 0)])
def test_counter_high_bits_are_clocked_only_on_a_carry(packets, held):
    """The packet and stall counters' high bits sit behind carry gates: over a run, the gate of
    an output's packet-counter high bits opens once per 2 ** COUNTER_LOW_BITS packets sent, that
    of its stall counter's once per as many stall cycles, and the counters still count every
    event (the high part takes the carry)."""
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=3, gating="enable")
    words = [pack(x=2, y=1, address=i % 32, payload=i % 7, src_tile=WEST) for i in range(packets)]
    sources = [words if port == WEST else [] for port in range(PORTS)]
    ready = lambda port, cycle: port != EAST or cycle >= held
    counts, received = gate_cycles(router, sources, held + 3 * packets + 20, ready=ready)
    assert received[EAST] == words
    step = 2 ** COUNTER_LOW_BITS
    assert counts["arbiter"][EAST] == packets
    assert counts["packets_high"] == [packets // step if port == EAST else 0 for port in range(PORTS)]
    assert counts["stalls_high"] == [counts["stalls"][EAST] // step if port == EAST else 0
                                     for port in range(PORTS)]
    assert counts["stalls"][EAST] == max(0, held - 2)
    router = Router(layout=LAYOUT, x=1, y=1, width=WIDTH, height=HEIGHT, fifo_depth=3, gating="enable")
    _, _, counters, _ = run_router(router, sources, ready, held + 3 * packets + 20)
    assert counters["forwarded"][EAST] == packets and counters["stalls"][EAST] == max(0, held - 2)
