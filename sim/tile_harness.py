"""A simulation wrapper that runs whole time steps of a tile without Python in the loop.

The stimulus program (events, ticks and programming writes, one word each) is read from a
hex file word by word as the harness advances (``$fscanf``); the testbench raises
``start`` and waits. The harness streams the program into the tile with pseudo-random idle
cycles, holds the output stream back with pseudo-random stalls, and appends every output event
with its step number to a response hex file (``$fwrite``), closed when the program ends. After each step it can pause (``step_done``) so the
testbench reads the architectural state, then continue on ``resume``. Python thus acts once per
time step (or once per run), never per cycle or per event.

The two streams are small simulation-only Verilog modules (:data:`SIM_BUFFERS_VERILOG`); the
file names come from plusargs, so new stimulus never needs a new build, and neither holds the
program or the responses in memory, so a run of any length fits.
"""


from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from subtile.gen.design_cache import cached_design
from subtile.gen.tile import extra_verilog, tile_component
from subtile.gen.verilog import GeneratedDesign, generate
from subtile.spec.config import TileConfig

__all__ = ["TileHarness", "HarnessArray", "add_toggle_counters", "counter_names", "StimulusKind",
           "stimulus_layout", "response_layout",
           "SIM_BUFFERS_VERILOG", "stimulus_plusarg", "response_plusarg", "generate_bench",
           "stimulus_stream", "response_stream", "harness_lfsr", "offer", "stall_ready", "recorder"]

#: Simulation-only buffers (not for synthesis): Verilog-2005 with $fscanf/$fwrite streams, plus
#: SystemVerilog's $countones, applied to a named wire and zero-extended by concatenation, never to
#: an expression or through a size cast, which Icarus 11 evaluates wrongly (357 for 7). Icarus
#: (-g2012) and Verilator count alike (tests/sim/test_icarus_harness.py).
SIM_BUFFERS_VERILOG = """\
// Simulation-only buffers of subtile's tile and mesh harnesses (not for synthesis).
// Stimulus stream: `data` is the current word of the hex file (one word per line) named by
// plusarg FORMAT (e.g. +stim_h0=FILE); at each clock edge with `next` high the following word is
// read. Any length: the file is read as the program advances, never held whole. Past the end
// of the file, or without the plusarg, `data` is 0.
module subtile_sim_stream_in #(parameter WIDTH = 8, parameter FORMAT = "stim=%s") (
    input  wire clk,
    input  wire next,
    output reg  [WIDTH-1:0] data
);
    reg [8*1024-1:0] file;
    reg [WIDTH-1:0] word;
    integer fd, got;
    initial begin
        data = {WIDTH{1'b0}};
        word = {WIDTH{1'b0}};
        fd = 0;
        if ($value$plusargs(FORMAT, file)) begin
            fd = $fopen(file, "r");
            if (fd != 0) begin
                got = $fscanf(fd, "%h", word);
                data = got == 1 ? word : {WIDTH{1'b0}};
            end
        end
    end
    always @(posedge clk) begin
        if (next) begin
            got = 0;
            if (fd != 0) got = $fscanf(fd, "%h", word);   // into `word`: readers of `data` at
            data <= got == 1 ? word : {WIDTH{1'b0}};        // this edge still see the old one
        end
    end
endmodule

// Toggle counter: adds the number of bits of `value` that differ from the previous cycle's
// sample, in every cycle `en` is high ($countones compiles to a popcount instruction; it is
// applied to a named wire, not an expression, for Icarus 11).
module subtile_toggle_counter #(parameter WIDTH = 8) (
    input  wire clk,
    input  wire en,
    input  wire [WIDTH-1:0] value,
    output reg  [63:0] count
);
    reg [WIDTH-1:0] previous;
    wire [WIDTH-1:0] flips = value ^ previous;
    initial begin
        count = 64'd0;
        previous = {WIDTH{1'b0}};
    end
    always @(posedge clk) begin
        previous <= value;
        // Most cycles flip nothing: testing that first skips the population count.
        if (en && |flips) count <= count + {32'd0, $countones(flips)};
    end
endmodule

// Pulse counter: adds the number of set bits of `value` (e.g. clock-gate enables) per cycle.
module subtile_pulse_counter #(parameter WIDTH = 8) (
    input  wire clk,
    input  wire en,
    input  wire [WIDTH-1:0] value,
    output reg  [63:0] count
);
    initial count = 64'd0;
    always @(posedge clk)
        if (en && |value) count <= count + {32'd0, $countones(value)};
endmodule

// Response stream: each word written (`we` high at a clock edge) is appended as one hex line
// to the file named by plusarg FORMAT, which is closed on the first cycle `dump` is high. Any
// length; without the plusarg nothing is written.
module subtile_sim_stream_out #(parameter WIDTH = 8, parameter FORMAT = "resp=%s") (
    input  wire clk,
    input  wire we,
    input  wire [WIDTH-1:0] wdata,
    input  wire dump
);
    reg [8*1024-1:0] file;
    reg closed;
    integer fd;
    initial begin
        closed = 1'b0;
        fd = 0;
        if ($value$plusargs(FORMAT, file)) fd = $fopen(file, "w");
    end
    always @(posedge clk) begin
        if (we && !closed && fd != 0) $fwrite(fd, "%h\\n", wdata);
        if (dump && !closed) begin
            closed <= 1'b1;
            if (fd != 0) $fclose(fd);
        end
    end
endmodule
"""


