"""A simulation wrapper that runs whole programs of mesh time steps without Python in the loop.

As the tile harness (:mod:`subtile.sim.tile_harness`, whose buffer modules it reuses): the
stimulus program (external input events with their port and destination, ticks, the end) is
loaded by ``$readmemh``; the harness injects the events with pseudo-random idle cycles, releases
each tick when the mesh's barrier allows it, holds every external output back with
pseudo-random stalls, records every output event of every tile (a passive monitor on the tile's
output stream) and every external output event with its step number, and writes them out with
``$writememh`` at the end. Python acts once per run.
"""

from amaranth.hdl import ClockSignal, Instance, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from subtile.gen.mesh import mesh_component, mesh_extra_verilog
from subtile.gen.verilog import GeneratedDesign, generate
from subtile.spec.config import MeshConfig, index_bits
from subtile.sim.tile_harness import (SIM_BUFFERS_VERILOG, STEP_BITS, HarnessArray, StimulusKind, _Lfsr,
                                      add_toggle_counters, counter_names)

__all__ = ["MeshHarness", "mesh_probes", "mesh_stimulus_layout", "mesh_response_layout", "tile_response_plusarg",
           "output_response_plusarg", "mesh_stimulus_plusarg", "generate_mesh_bench"]


def mesh_stimulus_plusarg(index: int) -> str:
    return f"stim_h{index}"


def tile_response_plusarg(index: int, tile: int) -> str:
    return f"resp_h{index}_t{tile}"


def output_response_plusarg(index: int, port: int) -> str:
    return f"resp_h{index}_o{port}"


def mesh_probes(mesh) -> dict:
    """What the harness counts, per block: ``{prefix: (block, probes)}`` with prefix ``t<i>_``
    (tile i, :class:`subtile.hdl.tile.TileProbes`), ``r<i>_`` (router i,
    :class:`subtile.hdl.router.RouterProbes`) and ``i<i>_`` (tile i's network interface,
    :class:`subtile.hdl.mesh.InterfaceProbes`)."""
    count = len(mesh.tiles)
    probes = {f"t{i}_": ("tile", mesh.tiles[i].probes()) for i in range(count)}
    probes.update({f"r{i}_": ("router", mesh.network.routers[i].probes()) for i in range(count)})
    probes.update({f"i{i}_": ("interface", mesh.interface_probes(i)) for i in range(count)})
    return probes


def mesh_stimulus_layout(config: MeshConfig) -> data.StructLayout:
    """One stimulus word: kind, external input port, destination tile (x, y), address, payload."""
    return data.StructLayout({
        "kind": unsigned(2), "port": unsigned(index_bits(len(config.inputs))),
        "x": unsigned(index_bits(config.width)), "y": unsigned(index_bits(config.height)),
        "address": unsigned(config.address_width), "payload": unsigned(config.payload_format.width)})


def mesh_response_layout(config: MeshConfig) -> data.StructLayout:
    """One recorded output event: step number, neuron, payload bits."""
    return data.StructLayout({"step": unsigned(STEP_BITS), "neuron": unsigned(config.neuron_width),
                              "payload": unsigned(config.payload_format.width)})


