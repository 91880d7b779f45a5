"""cocotb side of bench/kit_speed.py: the plan's stimulus through the kit (TileDriver, optionally
with the golden scoreboard), timed; results to $KIT_SPEED_OUT."""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from subtile.kit import GoldenScoreboard, TileDriver, start_clock


@cocotb.test()
async def kit_speed(dut):
    plan = json.loads(open(os.environ["KIT_SPEED_PLAN"]).read())
    start_clock(dut)
    tile = TileDriver(dut)
    board = GoldenScoreboard(tile, check_state=plan["check_state"]) if plan["scoreboard"] else None
    await tile.reset()
    events_out, started, start_ns = 0, time.perf_counter(), get_sim_time("ns")
    for step in np.load(plan["stimulus"], allow_pickle=True)["steps"]:
        for address, payload in step:
            tile.events_in.send_nowait(int(address), int(payload))
        events_out += len(await tile.tick())
    seconds = time.perf_counter() - started
    cycles = round((get_sim_time("ns") - start_ns) / 10)      # start_clock's 10 ns period
    with open(os.environ["KIT_SPEED_OUT"], "w") as handle:
        json.dump({"seconds": seconds, "cycles": cycles, "events_out": events_out,
                   "steps_checked": board.steps if board else 0, "step_cycles": tile.step_cycles}, handle)
