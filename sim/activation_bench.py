"""Exhaustive RTL-vs-golden verification of activation units under Verilator.

Many units share one Verilator build: :class:`ActivationBench` puts them side by side behind
one input code and one wide output bus, the cocotb testbench (:mod:`subtile.sim.tb_activation`)
sweeps every input code once and records the bus, and :func:`compare` checks each unit's slice
against :meth:`ActivationPlan.evaluate`. One build and one simulation cover the whole matrix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.gen.verilog import GeneratedDesign, generate
from subtile.spec.activation import ActivationPlan, ActivationSpec, MAX_INPUT_WIDTH
from subtile.hdl.activation import ActivationUnit
from subtile.toolchain import runner

__all__ = ["ActivationBench", "UnitResult", "unit_name", "simulate", "compare", "reproduce_command"]

TB_MODULE = "subtile.sim.tb_activation"


def unit_name(spec: ActivationSpec) -> str:
    """A readable, unique identifier for a spec (used for submodule names and reports)."""
    text = (f"{spec.function}_{spec.impl}_{spec.input_format}_{spec.output_format}"
            f"_s{spec.segments or 'auto'}_b{spec.beta:g}_g{spec.guard_bits}_l{spec.latency}")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


class ActivationBench(wiring.Component):
    """Activation units side by side for a one-build exhaustive sweep.

    Parameters
    ----------
    plans : sequence of ActivationPlan
        The units to instantiate.

    Members
    -------
    code : In(16)
        Input code; unit i sees its low ``W_i`` bits in its input format.
    outputs : Out(sum of output widths)
        Every unit's output code, concatenated in ``layout`` order (first unit at bit 0).
    """

    def __init__(self, plans: Sequence[ActivationPlan]):
        if not plans:
            raise ValueError("plans: at least one activation unit is needed")
        self.plans = list(plans)
        self.names = [unit_name(plan.spec) for plan in self.plans]
        if len(set(self.names)) != len(self.names):
            raise ValueError("plans: the same spec is listed twice")
        self.layout, offset = [], 0
        for name, plan in zip(self.names, self.plans):
            fmt = plan.output_format
            self.layout.append({"name": name, "offset": offset, "width": fmt.width,
                                "signed": fmt.signed, "latency": plan.spec.latency,
                                "input_width": plan.input_format.width,
                                "input_signed": plan.input_format.signed})
            offset += fmt.width
        super().__init__({"code": In(MAX_INPUT_WIDTH), "outputs": Out(offset)})

    def elaborate(self, platform):
        m = Module()
        outputs = []
        for name, plan in zip(self.names, self.plans):
            m.submodules[name] = unit = ActivationUnit(plan=plan)
            code = self.code[:plan.input_format.width]
            m.d.comb += unit.x.eq(code.as_signed() if plan.input_format.signed else code)
            outputs.append(unit.y)
        m.d.comb += self.outputs.eq(Cat(*outputs))
        return m

    def cycles(self) -> int:
        """Cycles that cover every input code of every unit, plus the pipeline latency."""
        return (1 << max(p.input_format.width for p in self.plans)) + max(p.spec.latency for p in self.plans)


def _input_codes(entry: dict, cycles: int) -> np.ndarray:
    """The input code unit ``entry`` saw at each cycle (the bench drives code = cycle)."""
    width = entry["input_width"]
    codes = np.arange(cycles, dtype=np.int64) & ((1 << width) - 1)
    if entry["input_signed"]:
        codes = np.where(codes >= 1 << (width - 1), codes - (1 << width), codes)
    return codes


@dataclass
class UnitResult:
    """Outcome for one unit: how many samples were compared, and the first mismatches."""

    name: str
    compared: int
    mismatches: int
    first_mismatches: list[dict]       # input code, expected, got

    @property
    def passed(self) -> bool:
        return self.compared > 0 and self.mismatches == 0

    def describe(self) -> str:
        if self.passed:
            return f"{self.name}: {self.compared} codes bit-exact"
        shown = ", ".join(f"x={m['input_code']} expected {m['expected']} got {m['got']}"
                          for m in self.first_mismatches)
        return f"{self.name}: {self.mismatches} of {self.compared} codes differ; first: {shown}"


def compare(plans: Sequence[ActivationPlan], layout: list[dict], samples: dict[str, np.ndarray],
            *, show: int = 5) -> dict[str, UnitResult]:
    """Check recorded outputs against the golden model, unit by unit.

    A unit of latency L shows at cycle i the output for the code driven at cycle i - L.
    """
    results = {}
    for plan, entry in zip(plans, layout):
        got = np.asarray(samples[entry["name"]], dtype=np.int64)
        latency = entry["latency"]
        codes = _input_codes(entry, len(got))
        got, codes = got[latency:], codes[:len(got) - latency]
        expected = plan.evaluate(codes)
        bad = np.flatnonzero(got != expected)
        results[entry["name"]] = UnitResult(
            entry["name"], int(len(got)), int(len(bad)),
            [{"input_code": int(codes[i]), "expected": int(expected[i]), "got": int(got[i])}
             for i in bad[:show]])
    return results


def bench_design(plans: Sequence[ActivationPlan], *, top: str = "activation_bench") -> tuple[GeneratedDesign, ActivationBench]:
    bench = ActivationBench(plans)
    return generate(bench, top=top, kind="activation_bench", layout=bench.layout,
                    cycles=bench.cycles()), bench


def simulate(plans: Sequence[ActivationPlan], work_dir: Path, *, top: str = "activation_bench",
             seed: int | None = None) -> tuple[dict[str, UnitResult], runner.Build, runner.TestRun]:
    """Build (or reuse) the bench for ``plans``, sweep every input code under Verilator and
    compare with the golden model. ``work_dir`` receives the Verilog, manifest and samples."""
    work_dir = Path(work_dir)
    design, bench = bench_design(plans, top=top)
    verilog_path = design.write(work_dir)
    build = runner.build([verilog_path], top)
    samples_path = work_dir / "samples.npz"
    samples_path.unlink(missing_ok=True)
    test_run = runner.run(build, TB_MODULE, test_dir=work_dir, seed=seed, extra_env={
        "SUBTILE_BENCH_MANIFEST": str(work_dir / "manifest.json"),
        "SUBTILE_BENCH_SAMPLES": str(samples_path),
    })
    test_run.raise_for_failures()
    with np.load(samples_path) as samples:
        results = compare(plans, bench.layout, dict(samples))
    return results, build, test_run


def load_layout(manifest_path: Path) -> tuple[list[dict], int]:
    manifest = json.loads(Path(manifest_path).read_text())
    return manifest["layout"], manifest["cycles"]


def reproduce_command(spec: ActivationSpec) -> str:
    """One command line that re-runs the exhaustive check of ``spec`` alone."""
    command = (f"subtile sim activation --function {spec.function} --impl {spec.impl} "
               f"--input '{spec.input_format}' --output '{spec.output_format}' "
               f"--latency {spec.latency} --guard-bits {spec.guard_bits}")
    if spec.segments is not None:
        command += f" --segments {spec.segments}"
    if spec.function_def.uses_beta:
        command += f" --beta {spec.beta:g}"
    return command
