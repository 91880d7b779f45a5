"""A five-port mesh router: input FIFOs, dimension-ordered XY routing, round-robin arbitration.

Ports are numbered :data:`LOCAL`, :data:`NORTH`, :data:`EAST`, :data:`SOUTH`, :data:`WEST`.
x grows towards the east, y towards the south (tile (0, 0) is the north-west corner).
docs/architecture.md ("Event routers and the mesh") explains why XY routing with these
buffers cannot deadlock.
"""

from amaranth.hdl import Array, Cat, DomainRenamer, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from subtile.errors import ConfigError
from subtile.hdl.clock_gate import GATING_MODES, add_gated_submodule
from subtile.hdl.fifo import GatedFIFO
from subtile.hdl.validation import unused_if_refused
from subtile.spec.config import index_bits

__all__ = ["Router", "RouterProbes", "packet_layout", "round_robin", "PORTS", "PORT_NAMES",
           "LOCAL", "NORTH", "EAST", "SOUTH", "WEST", "COUNTER_WIDTH", "ROUTER_UNITS", "ROUTER_GATES",
           "isolated", "COUNTER_LOW_BITS", "connected_ports"]

LOCAL, NORTH, EAST, SOUTH, WEST = range(5)
PORTS = 5
PORT_NAMES = ("local", "north", "east", "south", "west")
COUNTER_WIDTH = 32
#: Low bits of each packet and stall counter clocked with every event; the high bits sit behind
#: their own gate, open only when the low bits carry (once per ``2 ** COUNTER_LOW_BITS`` events).
COUNTER_LOW_BITS = 4

#: Units of a router whose toggles are counted (:class:`RouterProbes`): FIFO storage (memory
#: words and head registers), FIFO control (occupancy), the arbiters' grant registers, the output
#: links (crossbar outputs) and the packet, stall and occupancy counters.
ROUTER_UNITS = ("fifo", "fifo_control", "arbiter", "links", "counters")

#: A router's clock units (:class:`RouterProbes`): the router's own gate on the root clock (it
#: holds no register and feeds the others); per connected input FIFO its control gate and, fed
#: from that, its head register's gate and one gate per storage word; per connected output the
#: gate of its last grant and the low bits of its packet counter (fed from that, the gate of the
#: counter's high bits, open on a carry) and that of its stall counter's low bits (with its
#: high bits' carry gate).
ROUTER_GATES = ("router", "fifo", "fifo_head", "fifo_word", "arbiter", "packets_high", "stalls", "stalls_high")


def _equals(value, constant: int):
    """``value == constant``; a comparison with 0 is written as a reduction (a multi-bit
    ``!x`` in the Verilog is a lint width warning)."""
    return ~value.any() if constant == 0 else value == constant


def packet_layout(*, width: int, height: int, address_width: int, payload_width: int,
                  neuron_width: int) -> data.StructLayout:
    """A packet: destination tile (x, y), destination input address, signed payload, and the
    source (tile index y * width + x, neuron) for debugging and ordering checks."""
    return data.StructLayout({
        "x": unsigned(index_bits(width)), "y": unsigned(index_bits(height)),
        "address": unsigned(address_width), "payload": signed(payload_width),
        "src_tile": unsigned(index_bits(width * height)), "src_neuron": unsigned(neuron_width),
    })


def round_robin(m: Module, requests, *, name: str, domain: str = "sync", last=None):
    """A round-robin arbiter over ``requests`` (a list of one-bit values).

    Returns ``(grant, any, advance)``: the granted index, whether any request is up, and a
    signal the caller drives high in a cycle where the grant was used; the requester after the
    granted one then has the highest priority (so no requester waits more than
    ``len(requests) - 1`` grants). The last grant is a register of ``domain`` (``last``: the
    signal to use, of ``range(max(len(requests), 2))`` and reset value ``len(requests) - 1``);
    it changes only with ``advance``.
    """
    count = len(requests)
    grant = Signal(range(max(count, 2)), name=f"{name}_grant")
    if last is None:
        last = Signal(range(max(count, 2)), init=count - 1, name=f"{name}_last")
    advance = Signal(name=f"{name}_advance")
    any_request = Signal(name=f"{name}_any")
    m.d.comb += any_request.eq(Cat(requests).any())
    if count > 1:
        with m.Switch(last):
            for previous in range(count):
                # The last value as the default, so that the case statement is complete.
                with (m.Case(previous) if previous < count - 1 else m.Default()):
                    # Later assignments win: walk from the lowest priority to the highest.
                    order = [(previous + offset) % count for offset in range(1, count + 1)]
                    for index in reversed(order):
                        with m.If(requests[index]):
                            m.d.comb += grant.eq(index)
        with m.If(advance):
            m.d[domain] += last.eq(grant)
    return grant, any_request, advance


