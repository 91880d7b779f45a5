"""A simulation wrapper that runs whole time steps of a tile without Python in the loop.

The testbench writes a stimulus program into the harness's stimulus memory (events, ticks and
programming writes, one word each), raises ``start`` and waits. The harness streams the
program into the tile with pseudo-random idle cycles, holds the output stream back with
pseudo-random stalls, and records every output event with its step number in the response
memory. After each step it can pause (``step_done``) so the testbench reads the architectural
state, then continue on ``resume``. Python thus acts once per time step, not once per cycle.
"""


from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import TileConfig

__all__ = ["TileHarness", "HarnessArray", "StimulusKind", "stimulus_layout", "response_layout"]


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


class TileHarness(wiring.Component):
    """Tile plus stimulus and response memories for whole-step simulation.

    Parameters
    ----------
    tile : wiring.Component
        The tile (a :class:`subtile.hdl.tile.Tile`), instantiated as submodule ``tile``.
    config : TileConfig
        Its configuration (sizes the memory words).
    stimulus_depth, response_depth : int
        Memory depths (words).

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
    step_done, finished : Out(1)
        Paused after a step; the END word was reached.
    steps, responses, cycles : Out
        Completed steps, recorded output events, cycles since ``start``.
    """

    def __init__(self, tile, config: TileConfig, *, stimulus_depth: int, response_depth: int):
        self.tile, self.config = tile, config
        self.stimulus_depth, self.response_depth = stimulus_depth, response_depth
        super().__init__({
            "start": In(1), "pause_each_step": In(1), "resume": In(1),
            "idle_threshold": In(8), "stall_threshold": In(8), "seed": In(16),
            "step_done": Out(1), "finished": Out(1),
            "steps": Out(STEP_BITS), "responses": Out(32), "cycles": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        config, tile = self.config, self.tile
        m.submodules.tile = tile
        stim_layout, resp_layout = stimulus_layout(config), response_layout(config)
        m.submodules.stimulus = stimulus = Memory(shape=stim_layout, depth=self.stimulus_depth, init=[])
        m.submodules.response = response = Memory(shape=resp_layout, depth=self.response_depth, init=[])
        m.submodules.idle_lfsr = idle_lfsr = _Lfsr()
        m.submodules.stall_lfsr = stall_lfsr = _Lfsr()
        m.d.comb += [idle_lfsr.seed.eq(self.seed), stall_lfsr.seed.eq(self.seed ^ 0x5A5A),
                     idle_lfsr.load.eq(~self.start), stall_lfsr.load.eq(~self.start)]

        pointer = Signal(range(self.stimulus_depth + 1), name="pointer")
        read = stimulus.read_port(domain="comb")
        m.d.comb += read.addr.eq(pointer)
        word = read.data
        event = event_body_layout(config)(word.body[:event_body_layout(config).size])
        prog = prog_body_layout(config)(word.body[:prog_body_layout(config).size])

        # Events: decide once per word whether to idle first; then hold valid until ready.
        presenting = Signal(name="presenting")
        advance = Signal(name="advance")
        m.d.comb += [
            tile.events_in.payload.address.eq(event.address),
            tile.events_in.payload.payload.eq(event.payload),
            tile.prog.payload.target.eq(prog.target),
            tile.prog.payload.row.eq(prog.row),
            tile.prog.payload.neuron.eq(prog.neuron),
            tile.prog.payload.data.eq(prog.data),
        ]
        with m.If(advance):
            m.d.sync += [pointer.eq(pointer + 1), presenting.eq(0)]

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.Switch(word.kind):
                    with m.Case(StimulusKind.EVENT, StimulusKind.PROG):
                        idle = idle_lfsr.value[:8] < self.idle_threshold
                        with m.If(~presenting & ~idle):
                            m.d.sync += presenting.eq(1)
                        with m.If(word.kind == StimulusKind.EVENT):
                            m.d.comb += [tile.events_in.valid.eq(presenting),
                                         advance.eq(presenting & tile.events_in.ready)]
                        with m.Else():
                            m.d.comb += [tile.prog.valid.eq(presenting),
                                         advance.eq(presenting & tile.prog.ready)]
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
        write = response.write_port()
        stall = stall_lfsr.value[8:] < self.stall_threshold
        m.d.comb += [
            tile.events_out.ready.eq(self.start & ~stall),
            write.addr.eq(self.responses),
            write.data.step.eq(self.steps),
            write.data.neuron.eq(tile.events_out.payload.neuron),
            write.data.payload.eq(tile.events_out.payload.payload),
        ]
        with m.If(tile.events_out.valid & tile.events_out.ready):
            m.d.comb += write.en.eq(1)
            m.d.sync += self.responses.eq(self.responses + 1)
        return m


#: Ports of each harness, exposed at the top of :class:`HarnessArray` as ``h<i>_<name>``.
HARNESS_PORTS = ("start", "pause_each_step", "resume", "idle_threshold", "stall_threshold", "seed",
                 "step_done", "finished", "steps", "responses", "cycles")


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
            for name in HARNESS_PORTS:
                members[f"h{index}_{name}"] = harness.signature.members[name]
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for index, harness in enumerate(self.harnesses):
            m.submodules[f"h{index}"] = harness
            for name in HARNESS_PORTS:
                outer, inner = getattr(self, f"h{index}_{name}"), getattr(harness, name)
                if harness.signature.members[name].flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m
