"""Seeded random stimulus through the kit, every output event recorded per step to a JSON file
($KIT_RECORD), for comparing simulators. A tile or a mesh, after the design's kind."""

import json
import os
import random

import cocotb

from subtile.golden.mesh import random_mesh_stimulus
from subtile.golden.tile import random_stimulus
from subtile.kit import Design, GoldenScoreboard, MeshDriver, TileDriver, start_clock

STEPS = int(os.environ.get("KIT_STEPS", "8"))


@cocotb.test()
async def record(dut):
    design = Design.load()
    start_clock(dut)
    rng = random.Random(7)
    if design.kind == "tile":
        unit = TileDriver(dut, design)
        stimulus = [[s] for s in random_stimulus(design.config, STEPS, 0.5, 3)]
    else:
        unit = MeshDriver(dut, design)
        stimulus = random_mesh_stimulus(design.config, STEPS, 0.5, 3)
    board = GoldenScoreboard(unit)
    sinks = [unit.events_out] if design.kind == "tile" else unit.outputs
    await unit.reset()
    # After reset: Icarus sees a falling clock edge at time 0 (X -> 0), Verilator does not, so a
    # pause pattern consumed from time 0 would be one cycle apart.
    for sink in sinks:
        sink.set_pause_generator(rng.random() < 0.4 for _ in range(10**9))
    record = []
    for step in stimulus:
        for tile, events in enumerate(step):
            for address, payload in events:
                if design.kind == "tile":
                    await unit.events_in.send(int(address), int(payload))
                else:
                    await unit.send(tile, int(address), int(payload))
        out = await unit.tick()
        record.append([o.tolist() for o in out] if isinstance(out, list) else out.tolist())
    assert board.events > 0, "no output event: the comparison would check nothing"
    with open(os.environ["KIT_RECORD"], "w") as handle:
        json.dump({"steps": record, "events": board.events, "step_cycles": unit.step_cycles},
                  handle)
