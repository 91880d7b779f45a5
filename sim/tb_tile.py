"""cocotb testbench of :class:`subtile.sim.tile_harness.HarnessArray`: whole steps per wake-up.

Environment: ``SUBTILE_TILE_PLAN`` names a JSON file written by :meth:`subtile.sim.tile_bench.TileBench.run`
with, per harness, the LFSR settings, the state registers to read after each step and the
``.npz`` file to write (per-step state, cycles, response count). Stimulus and responses travel
through files the harness reads and writes itself (plusargs). All harnesses run concurrently;
Python wakes up once per harness and step, or once per run without state readback.
"""

import json
import logging
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from subtile.sim.cocotb_clock import CLOCK_PERIOD_NS, start_clock_and_reset

log = logging.getLogger("subtile.tb.tile")


def _scope(handle, path: str):
    for part in filter(None, path.split(".")):
        handle = getattr(handle, part)
    return handle


def _read(handle, signed: bool) -> int:
    value = handle.value
    # 1-bit signals read as Logic (no to_signed); wider ones as LogicArray.
    return value.to_signed() if signed and hasattr(value, "to_signed") else int(value)


class _Harness:
    """The ports and memories of harness ``index`` of the array."""

    def __init__(self, dut, index: int):
        self.dut, self.prefix = dut, f"h{index}_"
        self.module = getattr(dut, f"h{index}")

    def port(self, name):
        return getattr(self.dut, self.prefix + name)


def _apply_settings(harness: _Harness, case: dict):
    harness.port("start").value = 0
    harness.port("resume").value = 0
    harness.port("pause_each_step").value = 1 if case["read_state"] else 0
    harness.port("idle_threshold").value = case["idle_threshold"]
    harness.port("stall_threshold").value = case["stall_threshold"]
    harness.port("seed").value = case["seed"]
    harness.port("spaced").value = 1 if case.get("spaced") else 0


async def _run_case(dut, harness: _Harness, case: dict):
    scope = _scope(harness.module, case["state_scope"])
    # Look handles up once: a lookup costs far more than a read.
    handles = {name: [getattr(scope, signal) for signal in signals]
               for name, signals in case["state_signals"].items()}
    signed = set(case["signed_state"])
    states = {name: [] for name in handles}
    step_cycles = []
    started = time.perf_counter()
    harness.port("start").value = 1
    if case["read_state"]:
        for _step in range(case["steps"]):
            await RisingEdge(harness.port("step_done"))
            for name, group in handles.items():
                states[name].append([_read(h, name in signed) for h in group])
            step_cycles.append(int(harness.port("cycles").value))
            harness.port("resume").value = 1
            await RisingEdge(dut.clk)
            harness.port("resume").value = 0
    if not int(harness.port("finished").value):
        await RisingEdge(harness.port("finished"))
    await RisingEdge(dut.clk)         # the response buffer is written out on this edge,
    await ReadOnly()                  # by the time every process of the edge has run (Icarus)
    seconds = time.perf_counter() - started
    responses = int(harness.port("responses").value)
    counters = {f"counter_{name}": np.array([int(harness.port(name).value)], dtype=np.uint64)
                for name in case["counters"]}
    np.savez(case["output"], responses=np.array([responses]), seconds=np.array([seconds]), **counters,
             cycles=np.array([int(harness.port("cycles").value)]),
             step_cycles=np.array(step_cycles, dtype=np.int64),
             **{f"state_{name}": np.array(values, dtype=np.int64) for name, values in states.items()})
    log.info("harness %s: %d steps, %d output events, %d cycles", harness.prefix,
             int(harness.port("steps").value), responses, int(harness.port("cycles").value))


@cocotb.test()
async def run_programs(dut):
    plan = json.loads(open(os.environ["SUBTILE_TILE_PLAN"]).read())
    harnesses = [_Harness(dut, index) for index in range(len(plan["cases"]))]
    for harness, case in zip(harnesses, plan["cases"]):
        _apply_settings(harness, case)
    await start_clock_and_reset(dut)
    tasks = [cocotb.start_soon(_run_case(dut, harness, case))
             for harness, case in zip(harnesses, plan["cases"]) if case["enabled"]]

    async def all_cases():
        for task in tasks:
            await task

    limit = plan.get("timeout_cycles")
    if not limit:
        await all_cases()
        return
    # A watchdog for designs that may hang (mutants): fail instead of simulating forever.
    try:
        await with_timeout(cocotb.start_soon(all_cases()), limit * CLOCK_PERIOD_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"timeout: the program did not finish within {limit} cycles") from None
