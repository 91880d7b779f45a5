"""The example's directed scenario against a deliberately wrong golden model: the scoreboard's
model has neuron 0's weight in row 0 one code lower than what the test programs into the tile."""

import cocotb

from subtile.golden.tile import TileModel
from subtile.kit import GoldenScoreboard, TileDriver, start_clock


@cocotb.test()
async def wrong_weight(dut):
    start_clock(dut)
    tile = TileDriver(dut)
    model = TileModel(tile.config)
    board = GoldenScoreboard(tile, model=model)
    await tile.reset()
    weight, payload = tile.config.weight_format, tile.config.payload_format
    await tile.prog.write_table(0, valid=True, branch=0, slot=0)
    await tile.prog.write_weight(row=0, neuron=0, code=weight.max_code)
    model.program_weight(0, 0, weight.max_code // 2)      # the wrong expectation
    await tile.events_in.send(0, payload.max_code)
    await tile.tick()
    raise AssertionError(f"no mismatch reported after {board.steps} step(s)")