def stimulus_plusarg(index: int) -> str:
    return f"stim_h{index}"


def response_plusarg(index: int) -> str:
    return f"resp_h{index}"


class StimulusKind:
    """Stimulus word kinds (the top bits of each word)."""

    EVENT = 0
    TICK = 1
    PROG = 2
    END = 3


STEP_BITS = 16


def stimulus_layout(config: TileConfig) -> data.StructLayout:
    """One stimulus word: kind, then the event fields or the programming fields (overlaid)."""
    body = max(config.address_width + config.payload_format.width,
               1 + config.row_width + config.neuron_width + config.prog_data_width)
    return data.StructLayout({"kind": unsigned(2), "body": unsigned(body)})


def event_body_layout(config: TileConfig) -> data.StructLayout:
    return data.StructLayout({"address": unsigned(config.address_width),
                              "payload": unsigned(config.payload_format.width)})


def prog_body_layout(config: TileConfig) -> data.StructLayout:
    return data.StructLayout({"target": unsigned(1), "row": unsigned(config.row_width),
                              "neuron": unsigned(config.neuron_width),
                              "data": unsigned(config.prog_data_width)})


def response_layout(config: TileConfig) -> data.StructLayout:
    """One recorded output event: step number, neuron, payload bits."""
    return data.StructLayout({"step": unsigned(STEP_BITS), "neuron": unsigned(config.neuron_width),
                              "payload": unsigned(config.payload_format.width)})


class _Lfsr(wiring.Component):
    """16-bit Galois LFSR (taps 0xB400) stepping every cycle; ``value`` is never 0."""

    seed: In(16)
    load: In(1)
    value: Out(16)

    def elaborate(self, platform):
        m = Module()
        state = Signal(16, init=1)
        m.d.comb += self.value.eq(state)
        with m.If(self.load):
            m.d.sync += state.eq(Mux(self.seed == 0, 1, self.seed))
        with m.Else():
            m.d.sync += state.eq((state >> 1) ^ Mux(state[0], 0xB400, 0))
        return m


def harness_lfsr(m: Module, name: str, seed, start) -> _Lfsr:
    """An LFSR of a harness (submodule ``name``): loads ``seed`` while ``start`` is low, steps
    every cycle while it is high. The one source of the harnesses' idle and stall draws."""
    m.submodules[name] = lfsr = _Lfsr()
    m.d.comb += [lfsr.seed.eq(seed), lfsr.load.eq(~start)]
    return lfsr


