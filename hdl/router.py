"""A five-port mesh router: input FIFOs, dimension-ordered XY routing, round-robin arbitration.

Ports are numbered :data:`LOCAL`, :data:`NORTH`, :data:`EAST`, :data:`SOUTH`, :data:`WEST`.
x grows towards the east, y towards the south (tile (0, 0) is the north-west corner).
docs/architecture.md ("Event routers and the mesh") explains why XY routing with these
buffers cannot deadlock.
"""

from amaranth.hdl import Array, Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from subtile.errors import ConfigError
from subtile.spec.config import index_bits
from subtile.hdl.validation import unused_if_refused

__all__ = ["Router", "RouterProbes", "packet_layout", "round_robin", "PORTS", "PORT_NAMES",
           "LOCAL", "NORTH", "EAST", "SOUTH", "WEST", "COUNTER_WIDTH", "ROUTER_UNITS"]

LOCAL, NORTH, EAST, SOUTH, WEST = range(5)
PORTS = 5
PORT_NAMES = ("local", "north", "east", "south", "west")
COUNTER_WIDTH = 32

#: Units of a router whose toggles are counted (:class:`RouterProbes`).
ROUTER_UNITS = ("fifo", "links", "counters")


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


def round_robin(m: Module, requests, *, name: str):
    """A round-robin arbiter over ``requests`` (a list of one-bit values).

    Returns ``(grant, any, advance)``: the granted index, whether any request is up, and a
    signal the caller drives high in a cycle where the grant was used; the requester after the
    granted one then has the highest priority (so no requester waits more than
    ``len(requests) - 1`` grants).
    """
    count = len(requests)
    grant = Signal(range(max(count, 2)), name=f"{name}_grant")
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
            m.d.sync += last.eq(grant)
    return grant, any_request, advance


