"""The neuromorphic tile: event-driven synaptic accumulation and a grouped neuron update."""

import functools

import numpy as np
from amaranth.hdl import Cat, Const, Fragment, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.spec.contents import initial_contents
from subtile.spec.fixed import wrap
from subtile.hdl.amaranth_internals import scope_local_domains
from subtile.hdl.clock_gate import add_gated_submodule
from subtile.hdl.logic import equals, select
from subtile.hdl.neuron import NeuronLane, activation_plans
from subtile.hdl.operands import LaneOperands
from subtile.hdl.sequencer import TileSequencer
from subtile.hdl.synapse import SynapsePipeline, event_in_layout, event_out_layout, pack_weight_rows, prog_layout, table_words
from subtile.hdl.tile_probes import GATED_UNITS, PROBE_UNITS, TileProbes, register_units_of
from subtile.hdl.tile_state import TileRegisters, TileState
from subtile.hdl.validation import unused_if_refused

__all__ = ["Tile", "TileRegisters", "TileProbes", "RegisterBudget", "PROBE_UNITS", "GATED_UNITS"]

#: The synapse pipeline's register groups (SynapsePipeline.DOMAINS) and their gated units.
_PIPELINE_UNITS = {"pipeline": "synapse", "weights": "weights", "unmapped": "unmapped"}


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

    **Parts.** The tile wires its parts, one component each: the event pipeline
    (:class:`~subtile.hdl.synapse.SynapsePipeline`, submodule ``synapses``), the phase sequencer
    (:class:`~subtile.hdl.sequencer.TileSequencer`, ``control``), the lanes' operand registers
    (:class:`~subtile.hdl.operands.LaneOperands`, ``operands``), the neuron lanes
    (``lane_<l>``) and the architectural state (:class:`~subtile.hdl.tile_state.TileState`,
    ``state``); the multiply-accumulate of stage 2 is the tile's own logic.

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
        isolate = config.gating != "none"
        # The parts, built here rather than in elaborate() so that a simulation wrapper can
        # observe their ports (see probes()).
        self.synapses = SynapsePipeline(config, weights=self.weights, table=self.table_words, isolate=isolate,
                                        domains={group: f"g_{unit}" for group, unit in _PIPELINE_UNITS.items()})
        self.lane_units = [NeuronLane(config, branch_plan=self.branch_plan, soma_plan=self.soma_plan)
                           for _ in range(config.lanes)]
        self.sequencer = TileSequencer(config)
        self.lane_operands = LaneOperands(config)
        self.state = TileState(config)
        self.registers = TileRegisters(self.state)
        # The multiply-accumulates' results, one per neuron (observed for toggle counting).
        self.products = [Signal(signed(config.product_width), name=f"product_{n}") for n in range(config.neurons)]
        self.acc_next = list(self.state.acc_next)
        self.written = self.state.written
        self.loaded = self.lane_operands.loaded if config.private_lanes else []
        # One-bit enables of the single clock gates: the pipeline, the sequencer, and the
        # parents of the accumulator and neuron gates.
        sequencer = self.sequencer
        self.unit_enable = {
            **{unit: Signal(name=f"{unit}_en") for unit in ("synapse", "weights", "unmapped")},
            "control": sequencer.control_en, "emit": sequencer.emit_en,
            "branches": Signal(name="branches_en"), "neurons": Signal(name="neurons_en"),
            "lanes": sequencer.lanes_en, "emit_payloads": sequencer.emit_payloads_en,
        }
        # Per gated unit (GATED_UNITS), the enables of its clock gates: the one statement of which
        # gate belongs to which unit (RegisterBudget follows each gate's enable to its unit).
        flat = lambda rows: [signal for row in rows for signal in row]
        self.clock_enables = {unit: [self.unit_enable[unit]] if unit in self.unit_enable else [] for unit in GATED_UNITS}
        self.clock_enables.update(accumulators=flat(self.state.acc_en), neuron_state=list(self.state.neuron_en),
                                  lane_operands=list(self.lane_operands.lane_en),
                                  branch_operands=flat(self.lane_operands.branch_en) if config.private_lanes else [])
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
        return TileProbes(self, register_units=RegisterBudget(self.config).register_units)

    def elaborate(self, platform):
        # One gated domain per accumulator, neuron and lane operand: scoped to their users, or
        # Amaranth would copy them all into every lane, activation table and clock gate.
        return scope_local_domains(Fragment.get(self.module(platform), platform))

    def module(self, platform) -> Module:
        """The tile's logic as a :class:`~amaranth.hdl.Module` (what :meth:`elaborate` returns,
        its local clock domains scoped by :func:`~subtile.hdl.amaranth_internals.scope_local_domains`);
        a subclass extends the tile here."""
        m = Module()
        config, regs = self.config, self.registers
        lanes, groups = config.lanes, config.groups
        isolate = config.gating != "none"
        synapses, sequencer, operands, state = self.synapses, self.sequencer, self.lane_operands, self.state
        enable = self.unit_enable

        # -- event pipeline, stages 0 and 1; the sequencer ------------------------------------------
        wiring.connect(m, wiring.flipped(self.events_in), synapses.events)
        wiring.connect(m, wiring.flipped(self.prog), synapses.prog)
        wiring.connect(m, sequencer.events, wiring.flipped(self.events_out))
        m.d.comb += [
            synapses.accept.eq(sequencer.accepting),
            self.unmapped.eq(synapses.unmapped),
            sequencer.tick.eq(self.tick),
            sequencer.offered.eq(self.events_in.valid),
            sequencer.busy.eq(synapses.busy),
            sequencer.group_dirty.eq(Cat(Cat(regs.dirty[g * lanes:(g + 1) * lanes]).any() for g in range(groups))),
            self.tick_ready.eq(sequencer.tick_ready),
            self.done.eq(sequencer.done),
        ]
        # The pipeline's registers and memories change only for an accepted event, one in
        # flight, or a programming write; the wide weight-read register only for a mapped
        # event, the unmapped counter only for a dropped one: each is clocked only then.
        m.d.comb += [
            enable["synapse"].eq((self.events_in.valid & sequencer.accepting) | synapses.busy
                                 | (self.prog.valid & self.prog.ready)),
            enable["weights"].eq(synapses.weights_load),
            enable["unmapped"].eq(synapses.unmapped_load),
        ]
        add_gated_submodule(m, "synapses", synapses,
                            {f"g_{unit}": enable[unit] for unit in _PIPELINE_UNITS.values()}, mode=config.gating)
        sequencer_units = ("control", "emit", "emit_payloads") if lanes > 1 else ("control", "emit_payloads")
        add_gated_submodule(m, "control", sequencer, {f"g_{unit}": enable[unit] for unit in sequencer_units},
                            mode=config.gating)

        # -- event pipeline, stage 2: multiply-accumulate ----------------------------------------
        for n in range(config.neurons):
            weight = synapses.weights[n]
            nonzero = Signal(name=f"w_nonzero_{n}")
            product, total = self.products[n], state.acc_next[n]
            selected = Signal.like(regs.acc[n][0], name=f"acc_sel_{n}")
            # Operand isolation: a neuron whose weight is zero is not written, so its multiplier
            # and adder see zeros and do not switch (the dense `none` baseline feeds them anyway).
            payload = Mux(nonzero, synapses.payload, 0) if isolate else synapses.payload
            current = select(regs.acc[n], synapses.branch)
            m.d.comb += [
                nonzero.eq(weight != 0),
                product.eq(weight * payload),
                selected.eq(Mux(nonzero, current, 0) if isolate else current),
                total.eq(wrap(selected + product, config.accumulator_format)),
                state.event_dirty[n].eq(synapses.hit & nonzero),
            ]
            for b in range(config.branches):
                target = equals(synapses.branch, b) if config.branches > 1 else Const(1, 1)
                m.d.comb += state.acc_en[n][b].eq(synapses.hit & nonzero & target)

        # -- update phase: the lanes and their operands ----------------------------------------------
        m.d.comb += [operands.load.eq(sequencer.lanes_en), operands.next_group.eq(sequencer.next_group)]
        for n in range(config.neurons):
            m.d.comb += [operands.v_in[n].eq(regs.v[n]), operands.y_sent_in[n].eq(regs.y_sent[n]),
                         operands.dirty_in[n].eq(regs.dirty[n])]
            m.d.comb += [operands.acc_in[n][b].eq(regs.acc[n][b]) for b in range(config.branches)]
            if config.private_lanes:
                m.d.comb += [operands.written[n][b].eq(state.written[n][b]) for b in range(config.branches)]
                m.d.comb += [state.loaded[n][b].eq(operands.loaded[n][b]) for b in range(config.branches)]
        for lane, unit in enumerate(self.lane_units):
            m.submodules[f"lane_{lane}"] = unit
            dirty = Signal(name=f"lane_{lane}_dirty")
            m.d.comb += [
                dirty.eq(select([regs.dirty[g * lanes + lane] for g in range(groups)], sequencer.group)),
                unit.dirty.eq(sequencer.updating & dirty if isolate else dirty),
                unit.v.eq(operands.v[lane]),
                unit.y_sent.eq(operands.y_sent[lane]),
                sequencer.emits[lane].eq(unit.emit),
                sequencer.payloads[lane].eq(unit.payload),
                state.v_next[lane].eq(unit.v_next),
                state.y_sent_next[lane].eq(unit.y_sent_next),
                state.dirty_next[lane].eq(unit.dirty_next),
            ]
            m.d.comb += [unit.acc[b].eq(operands.acc[lane][b]) for b in range(config.branches)]
        # Every lane's gate is fed from g_lanes, the sequencer moving to a group (with one lane
        # its gate's enable equals the parent's, so it is fed from the root clock and there is
        # no parent); a private lane's branch gate enable implies its lane's, so it is fed from
        # g_lanes too.
        load = {"g_lanes": enable["lanes"], **operands.domains} if lanes > 1 else operands.domains
        add_gated_submodule(m, "operands", operands, load, mode=config.gating,
                            sources={domain: "g_lanes" for domain in load if lanes > 1 and domain != "g_lanes"})

        # -- the gated state registers ----------------------------------------------------------------
        m.d.comb += [state.updating.eq(sequencer.updating), state.group.eq(sequencer.group)]
        # Parent gates: every accumulator gate is fed from g_branches (clocked only while
        # stage 2 holds an event), every neuron gate from g_neurons (an event or an update).
        m.d.comb += [enable["branches"].eq(synapses.hit), enable["neurons"].eq(synapses.hit | sequencer.updating)]
        sources = {domain: ("g_branches" if domain.startswith("g_acc_") else "g_neurons") for domain in state.domains}
        add_gated_submodule(m, "state", state, {"g_branches": enable["branches"], "g_neurons": enable["neurons"],
                                                **state.domains}, mode=config.gating, sources=sources)
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
    register_units : tuple of str
        The units of :attr:`TileProbes.data` whose probes are all flip-flop outputs (the energy
        model counts their toggles at a register bit's energy).

    Raises
    ------
    RuntimeError
        If the design has a clock gate whose enable is in no unit of :attr:`Tile.clock_enables`,
        flops in a domain without a gate, gates of one unit holding different flop counts or
        fed from different units: the energy model's clock tree would not describe it.
    """

    def __init__(self, config: TileConfig):
        self.gated, self.parent, self.root_flops, self.unit_of, self.register_units = _clock_structure(config)

    @classmethod
    def of(cls, tile: "Tile") -> "RegisterBudget":
        """The budget of ``tile`` itself (an ``icg`` tile; :class:`RegisterBudget` of a config
        reads a tile built from it with the default contents)."""
        if tile.config.gating != "icg":
            raise ValueError(f"tile: the clock tree is read from an icg tile, not {tile.config.gating!r}")
        budget = cls.__new__(cls)
        budget.gated, budget.parent, budget.root_flops, budget.unit_of, budget.register_units = \
            _read_clock_structure(tile)
        return budget

    @property
    def gated_flops(self) -> int:
        return sum(gates * flops for gates, flops in self.gated.values())

    @property
    def gates(self) -> int:
        return sum(gates for gates, _flops in self.gated.values())


def _clock_structure(config: TileConfig):
    return _clock_structure_of(config.hardware().replace(gating="icg"))


@functools.lru_cache(maxsize=64)
def _clock_structure_of(config: TileConfig):
    return _read_clock_structure(Tile(config))


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
    return gated, parent, tree.flops.get("sync", 0), unit_of, register_units_of(TileProbes(tile), tree)
