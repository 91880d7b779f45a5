"""The neuromorphic tile: event-driven synaptic accumulation and a grouped neuron update."""

import functools

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.spec.contents import initial_contents
from subtile.spec.fixed import wrap
from subtile.hdl.clock_gate import add_gated_submodule
from subtile.hdl.fixed import shape_of
from subtile.hdl.neuron import NeuronLane, activation_plans, resting_state_settled
from subtile.hdl.synapse import (SynapsePipeline, event_in_layout, event_out_layout, pack_weight_rows, prog_layout,
                      table_words)
from subtile.hdl.validation import unused_if_refused

__all__ = ["Tile", "TileRegisters", "TileProbes", "RegisterBudget", "PROBE_UNITS", "GATED_UNITS"]

#: Units whose toggles are counted (TileProbes.data), and the clock-gated units (each a set of
#: clock gates, Tile.clock_enables; which domains and flops they hold is read from the design,
#: RegisterBudget).
PROBE_UNITS = ("synapse", "mac", "accumulators", "neuron_state", "neuron_update", "branch_activation",
               "soma_activation", "encoder", "output")
GATED_UNITS = ("synapse", "weights", "unmapped", "control", "emit", "branches", "accumulators", "neurons",
               "neuron_state", "lanes", "lane_operands", "branch_operands", "emit_payloads")


#: The synapse pipeline's register groups (SynapsePipeline.DOMAINS) and their gated units.
_PIPELINE_UNITS = {"pipeline": "synapse", "weights": "weights", "unmapped": "unmapped"}


class TileRegisters:
    """The architectural state registers of a :class:`Tile` (for simulation and testbenches).

    Members
    -------
    acc : list of list of Signal
        ``acc[n][b]``, named ``acc_<n>_<b>``, signed accumulator width, reset 0.
    v : list of Signal
        ``v[n]``, named ``v_<n>``, membrane format, reset 0.
    y_sent : list of Signal
        ``y_sent[n]``, named ``y_sent_<n>``, payload format, reset 0.
    dirty : list of Signal
        ``dirty[n]``, named ``dirty_<n>``, one bit, reset ``not hdl.neuron.resting_state_settled(config)``.
    """

    def __init__(self, config: TileConfig):
        acc_shape = shape_of(config.accumulator_format)
        self.acc = [[Signal(acc_shape, name=f"acc_{n}_{b}") for b in range(config.branches)]
                    for n in range(config.neurons)]
        self.v = [Signal(shape_of(config.membrane_format), name=f"v_{n}")
                  for n in range(config.neurons)]
        self.y_sent = [Signal(shape_of(config.payload_format), name=f"y_sent_{n}")
                       for n in range(config.neurons)]
        dirty = int(not resting_state_settled(config))
        self.dirty = [Signal(init=dirty, name=f"dirty_{n}") for n in range(config.neurons)]


def _lowest_set(bits):
    """``(any, index)`` of the lowest set bit of a list of one-bit values (a balanced tree)."""
    if len(bits) == 1:
        return bits[0], Const(0, 1)

    def tree(part):
        if len(part) == 1:
            return part[0], None
        half = 1 << ((len(part) - 1).bit_length() - 1)       # largest power of two below len
        any_lo, idx_lo = tree(part[:half])
        any_hi, idx_hi = tree(part[half:])
        width = (half - 1).bit_length()
        if width == 0:
            return any_lo | any_hi, ~any_lo
        lo = Const(0, width) if idx_lo is None else idx_lo
        hi = Const(0, width) if idx_hi is None else idx_hi
        return any_lo | any_hi, Cat(Mux(any_lo, lo, hi), ~any_lo)

    return tree(list(bits))


def _select(values, index):
    """``values[index]``, padded to every value of ``index`` (a full case in the Verilog)."""
    values = list(values)
    if len(values) == 1:
        return values[0]
    values += [values[-1]] * ((1 << len(index)) - len(values))
    return Array(values)[index]


def _equals(value, constant: int):
    """``value == constant``; a comparison with 0 is written as a reduction (a multi-bit
    ``!x`` in the Verilog is a width warning)."""
    return ~value.any() if constant == 0 else value == constant


