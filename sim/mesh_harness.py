"""A simulation wrapper that runs whole programs of mesh time steps without Python in the loop.

As the tile harness (:mod:`subtile.sim.tile_harness`, whose stream modules it reuses): the
stimulus program (external input events with their port and destination, ticks, the end) is
read from a file as it runs; the harness injects the events with pseudo-random idle cycles, releases
each tick when the mesh's barrier allows it, holds every external output back with
pseudo-random stalls, records every output event of every tile (a passive monitor on the tile's
output stream) and every external output event with its step number, appending them to files as they happen
(any length). Python acts once per run.
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from subtile.gen.design_cache import cached_design
from subtile.gen.mesh import mesh_component, mesh_extra_verilog
from subtile.gen.verilog import GeneratedDesign, generate
from subtile.spec.config import MeshConfig, index_bits
from subtile.sim.tile_harness import (SIM_BUFFERS_VERILOG, STEP_BITS, HarnessArray, StimulusKind,
                                      add_toggle_counters, counter_names, harness_lfsr, offer, recorder,
                                      stall_ready, stimulus_stream)

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

    def __init__(self, mesh, config: MeshConfig, *, index: int = 0, count_toggles: bool = True):
        self.mesh, self.config, self.index = mesh, config, index
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

    def elaborate(self, platform):
        m = Module()
        config, mesh = self.config, self.mesh
        m.submodules.mesh = mesh
        layout = mesh_stimulus_layout(config)
        idle_lfsr = harness_lfsr(m, "idle_lfsr", self.seed, self.start)
        m.d.comb += self.counters.eq(mesh.counters)

        word = Signal(layout, name="word")
        advance = Signal(name="advance")
        m.submodules.stimulus = stimulus_stream(layout.size, mesh_stimulus_plusarg(self.index), advance, word)
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
                        ready = Signal(name="input_ready")
                        for k, port in enumerate(ports):
                            with m.If(word.port == k):
                                m.d.comb += ready.eq(port.ready)
                        valid, accepted = offer(m, "input", idle=idle_lfsr.value[:8] < self.idle_threshold,
                                                ready=ready)
                        m.d.comb += advance.eq(accepted)
                        for k, port in enumerate(ports):
                            m.d.comb += port.valid.eq(valid & (word.port == k))
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

        response = mesh_response_layout(config)
        for i, tile in enumerate(mesh.tiles):
            out = tile.events_out
            fire = Signal(name=f"tile_fire_{i}")
            m.d.comb += fire.eq(out.valid & out.ready)
            recorder(m, f"response_t{i}", tile_response_plusarg(self.index, i), response, fire=fire,
                     step=self.steps - 1, neuron=out.payload.neuron, payload=out.payload.payload,
                     counter=getattr(self, f"responses_t{i}"), finished=self.finished)
        for k in range(len(config.outputs)):
            port = getattr(mesh, f"output_{k}")
            lfsr = harness_lfsr(m, f"stall_lfsr_{k}", self.seed ^ (0x5A5A + 0x1111 * k), self.start)
            fire = Signal(name=f"output_fire_{k}")
            m.d.comb += [port.ready.eq(stall_ready(lfsr, self.stall_threshold, self.start)),
                         fire.eq(port.valid & port.ready)]
            recorder(m, f"response_o{k}", output_response_plusarg(self.index, k), response, fire=fire,
                     step=self.steps - 1, neuron=port.payload.neuron, payload=port.payload.payload,
                     counter=getattr(self, f"responses_o{k}"), finished=self.finished)

        if self.probes:
            counting = Signal(name="counting")
            m.d.comb += counting.eq(self.start & ~self.finished)
            for prefix, (_kind, probes) in self.probes.items():
                add_toggle_counters(m, probes, counting=counting, prefix=prefix,
                                    port=lambda name: getattr(self, name))
        return m


def generate_mesh_bench(configs, *, top: str, stimulus_depth: int | None = None, response_depth: int | None = None,
                        contents=None, axons=None, count_toggles: bool = True) -> GeneratedDesign:
    """Verilog of a :class:`subtile.sim.tile_harness.HarnessArray` of mesh harnesses, one per config
    (``contents[i]``, ``axons[i]``: that mesh's memories and axon tables, None for the defaults;
    ``count_toggles``: with the toggle counters of :class:`subtile.sim.mesh_harness.MeshHarness`).
    Reused from :mod:`subtile.gen.design_cache` when generated before with the same arguments,
    generator source and tools. ``stimulus_depth`` and ``response_depth`` change nothing (kept for
    callers written for the earlier fixed-size buffers): the streams take any length."""
    del stimulus_depth, response_depth
    contents = list(contents) if contents is not None else [None] * len(configs)
    axons = list(axons) if axons is not None else [None] * len(configs)
    arguments = {"configs": list(configs), "contents": contents, "axons": axons, "count_toggles": count_toggles}
    return cached_design("mesh_bench", arguments, top=top, generate=lambda: _generate_mesh_bench(
        configs, top=top, contents=contents, axons=axons, count_toggles=count_toggles))


def _generate_mesh_bench(configs, *, top, contents, axons, count_toggles):
    harnesses = [MeshHarness(mesh_component(config, contents[index], axons[index]), config, index=index,
                             count_toggles=count_toggles)
                 for index, config in enumerate(configs)]
    return generate(HarnessArray(harnesses), top=top,
                    extra_verilog=mesh_extra_verilog(configs) + "\n" + SIM_BUFFERS_VERILOG,
                    kind="mesh_bench", configs=[c.to_toml() for c in configs],
                    counters=[[name for prefix, (_kind, probes) in harness.probes.items()
                               for name in counter_names(probes, prefix)] for harness in harnesses])
