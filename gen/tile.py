"""Generation of a tile: Verilog plus manifest."""

from __future__ import annotations

from subtile.spec.config import TileConfig
from subtile.gen.design_cache import cached_design
from subtile.gen.verilog import GeneratedDesign, generate

__all__ = ["generate_tile", "extra_verilog", "tile_component"]


def extra_verilog(config: TileConfig) -> str:
    """Modules the tile instantiates but Amaranth does not emit: the clock-gate model."""
    if config.gating != "icg":
        return ""
    from subtile.hdl.clock_gate import icg_verilog
    return "\n" + icg_verilog()


def tile_component(config: TileConfig, weights=None, table=None):
    from subtile.hdl.tile import Tile
    return Tile(config, weights=weights, table=table)


def generate_tile(config: TileConfig, *, weights=None, table=None) -> GeneratedDesign:
    """Verilog of the tile described by ``config`` with module name ``config.name`` (reused from
    :mod:`subtile.gen.design_cache` when generated before from the same inputs)."""
    return cached_design("tile", {"config": config, "weights": weights, "table": table}, top=config.name,
                         generate=lambda: _generate_tile(config, weights, table))


def _generate_tile(config, weights, table):
    return generate(tile_component(config, weights, table), top=config.name, extra_verilog=extra_verilog(config),
                    kind="tile", latency=None, config=config.to_dict(),
                    accumulator_format=str(config.accumulator_format),
                    payload_format=str(config.payload_format))