class _LaneOperands:
    """The operand registers of lane ``lane``: ``acc[b]`` (``operand_<lane>_acc_<b>``), ``v``
    and ``y_sent`` (``operand_<lane>_v``, ``operand_<lane>_y_sent``)."""

    def __init__(self, config: TileConfig, lane: int):
        self.acc = [Signal(shape_of(config.accumulator_format), name=f"operand_{lane}_acc_{b}")
                    for b in range(config.branches)]
        self.v = Signal(shape_of(config.membrane_format), name=f"operand_{lane}_v")
        self.y_sent = Signal(shape_of(config.payload_format), name=f"operand_{lane}_y_sent")


class Tile(wiring.Component):
    """One neuromorphic tile (docs/architecture.md is the specification).

    **Event phase.** A three-stage pipeline takes one event per cycle: stage 0 accepts
    ``events_in`` and reads the synapse table; stage 1 reads weight-memory row ``b*S + s`` (or
    counts an unmapped event); stage 2 adds ``w[n] * p`` to ``acc[n][b]`` for every neuron with a
    non-zero weight and marks it dirty. An event accepted in cycle t is in the state from cycle
    t + 3; ``tick_ready`` rises again when the pipeline is empty.

    **Update phase.** A tick taken in cycle t starts the update at t + 1. A priority encoder
    picks the next group of ``lanes`` neurons with a dirty neuron (clean groups cost no
    cycle); the group is updated in one cycle by ``lanes`` :class:`~subtile.hdl.neuron.NeuronLane`
    units (each computing from operand registers loaded with its dirty neuron's accumulators, v
    and y_sent as the sequencer moves to the group, so a lane's logic switches only once per
    update), its emitted events are latched and leave over ``events_out`` in neuron order, one
    per cycle with ``events_out.ready`` high. A group thus takes 1 + (events it emits) cycles. After
    the last dirty group ``done`` is high for one cycle and events are accepted again: with every
    group dirty and ready always high, tick-to-done is ``groups + events + 1`` cycles.

    **Priorities.** Events take precedence: ``tick_ready`` and ``prog.ready`` are high only in the
    event phase with no event in flight *and none offered* (``events_in.valid`` low).
    ``events_in.ready`` is high in the whole event phase (it is a register output).

    **State names.** The architectural registers live in the submodule ``state``: in the
    generated Verilog they are ``<top>.state.acc_<n>_<b>``, ``<top>.state.v_<n>``,
    ``<top>.state.y_sent_<n>`` and ``<top>.state.dirty_<n>`` (the top module has wires of the
    same names); :attr:`registers` gives the signals for Amaranth's simulator. Each
    accumulator sits in gated domain ``g_acc_<n>_<b>``, each neuron's (v, y_sent) in
    ``g_neuron_<n>`` and the dirty flags in ``g_neurons`` (docs/architecture.md, "Clock gating"); in ``icg`` mode their clock gates are instances ``icg_g_acc_<n>_<b>`` and
    ``icg_g_neuron_<n>`` of ``subtile_icg`` in the top module (see :mod:`subtile.hdl.clock_gate`).

    Parameters
    ----------
    config : TileConfig
        The tile.
    weights : array of int, shape (rows, N), optional
        Initial weight codes ``w[b*S + s][n]``; default from ``golden.tile.initial_contents``.
    table : sequence of int or table object with ``encode()``, optional
        Initial synapse-table words; default from ``golden.tile.initial_contents``.

    Members
    -------
    events_in : In(stream.Signature(StructLayout({"address", "payload"})))
        Input events (address, payload code).
    events_out : Out(stream.Signature(StructLayout({"neuron", "payload"})))
        Output events (neuron, payload code), ascending neuron order within a step.
    tick : In(1)
        End of the time step; taken in a cycle where ``tick_ready`` is high.
    tick_ready : Out(1)
        Idle, no event in flight or offered.
    done : Out(1)
        One-cycle pulse: the update phase is complete.
    prog : In(stream.Signature(StructLayout({"target", "row", "neuron", "data"})))
        Programming writes (target 0: synapse table, 1: one weight); accepted when idle.
    unmapped : Out(32)
        Count of dropped (unmapped) events, wrapping.
    """

    def __init__(self, config: TileConfig, *, weights=None, table=None):
        with unused_if_refused(self):
            if not isinstance(config, TileConfig):
                raise ConfigError(f"config: expected a TileConfig, got {type(config).__name__}")
            if weights is None or table is None:
                default_weights, default_table = initial_contents(config)
                weights = default_weights if weights is None else weights
                table = default_table if table is None else table
            config.accumulator_format       # raises ConfigError for an accumulator wider than 32 bits
            self.config = config
            self.branch_plan, self.soma_plan = activation_plans(config)
            pack_weight_rows(config, weights)           # validates the contents before elaboration
            self.weights = np.array(weights, dtype=np.int64)
            self.table_words = table_words(config, table)
        self.registers = TileRegisters(config)
        isolate = config.gating != "none"
        # Parts built here rather than in elaborate(), so that a simulation wrapper can observe
        # their ports (see probes()).
        self.synapses = SynapsePipeline(config, weights=self.weights, table=self.table_words, isolate=isolate,
                                        domains={group: f"g_{unit}" for group, unit in _PIPELINE_UNITS.items()})
        self.lane_units = [NeuronLane(config, branch_plan=self.branch_plan, soma_plan=self.soma_plan)
                           for _ in range(config.lanes)]
        # The multiply-accumulates' results, one per neuron (observed for toggle counting).
        self.products = [Signal(signed(config.product_width),
                                name=f"product_{n}") for n in range(config.neurons)]
        self.acc_next = [Signal(shape_of(config.accumulator_format), name=f"acc_next_{n}")
                         for n in range(config.neurons)]
        self.acc_enable = [[Signal(name=f"acc_en_{n}_{b}") for b in range(config.branches)]
                           for n in range(config.neurons)]
        self.neuron_enable = [Signal(name=f"neuron_en_{n}") for n in range(config.neurons)]
        # The lanes' operands (registers, loaded for each update; see elaborate()).
        self.operands = [_LaneOperands(config, lane) for lane in range(config.lanes)]
        self.operand_enable = [Signal(name=f"operands_en_{lane}") for lane in range(config.lanes)]
        # With one lane per neuron, each accumulator operand has its own gate and a stamp pair.
        private = config.private_lanes
        self.branch_operand_enable = [[Signal(name=f"operands_en_{lane}_{b}") for b in range(config.branches)]
                                      for lane in range(config.lanes)] if private else []
        self.written = [[Signal(name=f"acc_written_{n}_{b}") for b in range(config.branches)]
                        for n in range(config.neurons)] if private else []
        self.loaded = [[Signal(name=f"operand_loaded_{n}_{b}") for b in range(config.branches)]
                       for n in range(config.neurons)] if private else []
        # One-bit enables of the single clock gates: the pipeline, the sequencer, and the
        # parents of the accumulator and neuron gates.
        self.unit_enable = {unit: Signal(name=f"{unit}_en")
                            for unit in ("synapse", "weights", "unmapped", "control", "emit", "branches", "neurons",
                                         "lanes", "emit_payloads")}
        # Per gated unit (GATED_UNITS), the enables of its clock gates: the one statement of which
        # gate belongs to which unit (RegisterBudget follows each gate's enable to its unit).
        flat = lambda rows: [signal for row in rows for signal in row]
        self.clock_enables = {unit: [self.unit_enable[unit]] if unit in self.unit_enable else [] for unit in GATED_UNITS}
        self.clock_enables.update(accumulators=flat(self.acc_enable), neuron_state=list(self.neuron_enable),
                                  lane_operands=list(self.operand_enable),
                                  branch_operands=flat(self.branch_operand_enable))
        assert tuple(self.clock_enables) == GATED_UNITS 
        super().__init__({
            "events_in": In(stream.Signature(event_in_layout(config))),
            "events_out": Out(stream.Signature(event_out_layout(config))),
            "tick": In(1),
            "tick_ready": Out(1),
            "done": Out(1),
            "prog": In(stream.Signature(prog_layout(config))),
            "unmapped": Out(32),
        })

    def probes(self) -> "TileProbes":
        """Signals a simulation wrapper observes to count toggles (see :class:`TileProbes`)."""
        return TileProbes(self)

    def elaborate(self, platform):
        m = Module()
        config, regs = self.config, self.registers
        n_count, b_count, lanes, groups = config.neurons, config.branches, config.lanes, config.groups
        isolate = config.gating != "none"

        # -- event pipeline, stages 0 and 1 ------------------------------------------------------
        synapses = self.synapses
        ctl = Module()                          # the phase sequencer, in gated domain g_control
        # The phase, one-hot: accept events (idle), update a group, emit its events, pulse done.
        idle = Signal(init=1, name="phase_accept")
        updating = Signal(name="phase_update")
        emitting = Signal(name="phase_emit")
        finishing = Signal(name="phase_done")
        phases = (idle, updating, emitting, finishing)
        wiring.connect(m, wiring.flipped(self.events_in), synapses.events)
        wiring.connect(m, wiring.flipped(self.prog), synapses.prog)
        m.d.comb += [
            synapses.accept.eq(idle),
            self.unmapped.eq(synapses.unmapped),
            self.tick_ready.eq(idle & ~synapses.busy & ~self.events_in.valid),
        ]
        # The pipeline's registers and memories change only for an accepted event, one in
        # flight, or a programming write; the wide weight-read register only for a mapped
        # event, the unmapped counter only for a dropped one: each is clocked only then.
        enable = self.unit_enable
        m.d.comb += [
            enable["synapse"].eq((self.events_in.valid & idle) | synapses.busy
                                 | (self.prog.valid & self.prog.ready)),
            enable["weights"].eq(synapses.weights_load),
            enable["unmapped"].eq(synapses.unmapped_load),
        ]
        add_gated_submodule(m, "synapses", synapses,
                            {f"g_{unit}": enable[unit] for unit in _PIPELINE_UNITS.values()},
                            mode=config.gating)

        # -- event pipeline, stage 2: multiply-accumulate ----------------------------------------
        acc_enable = self.acc_enable
        acc_next = []
        event_dirty = []                        # stage 2 marks neuron n dirty
        for n in range(n_count):
            weight = synapses.weights[n]
            nonzero = Signal(name=f"w_nonzero_{n}")
            product, total = self.products[n], self.acc_next[n]
            selected = Signal.like(regs.acc[n][0], name=f"acc_sel_{n}")
            # Operand isolation: a neuron whose weight is zero is not written, so its multiplier
            # and adder see zeros and do not switch (the dense `none` baseline feeds them anyway).
            payload = Mux(nonzero, synapses.payload, 0) if isolate else synapses.payload
            current = _select(regs.acc[n], synapses.branch)
            m.d.comb += [
                nonzero.eq(weight != 0),
                product.eq(weight * payload),
                selected.eq(Mux(nonzero, current, 0) if isolate else current),
                total.eq(wrap(selected + product, config.accumulator_format)),
            ]
            for b in range(b_count):
                target = _equals(synapses.branch, b) if b_count > 1 else Const(1, 1)
                m.d.comb += acc_enable[n][b].eq(synapses.hit & nonzero & target)
            acc_next.append(total)
            marked = Signal(name=f"event_dirty_{n}")
            m.d.comb += marked.eq(synapses.hit & nonzero)
            event_dirty.append(marked)

        # -- update phase: group selection ---------------------------------------------------------
        group = Signal(range(max(groups, 2)), name="group")         # the group being updated
        remaining = Signal(groups, name="remaining")                 # dirty groups still to visit
        group_dirty = Signal(groups, name="group_dirty")
        m.d.comb += group_dirty.eq(Cat(
            Cat(regs.dirty[g * lanes:(g + 1) * lanes]).any() for g in range(groups)))
        candidates = Signal(groups, name="candidates")
        if isolate:
            # The encoder only sees the dirty flags when a tick is offered.
            m.d.comb += candidates.eq(Mux(idle, Mux(self.tick, group_dirty, 0), remaining))
        else:
            m.d.comb += candidates.eq(Mux(idle, group_dirty, remaining))
        found, next_group = _lowest_set(list(candidates))

        # -- update phase: the lanes ---------------------------------------------------------------
        lane_units = self.lane_units
        for lane, unit in enumerate(lane_units):
            m.submodules[f"lane_{lane}"] = unit
            members = [g * lanes + lane for g in range(groups)]

            def pick(signals, name, shape):
                value = Signal(shape, name=name)
                m.d.comb += value.eq(_select([signals[n] for n in members], group))
                return value

            dirty = pick(regs.dirty, f"lane_{lane}_dirty", 1)
            # The lane's operands are registers (below).
            operands = self.operands[lane]
            m.d.comb += [
                unit.dirty.eq(updating & dirty if isolate else dirty),
                unit.v.eq(operands.v),
                unit.y_sent.eq(operands.y_sent),
            ]
            m.d.comb += [unit.acc[b].eq(operands.acc[b]) for b in range(b_count)]

        # -- update phase: output events -----------------------------------------------------------
        pending = Signal(lanes, name="pending")                        # lanes with an event to send
        out_payload = [Signal.like(unit.payload, name=f"out_payload_{lane}")
                       for lane, unit in enumerate(lane_units)]
        _, sending = _lowest_set(list(pending))                         # lane of the next event
        emits = Cat(unit.emit for unit in lane_units)
        neuron = group * lanes + sending if lanes > 1 else group * lanes
        m.d.comb += [
            self.events_out.payload.neuron.eq(neuron),
            self.events_out.payload.payload.eq(_select(out_payload, sending)),
        ]
        last_event = Signal(name="last_event")
        m.d.comb += last_event.eq(~(pending & (pending - 1)[:lanes]).any())

        # -- the phase sequencer -----------------------------------------------------------------------
        def goto(phase):
            ctl.d.g_control += [other.eq(other is phase) for other in phases]

        def advance():
            """Go to the next dirty group (from ``candidates``), or finish the step."""
            with ctl.If(found):
                ctl.d.g_control += [
                    group.eq(next_group),
                    remaining.eq(candidates & (candidates - 1)[:groups]),   # clear the lowest bit
                ]
                goto(updating)
            with ctl.Else():
                goto(finishing)

        m.d.comb += [
            self.events_out.valid.eq(emitting),
            self.done.eq(finishing),
        ]
        with ctl.If(idle):
            with ctl.If(self.tick & self.tick_ready):
                advance()
        def set_pending(value):
            # One lane has at most one pending event: then `pending` is not needed (nor its gate).
            if lanes > 1:
                ctl.d.g_emit += pending.eq(value)

        with ctl.Elif(updating):
            set_pending(emits)
            for lane, unit in enumerate(lane_units):
                if isolate:
                    with ctl.If(unit.emit):
                        ctl.d.g_emit_payloads += out_payload[lane].eq(unit.payload)
                else:
                    ctl.d.g_emit_payloads += out_payload[lane].eq(unit.payload)
            with ctl.If(emits.any()):
                goto(emitting)
            with ctl.Else():
                advance()
        with ctl.Elif(emitting):
            with ctl.If(self.events_out.ready):
                set_pending(pending & (pending - 1)[:lanes])
                with ctl.If(last_event):
                    advance()
        with ctl.Elif(finishing):
            goto(idle)
        # In the event phase only a tick can change the sequencer: its clock runs only then. The
        # pending events change only when a group emits or an event leaves, their payloads only
        # when a group emits.
        m.d.comb += [
            enable["control"].eq(~idle | self.tick),
            enable["emit"].eq((updating & emits.any()) | (emitting & self.events_out.ready)),
            enable["emit_payloads"].eq(updating & emits.any()),
        ]
        sequencer_units = ("control", "emit", "emit_payloads") if lanes > 1 else ("control", "emit_payloads")
        add_gated_submodule(m, "control", ctl, {f"g_{unit}": enable[unit] for unit in sequencer_units},
                            mode=config.gating)

        # -- the lanes' operand registers ------------------------------------------------------------
        # When the sequencer moves to a group (advance() with a group found), each lane whose
        # neuron in that group is dirty loads the neuron's accumulators, v and y_sent, ready for
        # the update cycle. Between updates the operands hold: a lane's logic switches once per
        # update, by the difference from the previous operands, and not at all while events
        # change the accumulators or when the update writes v and y_sent back. With one lane per
        # neuron a lane keeps its own neuron's operands, so a branch that no event reached since
        # the last update does not switch at all.
        advancing = Signal(name="advancing")
        m.d.comb += advancing.eq((idle & self.tick & self.tick_ready) | (updating & ~emits.any())
                                 | (emitting & self.events_out.ready & last_event))
        operand_regs = Module()
        private = config.private_lanes
        load = {"g_lanes": self.unit_enable["lanes"]}
        m.d.comb += self.unit_enable["lanes"].eq(advancing & found)
        for lane in range(lanes):
            members = [g * lanes + lane for g in range(groups)]
            domain = f"g_operands_{lane}"
            next_dirty = Signal(name=f"lane_{lane}_next_dirty")
            m.d.comb += [
                next_dirty.eq(_select([regs.dirty[n] for n in members], next_group)),
                self.operand_enable[lane].eq(self.unit_enable["lanes"] & next_dirty),
            ]
            load[domain] = self.operand_enable[lane]
            operands = self.operands[lane]
            sources = [([regs.v[n] for n in members], operands.v, "v", domain, self.operand_enable[lane]),
                       ([regs.y_sent[n] for n in members], operands.y_sent, "y_sent", domain, self.operand_enable[lane])]
            for b in range(b_count):
                if private:
                    # A private lane reloads an accumulator only if an event wrote it since the
                    # last load (its stamp differs): the other branches' operands stay clocked off.
                    n = lane
                    branch_domain = f"g_operands_{lane}_{b}"
                    enable = self.branch_operand_enable[lane][b]
                    m.d.comb += enable.eq(self.operand_enable[lane] & (self.written[n][b] ^ self.loaded[n][b]))
                    load[branch_domain] = enable
                    operand_regs.d[branch_domain] += self.loaded[n][b].eq(
                        self.written[n][b] if isolate else Mux(enable, self.written[n][b], self.loaded[n][b]))
                    sources.append(([regs.acc[n][b]], operands.acc[b], f"acc_{b}", branch_domain, enable))
                else:
                    sources.append(([regs.acc[n][b] for n in members], operands.acc[b], f"acc_{b}", domain,
                                    self.operand_enable[lane]))
            for values, operand, label, operand_domain, enable in sources:
                value = Signal.like(operand, name=f"lane_{lane}_next_{label}")
                m.d.comb += value.eq(_select(values, next_group))
                operand_regs.d[operand_domain] += operand.eq(value if isolate else Mux(enable, value, operand))
        if lanes == 1:
            # One lane: its gate's enable equals the parent's, so the lane's gate is fed from
            # the root clock and there is no parent.
            del load["g_lanes"]
        add_gated_submodule(m, "operands", operand_regs, load, mode=config.gating,
                            sources={domain: "g_lanes" for domain in load if "g_lanes" in load and domain != "g_lanes"})
        # (The branch gates are fed from g_lanes too: a private lane's branch gate enable implies
        # its lane's, which implies g_lanes.)

        # -- the gated state registers ----------------------------------------------------------------
        state = Module()
        enables = {}
        gated = config.gating != "none"
        for n in range(n_count):
            g, lane = divmod(n, lanes)
            unit = lane_units[lane]
            for b in range(b_count):
                domain = f"g_acc_{n}_{b}"
                enables[domain] = acc_enable[n][b]
                acc = regs.acc[n][b]
                state.d[domain] += acc.eq(acc_next[n] if gated else Mux(acc_enable[n][b], acc_next[n], acc))
                if config.private_lanes:
                    # The stamp of a private lane's operand: written != loaded once an event wrote
                    # the accumulator after the operand was last loaded.
                    written = self.written[n][b]
                    state.d[domain] += written.eq(~self.loaded[n][b] if gated
                                                  else Mux(acc_enable[n][b], ~self.loaded[n][b], written))
            update = Signal(name=f"update_{n}")
            in_group = _equals(group, g) if groups > 1 else Const(1, 1)
            m.d.comb += update.eq(updating & in_group & regs.dirty[n])
            domain = f"g_neuron_{n}"
            m.d.comb += self.neuron_enable[n].eq(update)
            enables[domain] = self.neuron_enable[n]
            v, y_sent, dirty = regs.v[n], regs.y_sent[n], regs.dirty[n]
            state.d[domain] += [
                v.eq(Mux(update, unit.v_next, v)),
                y_sent.eq(Mux(update, unit.y_sent_next, y_sent)),
            ]
            # The dirty flags sit behind the parent gate g_neurons (an event or the update phase):
            # an event marking a neuron dirty then clocks one flop, not the neuron's whole state.
            state.d.g_neurons += dirty.eq(Mux(update, unit.dirty_next, event_dirty[n] | dirty))
        # Parent gates: every accumulator gate is fed from g_branches (clocked only while
        # stage 2 holds an event), every neuron gate from g_neurons (an event or an update).
        m.d.comb += [self.unit_enable["branches"].eq(synapses.hit),
                     self.unit_enable["neurons"].eq(synapses.hit | updating)]
        sources = {domain: ("g_branches" if domain.startswith("g_acc_") else "g_neurons") for domain in enables}
        enables = {"g_branches": self.unit_enable["branches"], "g_neurons": self.unit_enable["neurons"], **enables}
        add_gated_submodule(m, "state", state, enables, mode=config.gating, sources=sources)
        return m