def isolated(valid, value, *, isolate: bool):
    """Operand isolation: ``value`` while ``valid``, zero otherwise (with ``isolate``), so that
    an idle link's data wires hold still whatever the logic before them does."""
    value = Value.cast(value)
    return Mux(valid, value, 0) if isolate else value


def connected_ports(x: int, y: int, width: int, height: int) -> list[int]:
    """The ports of the router at (x, y) of a ``width`` x ``height`` mesh that lead somewhere:
    local and the neighbours inside the mesh (the others are tied off and have no FIFO). Routers
    with the same connected ports (and packet layout, FIFO depth and gating) have the same
    registers and clock gates: only their routing comparisons differ."""
    inside = {LOCAL: True, NORTH: y > 0, EAST: x < width - 1, SOUTH: y < height - 1, WEST: x > 0}
    return [port for port in range(PORTS) if inside[port]]


class Router(wiring.Component):
    """A router of a 2-D mesh with five ports (local, north, east, south, west).

    Every connected input port has a FIFO of ``fifo_depth`` packets
    (:class:`~subtile.hdl.fifo.GatedFIFO`, cycle for cycle ``amaranth.lib.fifo.SyncFIFOBuffered``:
    one packet per cycle in and out); its head is routed
    dimension-ordered, X first: east or west until the column matches, then north or south, then
    local. Each output port grants one of the heads that want it per cycle, round-robin. All
    links are valid/ready streams; a packet leaves a FIFO only in a cycle where the output takes
    it, so nothing is ever dropped. A port off the mesh (:meth:`connected_ports`) has no FIFO:
    its input is never ready and its output never valid.

    **Clock gating** (docs/architecture.md, "Clock gating of the network"). Every register sits
    behind a gate of a tree: gate ``g_router`` (root clock) is open while any FIFO holds a
    packet or any input link offers one, and feeds ``g_fifo_<port>`` (that FIFO's control and
    its occupancy high-water mark; open in a cycle the FIFO is written, read or refills its head;
    it feeds the FIFO's head and word gates), ``g_arb_<port>`` (that output's last grant and
    low :data:`COUNTER_LOW_BITS` bits of its packet counter; open when a packet leaves) and
    ``g_stall_<port>`` (the low bits of its stall counter; open in a stall cycle). The counters'
    high bits are carry-gated: ``g_pkthi_<port>`` (fed from ``g_arb_<port>``) and
    ``g_stallhi_<port>`` (fed from ``g_stall_<port>``) open only in a cycle whose increment carries
    out of the low bits. An idle router clocks no flop. With ``gating`` other than ``none`` the output
    links are operand-isolated (payload zero unless valid).

    Parameters
    ----------
    layout : data.StructLayout
        The packet (:func:`packet_layout`).
    x, y : int
        This router's coordinates.
    width, height : int
        The mesh (1..64 each).
    fifo_depth : int
        Packets per input FIFO, 2..1024.
    gating : str
        ``icg``, ``enable`` or ``none`` (:mod:`subtile.hdl.clock_gate`).

    Members
    -------
    inputs : In(stream.Signature(layout)).array(5)
    outputs : Out(stream.Signature(layout)).array(5)
        Indexed by port (:data:`LOCAL` .. :data:`WEST`).
    forwarded : Out(32).array(5)
        Packets sent per output port (wrapping).
    stalls : Out(32).array(5)
        Cycles per output port with a packet offered and ``ready`` low (wrapping).
    max_level : Out(range(fifo_depth + 1)).array(5)
        Highest occupancy seen per input FIFO.
    empty : Out(1)
        Every input FIFO is empty.
    """

    def __init__(self, *, layout: data.StructLayout, x: int, y: int, width: int, height: int,
                 fifo_depth: int, gating: str = "none"):
        with unused_if_refused(self):
            for name, value, lo, hi in (("width", width, 1, 64), ("height", height, 1, 64),
                                        ("fifo_depth", fifo_depth, 2, 1024)):
                if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                    raise ConfigError(f"{name}: {value!r} is outside the allowed range {lo}..{hi}")
            if not 0 <= x < width:
                raise ConfigError(f"x: {x!r} is outside the allowed range 0..{width - 1}")
            if not 0 <= y < height:
                raise ConfigError(f"y: {y!r} is outside the allowed range 0..{height - 1}")
            for field in ("x", "y"):
                if field not in layout.members:
                    raise ConfigError(f"layout: the packet has no field {field!r}")
            if gating not in GATING_MODES:
                raise ConfigError(f"gating: {gating!r} is not one of {', '.join(GATING_MODES)}")
        self.layout, self.x, self.y = layout, x, y
        self.width, self.height, self.fifo_depth, self.gating = width, height, fifo_depth, gating
        # Built here, not in elaborate, so that probes() can name their ports (None: off the mesh).
        connected = self.connected_ports()
        self.fifos = [GatedFIFO(width=layout.size, depth=fifo_depth, gating=gating) if port in connected else None
                      for port in range(PORTS)]
        self.last_grant = [Signal(range(PORTS), init=PORTS - 1, name=f"arb_{name}_last") for name in PORT_NAMES]
        self.router_enable = Signal(name="g_router_en")
        self.fifo_enables = [Signal(name=f"g_fifo_{name}_en") for name in PORT_NAMES]
        self.arbiter_enables = [Signal(name=f"g_arb_{name}_en") for name in PORT_NAMES]
        self.stall_enables = [Signal(name=f"g_stall_{name}_en") for name in PORT_NAMES]
        self.packets_high_enables = [Signal(name=f"g_pkthi_{name}_en") for name in PORT_NAMES]
        self.stalls_high_enables = [Signal(name=f"g_stallhi_{name}_en") for name in PORT_NAMES]
        super().__init__({
            "inputs": In(stream.Signature(layout)).array(PORTS),
            "outputs": Out(stream.Signature(layout)).array(PORTS),
            "forwarded": Out(COUNTER_WIDTH).array(PORTS),
            "stalls": Out(COUNTER_WIDTH).array(PORTS),
            "max_level": Out(range(fifo_depth + 1)).array(PORTS),
            "empty": Out(1),
        })

    def gate_domains(self) -> dict[str, str | None]:
        """Gated domain name to the domain its gate is fed from (None: the root clock)."""
        ports = self.connected_ports()
        return {"g_router": None,
                **{f"g_{kind}_{PORT_NAMES[p]}": "g_router" for kind in ("fifo", "arb", "stall") for p in ports},
                **{f"g_{kind}hi_{PORT_NAMES[p]}": f"g_{parent}_{PORT_NAMES[p]}"
                   for kind, parent in (("pkt", "arb"), ("stall", "stall")) for p in ports}}

    def elaborate(self, platform):
        m = Module()
        core = Module()
        connected = self.connected_ports()
        isolate = self.gating != "none"
        heads, routes, pops, levels = [], [], [], []
        for port, port_name in enumerate(PORT_NAMES):
            fifo = self.fifos[port]
            link = self.inputs[port]
            head = Signal(self.layout, name=f"head_{port_name}")
            route = Signal(range(PORTS), name=f"route_{port_name}")
            pop = Signal(name=f"pop_{port_name}")
            heads.append((fifo, head))
            routes.append(route)
            pops.append(pop)
            if fifo is None:                    # off the mesh: never ready, never a head
                core.d.comb += link.ready.eq(0)
                continue
            domain = f"g_fifo_{port_name}"
            core.submodules[f"fifo_{port_name}"] = DomainRenamer(domain)(fifo)
            core.d.comb += [fifo.w_data.eq(link.payload), fifo.w_en.eq(link.valid), link.ready.eq(fifo.w_rdy),
                            self.fifo_enables[port].eq(fifo.control_enable)]
            core.d.comb += head.eq(fifo.r_data)
            # Dimension-ordered: X first, then Y. Later assignments win, so the checks are
            # written from the lowest priority up; a direction off the mesh is never chosen
            # (and its comparison would be constant).
            core.d.comb += route.eq(LOCAL)
            if self.y > 0:
                with core.If(head.y < self.y):
                    core.d.comb += route.eq(NORTH)
            if self.y < self.height - 1:
                with core.If(head.y > self.y):
                    core.d.comb += route.eq(SOUTH)
            if self.x > 0:
                with core.If(head.x < self.x):
                    core.d.comb += route.eq(WEST)
            if self.x < self.width - 1:
                with core.If(head.x > self.x):
                    core.d.comb += route.eq(EAST)
            core.d.comb += fifo.r_en.eq(pop)
            # The occupancy after this cycle: the high-water mark changes only with a write,
            # so it lives behind the FIFO's gate.
            after = Signal(range(self.fifo_depth + 1), name=f"level_after_{port_name}")
            core.d.comb += after.eq(fifo.level + (fifo.w_en & fifo.w_rdy) - (fifo.r_en & fifo.r_rdy))
            with core.If(after > self.max_level[port]):
                core.d[domain] += self.max_level[port].eq(after)
            levels.append(fifo.level)
        core.d.comb += self.empty.eq(~Cat(level.any() for level in levels).any())

        pop_terms = [[] for _ in range(PORTS)]
        for out, out_name in enumerate(PORT_NAMES):
            link = self.outputs[out]
            if out not in connected:            # off the mesh: never valid
                core.d.comb += link.valid.eq(0)
                continue
            domain = f"g_arb_{out_name}"
            requests = []
            for port, port_name in enumerate(PORT_NAMES):
                request = Signal(name=f"req_{port_name}_to_{out_name}")
                if heads[port][0] is not None:
                    core.d.comb += request.eq(heads[port][0].r_rdy & _equals(routes[port], out))
                requests.append(request)
            grant, any_request, advance = round_robin(core, requests, name=f"arb_{out_name}", domain=domain,
                                                      last=self.last_grant[out])
            fire = Signal(name=f"fire_{out_name}")
            # The crossbar: padded to every value of the grant index (a complete case statement).
            selected = Array([head for _, head in heads] + [heads[-1][1]] * 3)[grant]
            core.d.comb += [
                link.valid.eq(any_request),
                link.payload.eq(isolated(any_request, selected, isolate=isolate)),
                fire.eq(link.valid & link.ready),
                advance.eq(fire),
                self.arbiter_enables[out].eq(fire),
                self.stall_enables[out].eq(link.valid & ~link.ready),
            ]
            for port in range(PORTS):
                pop_terms[port].append(fire & _equals(grant, port))
            stall = link.valid & ~link.ready
            self._carry_gated_counter(core, self.forwarded[out], fire, low_domain=domain,
                                      high_domain=f"g_pkthi_{out_name}", high_enable=self.packets_high_enables[out],
                                      name=f"packets_{out_name}")
            self._carry_gated_counter(core, self.stalls[out], stall, low_domain=f"g_stall_{out_name}",
                                      high_domain=f"g_stallhi_{out_name}", high_enable=self.stalls_high_enables[out],
                                      name=f"stalls_{out_name}")
        for port in range(PORTS):
            core.d.comb += pops[port].eq(Cat(pop_terms[port]).any())
        # The router's own gate: open while any FIFO or arbiter gate may open (each child's
        # enable implies it), that is while a FIFO holds a packet or a link offers one.
        groups = {"fifo": self.fifo_enables, "arb": self.arbiter_enables, "stall": self.stall_enables}
        core.d.comb += self.router_enable.eq(Cat(group[p] for group in groups.values() for p in connected).any())
        domains = self.gate_domains()
        enables = {"g_router": self.router_enable}
        enables.update({f"g_{kind}_{PORT_NAMES[p]}": group[p] for kind, group in groups.items() for p in connected})
        # The carry gates' enables imply their parents' (a carry needs an event).
        enables.update({f"g_{kind}_{PORT_NAMES[p]}": group[p] for kind, group in
                        (("pkthi", self.packets_high_enables), ("stallhi", self.stalls_high_enables))
                        for p in connected})
        add_gated_submodule(m, "core", core, enables, mode=self.gating,
                            sources={name: parent for name, parent in domains.items() if parent})
        return m

    @staticmethod
    def _carry_gated_counter(m, counter, event, *, low_domain, high_domain, high_enable, name):
        """``counter`` (a :data:`COUNTER_WIDTH`-bit output) counts ``event`` cycles, wrapping: its
        low :data:`COUNTER_LOW_BITS` bits are registers of ``low_domain`` (open with ``event``),
        its high bits registers of ``high_domain``, whose gate ``high_enable`` opens only when the
        increment carries out of the low bits."""
        low = Signal(COUNTER_LOW_BITS, name=f"{name}_low")
        high = Signal(COUNTER_WIDTH - COUNTER_LOW_BITS, name=f"{name}_high")
        m.d.comb += [counter.eq(Cat(low, high)), high_enable.eq(event & low.all())]
        with m.If(event):
            m.d[low_domain] += low.eq(low + 1)
        with m.If(high_enable):
            m.d[high_domain] += high.eq(high + 1)

    def connected_ports(self) -> list[int]:
        """The ports that lead somewhere (:func:`connected_ports`)."""
        return connected_ports(self.x, self.y, self.width, self.height)

    def probes(self) -> "RouterProbes":
        """Signals a simulation wrapper observes to count toggles (see :class:`RouterProbes`)."""
        return RouterProbes(self)


