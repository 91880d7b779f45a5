"""The neuron lanes' operand registers: each lane's dirty neuron's state, loaded for an update."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.hdl.fixed import state_shapes
from subtile.hdl.logic import select
from subtile.hdl.validation import checked_tile_config

__all__ = ["LaneOperands"]


class LaneOperands(wiring.Component):
    """The operand registers of a tile's neuron lanes (docs/architecture.md, "Clock gating").

    When the sequencer moves to a group (``load``), each lane whose neuron in group
    ``next_group`` is dirty loads the neuron's accumulators, v and y_sent, ready for the update
    cycle. Between updates the operands hold: a lane's logic switches once per update, by the
    difference from the previous operands, and not at all while events change the accumulators
    or when the update writes v and y_sent back. With one lane per neuron
    (``config.private_lanes``) a lane keeps its own neuron's operands, and reloads an
    accumulator only if an event wrote it since the last load (its ``written`` stamp differs
    from ``loaded``): a branch that no event reached since the last update does not switch.

    Lane ``l``'s operands sit in gated domain ``g_operands_<l>`` (enable ``lane_en[l]``); with
    private lanes each accumulator operand in ``g_operands_<l>_<b>`` (enable
    ``branch_en[l][b]``) with its stamp ``loaded``.

    Parameters
    ----------
    config : TileConfig
        The tile.

    Members
    -------
    acc_in : In(accumulator).array(neurons, branches)
    v_in : In(membrane).array(neurons)
    y_sent_in : In(payload).array(neurons)
    dirty_in : In(1).array(neurons)
        The architectural state (``state``), neuron ``g * lanes + l`` in lane ``l``.
    written : In(1).array(neurons, branches)
        With private lanes: each accumulator's write stamp.
    load : In(1)
        Load the operands of group ``next_group``.
    next_group : In(range(max(groups, 2)))
    acc : Out(accumulator).array(lanes, branches)
    v : Out(membrane).array(lanes)
    y_sent : Out(payload).array(lanes)
        The operands, per lane.
    loaded : Out(1).array(neurons, branches)
        With private lanes: the stamp of each accumulator operand's last load.
    lane_en : Out(1).array(lanes)
        Enables of the lanes' gated domains (``load`` and the lane's neuron dirty).
    branch_en : Out(1).array(lanes, branches)
        With private lanes: enables of the accumulator operands' gated domains.
    """

    def __init__(self, config: TileConfig):
        self.config = config = checked_tile_config(self, config)
        n_count, b_count, lanes = config.neurons, config.branches, config.lanes
        acc, membrane, payload = state_shapes(config)
        members = {
            "acc_in": In(acc).array(n_count, b_count),
            "v_in": In(membrane).array(n_count),
            "y_sent_in": In(payload).array(n_count),
            "dirty_in": In(1).array(n_count),
            "load": In(1),
            "next_group": In(range(max(config.groups, 2))),
            "acc": Out(acc).array(lanes, b_count),
            "v": Out(membrane).array(lanes),
            "y_sent": Out(payload).array(lanes),
            "lane_en": Out(1).array(lanes),
        }
        if config.private_lanes:
            members.update(written=In(1).array(n_count, b_count), loaded=Out(1).array(n_count, b_count),
                           branch_en=Out(1).array(lanes, b_count))
        super().__init__(members)

    @property
    def domains(self) -> dict:
        """Gated domain to its enable (``g_operands_<l>``, with private lanes ``g_operands_<l>_<b>``)."""
        config = self.config
        domains = {}
        for lane in range(config.lanes):
            domains[f"g_operands_{lane}"] = self.lane_en[lane]
            if config.private_lanes:
                domains.update({f"g_operands_{lane}_{b}": self.branch_en[lane][b] for b in range(config.branches)})
        return domains

    def elaborate(self, platform):
        m = Module()
        config = self.config
        lanes, groups = config.lanes, config.groups
        gated = config.gating != "none"
        private = config.private_lanes
        for lane in range(lanes):
            members = [g * lanes + lane for g in range(groups)]
            domain = f"g_operands_{lane}"
            enable = self.lane_en[lane]
            next_dirty = Signal(name=f"lane_{lane}_next_dirty")
            m.d.comb += [
                next_dirty.eq(select([self.dirty_in[n] for n in members], self.next_group)),
                enable.eq(self.load & next_dirty),
            ]
            sources = [([self.v_in[n] for n in members], self.v[lane], "v", domain, enable),
                       ([self.y_sent_in[n] for n in members], self.y_sent[lane], "y_sent", domain, enable)]
            for b in range(config.branches):
                if private:
                    # A private lane reloads an accumulator only if an event wrote it since the
                    # last load (its stamp differs): the other branches' operands stay clocked off.
                    n = lane
                    branch_domain = f"g_operands_{lane}_{b}"
                    branch_enable = self.branch_en[lane][b]
                    written, loaded = self.written[n][b], self.loaded[n][b]
                    m.d.comb += branch_enable.eq(enable & (written ^ loaded))
                    m.d[branch_domain] += loaded.eq(written if gated else Mux(branch_enable, written, loaded))
                    sources.append(([self.acc_in[n][b]], self.acc[lane][b], f"acc_{b}", branch_domain, branch_enable))
                else:
                    sources.append(([self.acc_in[n][b] for n in members], self.acc[lane][b], f"acc_{b}", domain,
                                    enable))
            for values, operand, label, operand_domain, load in sources:
                value = Signal.like(operand, name=f"lane_{lane}_next_{label}")
                m.d.comb += value.eq(select(values, self.next_group))
                m.d[operand_domain] += operand.eq(value if gated else Mux(load, value, operand))
        return m
