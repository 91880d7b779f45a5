"""The tile's architectural state: accumulators, membranes, last sent outputs, dirty flags."""

from amaranth.hdl import Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.hdl.fixed import state_shapes
from subtile.hdl.logic import equals
from subtile.hdl.neuron import resting_state_settled
from subtile.hdl.validation import checked_tile_config

__all__ = ["TileState", "TileRegisters"]


class TileRegisters:
    """The architectural state registers of a :class:`~subtile.hdl.tile.Tile` (for simulation
    and testbenches): the ports of its :class:`TileState`, as lists.

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

    def __init__(self, state: "TileState"):
        config = state.config
        self.acc = [[getattr(state, f"acc_{n}_{b}") for b in range(config.branches)] for n in range(config.neurons)]
        self.v, self.y_sent, self.dirty = ([getattr(state, f"{name}_{n}") for n in range(config.neurons)]
                                           for name in ("v", "y_sent", "dirty"))


class TileState(wiring.Component):
    """The architectural registers of a tile (docs/architecture.md) and their clock gates' enables.

    Stage 2 of the event pipeline writes accumulator ``acc[n][b]`` with ``acc_next[n]`` when
    ``acc_en[n][b]`` is high and marks neuron ``n`` dirty (``event_dirty[n]``); the update cycle
    of group ``group`` (``updating``) writes each dirty neuron's v, y_sent and dirty flag from its
    lane (neuron ``g * lanes + l`` in lane ``l``). Each accumulator sits in gated domain
    ``g_acc_<n>_<b>`` (enable ``acc_en[n][b]``), each neuron's v and y_sent in ``g_neuron_<n>``
    (enable ``neuron_en[n]``), the dirty flags in ``g_neurons`` (an event or the update phase, the
    tile's parent gate: an event marking a neuron dirty then clocks one flop, not the neuron's
    whole state).

    The registers are ports named as in the generated Verilog (``acc_<n>_<b>``, ``v_<n>``,
    ``y_sent_<n>``, ``dirty_<n>``; :class:`TileRegisters` lists them); with private lanes
    (``config.private_lanes``) each accumulator has a write stamp ``acc_written_<n>_<b>``,
    toggled by every write (the lane's operand reloads when it differs from ``loaded``).

    Parameters
    ----------
    config : TileConfig
        The tile.

    Members
    -------
    acc_next : In(accumulator).array(neurons)
    acc_en : In(1).array(neurons, branches)
    event_dirty : In(1).array(neurons)
    updating : In(1)
    group : In(range(max(groups, 2)))
    v_next, y_sent_next, dirty_next : In(...).array(lanes)
        The lanes' results.
    loaded : In(1).array(neurons, branches)
        With private lanes: the operands' load stamps.
    neuron_en : Out(1).array(neurons)
        Neuron ``n`` is updated this cycle (the enable of ``g_neuron_<n>``).
    """

    def __init__(self, config: TileConfig):
        self.config = config = checked_tile_config(self, config)
        n_count, b_count, lanes = config.neurons, config.branches, config.lanes
        acc, membrane, payload = state_shapes(config)
        members = {
            "acc_next": In(acc).array(n_count),
            "acc_en": In(1).array(n_count, b_count),
            "event_dirty": In(1).array(n_count),
            "updating": In(1),
            "group": In(range(max(config.groups, 2))),
            "v_next": In(membrane).array(lanes),
            "y_sent_next": In(payload).array(lanes),
            "dirty_next": In(1).array(lanes),
            "neuron_en": Out(1).array(n_count),
        }
        dirty = int(not resting_state_settled(config))
        for n in range(n_count):
            members.update({f"acc_{n}_{b}": Out(acc) for b in range(b_count)})
            members.update({f"v_{n}": Out(membrane), f"y_sent_{n}": Out(payload), f"dirty_{n}": Out(1, init=dirty)})
        if config.private_lanes:
            members["loaded"] = In(1).array(n_count, b_count)
            members.update({f"acc_written_{n}_{b}": Out(1) for n in range(n_count) for b in range(b_count)})
        super().__init__(members)
        self.written = [[getattr(self, f"acc_written_{n}_{b}") for b in range(b_count)]
                        for n in range(n_count)] if config.private_lanes else []

    @property
    def domains(self) -> dict:
        """Gated domain to its enable: ``g_acc_<n>_<b>`` and ``g_neuron_<n>`` (``g_neurons``,
        the dirty flags' domain, is the tile's parent gate)."""
        config = self.config
        domains = {}
        for n in range(config.neurons):
            domains.update({f"g_acc_{n}_{b}": self.acc_en[n][b] for b in range(config.branches)})
            domains[f"g_neuron_{n}"] = self.neuron_en[n]
        return domains

    def elaborate(self, platform):
        m = Module()
        config = self.config
        lanes, groups = config.lanes, config.groups
        gated = config.gating != "none"
        regs = TileRegisters(self)
        for n in range(config.neurons):
            g, lane = divmod(n, lanes)
            for b in range(config.branches):
                domain, enable = f"g_acc_{n}_{b}", self.acc_en[n][b]
                acc = regs.acc[n][b]
                m.d[domain] += acc.eq(self.acc_next[n] if gated else Mux(enable, self.acc_next[n], acc))
                if config.private_lanes:
                    # The stamp of a private lane's operand: written != loaded once an event wrote
                    # the accumulator after the operand was last loaded.
                    written = self.written[n][b]
                    m.d[domain] += written.eq(~self.loaded[n][b] if gated
                                              else Mux(enable, ~self.loaded[n][b], written))
            update = self.neuron_en[n]
            in_group = equals(self.group, g) if groups > 1 else Const(1, 1)
            m.d.comb += update.eq(self.updating & in_group & regs.dirty[n])
            v, y_sent, dirty = regs.v[n], regs.y_sent[n], regs.dirty[n]
            m.d[f"g_neuron_{n}"] += [
                v.eq(Mux(update, self.v_next[lane], v)),
                y_sent.eq(Mux(update, self.y_sent_next[lane], y_sent)),
            ]
            m.d.g_neurons += dirty.eq(Mux(update, self.dirty_next[lane], self.event_dirty[n] | dirty))
        return m
