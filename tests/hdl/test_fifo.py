"""GatedFIFO against amaranth.lib.fifo.SyncFIFOBuffered, cycle for cycle, in Amaranth's simulator
(seeded random writes and reads at every depth corner), and its gates' enables."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from subtile.errors import ConfigError
from subtile.hdl.fifo import GatedFIFO


@pytest.mark.parametrize("gating", ["none", "enable"])
@pytest.mark.parametrize("depth", [2, 3, 4, 7])
def test_cycle_for_cycle_as_sync_fifo_buffered(depth, gating):
    """Same ready, level and head (while valid) in every cycle, on random traffic; each gate is
    open only in the cycles its registers change."""
    m = Module()
    m.submodules.ref = ref = SyncFIFOBuffered(width=8, depth=depth)
    m.submodules.dut = dut = GatedFIFO(width=8, depth=depth, gating=gating)
    rng = np.random.default_rng(depth)
    mismatches, counts = [], {"control": 0, "head": 0, "words": [0] * (depth - 1), "writes": 0, "moves": 0}
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for cycle in range(600):
            data, write, read = int(rng.integers(256)), int(rng.random() < 0.55), int(rng.random() < 0.45)
            for fifo in (ref, dut):
                ctx.set(fifo.w_data, data)
                ctx.set(fifo.w_en, write)
                ctx.set(fifo.r_en, read)
            seen = [[ctx.get(f.w_rdy), ctx.get(f.r_rdy), ctx.get(f.level)]
                    + ([ctx.get(f.r_data)] if ctx.get(f.r_rdy) else []) for f in (ref, dut)]
            if seen[0] != seen[1]:
                mismatches.append((cycle, *seen))
            counts["control"] += ctx.get(dut.control_enable)
            counts["head"] += ctx.get(dut.head_enable)
            counts["writes"] += write & ctx.get(dut.w_rdy)
            for k, enable in enumerate(dut.word_enables):
                counts["words"][k] += ctx.get(enable)
                assert not ctx.get(enable) or ctx.get(dut.control_enable)
            assert not ctx.get(dut.head_enable) or ctx.get(dut.control_enable)
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[:3]
    # Every write opens exactly one word gate; the words are written in turn.
    assert sum(counts["words"]) == counts["writes"] > 100
    assert max(counts["words"]) - min(counts["words"]) <= 1
    assert 0 < counts["head"] <= counts["writes"] and counts["control"] < 600


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=8, depth=1), "depth: 1 is outside the allowed range 2..1024"),
    (dict(width=0, depth=4), "width: 0 is outside the allowed range 1..4096"),
    (dict(width=8, depth=4, gating="gated"), "gating: 'gated' is not one of icg, enable, none"),
])
def test_refuses_bad_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GatedFIFO(**kwargs)
