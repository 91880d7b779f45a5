"""cocotb tests of the 8-bit counter in the ``big_counter`` design that ``test_runner.py`` writes.

``COUNTER_STEP`` (default 1) is the increment the tests expect per clock cycle: ``test_runner.py``
sets a wrong one to check how failures are reported, and uses it to check that ``extra_env``
reaches the simulation.
"""

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge


async def _start_in_reset(dut) -> None:
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.din.value = 0
    await ClockCycles(dut.clk, 2)
    # Inputs change and outputs are read at falling edges, half a period away from the rising
    # edges at which the registers update.
    await FallingEdge(dut.clk)


@cocotb.test()
async def counts_up(dut) -> None:
    """The count goes up by one per clock cycle once out of reset, wrapping at 256."""
    step = int(os.environ.get("COUNTER_STEP", "1"))
    await _start_in_reset(dut)
    dut.rst.value = 0
    for cycle in range(1, 300):
        await FallingEdge(dut.clk)
        count = int(dut.count.value)
        expected = (cycle * step) % 256
        assert count == expected, f"count is {count} after {cycle} cycles, expected {expected}"


@cocotb.test()
async def holds_in_reset(dut) -> None:
    """The count stays 0 while reset is held."""
    await _start_in_reset(dut)
    for _ in range(5):
        await FallingEdge(dut.clk)
        assert int(dut.count.value) == 0