class RegisterBudget:
    """Flip-flops of a tile by clock gate (the clock tree of docs/architecture.md), read from the
    elaborated design (:func:`subtile.hdl.flops.clock_tree`, the mechanism that also counts the
    mesh's network flops).

    The tile is elaborated with ``icg`` gating, where each gated domain has its clock-gate cell;
    each gate's enable says its unit (:attr:`Tile.clock_enables`) and each gate's source clock
    its parent. With ``enable`` and ``none`` the same flops are clocked every cycle (same
    registers, same domains before renaming; tests/power/test_mesh_energy.py checks the count).
    Every flip-flop of the tile sits behind a gated clock: the event pipeline (``synapse``), its
    weight-read register (``weights``) and drop counter (``unmapped``), the sequencer
    (``control``), its pending output events (``emit``) and their payloads (``emit_payloads``),
    the accumulators (one gate each, fed from the ``branches`` gate), the dirty flags
    (``neurons``), each neuron's v and y_sent (one gate each, fed from ``neurons``) and each
    lane's operands (``lane_operands``, one gate per lane, fed from ``lanes``; with private lanes
    each accumulator operand has its own gate, ``branch_operands``).

    Members
    -------
    gated : dict of str to (int, int)
        Per gated unit (:data:`GATED_UNITS`): number of clock gates, flip-flops behind each
        (``(0, 0)``: a unit this configuration does not have).
    parent : dict of str to str or None
        Per gated unit, the unit whose gated clock feeds its gates (``None``: the root clock).
    root_flops : int
        Flip-flops on the root clock (none in the tile: the harness's are not counted).
    unit_of : dict of str to str
        Gated clock domain (``g_acc_3_1``, the clock gate ``icg_g_acc_3_1``) to its unit.

    Raises
    ------
    RuntimeError
        If the design has a clock gate whose enable is in no unit of :attr:`Tile.clock_enables`,
        flops in a domain without a gate, gates of one unit holding different flop counts or
        fed from different units: the energy model's clock tree would not describe it.
    """

    def __init__(self, config: TileConfig):
        self.gated, self.parent, self.root_flops, self.unit_of = _clock_structure(config)

    @classmethod
    def of(cls, tile: "Tile") -> "RegisterBudget":
        """The budget of ``tile`` itself (an ``icg`` tile; :class:`RegisterBudget` of a config
        reads a tile built from it with the default contents)."""
        if tile.config.gating != "icg":
            raise ValueError(f"tile: the clock tree is read from an icg tile, not {tile.config.gating!r}")
        budget = cls.__new__(cls)
        budget.gated, budget.parent, budget.root_flops, budget.unit_of = _read_clock_structure(tile)
        return budget

    @property
    def gated_flops(self) -> int:
        return sum(gates * flops for gates, flops in self.gated.values())

    @property
    def gates(self) -> int:
        return sum(gates for gates, _flops in self.gated.values())