def offer(m: Module, name: str, *, idle, ready):
    """Offer the current stimulus word on an input stream, called inside the state that presents
    it: ``valid`` rises in the first cycle whose idle draw (``idle``) is false, the very cycle the
    word arrives when idle is never drawn, so one word per cycle goes in; once raised it is held
    until ``ready`` (stream rule). Returns ``(valid, accepted)``; ``accepted`` advances the stream."""
    held = Signal(name=f"{name}_held")
    valid, accepted = Signal(name=f"{name}_valid"), Signal(name=f"{name}_accepted")
    m.d.comb += [valid.eq(held | ~idle), accepted.eq(valid & ready)]
    m.d.sync += held.eq(valid & ~ready)
    return valid, accepted


def stall_ready(lfsr: _Lfsr, threshold, start):
    """Ready of an output under random backpressure: high while running, except in cycles whose
    draw (the LFSR's upper byte) is below ``threshold`` (of 256). The one stall rule."""
    return start & (lfsr.value[8:] >= threshold)


def recorder(m: Module, name: str, plusarg: str, layout, *, fire, step, neuron, payload, counter, finished):
    """Record every event of an output (``fire``: valid and ready) with its step to the
    response stream ``+<plusarg>=FILE`` (submodule ``name``) and count it in ``counter``."""
    record = Signal(layout, name=f"record_{name}")
    m.d.comb += [record.step.eq(step), record.neuron.eq(neuron), record.payload.eq(payload)]
    m.submodules[name] = response_stream(plusarg, fire, record, finished)
    with m.If(fire):
        m.d.sync += counter.eq(counter + 1)


def stimulus_stream(width: int, plusarg: str, advance, word) -> Instance:
    """The stimulus stream (``subtile_sim_stream_in``) of a harness: ``word`` is the current
    word of the file named by ``+<plusarg>=FILE``, the next one from the clock edge after
    ``advance``."""
    return Instance("subtile_sim_stream_in", p_WIDTH=width, p_FORMAT=f"{plusarg}=%s",
                    i_clk=ClockSignal(), i_next=advance, o_data=word.as_value())


def response_stream(plusarg: str, write, record, finished) -> Instance:
    """The response stream (``subtile_sim_stream_out``) of a harness: ``record`` is appended to
    the file named by ``+<plusarg>=FILE`` in every cycle ``write`` is high; closed once
    ``finished``."""
    value = record.as_value()
    return Instance("subtile_sim_stream_out", p_WIDTH=len(value), p_FORMAT=f"{plusarg}=%s",
                    i_clk=ClockSignal(), i_we=write, i_wdata=value, i_dump=finished)


