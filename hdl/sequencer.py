"""The tile's phase sequencer: event phase, group-by-group update, output events, done."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.hdl.fixed import shape_of
from subtile.hdl.logic import clear_lowest, lowest_set, select
from subtile.hdl.synapse import event_out_layout
from subtile.hdl.validation import checked_tile_config

__all__ = ["TileSequencer"]


class TileSequencer(wiring.Component):
    """The phase sequencer of a :class:`~subtile.hdl.tile.Tile` (docs/architecture.md).

    An FSM over four phases: ``ACCEPT`` (the event phase: events and programming writes are
    taken), ``UPDATE`` (one group of ``lanes`` neurons is updated in one cycle), ``EMIT`` (the
    group's events leave over ``events``, one per cycle with ``events.ready`` high, in neuron
    order) and ``DONE`` (``done`` high for one cycle). A tick taken in ``ACCEPT`` starts the
    update: a priority encoder picks the lowest group with a dirty neuron (``group_dirty``), so
    clean groups cost no cycle; after a group with no event, or its last event, the next one.

    Its registers sit in three gated domains, each with its enable as a port (the tile gates
    them): ``g_control`` (the phase, ``group`` and the dirty groups still to visit but the
    lowest, which is always clear; with one group neither; clocked in the update phase or for
    a tick), ``g_emit`` (the lanes with an event to send; not there
    with one lane, which has at most one) and ``g_emit_payloads`` (the events' payloads).

    Parameters
    ----------
    config : TileConfig
        The tile (``groups``, ``lanes``, ``gating``: with gating the encoder sees the dirty
        flags only while a tick is offered, and a payload is latched only for a lane that emits).

    Members
    -------
    tick : In(1)
        End of the time step, taken with ``tick_ready``.
    offered : In(1)
        An input event is offered (``events_in.valid``): it takes precedence over a tick.
    busy : In(1)
        An event is in flight in the synapse pipeline.
    group_dirty : In(groups)
        Per group, whether one of its neurons is dirty.
    emits, payloads : In(lanes), In(payload).array(lanes)
        The lanes' events of the group being updated.
    accepting : Out(1)
        The event phase (``ACCEPT``).
    updating : Out(1)
        The update cycle of ``group`` (``UPDATE``).
    tick_ready : Out(1)
        Event phase, no event in flight or offered.
    done : Out(1)
        The update phase is complete (``DONE``, one cycle).
    group : Out(range(max(groups, 2)))
        The group being updated.
    next_group : Out(range(max(groups, 2)))
        The group the sequencer moves to when ``lanes_en`` is high.
    events : Out(stream.Signature(StructLayout({"neuron", "payload"})))
        The output events.
    control_en, emit_en, emit_payloads_en : Out(1)
        Enables of the gated domains ``g_control``, ``g_emit``, ``g_emit_payloads``.
    lanes_en : Out(1)
        The sequencer moves to a dirty group (``next_group``): the lanes load their operands.
    """

    def __init__(self, config: TileConfig):
        self.config = config = checked_tile_config(self, config)
        groups, lanes = config.groups, config.lanes
        super().__init__({
            "tick": In(1),
            "offered": In(1),
            "busy": In(1),
            "group_dirty": In(groups),
            "emits": In(lanes),
            "payloads": In(shape_of(config.payload_format)).array(lanes),
            "accepting": Out(1),
            "updating": Out(1),
            "tick_ready": Out(1),
            "done": Out(1),
            "group": Out(range(max(groups, 2))),
            "next_group": Out(range(max(groups, 2))),
            "events": Out(stream.Signature(event_out_layout(config))),
            "control_en": Out(1),
            "emit_en": Out(1),
            "emit_payloads_en": Out(1),
            "lanes_en": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self.config
        groups, lanes = config.groups, config.lanes
        gated = config.gating != "none"
        # The dirty groups still to visit: the candidates with the lowest cleared, so bit 0 is
        # always 0 and is not a register (nor is ``group`` with one group).
        remaining_upper = Signal(groups - 1, name="remaining") if groups > 1 else None
        remaining = Cat(Const(0, 1), remaining_upper) if groups > 1 else Const(0, 1)
        pending = Signal(lanes, name="pending")                      # lanes with an event to send
        out_payload = [Signal.like(self.payloads[lane], name=f"out_payload_{lane}") for lane in range(lanes)]
        any_emit = self.emits.any()
        ready = self.events.ready

        # The phases; the state's four codes are the four phases, so the event phase is "none
        # of the others" (a comparison of the state with 0 would be a multi-bit `!` in the
        # Verilog, a lint width warning).
        updating, emitting, done = Signal(name="updating"), Signal(name="emitting"), Signal(name="finishing")
        accepting = ~(updating | emitting | done)
        candidates = Signal(groups, name="candidates")
        if gated:
            # The encoder only sees the dirty flags when a tick is offered.
            m.d.comb += candidates.eq(Mux(accepting, Mux(self.tick, self.group_dirty, 0), remaining))
        else:
            m.d.comb += candidates.eq(Mux(accepting, self.group_dirty, remaining))
        found, next_group = lowest_set(list(candidates))
        _, sending = lowest_set(list(pending))                      # lane of the next event
        last_event = Signal(name="last_event")
        m.d.comb += last_event.eq(~clear_lowest(pending).any())
        # The sequencer moves on: to the next dirty group (from ``candidates``), or it finishes
        # the step; after a tick, a group with no event, or the group's last event.
        advancing = Signal(name="advancing")
        m.d.comb += advancing.eq((accepting & self.tick & self.tick_ready) | (updating & ~any_emit)
                                 | (emitting & ready & last_event))

        # The phase transitions (every state's own case; the registers below).
        with m.FSM(domain="g_control", name="phase") as fsm:
            def advance():
                with m.If(advancing):
                    with m.If(found):
                        m.next = "UPDATE"
                    with m.Else():
                        m.next = "DONE"

            with m.State("ACCEPT"):
                advance()
            with m.State("UPDATE"):
                with m.If(any_emit):
                    m.next = "EMIT"
                with m.Else():
                    advance()
            with m.State("EMIT"):
                advance()
            with m.State("DONE"):
                m.next = "ACCEPT"
        m.d.comb += [updating.eq(fsm.ongoing("UPDATE")), emitting.eq(fsm.ongoing("EMIT")),
                     done.eq(fsm.ongoing("DONE"))]

        with m.If(advancing & found):
            if groups > 1:
                m.d.g_control += [self.group.eq(next_group), remaining_upper.eq(clear_lowest(candidates)[1:])]
        # One lane has at most one pending event: then `pending` is not needed (nor its gate).
        with m.If(updating):
            if lanes > 1:
                m.d.g_emit += pending.eq(self.emits)
            for lane in range(lanes):
                if gated:
                    with m.If(self.emits[lane]):
                        m.d.g_emit_payloads += out_payload[lane].eq(self.payloads[lane])
                else:
                    m.d.g_emit_payloads += out_payload[lane].eq(self.payloads[lane])
        with m.Elif(emitting & ready):
            if lanes > 1:
                m.d.g_emit += pending.eq(clear_lowest(pending))

        m.d.comb += [
            self.accepting.eq(accepting),
            self.updating.eq(updating),
            self.done.eq(done),
            self.tick_ready.eq(accepting & ~self.busy & ~self.offered),
            self.next_group.eq(next_group),
            self.events.valid.eq(emitting),
            self.events.payload.neuron.eq(self.group * lanes + sending if lanes > 1 else self.group * lanes),
            self.events.payload.payload.eq(select(out_payload, sending)),
            # In the event phase only a tick can change the sequencer: its clock runs only then.
            # The pending events change only when a group emits or an event leaves, their
            # payloads only when a group emits.
            self.control_en.eq(~accepting | self.tick),
            self.emit_en.eq((updating & any_emit) | (emitting & ready)),
            self.emit_payloads_en.eq(updating & any_emit),
            # The lanes load the next group's operands when the sequencer moves to it.
            self.lanes_en.eq(advancing & found),
        ]
        return m