class MeshHarness(wiring.Component):
    """Mesh plus stimulus and response memories.

    Parameters
    ----------
    mesh : subtile.hdl.mesh.Mesh
    config : MeshConfig
    stimulus_depth, response_depth : int
        Words of the stimulus memory and of each response memory (one per tile and per
        external output), powers of two.
    index : int
        Names the plusargs (``+stim_h<index>``, ``+resp_h<index>_t<tile>``, ``+resp_h<index>_o<port>``).
    count_toggles : bool
        Count toggles and clock pulses of every tile, router and network interface in the
        simulation (the members of :func:`counter_names` for each prefix of :func:`mesh_probes`);
        False leaves the counters out.

    Members
    -------
    start : In(1)
        Level: load the LFSRs while low; run while high.
    idle_threshold, stall_threshold : In(8)
        Probability (of 256) of an idle cycle before an input event, and of holding an external
        output's ready low in a cycle.
    seed : In(16)
    finished : Out(1)
        The END word was reached and the mesh is drained.
    steps, cycles : Out
        Ticks released; cycles since ``start``.
    responses_t<i>, responses_o<k> : Out(32)
        Events recorded per tile and per external output.
    counters : Out
        The routers' counters (``hdl.mesh.RouterMesh.counters``).
    toggles_<prefix><unit>, pulses_<prefix><unit> : Out(64)
        With ``count_toggles``: bit flips per unit and gated-clock pulses per gated unit of each
        block, over the program (``start`` to ``finished``).
    """

    def __init__(self, mesh, config: MeshConfig, *, stimulus_depth: int, response_depth: int, index: int = 0,
                 count_toggles: bool = True):
        for name, depth in (("stimulus_depth", stimulus_depth), ("response_depth", response_depth)):
            if depth < 2 or depth & (depth - 1):
                raise ValueError(f"{name}: {depth} is not a power of two >= 2")
        self.mesh, self.config, self.index = mesh, config, index
        self.stimulus_depth, self.response_depth = stimulus_depth, response_depth
        members = {
            "start": In(1), "idle_threshold": In(8), "stall_threshold": In(8), "seed": In(16),
            "finished": Out(1), "steps": Out(STEP_BITS), "cycles": Out(32),
            "counters": Out(len(mesh.counters)),
        }
        members.update({f"responses_t{i}": Out(32) for i in range(config.count)})
        members.update({f"responses_o{k}": Out(32) for k in range(len(config.outputs))})
        self.probes = mesh_probes(mesh) if count_toggles else {}
        for prefix, (_kind, probes) in self.probes.items():
            members.update({name: Out(64) for name in counter_names(probes, prefix)})
        super().__init__(members)

    def _recorder(self, m, name, plusarg, valid_and_ready, neuron, payload, counter):
        layout = mesh_response_layout(self.config)
        record = Signal(layout, name=f"record_{name}")
        abits = (self.response_depth - 1).bit_length()
        m.d.comb += [record.step.eq(self.steps - 1), record.neuron.eq(neuron), record.payload.eq(payload)]
        m.submodules[f"response_{name}"] = Instance(
            "subtile_sim_ram", p_WIDTH=layout.size, p_DEPTH=self.response_depth, p_ABITS=abits,
            p_FORMAT=f"{plusarg}=%s", i_clk=ClockSignal(), i_we=valid_and_ready, i_waddr=counter[:abits],
            i_wdata=record.as_value(), i_dump=self.finished, i_count=counter)
        with m.If(valid_and_ready):
            m.d.sync += counter.eq(counter + 1)

    def elaborate(self, platform):
        m = Module()
        config, mesh = self.config, self.mesh
        m.submodules.mesh = mesh
        layout = mesh_stimulus_layout(config)
        m.submodules.idle_lfsr = idle_lfsr = _Lfsr()
        m.d.comb += [idle_lfsr.seed.eq(self.seed), idle_lfsr.load.eq(~self.start),
                     self.counters.eq(mesh.counters)]

        pointer = Signal(range(self.stimulus_depth), name="pointer")
        word = Signal(layout, name="word")
        m.submodules.stimulus = Instance(
            "subtile_sim_rom", p_WIDTH=layout.size, p_DEPTH=self.stimulus_depth, p_ABITS=len(pointer),
            p_FORMAT=f"{mesh_stimulus_plusarg(self.index)}=%s", i_addr=pointer, o_data=word.as_value())
        presenting = Signal(name="presenting")
        advance = Signal(name="advance")
        with m.If(advance):
            m.d.sync += [pointer.eq(pointer + 1), presenting.eq(0)]
        ports = [getattr(mesh, f"input_{k}") for k in range(len(config.inputs))]
        for k, port in enumerate(ports):
            m.d.comb += [port.payload.x.eq(word.x), port.payload.y.eq(word.y),
                         port.payload.address.eq(word.address), port.payload.payload.eq(word.payload)]

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += self.cycles.eq(self.cycles + 1)
                with m.Switch(word.kind):
                    with m.Case(StimulusKind.EVENT):
                        idle = idle_lfsr.value[:8] < self.idle_threshold
                        with m.If(~presenting & ~idle):
                            m.d.sync += presenting.eq(1)
                        for k, port in enumerate(ports):
                            selected = word.port == k
                            m.d.comb += port.valid.eq(presenting & selected)
                            with m.If(selected):
                                m.d.comb += advance.eq(presenting & port.ready)
                    with m.Case(StimulusKind.TICK):
                        # The barrier: every tile ready and the network drained.
                        with m.If(mesh.tick_ready):
                            m.d.comb += [mesh.tick.eq(1), advance.eq(1)]
                            m.d.sync += self.steps.eq(self.steps + 1)
                    with m.Case(StimulusKind.END):
                        with m.If(mesh.tick_ready):
                            m.next = "FINISHED"
            with m.State("FINISHED"):
                m.d.comb += self.finished.eq(1)

        for i, tile in enumerate(mesh.tiles):
            out = tile.events_out
            fire = Signal(name=f"tile_fire_{i}")
            m.d.comb += fire.eq(out.valid & out.ready)
            self._recorder(m, f"t{i}", tile_response_plusarg(self.index, i), fire,
                           out.payload.neuron, out.payload.payload, getattr(self, f"responses_t{i}"))
        for k in range(len(config.outputs)):
            port = getattr(mesh, f"output_{k}")
            lfsr = _Lfsr()
            m.submodules[f"stall_lfsr_{k}"] = lfsr
            m.d.comb += [lfsr.seed.eq(self.seed ^ (0x5A5A + 0x1111 * k)), lfsr.load.eq(~self.start)]
            fire = Signal(name=f"output_fire_{k}")
            m.d.comb += [port.ready.eq(self.start & (lfsr.value[8:] >= self.stall_threshold)),
                         fire.eq(port.valid & port.ready)]
            self._recorder(m, f"o{k}", output_response_plusarg(self.index, k), fire,
                           port.payload.neuron, port.payload.payload, getattr(self, f"responses_o{k}"))

        if self.probes:
            counting = Signal(name="counting")
            m.d.comb += counting.eq(self.start & ~self.finished)
            for prefix, (_kind, probes) in self.probes.items():
                add_toggle_counters(m, probes, counting=counting, prefix=prefix,
                                    port=lambda name: getattr(self, name))
        return m