class TileHarness(wiring.Component):
    """Tile plus stimulus and response memories for whole-step simulation.

    Parameters
    ----------
    tile : wiring.Component
        The tile (a :class:`subtile.hdl.tile.Tile`), instantiated as submodule ``tile``.
    config : TileConfig
        Its configuration (sizes the buffer words).
    index : int
        Names the plusargs of the buffer files: ``+stim_h<index>=FILE``, ``+resp_h<index>=FILE``.
    count_toggles : bool
        Count toggles and clock pulses in the simulation (the ``toggles_*`` and ``pulses_*``
        members); False leaves the counters out (the plain simulation, for speed comparisons).
    checks : str or None
        Name of a SystemVerilog assertion checker (``gen.sv.checks_sv``) to instantiate on the
        tile's ports; it only acts in a build with ``verilator --assert``.

    Members
    -------
    start : In(1)
        Level: load the LFSRs while low; run the program while high.
    pause_each_step : In(1)
        Stop after every step's ``done`` with ``step_done`` high until ``resume``.
    resume : In(1)
        Continue after a pause.
    idle_threshold, stall_threshold : In(8)
        Probability (of 256) of an idle cycle before an input event, and of holding
        ``events_out.ready`` low in a cycle.
    seed : In(16)
        LFSR seed for idle and stall decisions.
    spaced : In(1)
        One idle cycle after every accepted input word (a router's local port never delivers
        two in consecutive cycles either), on top of the idle draws.
    step_done, finished : Out(1)
        Paused after a step; the END word was reached.
    steps, responses, cycles : Out
        Completed steps, recorded output events, cycles since ``start``.
    """

    def __init__(self, tile, config: TileConfig, *, index: int = 0, count_toggles: bool = True,
                 checks: str | None = None):
        self.tile, self.config, self.index, self.checks = tile, config, index, checks
        self.probes = tile.probes()
        self.count_toggles = count_toggles
        members = {
            "start": In(1), "pause_each_step": In(1), "resume": In(1),
            "idle_threshold": In(8), "stall_threshold": In(8), "seed": In(16), "spaced": In(1),
            "step_done": Out(1), "finished": Out(1),
            "steps": Out(STEP_BITS), "responses": Out(32), "cycles": Out(32),
        }
        if count_toggles:
            # Toggle counts per unit, and gated-clock pulses per gated unit, over the program.
            members.update({name: Out(64) for name in counter_names(self.probes)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config, tile = self.config, self.tile
        m.submodules.tile = tile
        if self.checks:
            m.submodules.checks = Instance(
                self.checks, i_clk=ClockSignal(), i_rst=ResetSignal(),
                i_events_in__valid=tile.events_in.valid, i_events_in__ready=tile.events_in.ready,
                i_events_in__payload=tile.events_in.payload.as_value(),
                i_events_out__valid=tile.events_out.valid, i_events_out__ready=tile.events_out.ready,
                i_events_out__payload=tile.events_out.payload.as_value(),
                i_tick=tile.tick, i_tick_ready=tile.tick_ready, i_done=tile.done,
                i_prog__valid=tile.prog.valid, i_prog__ready=tile.prog.ready,
                i_prog__payload=tile.prog.payload.as_value(), i_unmapped=tile.unmapped)
        stim_layout, resp_layout = stimulus_layout(config), response_layout(config)
        idle_lfsr = harness_lfsr(m, "idle_lfsr", self.seed, self.start)
        gap = Signal(name="input_gap")          # the idle cycle of ``spaced`` after an accepted word
        stall_lfsr = harness_lfsr(m, "stall_lfsr", self.seed ^ 0x5A5A, self.start)

        word = Signal(stim_layout, name="word")
        advance = Signal(name="advance")
        m.submodules.stimulus = stimulus_stream(stim_layout.size, stimulus_plusarg(self.index), advance, word)
        event = event_body_layout(config)(word.body[:event_body_layout(config).size])
        prog = prog_body_layout(config)(word.body[:prog_body_layout(config).size])
        m.d.comb += [
            tile.events_in.payload.address.eq(event.address),
            tile.events_in.payload.payload.eq(event.payload),
            tile.prog.payload.target.eq(prog.target),
            tile.prog.payload.row.eq(prog.row),
            tile.prog.payload.neuron.eq(prog.neuron),
            tile.prog.payload.data.eq(prog.data),
        ]

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.Switch(word.kind):
                    with m.Case(StimulusKind.EVENT, StimulusKind.PROG):
                        is_event = word.kind == StimulusKind.EVENT
                        valid, accepted = offer(m, "input",
                                                idle=(idle_lfsr.value[:8] < self.idle_threshold) | gap,
                                                ready=Mux(is_event, tile.events_in.ready, tile.prog.ready))
                        m.d.sync += gap.eq(accepted & self.spaced)
                        m.d.comb += [tile.events_in.valid.eq(valid & is_event),
                                     tile.prog.valid.eq(valid & ~is_event), advance.eq(accepted)]
                    with m.Case(StimulusKind.TICK):
                        m.d.comb += tile.tick.eq(1)
                        with m.If(tile.tick_ready):
                            m.next = "WAIT_DONE"
                    with m.Case(StimulusKind.END):
                        m.next = "FINISHED"
            with m.State("WAIT_DONE"):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.If(tile.done):
                    m.d.sync += self.steps.eq(self.steps + 1)
                    with m.If(self.pause_each_step):
                        m.next = "PAUSED"
                    with m.Else():
                        m.d.comb += advance.eq(1)
                        m.next = "RUN"
            with m.State("PAUSED"):
                m.d.comb += self.step_done.eq(1)
                with m.If(self.resume):
                    m.d.comb += advance.eq(1)
                    m.next = "RUN"
            with m.State("FINISHED"):
                m.d.comb += self.finished.eq(1)

        # Output monitor: random stalls, every accepted event recorded with its step.
        accepted = Signal(name="accepted")
        m.d.comb += [tile.events_out.ready.eq(stall_ready(stall_lfsr, self.stall_threshold, self.start)),
                     accepted.eq(tile.events_out.valid & tile.events_out.ready)]
        recorder(m, "response", response_plusarg(self.index), resp_layout, fire=accepted, step=self.steps,
                 neuron=tile.events_out.payload.neuron, payload=tile.events_out.payload.payload,
                 counter=self.responses, finished=self.finished)

        if self.count_toggles:
            counting = Signal(name="counting")
            m.d.comb += counting.eq(self.start & ~self.finished)
            add_toggle_counters(m, self.probes, counting=counting, port=lambda name: getattr(self, name))
        return m


def counter_names(probes, prefix: str = "") -> list[str]:
    """Names of the counters :func:`add_toggle_counters` drives for ``probes``: ``toggles_<prefix><unit>``
    per data unit and ``pulses_<prefix><unit>`` per gated unit."""
    return ([f"toggles_{prefix}{unit}" for unit in probes.data]
            + [f"pulses_{prefix}{unit}" for unit in probes.clock_enables])


def add_toggle_counters(m: Module, probes, *, counting, port, prefix: str = ""):
    """Count toggles inside the simulation (no Python per cycle), in every cycle ``counting`` is high.

    ``probes`` follows :class:`subtile.hdl.tile.TileProbes`: ``data`` (unit -> values whose bit
    flips from one cycle to the next are added up), ``clock_enables`` (unit -> clock-gate
    enables, whose set bits are added up per cycle) and, optionally, ``writes`` (unit -> memories
    seen through their writes, ``(data, strobe, words)`` with words written in turn: each write
    adds the bits in which it differs from the word it replaces, kept in a shadow ring here). The
    counts drive ``port(name)`` for the names of :func:`counter_names` (64-bit outputs).
    """
    for unit, values in probes.data.items():
        value = Cat(*values)
        counts = [Signal(64, name=f"toggles_{prefix}{unit}_nets")]
        m.submodules[f"toggle_counter_{prefix}{unit}"] = Instance(
            "subtile_toggle_counter", p_WIDTH=len(value), i_clk=ClockSignal(), i_en=counting,
            i_value=value, o_count=counts[0])
        for k, (data_in, strobe, words) in enumerate(getattr(probes, "writes", {}).get(unit, ())):
            # The shadow ring: shadow[0] is the newest write, shadow[words - 1] the word the
            # next write replaces (zero until written: memories start cleared).
            shadow = [Signal(len(data_in), name=f"shadow_{prefix}{unit}_{k}_{j}") for j in range(words)]
            with m.If(strobe):
                m.d.sync += [shadow[0].eq(data_in)] + [shadow[j].eq(shadow[j - 1]) for j in range(1, words)]
            flips = Signal(len(data_in), name=f"flips_{prefix}{unit}_{k}")
            m.d.comb += flips.eq(Mux(strobe, data_in ^ shadow[-1], 0))
            counts.append(Signal(64, name=f"toggles_{prefix}{unit}_write_{k}"))
            m.submodules[f"write_counter_{prefix}{unit}_{k}"] = Instance(
                "subtile_pulse_counter", p_WIDTH=len(flips), i_clk=ClockSignal(), i_en=counting,
                i_value=flips, o_count=counts[-1])
        m.d.comb += port(f"toggles_{prefix}{unit}").eq(sum(counts[1:], counts[0]))
    for unit, enables in probes.clock_enables.items():
        m.submodules[f"pulse_counter_{prefix}{unit}"] = Instance(
            "subtile_pulse_counter", p_WIDTH=len(enables), i_clk=ClockSignal(), i_en=counting,
            i_value=enables, o_count=port(f"pulses_{prefix}{unit}"))


class HarnessArray(wiring.Component):
    """Several tile harnesses, possibly of different configurations, in one design.

    One Verilator build then verifies many configurations; the testbench runs them
    concurrently. Harness ``i`` is the submodule ``h<i>``; its ports appear as ``h<i>_<port>``.

    Parameters
    ----------
    harnesses : list of TileHarness
    """

    def __init__(self, harnesses):
        if not harnesses:
            raise ValueError("harnesses: at least one is needed")
        self.harnesses = list(harnesses)
        members = {}
        for index, harness in enumerate(self.harnesses):
            for name, member in harness.signature.members.items():
                members[f"h{index}_{name}"] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for index, harness in enumerate(self.harnesses):
            m.submodules[f"h{index}"] = harness
            for name, member in harness.signature.members.items():
                outer, inner = getattr(self, f"h{index}_{name}"), getattr(harness, name)
                if member.flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m


def generate_bench(configs, contents, *, top: str, stimulus_depth: int | None = None,
                   response_depth: int | None = None, count_toggles: bool = True,
                   checks: bool = False, share_lanes: bool = True) -> GeneratedDesign:
    """Verilog of a :class:`subtile.sim.tile_harness.HarnessArray`: one harness per config, each
    tile with its (weights, table) from ``contents``; ``count_toggles`` as in
    :class:`~subtile.sim.tile_harness.TileHarness`; with ``checks``, each tile also gets the
    SystemVerilog assertion checker of ``subtile export --sv`` (build with ``--assert``);
    ``share_lanes`` as in :func:`subtile.gen.verilog.generate` (off for toggle coverage and
    mutation testing).
    ``stimulus_depth`` and ``response_depth`` are accepted for callers written for the earlier
    fixed-size buffers and change nothing: the streams take programs and responses of any length.

    Reused from :mod:`subtile.gen.design_cache` when generated before with the same arguments,
    generator source and tools (nothing is elaborated then)."""
    contents = list(contents)
    del stimulus_depth, response_depth
    arguments = {"configs": list(configs), "contents": contents, "count_toggles": count_toggles, "checks": checks,
                 "share_lanes": share_lanes}
    return cached_design("tile_bench", arguments, top=top, generate=lambda: _generate_bench(
        configs, contents, top=top, count_toggles=count_toggles, checks=checks, share_lanes=share_lanes))


def _generate_bench(configs, contents, *, top, count_toggles, checks, share_lanes):
    harnesses = [TileHarness(tile_component(config, weights, table), config, index=index, count_toggles=count_toggles,
                             checks=f"{top}_h{index}_checks" if checks else None)
                 for index, (config, (weights, table)) in enumerate(zip(configs, contents))]
    extra = "".join(sorted({extra_verilog(config) for config in configs})) + "\n" + SIM_BUFFERS_VERILOG
    if checks:
        from subtile.gen.sv import STREAM_CHECK_SV, checks_sv, package_sv
        # The checker takes NEURONS from the tile's package, as in the export.
        extra += "\n" + STREAM_CHECK_SV + "".join("\n" + package_sv(f"{top}_h{index}", config)
                                                 + "\n" + checks_sv(f"{top}_h{index}", config)
                                                 for index, config in enumerate(configs))
    return generate(HarnessArray(harnesses), top=top, extra_verilog=extra, share_lanes=share_lanes, kind="tile_bench",
                    configs=[config.to_dict() for config in configs])