@functools.lru_cache(maxsize=64)
def _clock_structure(config: TileConfig):
    return _read_clock_structure(Tile(config.replace(gating="icg")))


def _read_clock_structure(tile: Tile):
    from subtile.hdl.flops import clock_tree
    tree = clock_tree(tile)
    unit_of_enable = {id(enable): unit for unit, enables in tile.clock_enables.items() for enable in enables}
    unit_of = {}
    for domain, gate in tree.gates.items():
        if id(gate.enable) not in unit_of_enable:
            raise RuntimeError(f"tile: the clock gate of {domain} has an enable in no unit of Tile.clock_enables")
        unit_of[domain] = unit_of_enable[id(gate.enable)]
    stray = sorted(set(tree.flops) - set(unit_of) - {"sync"})
    if stray:
        raise RuntimeError(f"tile: flops in domains without a clock gate: {', '.join(stray)}")
    gated, parent = {}, {}
    for unit in GATED_UNITS:
        domains = [domain for domain, of in unit_of.items() if of == unit]
        flops = {tree.flops.get(domain, 0) for domain in domains}
        parents = {unit_of.get(tree.gates[domain].source) for domain in domains}
        if len(flops) > 1 or len(parents) > 1:
            raise RuntimeError(f"tile: the clock gates of {unit} differ in flops ({sorted(flops)}) or parent "
                               f"({sorted(map(str, parents))}); the energy model's clock tree needs them alike")
        gated[unit] = (len(domains), flops.pop() if flops else 0)
        parent[unit] = parents.pop() if parents else None
    return gated, parent, tree.flops.get("sync", 0), unit_of


