"""The fan-out unit: a tile's output events through its axon table into packets (multicast)."""

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from subtile.errors import ConfigError
from subtile.hdl.validation import unused_if_refused

__all__ = ["FanOut", "external_event_layout"]


def external_event_layout(packet_layout: data.StructLayout) -> data.StructLayout:
    """The (neuron, payload) events of an external output port, with the packet's field widths."""
    return data.StructLayout({"neuron": packet_layout["src_neuron"].shape,
                              "payload": packet_layout["payload"].shape})


class FanOut(wiring.Component):
    """Turns each output event (neuron n, payload) into one packet per destination of n.

    The axon table holds, for neuron n, up to ``max_destinations`` entries (tile x, tile y,
    input address) at rows ``n * max_destinations + j`` and their count. The event at the head
    of ``events`` stays there until its last packet is taken: one packet per cycle while
    ``packets.ready`` is high; a neuron without destination is consumed in one cycle and sends
    nothing. With ``external`` the event is also copied, last, to the ``external`` stream.

    Parameters
    ----------
    event_layout : data.StructLayout
        ``events`` payload: ``neuron``, ``payload``.
    packet_layout : data.StructLayout
        ``packets`` payload (:func:`subtile.hdl.router.packet_layout`).
    destinations : list of list of (x, y, address)
        Per neuron.
    max_destinations : int
        Table entries per neuron (0..16).
    source : int
        This tile's index, written into ``src_tile``.
    external : bool
        Add the ``external`` output stream.
    isolate : bool
        Operand isolation: the ``packets`` payload is zero while no packet is offered.

    Members
    -------
    events : In(stream.Signature(event_layout))
    packets : Out(stream.Signature(packet_layout))
    external : Out(stream.Signature(external_layout)), when ``external``
        (neuron, payload) with the packet's field widths.
    """

    def __init__(self, *, event_layout: data.StructLayout, packet_layout: data.StructLayout,
                 destinations, max_destinations: int, source: int, external: bool = False,
                 isolate: bool = False):
        with unused_if_refused(self):
            if not 0 <= max_destinations <= 16:
                raise ConfigError(f"max_destinations: {max_destinations} is outside the allowed range 0..16")
            destinations = [list(d) for d in destinations]
            if any(len(d) > max_destinations for d in destinations):
                raise ConfigError(f"destinations: a neuron has more than {max_destinations} destinations")
        self.event_layout, self.packet_layout = event_layout, packet_layout
        self.destinations, self.max_destinations = destinations, max_destinations
        self.source, self.has_external, self.isolate = source, external, isolate
        self.external_layout = external_event_layout(packet_layout)
        members = {"events": In(stream.Signature(event_layout)),
                   "packets": Out(stream.Signature(packet_layout))}
        if external:
            members["external"] = Out(stream.Signature(self.external_layout))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        layout, d_max = self.packet_layout, self.max_destinations
        neurons = len(self.destinations)
        head = self.events.payload
        packet = Signal(layout, name="packet")
        count = Signal(range(max(d_max + 1, 2)), name="count")         # destinations of the head's neuron
        index = Signal(range(d_max + 2), name="index")         # next destination to send
        if d_max:
            entry_layout = data.StructLayout({"x": layout["x"].shape, "y": layout["y"].shape,
                                              "address": layout["address"].shape})
            rows = []
            for neuron in self.destinations:
                padded = list(neuron) + [(0, 0, 0)] * (d_max - len(neuron))
                rows += [x << entry_layout["x"].offset | y << entry_layout["y"].offset
                         | a << entry_layout["address"].offset for x, y, a in padded]
            m.submodules.table = table = Memory(shape=unsigned(entry_layout.size), depth=len(rows), init=rows)
            m.submodules.counts = counts = Memory(shape=unsigned(len(count)), depth=neurons,
                                                  init=[len(d) for d in self.destinations])
            table_read = table.read_port(domain="comb")
            count_read = counts.read_port(domain="comb")
            m.d.comb += [
                count_read.addr.eq(head.neuron),
                count.eq(count_read.data),
                table_read.addr.eq(head.neuron * d_max + index),
            ]
            entry = entry_layout(table_read.data)
            m.d.comb += [
                packet.x.eq(entry.x),
                packet.y.eq(entry.y),
                packet.address.eq(entry.address),
            ]
        m.d.comb += [
            packet.payload.eq(head.payload),
            packet.src_tile.eq(self.source),
            packet.src_neuron.eq(head.neuron),
            self.packets.payload.eq(Mux(self.packets.valid, packet.as_value(), 0) if self.isolate
                                    else packet.as_value()),
        ]
        sent = Signal(name="sent")
        last = Signal(name="last")              # the item being sent is the head's last one
        if d_max:
            m.d.comb += self.packets.valid.eq(self.events.valid & (index < count))
        m.d.comb += sent.eq(self.packets.valid & self.packets.ready)
        if self.has_external:
            m.d.comb += [
                self.external.payload.neuron.eq(head.neuron),
                self.external.payload.payload.eq(head.payload),
                self.external.valid.eq(self.events.valid & (index == count)),
                last.eq(self.external.valid),
            ]
            with m.If(self.external.valid & self.external.ready):
                m.d.comb += sent.eq(1)
            nothing = Const(0, 1)
        elif d_max:
            m.d.comb += last.eq(index + 1 == count)
            nothing = ~count.any()
        else:
            nothing = Const(1, 1)               # no table: every event is consumed at once
        # The head is consumed with its last item, or at once when there is nothing to send.
        m.d.comb += self.events.ready.eq(nothing | (sent & last))
        with m.If(self.events.valid & self.events.ready):
            m.d.sync += index.eq(0)
        with m.Elif(sent):
            m.d.sync += index.eq(index + 1)
        return m
