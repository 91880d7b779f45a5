"""A user's own cocotb tests of an exported subtile tile (examples/cocotb/README.md).

The kit takes the tile's configuration and field layouts from the export's manifest.json
($SUBTILE_MANIFEST) and checks every step against the golden model.
"""

import itertools
import random

import cocotb

from subtile.kit import GoldenScoreboard, TileDriver, start_clock


async def setup(dut):
    start_clock(dut)
    tile = TileDriver(dut)          # events_in, events_out, prog and tick, from the manifest
    GoldenScoreboard(tile)          # every accepted event, every step checked, state included
    await tile.reset()
    return tile


@cocotb.test()
async def directed(dut):
    """Neuron 0 driven up through a freshly programmed synapse, then an unmapped address."""
    tile = await setup(dut)
    weight, payload = tile.config.weight_format, tile.config.payload_format
    await tile.prog.write_table(0, valid=True, branch=0, slot=0)
    await tile.prog.write_weight(row=0, neuron=0, code=weight.max_code)
    await tile.events_in.send(0, payload.max_code)
    events = await tile.tick()
    assert 0 in events[:, 0], f"neuron 0 sent nothing: {events.tolist()}"
    await tile.events_in.send(0, -payload.max_code)    # back to level 0: the neuron decays
    for _ in range(3):
        await tile.tick()
    await tile.prog.write_table(1, valid=False)
    await tile.events_in.send(1, 1)
    await tile.tick()
    assert int(dut.unmapped.value) == 1


@cocotb.test()
async def random_steps(dut):
    """Seeded random events with idle cycles on the input and backpressure on the output."""
    tile = await setup(dut)
    rng = random.Random(cocotb.RANDOM_SEED)
    tile.events_in.set_pause_generator(rng.random() < 0.3 for _ in itertools.count())
    tile.events_out.set_pause_generator(itertools.cycle([False, True, True]))
    fmt, levels = tile.config.payload_format, [0] * tile.config.addresses
    for _ in range(12):
        for _ in range(rng.randint(0, 8)):
            address = rng.randrange(len(levels))
            level = levels[address]
            # A level change (a payload code) that keeps the input's level inside the format.
            change = rng.randint(max(fmt.min_code, fmt.min_code - level), min(fmt.max_code, fmt.max_code - level))
            await tile.events_in.send(address, change)
            levels[address] += change
        await tile.tick()
    dut._log.info("%d steps, %d output events checked", tile.scoreboard.steps, tile.scoreboard.events)
