"""Generation of a mesh: Verilog plus manifest."""

from __future__ import annotations

from subtile.spec.config import MeshConfig
from subtile.gen.tile import extra_verilog
from subtile.gen.design_cache import cached_design
from subtile.gen.verilog import GeneratedDesign, generate

__all__ = ["generate_mesh", "mesh_component", "mesh_extra_verilog"]


def mesh_component(config: MeshConfig, contents=None, axons=None):
    from subtile.hdl.mesh import Mesh
    return Mesh(config, contents=contents, axons=axons)


def mesh_extra_verilog(configs) -> str:
    """Modules the meshes instantiate but Amaranth does not emit: the clock-gate model when a
    tile or the network (``MeshConfig.network_gating``) uses ``icg``."""
    parts = {extra_verilog(c.tile_config(i)) for c in configs for i in range(c.count)}
    parts |= {extra_verilog(c.tile_config(0).replace(gating=c.network_gating)) for c in configs}
    return "".join(sorted(parts))


def _axon_manifest(mesh) -> list:
    return [[[list(d) for d in neuron] for neuron in tile] for tile in mesh.axons.destinations]


def generate_mesh(config: MeshConfig, *, contents=None, axons=None) -> GeneratedDesign:
    """Verilog of the mesh described by ``config`` with module name ``config.name``; the manifest
    lists the axon tables (per tile, per neuron: [destination tile, address] pairs). Reused from
    :mod:`subtile.gen.design_cache` when generated before from the same inputs."""
    return cached_design("mesh", {"config": config, "contents": contents, "axons": axons}, top=config.name,
                         generate=lambda: _generate_mesh(config, contents, axons))


def _generate_mesh(config, contents, axons):
    mesh = mesh_component(config, contents, axons)
    return generate(mesh, top=config.name, extra_verilog=mesh_extra_verilog([config]), kind="mesh",
                    latency=None, mesh={"width": config.width, "height": config.height,
                                        "fifo_depth": config.fifo_depth,
                                        "max_destinations": config.max_destinations,
                                        "inputs": [list(p) for p in config.inputs],
                                        "outputs": [list(p) for p in config.outputs]},
                    tiles=[config.tile_config(i).to_dict() for i in range(config.count)],
                    axons=_axon_manifest(mesh), payload_format=str(config.payload_format),
                    config_toml=config.to_toml())
