"""A mesh of tiles: routers joined into a 2-D network, fan-out units, a global time-step barrier."""

from amaranth.hdl import Cat, Const, DomainRenamer, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import MeshConfig
from subtile.spec.contents import mesh_contents
from subtile.errors import ConfigError
from subtile.hdl.clock_gate import add_gated_submodule
from subtile.hdl.fanout import FanOut
from subtile.hdl.fifo import GatedFIFO
from subtile.hdl.router import (COUNTER_WIDTH, EAST, LOCAL, NORTH, PORTS, SOUTH, WEST, Router, isolated,
                                packet_layout, round_robin)
from subtile.hdl.synapse import event_out_layout
from subtile.hdl.tile import Tile
from subtile.hdl.validation import unused_if_refused

__all__ = ["RouterMesh", "Mesh", "InterfaceProbes", "mesh_packet_layout", "COUNTERS_PER_ROUTER",
           "INTERFACE_UNITS", "INTERFACE_GATES", "network_flops", "network_clocks"]

#: Units of a tile's network interface (output FIFO, fan-out, input merge) whose toggles are
#: counted (:class:`InterfaceProbes`).
INTERFACE_UNITS = ("out_fifo", "packets")

#: Clock units of a tile's network interface: its own gate on the root clock (no register; it
#: feeds the others), the output FIFO's control gate and, fed from it, its head and word gates,
#: the fan-out's and the input merge's (tiles with an external input only).
INTERFACE_GATES = ("interface", "out_fifo", "out_fifo_head", "out_fifo_word", "fanout", "merge")

#: Counters per router in ``counters``: forwarded[5], stalls[5], max_level[5], 32 bits each.
COUNTERS_PER_ROUTER = 3 * PORTS


def mesh_packet_layout(config: MeshConfig) -> data.StructLayout:
    return packet_layout(width=config.width, height=config.height, address_width=config.address_width,
                         payload_width=config.payload_format.width, neuron_width=config.neuron_width)


