"""Generation of a tile (and of its simulation harness): Verilog plus manifest."""

from __future__ import annotations

from ..config import TileConfig
from .verilog import GeneratedDesign, generate

__all__ = ["generate_tile", "generate_bench"]


def _extra_verilog(config: TileConfig) -> str:
    """Modules the tile instantiates but Amaranth does not emit: the clock-gate model."""
    if config.gating != "icg":
        return ""
    from ..hdl.clock_gate import icg_verilog
    return "\n" + icg_verilog()


def _tile(config: TileConfig, weights=None, table=None):
    from ..hdl.tile import Tile
    return Tile(config, weights=weights, table=table)


def generate_tile(config: TileConfig, *, weights=None, table=None) -> GeneratedDesign:
    """Verilog of the tile described by ``config`` with module name ``config.name``."""
    return generate(_tile(config, weights, table), top=config.name, extra_verilog=_extra_verilog(config),
                    kind="tile", latency=None, config=config.to_dict(),
                    accumulator_format=str(config.accumulator_format),
                    payload_format=str(config.payload_format))


def generate_bench(configs, contents, *, top: str, stimulus_depth: int, response_depth: int,
                   count_toggles: bool = True, checks: bool = False) -> GeneratedDesign:
    """Verilog of a :class:`subtile.sim.tile_harness.HarnessArray`: one harness per config, each
    tile with its (weights, table) from ``contents``; ``count_toggles`` as in
    :class:`~subtile.sim.tile_harness.TileHarness`; with ``checks``, each tile also gets the
    SystemVerilog assertion checker of ``subtile export --sv`` (build with ``--assert``)."""
    from ..sim.tile_harness import SIM_BUFFERS_VERILOG, HarnessArray, TileHarness
    harnesses = [TileHarness(_tile(config, weights, table), config, stimulus_depth=stimulus_depth,
                             response_depth=response_depth, index=index, count_toggles=count_toggles,
                             checks=f"{top}_h{index}_checks" if checks else None)
                 for index, (config, (weights, table)) in enumerate(zip(configs, contents))]
    extra = "".join(sorted({_extra_verilog(config) for config in configs})) + "\n" + SIM_BUFFERS_VERILOG
    if checks:
        from .export import STREAM_CHECK_SV, checks_sv
        extra += "\n" + STREAM_CHECK_SV + "".join("\n" + checks_sv(f"{top}_h{index}", config)
                                                 for index, config in enumerate(configs))
    return generate(HarnessArray(harnesses), top=top, extra_verilog=extra, kind="tile_bench",
                    configs=[config.to_dict() for config in configs],
                    stimulus_depth=stimulus_depth, response_depth=response_depth)
