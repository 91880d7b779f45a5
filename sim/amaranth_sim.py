"""Amaranth's own simulator for quick unit tests of small components (no Verilator build).

About a thousand times slower than Verilator: use it for a few thousand cycles of one unit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from amaranth.sim import Simulator

__all__ = ["sweep"]


def sweep(component, codes, *, input_name: str = "x", output_name: str = "y", latency: int = 0,
          vcd_path: Path | str | None = None) -> np.ndarray:
    """Apply each input code for one cycle and return the output belonging to each code.

    A combinational unit (``latency=0``) is read after a short delay; a unit with a registered
    stage (``latency=1``) right after the clock edge that captured the code. (The Verilator bench
    checks the exact latency; this quick path does not.) ``vcd_path`` writes waves of the run.
    """
    if latency not in (0, 1):
        raise ValueError(f"latency: {latency} is outside the allowed range 0..1")
    codes = [int(c) for c in codes]
    port_in, port_out = getattr(component, input_name), getattr(component, output_name)
    sim = Simulator(component)
    if latency:
        sim.add_clock(1e-6)
    got = []

    async def testbench(ctx):
        for code in codes:
            ctx.set(port_in, code)
            if latency:
                await ctx.tick()
            else:
                await ctx.delay(1e-7)
            got.append(ctx.get(port_out))

    sim.add_testbench(testbench)
    if vcd_path is not None:
        with sim.write_vcd(str(vcd_path)):
            sim.run()
    else:
        sim.run()
    return np.asarray(got, dtype=np.int64)
