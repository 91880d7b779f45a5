"""The synapse lookup of the tile: input event -> (branch, weights of every neuron, payload)."""

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.spec.fixed import bits
from subtile.errors import ConfigError
from subtile.hdl.fixed import shape_of
from subtile.hdl.validation import unused_if_refused

__all__ = ["SynapsePipeline", "event_in_layout", "event_out_layout", "prog_layout",
           "pack_weight_rows", "table_words"]


def event_in_layout(config: TileConfig) -> data.StructLayout:
    """Payload of ``events_in``: input address and payload code."""
    return data.StructLayout({"address": unsigned(config.address_width),
                              "payload": shape_of(config.payload_format)})


def event_out_layout(config: TileConfig) -> data.StructLayout:
    """Payload of ``events_out``: neuron index and payload code."""
    return data.StructLayout({"neuron": unsigned(config.neuron_width),
                              "payload": shape_of(config.payload_format)})


def prog_layout(config: TileConfig) -> data.StructLayout:
    """Payload of ``prog``: ``target`` 0 writes ``table[row] = data``, 1 writes
    ``w[row][neuron] = data`` (two's complement in the low weight-width bits)."""
    return data.StructLayout({"target": 1, "row": unsigned(config.row_width),
                              "neuron": unsigned(config.neuron_width),
                              "data": unsigned(config.prog_data_width)})


def pack_weight_rows(config: TileConfig, weights) -> list[int]:
    """Weight-memory words: row ``b*S + s`` holds neuron n's weight in bits ``n*Ww .. n*Ww+Ww-1``."""
    weights = np.asarray(weights)
    shape = (config.rows, config.neurons)
    if weights.shape != shape or not np.issubdtype(weights.dtype, np.integer):
        raise ConfigError(f"weights: expected an integer array of shape {shape}, "
                          f"got {weights.dtype} {weights.shape}")
    fmt = config.weight_format
    if not np.all(fmt.contains(weights)):
        raise ConfigError(f"weights: codes outside {fmt} ({fmt.min_code}..{fmt.max_code})")
    return [sum(bits(int(w), fmt) << (n * fmt.width) for n, w in enumerate(row)) for row in weights]


def table_words(config: TileConfig, table) -> list[int]:
    """Synapse-table words (``TileConfig.table_entry_width`` bits: valid, then b, then s) from
    an object with ``encode()`` (the golden table) or a sequence of words."""
    words = table.encode() if hasattr(table, "encode") else table
    words = [int(w) for w in np.asarray(words).reshape(-1)]
    if len(words) != config.addresses:
        raise ConfigError(f"table: expected {config.addresses} words, got {len(words)}")
    limit = 1 << config.table_entry_width
    if any(not 0 <= w < limit for w in words):
        raise ConfigError(f"table: words must lie in 0..{limit - 1} "
                          f"(table_entry_width = {config.table_entry_width})")
    return words


