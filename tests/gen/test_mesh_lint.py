"""Generated mesh Verilog (routers, fan-outs, tiles) is lint-clean under `verilator --lint-only
-Wall` with the documented waivers only, including corner shapes (1x1, no axon table, no
external output, several inputs and outputs)."""

import pytest

from subtile.spec.config import MeshConfig, TileConfig
from subtile.gen.mesh import generate_mesh
from subtile.toolchain import runner

TILE = TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2,
                  soma_activation={"function": "gelu", "impl": "lut"})


@pytest.mark.parametrize("config", [
    MeshConfig(name="lint_2x2", width=2, height=2, tile=TILE, inputs=((0, 0), (1, 1)), outputs=((1, 0), (0, 1))),
    MeshConfig(name="lint_3x1", width=3, height=1, tile=TILE.replace(gating="enable"), max_destinations=3),
    MeshConfig(name="lint_1x1", width=1, height=1, tile=TILE, max_destinations=0, outputs=()),
], ids=lambda c: c.name)
def test_mesh_lints_clean(config, tmp_path):
    design = generate_mesh(config)
    verilog = design.write(tmp_path)
    assert runner.lint([tmp_path / f"{design.top}.vlt", verilog], design.top) == []
