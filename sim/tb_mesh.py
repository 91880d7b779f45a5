"""cocotb testbench of an array of :class:`subtile.sim.mesh_harness.MeshHarness`: one wake-up per run.

Environment: ``SUBTILE_MESH_PLAN`` names a JSON file written by :meth:`subtile.sim.mesh_bench.MeshBench.run`
with, per harness, the LFSR settings, the cycle limit, the progress window (optional: cycles
within which a tick must be released, else the run ends as a hang) and the ``.npz`` file to write (cycles,
steps, response counts, router counters, toggle and clock-pulse counters). Stimulus and responses travel as files.
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from subtile.sim.cocotb_clock import CLOCK_PERIOD_NS, start_clock_and_reset


async def _run_case(dut, index: int, case: dict):
    port = lambda name: getattr(dut, f"h{index}_{name}")
    started = time.perf_counter()
    port("start").value = 1
    # Watched in windows of `progress_cycles` (default: the whole budget): a window without a
    # tick released ends the run as a hang (a step that long can only be a fault: the caller
    # sets the window so that a run that slow is wrong anyway).
    budget = case["max_cycles"]
    window = min(case.get("progress_cycles") or budget, budget)
    waited, steps = 0, int(port("steps").value)
    while not int(port("finished").value):
        chunk = min(window, budget - waited)
        limit = Timer(chunk * CLOCK_PERIOD_NS, unit="ns")
        if await First(RisingEdge(port("finished")), limit) is not limit:
            break
        waited += chunk
        now = int(port("steps").value)
        if now == steps or waited >= budget:
            stuck = f", no tick in {chunk} cycles" if now == steps and waited < budget else ""
            raise AssertionError(f"harness {index}: not finished after {waited} cycles (step {now}{stuck}): "
                                 "deadlock or lost packets")
        steps = now
    await RisingEdge(dut.clk)        # the response buffers are written out on this edge,
    await ReadOnly()                 # by the time every process of the edge has run (Icarus)
    seconds = time.perf_counter() - started
    counters = port("counters").value
    np.savez(case["output"], seconds=np.array([seconds]),
             cycles=np.array([int(port("cycles").value)]), steps=np.array([int(port("steps").value)]),
             responses=np.array([int(port(name).value) for name in case["responses"]], dtype=np.int64),
             counters=np.frombuffer(int(counters).to_bytes(len(counters) // 8, "little"), dtype="<u4").copy(),
             **{f"counter_{name}": np.array([int(port(name).value)], dtype=np.uint64)
                for name in case.get("toggle_counters", [])})


@cocotb.test()
async def run_programs(dut):
    plan = json.loads(open(os.environ["SUBTILE_MESH_PLAN"]).read())
    for index, case in enumerate(plan["cases"]):
        getattr(dut, f"h{index}_start").value = 0
        for name in ("idle_threshold", "stall_threshold", "seed"):
            getattr(dut, f"h{index}_{name}").value = case[name]
    await start_clock_and_reset(dut)
    tasks = [cocotb.start_soon(_run_case(dut, index, case))
             for index, case in enumerate(plan["cases"]) if case["enabled"]]
    for task in tasks:
        await task
