"""cocotb bench of the counter design of ``test_toggle_capture.py``: reset, exactly N counting
cycles, a few idle cycles (the fast counters lag one cycle), then the fast counts to JSON.

Environment: ``TOGGLE_CYCLES`` (N), ``TOGGLE_OUTPUT`` (the JSON file), ``TOGGLE_BITS``.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge


@cocotb.test()
async def count_n_cycles(dut):
    cycles, bits = int(os.environ["TOGGLE_CYCLES"]), int(os.environ["TOGGLE_BITS"])
    dut.run.value = 0
    dut.rst.value = 1
    Clock(dut.clk, 10, unit="ns").start()
    await ClockCycles(dut.clk, 3)
    # Inputs change at falling edges, half a period from the rising edges that sample them.
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.run.value = 1
    for _ in range(cycles):
        await FallingEdge(dut.clk)
    dut.run.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    assert int(dut.count.value) == cycles % (1 << bits)
    fast = {"bits": [int(getattr(dut, f"toggles_{i}").value) for i in range(bits)],
            "wide": int(dut.toggles_wide.value)}
    with open(os.environ["TOGGLE_OUTPUT"], "w") as handle:
        json.dump(fast, handle)
