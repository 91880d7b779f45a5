"""cocotb testbench of :class:`subtile.sim.hotspot.HotspotHarness` arrays: one wake-up per run.

Environment: ``SUBTILE_HOTSPOT_PLAN`` names a JSON file written by
:meth:`subtile.sim.hotspot.HotspotBench.run` (per harness: settings, cycle limit, ``.npz`` output).
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import First, RisingEdge, Timer

from subtile.sim.cocotb_clock import CLOCK_PERIOD_NS, start_clock_and_reset

OUTPUTS = ("cycles", "inject_cycles", "received", "errors", "stray", "complete", "window_cycles")
#: Wide outputs of 32-bit words, saved as arrays.
WORDS = ("counters", "window_received")


async def _run(dut, index, case):
    port = lambda name: getattr(dut, f"h{index}_{name}")
    started = time.perf_counter()
    port("start").value = 1
    limit = Timer(case["max_cycles"] * CLOCK_PERIOD_NS, unit="ns")
    if await First(RisingEdge(port("finished")), limit) is limit:
        raise AssertionError(f"hotspot harness {index}: not drained after {case['max_cycles']} cycles (deadlock?)")
    await RisingEdge(dut.clk)
    seconds = time.perf_counter() - started
    words = {}
    for name in WORDS:
        value = port(name).value
        words[name] = np.frombuffer(int(value).to_bytes(len(value) // 8, "little"), dtype="<u4").copy()
    np.savez(case["output"], seconds=np.array([seconds]), **words,
             **{name: np.array([int(port(name).value)], dtype=np.int64) for name in OUTPUTS})


@cocotb.test()
async def run_hotspot(dut):
    plan = json.loads(open(os.environ["SUBTILE_HOTSPOT_PLAN"]).read())["cases"]
    for index, case in enumerate(plan):
        getattr(dut, f"h{index}_start").value = 0
        if case:
            for name in ("packets_per_source", "hot_x", "hot_y", "stall_threshold", "seed"):
                getattr(dut, f"h{index}_{name}").value = case[name]
    await start_clock_and_reset(dut)
    tasks = [cocotb.start_soon(_run(dut, i, case)) for i, case in enumerate(plan) if case]
    for task in tasks:
        await task