class Router(wiring.Component):
    """A router of a 2-D mesh with five ports (local, north, east, south, west).

    Every input port has a FIFO of ``fifo_depth`` packets (``amaranth.lib.fifo.SyncFIFOBuffered``,
    one packet per cycle in and out); its head is routed dimension-ordered, X first: east or
    west until the column matches, then north or south, then local. Each output port grants one
    of the heads that want it per cycle, round-robin. All links are valid/ready streams; a
    packet leaves a FIFO only in a cycle where the output takes it, so nothing is ever dropped.

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
                 fifo_depth: int):
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
        self.layout, self.x, self.y = layout, x, y
        self.width, self.height, self.fifo_depth = width, height, fifo_depth
        # Built here, not in elaborate, so that probes() can name their ports.
        self.fifos = [SyncFIFOBuffered(width=layout.size, depth=fifo_depth) for _ in range(PORTS)]
        super().__init__({
            "inputs": In(stream.Signature(layout)).array(PORTS),
            "outputs": Out(stream.Signature(layout)).array(PORTS),
            "forwarded": Out(COUNTER_WIDTH).array(PORTS),
            "stalls": Out(COUNTER_WIDTH).array(PORTS),
            "max_level": Out(range(fifo_depth + 1)).array(PORTS),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        heads, routes, pops, levels = [], [], [], []
        for port, port_name in enumerate(PORT_NAMES):
            fifo = self.fifos[port]
            m.submodules[f"fifo_{port_name}"] = fifo
            link = self.inputs[port]
            m.d.comb += [fifo.w_data.eq(link.payload), fifo.w_en.eq(link.valid), link.ready.eq(fifo.w_rdy)]
            head = Signal(self.layout, name=f"head_{port_name}")
            route = Signal(range(PORTS), name=f"route_{port_name}")
            m.d.comb += head.eq(fifo.r_data)
            # Dimension-ordered: X first, then Y. Later assignments win, so the checks are
            # written from the lowest priority up; a direction off the mesh is never chosen
            # (and its comparison would be constant).
            m.d.comb += route.eq(LOCAL)
            if self.y > 0:
                with m.If(head.y < self.y):
                    m.d.comb += route.eq(NORTH)
            if self.y < self.height - 1:
                with m.If(head.y > self.y):
                    m.d.comb += route.eq(SOUTH)
            if self.x > 0:
                with m.If(head.x < self.x):
                    m.d.comb += route.eq(WEST)
            if self.x < self.width - 1:
                with m.If(head.x > self.x):
                    m.d.comb += route.eq(EAST)
            pop = Signal(name=f"pop_{port_name}")
            m.d.comb += fifo.r_en.eq(pop)
            with m.If(fifo.level > self.max_level[port]):
                m.d.sync += self.max_level[port].eq(fifo.level)
            heads.append((fifo, head))
            routes.append(route)
            pops.append(pop)
            levels.append(fifo.level)
        m.d.comb += self.empty.eq(~Cat(level.any() for level in levels).any())

        pop_terms = [[] for _ in range(PORTS)]
        for out, out_name in enumerate(PORT_NAMES):
            requests = []
            for port, port_name in enumerate(PORT_NAMES):
                request = Signal(name=f"req_{port_name}_to_{out_name}")
                m.d.comb += request.eq(heads[port][0].r_rdy & _equals(routes[port], out))
                requests.append(request)
            grant, any_request, advance = round_robin(m, requests, name=f"arb_{out_name}")
            link = self.outputs[out]
            fire = Signal(name=f"fire_{out_name}")
            m.d.comb += [
                link.valid.eq(any_request),
                # Padded to every value of the grant index (a complete case statement).
                link.payload.eq(Array([head for _, head in heads] + [heads[-1][1]] * 3)[grant]),
                fire.eq(link.valid & link.ready),
                advance.eq(fire),
            ]
            for port in range(PORTS):
                pop_terms[port].append(fire & _equals(grant, port))
            with m.If(fire):
                m.d.sync += self.forwarded[out].eq(self.forwarded[out] + 1)
            with m.If(link.valid & ~link.ready):
                m.d.sync += self.stalls[out].eq(self.stalls[out] + 1)
        for port in range(PORTS):
            m.d.comb += pops[port].eq(Cat(pop_terms[port]).any())
        return m

    def connected_ports(self) -> list[int]:
        """The ports that lead somewhere: local and the neighbours inside the mesh (the others
        are tied off, and synthesis removes their logic)."""
        inside = {LOCAL: True, NORTH: self.y > 0, EAST: self.x < self.width - 1,
                  SOUTH: self.y < self.height - 1, WEST: self.x > 0}
        return [port for port in range(PORTS) if inside[port]]

    def probes(self) -> "RouterProbes":
        """Signals a simulation wrapper observes to count toggles (see :class:`RouterProbes`)."""
        return RouterProbes(self)


class RouterProbes:
    """What a simulation wrapper observes to count a router's toggles, grouped by unit
    (:data:`ROUTER_UNITS`; the same protocol as :class:`subtile.hdl.tile.TileProbes`).

    Members
    -------
    data : dict of str to list of Value
        ``fifo``: each input FIFO's output register (its head); ``links``: valid and payload of
        each connected output port (the link nets to the neighbour or the tile); ``counters``:
        the packet, stall and occupancy counters.
    writes : dict of str to list of (Value, Value, int)
        Memories observed through their writes: per connected input FIFO, (write data, write
        strobe, storage words). A write to a word flips ``popcount(new ^ old)`` bits, counted
        under ``fifo``. The words are written in turn (a ring), so the word a write replaces is
        the one written ``storage words`` writes earlier.
    register_units : tuple of str
        Units of ``data`` that are registers (flip-flop outputs); the rest are nets.
    clock_enables : dict
        Gated clocks: none (every flop of a router is on the root clock).
    """

    register_units = ("fifo", "counters")

    def __init__(self, router: Router):
        ports = router.connected_ports()
        fifos = router.fifos
        self.data = {
            "fifo": [fifos[port].r_data for port in ports],
            "links": [value for port in ports for value in (router.outputs[port].valid,
                                                             router.outputs[port].payload.as_value())],
            "counters": [value for port in ports for value in (router.forwarded[port], router.stalls[port],
                                                               router.max_level[port])],
        }
        # SyncFIFOBuffered keeps depth - 1 words in its memory and the head in its output register.
        self.writes = {"fifo": [(fifos[port].w_data, fifos[port].w_en & fifos[port].w_rdy, router.fifo_depth - 1)
                                for port in ports]}
        self.clock_enables = {}
        assert tuple(self.data) == ROUTER_UNITS