class RouterProbes:
    """What a simulation wrapper observes to count a router's toggles, grouped by unit
    (:data:`ROUTER_UNITS`; the same protocol as :class:`subtile.hdl.tile.TileProbes`).

    Members
    -------
    data : dict of str to list of Value
        ``fifo``: each input FIFO's output register (its head); ``fifo_control``: each FIFO's
        occupancy, head-valid flag and read/write pointers;
        ``arbiter``: each connected output's last-grant register; ``links``: valid and payload
        of each connected output port (the crossbar's outputs, the link nets to the neighbour or
        the tile); ``counters``: the packet, stall and occupancy counters.
    writes : dict of str to list of (Value, Value, int)
        Memories observed through their writes: per connected input FIFO, (write data, write
        strobe, storage words). A write to a word flips ``popcount(new ^ old)`` bits, counted
        under ``fifo``. The words are written in turn (a ring), so the word a write replaces is
        the one written ``storage words`` writes earlier.
    register_units : tuple of str
        Units of ``data`` that are registers (flip-flop outputs); the rest are nets.
    clock_enables : dict of str to Value
        Per clock unit of :data:`ROUTER_GATES`, its gates' enables (one bit per gate, connected
        ports in order): the pulses they pass in ``icg`` mode.
    """

    register_units = ("fifo", "fifo_control", "arbiter", "counters")

    def __init__(self, router: Router):
        ports = router.connected_ports()
        fifos = router.fifos
        self.data = {
            "fifo": [fifos[port].r_data for port in ports],
            "fifo_control": [value for port in ports
                             for value in (fifos[port].level, fifos[port].r_rdy, *fifos[port].pointers)],
            "arbiter": [router.last_grant[port] for port in ports],
            "links": [value for port in ports for value in (router.outputs[port].valid,
                                                             router.outputs[port].payload.as_value())],
            "counters": [value for port in ports for value in (router.forwarded[port], router.stalls[port],
                                                               router.max_level[port])],
        }
        # The FIFO keeps depth - 1 words in storage and the head in its output register.
        self.writes = {"fifo": [(fifos[port].w_data, fifos[port].w_en & fifos[port].w_rdy, router.fifo_depth - 1)
                                for port in ports]}
        self.clock_enables = {"router": router.router_enable,
                              "fifo": Cat(router.fifo_enables[port] for port in ports),
                              "fifo_head": Cat(fifos[port].head_enable for port in ports),
                              "fifo_word": Cat(e for port in ports for e in fifos[port].word_enables),
                              "arbiter": Cat(router.arbiter_enables[port] for port in ports),
                              "packets_high": Cat(router.packets_high_enables[port] for port in ports),
                              "stalls": Cat(router.stall_enables[port] for port in ports),
                              "stalls_high": Cat(router.stalls_high_enables[port] for port in ports)}
        assert tuple(self.data) == ROUTER_UNITS and tuple(self.clock_enables) == ROUTER_GATES