class RouterMesh(wiring.Component):
    """``width`` x ``height`` :class:`~subtile.hdl.router.Router` s, neighbours joined both ways.

    Router ``i = y * width + x`` is submodule ``router_<x>_<y>``; links off the edge are tied
    off (never valid, never ready: XY routing never sends a packet there when every destination
    lies inside the mesh).

    Members
    -------
    local_in, local_out : In/Out(stream.Signature(layout)).array(width * height)
        Each router's local port.
    drained : Out(1)
        Every FIFO of every router is empty: no packet is in the network (links are wires). A
        gated FIFO holds its state, so its occupancy is right whether its clock runs or not.
    counters : Out(width * height * 15 * 32)
        Per router in index order: forwarded[5], stalls[5], max_level[5] (ports local, north,
        east, south, west), 32 bits each.
    """

    def __init__(self, *, layout: data.StructLayout, width: int, height: int, fifo_depth: int,
                 gating: str = "none"):
        self.layout, self.width, self.height, self.fifo_depth = layout, width, height, fifo_depth
        self.routers = [Router(layout=layout, x=i % width, y=i // width, width=width, height=height,
                               fifo_depth=fifo_depth, gating=gating) for i in range(width * height)]
        count = width * height
        super().__init__({
            "local_in": In(stream.Signature(layout)).array(count),
            "local_out": Out(stream.Signature(layout)).array(count),
            "drained": Out(1),
            "counters": Out(count * COUNTERS_PER_ROUTER * COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        width, height = self.width, self.height
        for i, router in enumerate(self.routers):
            x, y = i % width, i // width
            m.submodules[f"router_{x}_{y}"] = router
            wiring.connect(m, wiring.flipped(self.local_in[i]), router.inputs[LOCAL])
            wiring.connect(m, router.outputs[LOCAL], wiring.flipped(self.local_out[i]))
        neighbours = {EAST: (1, 0, WEST), SOUTH: (0, 1, NORTH), WEST: (-1, 0, EAST), NORTH: (0, -1, SOUTH)}
        for i, router in enumerate(self.routers):
            x, y = i % width, i // width
            for port, (dx, dy, opposite) in neighbours.items():
                nx, ny = x + dx, y + dy
                if 0 <= nx < width and 0 <= ny < height:
                    # Each directed link once: this router's output to the neighbour's input.
                    wiring.connect(m, router.outputs[port], self.routers[ny * width + nx].inputs[opposite])
                else:
                    m.d.comb += [router.inputs[port].valid.eq(0), router.outputs[port].ready.eq(0)]
        m.d.comb += self.drained.eq(Cat(router.empty for router in self.routers).all())
        words = [value for router in self.routers
                 for group in (router.forwarded, router.stalls, router.max_level) for value in group]
        # Zero-extended to 32 bits each (max_level is narrower).
        m.d.comb += self.counters.eq(Cat(*[value.as_unsigned()[:COUNTER_WIDTH] if len(value) == COUNTER_WIDTH
                                           else Cat(value, Const(0, COUNTER_WIDTH - len(value)))
                                           for value in words]))
        return m


class _Merge(wiring.Component):
    """Two packet streams into one, round-robin (a tile's fan-out and an external input)."""

    def __init__(self, layout, *, isolate: bool = False):
        self.layout, self.isolate = layout, isolate
        super().__init__({"a": In(stream.Signature(layout)), "b": In(stream.Signature(layout)),
                          "out": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        grant, any_request, advance = round_robin(m, [self.a.valid, self.b.valid], name="merge")
        fire = Signal(name="fire")
        m.d.comb += [
            self.out.valid.eq(any_request),
            self.out.payload.eq(isolated(any_request, Mux(grant, self.b.payload.as_value(),
                                                          self.a.payload.as_value()), isolate=self.isolate)),
            fire.eq(self.out.valid & self.out.ready),
            advance.eq(fire),
            self.a.ready.eq(fire & ~grant[0]),
            self.b.ready.eq(fire & grant[0]),
        ]
        return m


def _output_fifo(tile_config, gating: str) -> GatedFIFO:
    """A tile's output FIFO: a tile emits at most N events per step, so its update never waits
    for the network."""
    return GatedFIFO(width=event_out_layout(tile_config).size, depth=max(2, tile_config.neurons), gating=gating)


def _fanout(config: MeshConfig, index: int, destinations) -> FanOut:
    """Tile ``index``'s fan-out (``destinations``: per neuron, (x, y, address) triples)."""
    return FanOut(event_layout=event_out_layout(config.tile_config(index)), packet_layout=mesh_packet_layout(config),
                  destinations=destinations, max_destinations=config.max_destinations, source=index,
                  external=config.position(index) in config.outputs, isolate=config.network_gating != "none")


def _merge(config: MeshConfig) -> _Merge:
    return _Merge(mesh_packet_layout(config), isolate=config.network_gating != "none")


class Mesh(wiring.Component):
    """Tiles joined by event routers (docs/architecture.md, "Event routers and the mesh").

    Per tile: the :class:`~subtile.hdl.tile.Tile`, an output FIFO of ``max(2, N)`` events (a
    tile emits at most N events per step, so its update never waits for the network), a
    :class:`~subtile.hdl.fanout.FanOut` turning events into packets through the axon table, and a
    :class:`~subtile.hdl.router.Router`. Packets that arrive at a tile enter its ``events_in``
    (accepted while the tile is in its event phase).

    **Barrier.** ``tick_ready`` is high when every tile is ready for a tick and the network is
    drained: every router FIFO and output FIFO empty (fan-outs then hold nothing). A ``tick``
    then reaches every tile in the same cycle. Events emitted in step t are therefore all applied
    before the tick of step t + 1.

    Parameters
    ----------
    config : MeshConfig
    contents : list of (weights, table), optional
        Per tile; default from each tile config's seed.
    axons : golden.mesh.AxonTable, optional
        Default ``golden.mesh.initial_axons(config)``.

    Members
    -------
    input_<k> : In(stream.Signature(packet layout))
        External input port k, at tile ``config.inputs[k]`` (``src_*`` fields are free).
    output_<k> : Out(stream.Signature(StructLayout({"neuron", "payload"})))
        External output port k: the output events of tile ``config.outputs[k]``.
    tick : In(1)
    tick_ready : Out(1)
    counters : Out
        The routers' counters (:class:`RouterMesh`).
    """

    def __init__(self, config: MeshConfig, *, contents=None, axons=None):
        with unused_if_refused(self):
            if not isinstance(config, MeshConfig):
                raise ConfigError(f"config: expected a MeshConfig, got {type(config).__name__}")
            contents, self.axons = mesh_contents(config, contents, axons)
        self.config = config
        self.layout = mesh_packet_layout(config)
        self.tiles = [Tile(config.tile_config(i), weights=w, table=t) for i, (w, t) in enumerate(contents)]
        self.gating = config.network_gating
        self.network = RouterMesh(layout=self.layout, width=config.width, height=config.height,
                                  fifo_depth=config.fifo_depth, gating=self.gating)
        outputs = {config.index(x, y): k for k, (x, y) in enumerate(config.outputs)}
        self.fanouts = []
        for i in range(config.count):
            destinations = [[(*config.position(t), a) for t, a in neuron] for neuron in self.axons.destinations[i]]
            self.fanouts.append(_fanout(config, i, destinations))
        self.output_of = outputs
        # Built here, not in elaborate, so that interface_probes() can name their ports.
        self.out_fifos = [_output_fifo(config.tile_config(i), self.gating) for i in range(config.count)]
        self.merges = {config.index(x, y): _merge(config) for x, y in config.inputs}
        # Per tile, the enables of its interface's gates (INTERFACE_GATES).
        self.interface_enables = []
        for i, queue in enumerate(self.out_fifos):
            enables = {unit: Signal(name=f"g_{unit}_{i}_en") for unit in INTERFACE_GATES}
            enables["out_fifo_word"] = Signal(len(queue.word_enables), name=f"g_out_fifo_word_{i}_en")
            self.interface_enables.append(enables)
        members = {"tick": In(1), "tick_ready": Out(1),
                   "counters": Out(len(self.network.counters))}
        for k in range(len(config.inputs)):
            members[f"input_{k}"] = In(stream.Signature(self.layout))
        for k in range(len(config.outputs)):
            members[f"output_{k}"] = Out(stream.Signature(self.fanouts[0].external_layout))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config = self.config
        m.submodules.network = network = self.network
        inputs = {config.index(x, y): k for k, (x, y) in enumerate(config.inputs)}
        empty = [network.drained]
        ready = []
        for i, (tile, fanout) in enumerate(zip(self.tiles, self.fanouts)):
            m.submodules[f"tile_{i}"] = tile
            queue = self.out_fifos[i]
            # The network interface: output FIFO, fan-out and merge, each behind its gate, under
            # the interface's gate (docs/architecture.md, "Clock gating of the network").
            interface, enable = Module(), self.interface_enables[i]
            interface.submodules.out_fifo = DomainRenamer(f"g_out_fifo_{i}")(queue)
            interface.submodules.fanout = DomainRenamer(f"g_fanout_{i}")(fanout)
            parts = ["out_fifo", "fanout"]
            m.d.comb += [enable["out_fifo"].eq(queue.control_enable),
                         enable["out_fifo_head"].eq(queue.head_enable),
                         enable["out_fifo_word"].eq(Cat(queue.word_enables)),
                         # The fan-out's one register (the destination index) moves only with an event.
                         enable["fanout"].eq(queue.r_rdy)]
            if i in self.merges:
                merge = self.merges[i]
                interface.submodules.merge = DomainRenamer(f"g_merge_{i}")(merge)
                m.d.comb += enable["merge"].eq(merge.a.valid | merge.b.valid)
                parts.append("merge")
            m.d.comb += enable["interface"].eq(Cat(enable[part] for part in parts).any())
            add_gated_submodule(m, f"interface_{i}", interface,
                                {f"g_{unit}_{i}": enable[unit] for unit in ["interface", *parts]}, mode=self.gating,
                                sources={f"g_{part}_{i}": f"g_interface_{i}" for part in parts})
            m.d.comb += [
                queue.w_data.eq(tile.events_out.payload.as_value()),
                queue.w_en.eq(tile.events_out.valid),
                tile.events_out.ready.eq(queue.w_rdy),
                fanout.events.payload.eq(queue.r_data),
                fanout.events.valid.eq(queue.r_rdy),
                queue.r_en.eq(fanout.events.ready),
                tile.prog.valid.eq(0),
                tile.tick.eq(self.tick & self.tick_ready),
            ]
            empty.append(~queue.level.any())
            ready.append(tile.tick_ready)
            if i in inputs:
                merge = self.merges[i]
                wiring.connect(m, fanout.packets, merge.a)
                wiring.connect(m, wiring.flipped(getattr(self, f"input_{inputs[i]}")), merge.b)
                wiring.connect(m, merge.out, network.local_in[i])
            else:
                wiring.connect(m, fanout.packets, network.local_in[i])
            if i in self.output_of:
                wiring.connect(m, fanout.external, wiring.flipped(getattr(self, f"output_{self.output_of[i]}")))
            arriving = network.local_out[i]
            m.d.comb += [
                tile.events_in.payload.address.eq(arriving.payload.address),
                tile.events_in.payload.payload.eq(arriving.payload.payload),
                tile.events_in.valid.eq(arriving.valid),
                arriving.ready.eq(tile.events_in.ready),
            ]
        m.d.comb += [
            self.tick_ready.eq(Cat(*ready, *empty).all()),
            self.counters.eq(network.counters),
        ]
        return m

    def interface_probes(self, index: int) -> "InterfaceProbes":
        """Signals a simulation wrapper observes to count the toggles of tile ``index``'s
        network interface (see :class:`InterfaceProbes`)."""
        return InterfaceProbes(self, index)


class InterfaceProbes:
    """What a simulation wrapper observes to count the toggles of one tile's network interface,
    grouped by unit (:data:`INTERFACE_UNITS`; the protocol of :class:`subtile.hdl.router.RouterProbes`).

    Members
    -------
    data : dict of str to list of Value
        ``out_fifo``: the output FIFO's head register; ``packets``: valid and payload of the
        fan-out's packet stream into the router (the merge's output where there is one).
    writes : dict of str to list of (Value, Value, int)
        The output FIFO's memory, observed through its writes (write data, strobe, words).
    register_units : tuple of str
    clock_enables : dict of str to Value
        Per clock unit of :data:`INTERFACE_GATES`, its gates' enables (``merge``: never high
        where the tile has no external input).
    """

    register_units = ("out_fifo",)

    def __init__(self, mesh: Mesh, index: int):
        queue = mesh.out_fifos[index]
        packets = mesh.merges[index].out if index in mesh.merges else mesh.fanouts[index].packets
        self.data = {"out_fifo": [queue.r_data], "packets": [packets.valid, packets.payload.as_value()]}
        self.writes = {"out_fifo": [(queue.w_data, queue.w_en & queue.w_rdy, queue.depth - 1)]}
        self.clock_enables = dict(mesh.interface_enables[index])
        assert tuple(self.data) == INTERFACE_UNITS and tuple(self.clock_enables) == INTERFACE_GATES


def network_clocks(config: MeshConfig) -> dict[str, list[dict]]:
    """The clock trees of the network, counted from the design
    (:func:`subtile.hdl.flops.count_flops_by_domain`; the axon tables are ROMs, so their contents
    do not matter): per tile index, its ``router`` and its ``interface`` (output FIFO, fan-out,
    and the merge at an external input), each ``{"clocks": {unit: (gates, flops per gate)},
    "parent": {unit: parent unit}}`` in the form of :class:`subtile.power.energy.Block`
    (``root``: flops on the root clock, none in any mode; units of
    :data:`~subtile.hdl.router.ROUTER_GATES` and :data:`INTERFACE_GATES`; a unit the block
    lacks has 0 gates)."""
    from subtile.hdl.flops import count_flops_by_domain
    from subtile.hdl.router import PORT_NAMES, connected_ports

    def per_gate(by_domain, names, gates):
        """Flops per gate of the domains ``names`` (popped), ``gates`` gates of equal size."""
        total = sum(by_domain.pop(name, 0) for name in names)
        assert gates and total % gates == 0, (names, total, gates)
        return total // gates

    layout = mesh_packet_layout(config)
    inputs = {config.index(x, y) for x, y in config.inputs}
    words = lambda depth: [f"word_{k}" for k in range(depth - 1)]

    def router_tree(x, y):
        router = Router(layout=layout, x=x, y=y, width=config.width, height=config.height,
                        fifo_depth=config.fifo_depth, gating="icg")
        by_domain = count_flops_by_domain(router)
        names = [PORT_NAMES[p] for p in router.connected_ports()]
        n, depth = len(names), config.fifo_depth
        clocks = {"root": (None, by_domain.pop("sync", 0)), "router": (1, by_domain.pop("g_router", 0))}
        # The FIFOs' head and word domains are local to each FIFO: the same names in every one.
        for unit, domains, gates in (("fifo", [f"g_fifo_{p}" for p in names], n), ("fifo_head", ["head"], n),
                                     ("fifo_word", words(depth), n * (depth - 1)),
                                     ("arbiter", [f"g_arb_{p}" for p in names], n),
                                     ("packets_high", [f"g_pkthi_{p}" for p in names], n),
                                     ("stalls", [f"g_stall_{p}" for p in names], n),
                                     ("stalls_high", [f"g_stallhi_{p}" for p in names], n)):
            clocks[unit] = (gates, per_gate(by_domain, domains, gates))
        assert not by_domain, by_domain
        return clocks

    def interface_clocks(i):
        tile_config = config.tile_config(i)
        queue = _output_fifo(tile_config, "icg")
        by_domain = count_flops_by_domain(queue)
        clocks = {"root": (None, 0), "interface": (1, 0), "out_fifo": (1, per_gate(by_domain, ["sync"], 1)),
                  "out_fifo_head": (1, per_gate(by_domain, ["head"], 1)),
                  "out_fifo_word": (queue.depth - 1, per_gate(by_domain, words(queue.depth), queue.depth - 1))}
        assert not by_domain, by_domain
        clocks["fanout"] = (1, sum(count_flops_by_domain(
            _fanout(config, i, [[] for _ in range(tile_config.neurons)])).values()))
        return clocks

    # Elaborated once per kind of part, not per tile: a router by its connected ports, an
    # interface by what its output FIFO and fan-out are built from (the source index and the
    # axon table's contents set no register).
    router_kinds, interface_kinds = {}, {}
    merge_flops = sum(count_flops_by_domain(_merge(config)).values())
    routers, interfaces = [], []
    for i in range(config.count):
        x, y = config.position(i)
        # Any router with these connected ports has these registers (connected_ports): the
        # first one stands for all.
        ports = tuple(connected_ports(x, y, config.width, config.height))
        if ports not in router_kinds:
            router_kinds[ports] = router_tree(x, y)
        routers.append({"clocks": dict(router_kinds[ports]),
                        "parent": {"fifo": "router", "fifo_head": "fifo", "fifo_word": "fifo",
                                   "arbiter": "router", "packets_high": "arbiter",
                                   "stalls": "router", "stalls_high": "stalls"}})
        tile_config = config.tile_config(i)
        kind = (repr(event_out_layout(tile_config)), tile_config.neurons, config.position(i) in config.outputs)
        if kind not in interface_kinds:
            interface_kinds[kind] = interface_clocks(i)
        clocks = dict(interface_kinds[kind])
        clocks["merge"] = (1 if i in inputs else 0, merge_flops)
        interfaces.append({"clocks": clocks, "parent": {"out_fifo": "interface", "out_fifo_head": "out_fifo",
                                                        "out_fifo_word": "out_fifo", "fanout": "interface",
                                                        "merge": "interface"}})
    return {"router": routers, "interface": interfaces}


def network_flops(config: MeshConfig) -> dict[str, list[int]]:
    """Flip-flops of the network: per tile index, its ``router`` and its ``interface`` (the
    sums of :func:`network_clocks`)."""
    return {kind: [sum((1 if gates is None else gates) * flops for gates, flops in tree["clocks"].values())
                   for tree in trees]
            for kind, trees in network_clocks(config).items()}
