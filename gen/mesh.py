"""Generation of a mesh (and of its simulation harness): Verilog plus manifest."""

from __future__ import annotations

from ..config import MeshConfig
from .tile import _extra_verilog
from .verilog import GeneratedDesign, generate

__all__ = ["generate_mesh", "generate_mesh_bench"]


def _mesh(config: MeshConfig, contents=None, axons=None):
    from ..hdl.mesh import Mesh
    return Mesh(config, contents=contents, axons=axons)


def _mesh_extra_verilog(configs) -> str:
    return "".join(sorted({_extra_verilog(c.tile_config(i)) for c in configs for i in range(c.count)}))


def _axon_manifest(mesh) -> list:
    return [[[list(d) for d in neuron] for neuron in tile] for tile in mesh.axons.destinations]


def generate_mesh(config: MeshConfig, *, contents=None, axons=None) -> GeneratedDesign:
    """Verilog of the mesh described by ``config`` with module name ``config.name``; the manifest
    lists the axon tables (per tile, per neuron: [destination tile, address] pairs)."""
    mesh = _mesh(config, contents, axons)
    return generate(mesh, top=config.name, extra_verilog=_mesh_extra_verilog([config]), kind="mesh",
                    latency=None, mesh={"width": config.width, "height": config.height,
                                        "fifo_depth": config.fifo_depth,
                                        "max_destinations": config.max_destinations,
                                        "inputs": [list(p) for p in config.inputs],
                                        "outputs": [list(p) for p in config.outputs]},
                    tiles=[config.tile_config(i).to_dict() for i in range(config.count)],
                    axons=_axon_manifest(mesh), payload_format=str(config.payload_format))


def generate_mesh_bench(configs, *, top: str, stimulus_depth: int, response_depth: int, contents=None,
                        axons=None, count_toggles: bool = True) -> GeneratedDesign:
    """Verilog of a :class:`subtile.sim.tile_harness.HarnessArray` of mesh harnesses, one per config
    (``contents[i]``, ``axons[i]``: that mesh's memories and axon tables, None for the defaults;
    ``count_toggles``: with the toggle counters of :class:`subtile.sim.mesh_harness.MeshHarness`)."""
    from ..sim.mesh_harness import MeshHarness
    from ..sim.tile_harness import SIM_BUFFERS_VERILOG, HarnessArray, counter_names
    contents = list(contents) if contents is not None else [None] * len(configs)
    axons = list(axons) if axons is not None else [None] * len(configs)
    harnesses = [MeshHarness(_mesh(config, contents[index], axons[index]), config,
                             stimulus_depth=stimulus_depth, response_depth=response_depth, index=index,
                             count_toggles=count_toggles)
                 for index, config in enumerate(configs)]
    return generate(HarnessArray(harnesses), top=top,
                    extra_verilog=_mesh_extra_verilog(configs) + "\n" + SIM_BUFFERS_VERILOG,
                    kind="mesh_bench", configs=[c.to_toml() for c in configs],
                    counters=[[name for prefix, (_kind, probes) in harness.probes.items()
                               for name in counter_names(probes, prefix)] for harness in harnesses],
                    stimulus_depth=stimulus_depth, response_depth=response_depth)