class SynapsePipeline(wiring.Component):
    """Stages 0 and 1 of the event pipeline and the operands of stage 2.

    Stage 0 accepts an event (``events.ready = accept``) and reads the synapse table; stage 1
    decodes the entry: a valid entry (b, s) reads weight-memory row ``b*S + s``, an invalid one
    (or an address ``>= A``, or b or s out of range) is dropped and counted in ``unmapped``;
    stage 2 presents the mapped event (``hit``, ``branch``, ``payload``, ``weights``) for one
    cycle. One event per cycle; an event is in flight (``busy``) in stages 1 and 2.

    The programming port writes either memory while idle (``accept``, nothing in flight and no
    event offered); writes to rows (or neurons) outside the memories are ignored.

    Parameters
    ----------
    config : TileConfig
        Sizes and formats.
    weights : array of int, shape (rows, N)
        Initial weight codes.
    table : sequence of int or object with ``encode()``
        Initial synapse-table words (A of them).
    isolate : bool
        Operand isolation: memories are read and pipeline registers loaded only for an event
        (``True`` for the gated modes); otherwise every cycle (the dense ``none`` baseline).
    domains : dict of str to str, optional
        Clock domains of the three register groups, each ``"sync"`` by default: ``"pipeline"``
        (stages 0 and 1, ``hit``, the memories' write ports), ``"weights"`` (the weight-memory
        read data and the stage-2 branch and payload, loaded when ``weights_load`` is high) and
        ``"unmapped"`` (the counter, which changes when ``unmapped_load`` is high). A tile clocks
        each group through its own clock gate.

    Members
    -------
    events : In(stream.Signature(event_in_layout(config)))
        Input events.
    accept : In(1)
        The tile is in its event phase.
    prog : In(stream.Signature(prog_layout(config)))
        Programming writes.
    busy : Out(1)
        An event is in stage 1 or 2.
    hit : Out(1)
        Stage 2 holds a mapped event this cycle.
    branch : Out(unsigned(branch_index_width))
        Its branch b.
    payload : Out(signed(Wp))
        Its payload p.
    weights : Out(ArrayLayout(signed(Ww), N))
        Weight-memory row ``b*S + s``: the weight of each neuron.
    unmapped : Out(32)
        Count of dropped events (wraps).
    weights_load : Out(1)
        The ``weights`` registers load this cycle (a mapped event in stage 1).
    unmapped_load : Out(1)
        ``unmapped`` counts this cycle (a dropped event in stage 1).
    """

    #: Register groups, each in the clock domain named by the ``domains`` argument.
    DOMAINS = ("pipeline", "weights", "unmapped")

    def __init__(self, config: TileConfig, *, weights, table, isolate: bool = True, domains=None):
        with unused_if_refused(self):
            if not isinstance(config, TileConfig):
                raise ConfigError(f"config: expected a TileConfig, got {type(config).__name__}")
            domains = dict(domains or {})
            unknown = sorted(set(domains) - set(self.DOMAINS))
            if unknown:
                raise ConfigError(f"domains: unknown register groups {', '.join(unknown)}; "
                                  f"allowed: {', '.join(self.DOMAINS)}")
            self.domains = {group: domains.get(group, "sync") for group in self.DOMAINS}
            self.config = config
            self.weight_words = pack_weight_rows(config, weights)
            self.table_words = table_words(config, table)
        self.isolate = bool(isolate)
        super().__init__({
            "events": In(stream.Signature(event_in_layout(config))),
            "accept": In(1),
            "prog": In(stream.Signature(prog_layout(config))),
            "busy": Out(1),
            "hit": Out(1),
            "branch": Out(unsigned(config.branch_index_width)),
            "payload": Out(shape_of(config.payload_format)),
            "weights": Out(data.ArrayLayout(shape_of(config.weight_format), config.neurons)),
            "unmapped": Out(32),
            "weights_load": Out(1),
            "unmapped_load": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self.config
        n_count, ww = config.neurons, config.weight_format.width
        bw, sw = config.branch_index_width, config.slot_index_width

        # Depth at least 2: a one-row memory would get a zero-width address. Padding rows stay
        # invalid (table) or are never addressed (weights).
        table_depth, weight_depth = max(config.addresses, 2), max(config.rows, 2)
        m.submodules.table = table = Memory(
            shape=unsigned(config.table_entry_width), depth=table_depth,
            init=self.table_words + [0] * (table_depth - config.addresses))
        m.submodules.weight_memory = weight_memory = Memory(
            shape=unsigned(n_count * ww), depth=weight_depth,
            init=self.weight_words + [0] * (weight_depth - config.rows))
        pipeline, loaded, counter = (self.domains[group] for group in self.DOMAINS)
        table_read = table.read_port(domain=pipeline)
        table_write = table.write_port(domain=pipeline)
        weight_read = weight_memory.read_port(domain=loaded)
        weight_write = weight_memory.write_port(granularity=ww, domain=pipeline)

        # -- stage 0: accept, read the table ---------------------------------------------------
        events = self.events
        accepted = Signal(name="accepted")
        m.d.comb += [
            events.ready.eq(self.accept),
            accepted.eq(events.valid & events.ready),
            table_read.addr.eq(events.payload.address),
            table_read.en.eq(accepted if self.isolate else 1),
        ]
        s1_valid = Signal(name="s1_valid")
        s1_payload = Signal(shape_of(config.payload_format), name="s1_payload")
        s1_in_range = Signal(name="s1_in_range")
        address_in_range = (events.payload.address < config.addresses
                            if config.addresses < (1 << config.address_width) else Const(1, 1))
        m.d[pipeline] += s1_valid.eq(accepted)
        load_s1 = [s1_payload.eq(events.payload.payload), s1_in_range.eq(address_in_range)]
        if self.isolate:
            with m.If(accepted):
                m.d[pipeline] += load_s1
        else:
            m.d[pipeline] += load_s1

        # -- stage 1: decode the entry, read the weights or count the drop ---------------------
        entry = table_read.data
        entry_valid, branch, slot = entry[0], entry[1:1 + bw], entry[1 + bw:1 + bw + sw]
        in_range = s1_in_range
        if config.branches < (1 << bw):
            in_range = in_range & (branch < config.branches)
        if config.synapses < (1 << sw):
            in_range = in_range & (slot < config.synapses)
        mapped = Signal(name="mapped")
        m.d.comb += [
            mapped.eq(s1_valid & entry_valid & in_range),
            weight_read.addr.eq(branch * config.synapses + slot),
            weight_read.en.eq(mapped if self.isolate else 1),
        ]
        s2_valid = Signal(name="s2_valid")
        s2_branch = Signal(unsigned(bw), name="s2_branch")
        s2_payload = Signal(shape_of(config.payload_format), name="s2_payload")
        unmapped = Signal(32, name="unmapped_count")
        m.d[pipeline] += s2_valid.eq(mapped)
        load_s2 = [s2_branch.eq(branch), s2_payload.eq(s1_payload)]
        m.d.comb += [self.weights_load.eq(mapped),
                     self.unmapped_load.eq(s1_valid & ~mapped)]
        if self.isolate:
            with m.If(mapped):
                m.d[loaded] += load_s2
        else:
            m.d[loaded] += load_s2
        with m.If(self.unmapped_load):
            m.d[counter] += unmapped.eq(unmapped + 1)

        # -- stage 2 operands ------------------------------------------------------------------
        m.d.comb += [
            self.hit.eq(s2_valid),
            self.branch.eq(s2_branch),
            self.payload.eq(s2_payload),
            self.weights.eq(weight_read.data),
            self.busy.eq(s1_valid | s2_valid),
            self.unmapped.eq(unmapped),
        ]

        # -- programming port ------------------------------------------------------------------
        prog = self.prog
        written = Signal(name="prog_written")
        row, value = prog.payload.row, prog.payload.data
        table_row_ok = (row < config.addresses
                        if config.addresses < (1 << config.row_width) else Const(1, 1))
        weight_row_ok = row < config.rows if config.rows < (1 << config.row_width) else Const(1, 1)
        m.d.comb += [
            prog.ready.eq(self.accept & ~self.busy & ~events.valid),
            written.eq(prog.valid & prog.ready),
            table_write.addr.eq(row),
            table_write.data.eq(value[:config.table_entry_width]),
            table_write.en.eq(written & (prog.payload.target == 0) & table_row_ok),
            weight_write.addr.eq(row),
            weight_write.data.eq(Cat(value[:ww] for _ in range(n_count))),
            # A neuron index >= N shifts the one-hot out of the enable: no write.
            weight_write.en.eq(Mux(written & (prog.payload.target == 1) & weight_row_ok,
                                   (Const(1, n_count + 1) << prog.payload.neuron)[:n_count], 0)),
        ]
        return m