class TileProbes:
    """What a simulation wrapper observes to count toggles, grouped by unit.

    Members
    -------
    data : dict of str to list of Value
        Per unit (:data:`PROBE_UNITS`), the registers and unit-boundary nets whose bit flips are
        counted: ``synapse`` (stage-2 registers and the weight-memory read data), ``mac`` (each
        neuron's product w*p and accumulator sum), ``accumulators``, ``neuron_state`` (v, y_sent, dirty), ``neuron_update`` (the lanes'
        operands and the leaky integration's result v'), ``branch_activation`` (each branch
        activation unit's output), ``soma_activation`` (each soma activation's output y),
        ``encoder`` (the level-crossing encoders' results), ``output`` (the output stream).
    register_units : tuple of str
        The units of ``data`` that are registers (flip-flop outputs); the rest are nets.
    clock_enables : dict of str to Value
        Per gated unit (:data:`GATED_UNITS`), the vector of its clock-gate enables (the
        enables as computed, before the gates; the reset forces them on, which is not counted).
    """

    register_units = ("synapse", "accumulators", "neuron_state")

    def __init__(self, tile: "Tile"):
        regs, synapses = tile.registers, tile.synapses
        flat = lambda rows: [signal for row in rows for signal in row]
        self.data = {
            "synapse": [synapses.hit, synapses.branch, synapses.payload, synapses.weights.as_value()],
            "mac": [*tile.products, *tile.acc_next],
            "accumulators": flat(regs.acc) + flat(tile.written),
            "neuron_state": [*regs.v, *regs.y_sent, *regs.dirty],
            "neuron_update": [value for lane in tile.lane_units for value in (
                lane.acc.as_value(), lane.v, lane.y_sent, lane.dirty, lane.v_next)] + flat(tile.loaded),
            "branch_activation": [branch.d for lane in tile.lane_units for branch in lane.branch_units],
            "soma_activation": [lane.soma.y for lane in tile.lane_units],
            "encoder": [value for lane in tile.lane_units for value in (
                lane.y_sent_next, lane.dirty_next, lane.emit, lane.payload)],
            "output": [tile.events_out.valid, tile.events_out.payload.as_value()],
        }
        self.clock_enables = {unit: (enables[0] if unit in tile.unit_enable else Cat(enables)) if enables
                              else Const(0, 1) for unit, enables in tile.clock_enables.items()}
        assert tuple(self.data) == PROBE_UNITS and tuple(self.clock_enables) == GATED_UNITS
