"""What a simulation wrapper observes of a tile to count toggles, grouped by unit."""

from amaranth.hdl import Cat, Const

__all__ = ["PROBE_UNITS", "GATED_UNITS", "TileProbes", "register_units_of"]

#: Units whose toggles are counted (TileProbes.data), and the clock-gated units (each a set of
#: clock gates, Tile.clock_enables; which domains and flops they hold is read from the design,
#: RegisterBudget).
PROBE_UNITS = ("synapse", "mac", "accumulators", "neuron_state", "neuron_update", "branch_activation",
               "soma_activation", "encoder", "output")
GATED_UNITS = ("synapse", "weights", "unmapped", "control", "emit", "branches", "accumulators", "neurons",
               "neuron_state", "lanes", "lane_operands", "branch_operands", "emit_payloads")


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
        The units of ``data`` that are registers (every value a flip-flop output, directly or
        through a part's output port), read from the elaborated design
        (:attr:`subtile.hdl.tile.RegisterBudget.register_units`, which :meth:`Tile.probes
        <subtile.hdl.tile.Tile.probes>` passes); the rest are nets.
    clock_enables : dict of str to Value
        Per gated unit (:data:`GATED_UNITS`), the vector of its clock-gate enables (the
        enables as computed, before the gates; the reset forces them on, which is not counted).
    """

    def __init__(self, tile, *, register_units: tuple = ()):
        self.register_units = tuple(register_units)
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


def register_units_of(probes: TileProbes, tree) -> tuple:
    """The units of ``probes.data`` whose every value is a flip-flop output in ``tree`` (the
    :class:`~subtile.hdl.flops.ClockTree` of the probed tile)."""
    return tuple(unit for unit, values in probes.data.items() if values and all(map(tree.is_register, values)))
