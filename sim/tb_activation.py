"""cocotb testbench of :class:`subtile.sim.activation_bench.ActivationBench`.

Drives input code i at cycle i and records the whole output bus once per cycle, just before
the rising edge (after the combinational logic settled). Comparison against the golden model
happens outside the simulator (:func:`subtile.sim.activation_bench.compare`), in vectorized NumPy.

Environment: ``SUBTILE_BENCH_MANIFEST`` (the bench manifest with ``layout`` and ``cycles``),
``SUBTILE_BENCH_SAMPLES`` (the ``.npz`` file to write, one array per unit).
"""

import logging
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, Timer

from subtile.sim.activation_bench import load_layout

log = logging.getLogger("subtile.tb.activation")


def unpack(words: list[int], total_width: int, layout: list[dict]) -> dict[str, np.ndarray]:
    """Split recorded bus words into per-unit signed/unsigned codes (vectorized)."""
    n_bytes = (total_width + 7) // 8
    raw = np.frombuffer(b"".join(w.to_bytes(n_bytes, "little") for w in words), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), n_bytes), axis=1, bitorder="little")
    samples = {}
    for entry in layout:
        width, offset = entry["width"], entry["offset"]
        weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
        values = bits[:, offset:offset + width].astype(np.int64) @ weights
        if entry["signed"]:
            values = np.where(values >= 1 << (width - 1), values - (1 << width), values)
        samples[entry["name"]] = values
    return samples


@cocotb.test()
async def sweep_all_codes(dut):
    layout, cycles = load_layout(os.environ["SUBTILE_BENCH_MANIFEST"])
    total_width = sum(entry["width"] for entry in layout)
    clocked = hasattr(dut, "clk")
    if clocked:
        dut.rst.value = 0
        Clock(dut.clk, 10, unit="ns", impl="gpi").start(start_high=False)
    words = []
    for code in range(cycles):
        if clocked:
            await FallingEdge(dut.clk)
            dut.code.value = code & 0xFFFF
            await ReadOnly()
        else:
            dut.code.value = code & 0xFFFF
            await Timer(1, unit="ns")
        words.append(dut.outputs.value.to_unsigned())
    samples = unpack(words, total_width, layout)
    np.savez(os.environ["SUBTILE_BENCH_SAMPLES"], **samples)
    log.info("recorded %d cycles of %d units", cycles, len(layout))