def generate_mesh_bench(configs, *, top: str, stimulus_depth: int, response_depth: int, contents=None,
                        axons=None, count_toggles: bool = True) -> GeneratedDesign:
    """Verilog of a :class:`subtile.sim.tile_harness.HarnessArray` of mesh harnesses, one per config
    (``contents[i]``, ``axons[i]``: that mesh's memories and axon tables, None for the defaults;
    ``count_toggles``: with the toggle counters of :class:`subtile.sim.mesh_harness.MeshHarness`)."""
    contents = list(contents) if contents is not None else [None] * len(configs)
    axons = list(axons) if axons is not None else [None] * len(configs)
    harnesses = [MeshHarness(mesh_component(config, contents[index], axons[index]), config,
                             stimulus_depth=stimulus_depth, response_depth=response_depth, index=index,
                             count_toggles=count_toggles)
                 for index, config in enumerate(configs)]
    return generate(HarnessArray(harnesses), top=top,
                    extra_verilog=mesh_extra_verilog(configs) + "\n" + SIM_BUFFERS_VERILOG,
                    kind="mesh_bench", configs=[c.to_toml() for c in configs],
                    counters=[[name for prefix, (_kind, probes) in harness.probes.items()
                               for name in counter_names(probes, prefix)] for harness in harnesses],
                    stimulus_depth=stimulus_depth, response_depth=response_depth)
