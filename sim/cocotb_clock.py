"""The clock and reset every whole-run cocotb testbench of subtile starts with."""

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

__all__ = ["CLOCK_PERIOD_NS", "start_clock_and_reset"]

#: Clock period of the simulations (ns); only cycle counts matter, not the absolute time.
CLOCK_PERIOD_NS = 10


async def start_clock_and_reset(dut, *, reset_cycles: int = 3) -> None:
    """Start ``dut.clk`` (a simulator-side clock: no Python per edge) and hold ``dut.rst`` for
    ``reset_cycles`` cycles, then one more cycle out of reset."""
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns", impl="gpi").start(start_high=False)
    dut.rst.value = 1
    await ClockCycles(dut.clk, reset_cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)
