"""Mutation beyond the tile: the mesh's routers, fan-outs, network interfaces and glue.

Several copies of one mesh (one per regression case) share ONE Verilator build, instrumented
like the tile's (:func:`subtile.mutate.sites.instrument`: every mutant of every copy behind the
plusarg selector). The killing suite is the mesh regression of tests/sim/test_mesh_rtl.py: the
RTL mesh against the golden mesh, per step and per tile, every output event and every event on
every external output, and the packets each router delivered to its tile over the run, under
light and heavy backpressure, a saturating load and a sparse one. A mutant is killed by any
difference, by a run that does not finish within a few times the original's cycles, or by the
simulation failing.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from subtile.golden.mesh import random_mesh_stimulus
from subtile.mutate.operators import OPERATOR_NAMES
from subtile.mutate.sites import PLUSARG, find_mutations, instrument, select_mutations
from subtile.sim.mesh_bench import PUBLIC_SIGNALS, MeshBench, MeshCase
from subtile.sim.mesh_harness import generate_mesh_bench
from subtile.spec.config import MeshConfig
from subtile.toolchain import runner

__all__ = ["MeshMutationBench", "mesh_regression_cases", "mesh_stimulus_digest"]

#: (activity, idle, stall) of the regression cases, one per harness, in order: light and heavy
#: backpressure (the two variants of tests/sim/test_mesh_rtl.py), every input every step under
#: backpressure (the routers' FIFOs fill and the arbiters decide every cycle), sparse input with
#: many idle cycles.
CASES = ((0.3, 0.2, 0.3), (0.6, 0.0, 0.9), (1.0, 0.0, 0.5), (0.1, 0.5, 0.1))


def mesh_regression_cases(config: MeshConfig, steps: int, seed: int) -> list[MeshCase]:
    """The stimulus every mesh mutant faces, one case per harness (see :data:`CASES`)."""
    return [MeshCase(random_mesh_stimulus(config, steps, activity, seed * 7919 + index), seed=seed + index,
                     idle=idle, stall=stall)
            for index, (activity, idle, stall) in enumerate(CASES)]


def mesh_stimulus_digest(cases: list[MeshCase]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(repr((case.seed, case.idle, case.stall)).encode())
        for step in case.stimulus:
            for events in step:
                digest.update(np.asarray(events, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()


class MeshMutationBench:
    """The instrumented mesh bench: ``harnesses`` copies of one mesh, all mutants in one build;
    :meth:`run` runs any number of cases on it, ``harnesses`` at a time."""

    def __init__(self, config: MeshConfig, *, count: int, seed: int, harnesses: int = 4,
                 operators=OPERATOR_NAMES, stimulus_depth: int = 1 << 14, response_depth: int = 1 << 13,
                 pick=None):
        self.config, self.seed, self.harnesses = config, seed, harnesses
        configs = [config] * harnesses
        self.bench = MeshBench(configs, name=f"{config.name}_mutants", stimulus_depth=stimulus_depth,
                               response_depth=response_depth, count_toggles=False)
        self.design = generate_mesh_bench(configs, top=self.bench.name, stimulus_depth=stimulus_depth,
                                          response_depth=response_depth, count_toggles=False)
        self.candidates = find_mutations(self.design.verilog, self.design.top, scope="mesh", operators=operators)
        if not self.candidates:
            raise RuntimeError(f"no mutation sites found in {self.design.top}")
        # `pick(candidates)`: the mutants to run instead of `count` drawn from the seed
        self.mutations = list(pick(self.candidates)) if pick else select_mutations(self.candidates, count, seed)
        self.verilog = instrument(self.design.verilog, self.design.top, harnesses, self.mutations)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.verilog.encode()).hexdigest()

    def build(self, work_dir: Path) -> runner.Build:
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"{self.design.top}.v"
        path.write_text(self.verilog)
        self.bench._build = runner.build([path], self.design.top, public=PUBLIC_SIGNALS)
        self.bench._counters = [[] for _ in range(self.harnesses)]       # no toggle counters
        return self.bench._build

    def run(self, number: int, cases: list[MeshCase], work_dir: Path, timeout_cycles: int | None) -> dict:
        """Run mutant ``number`` (0 = the original design): outcome and first divergence."""
        start = time.perf_counter()
        seconds = lambda: round(time.perf_counter() - start, 3)
        runs = {}
        try:
            # More cases than mesh copies in the build: the cases run in passes of `harnesses`,
            # stopping at the first pass that tells the mutant from the original.
            for first in range(0, len(cases), self.harnesses):
                batch = dict(enumerate(cases[first:first + self.harnesses]))
                done = self.bench.run(batch, work_dir=work_dir, max_cycles=timeout_cycles or 50_000_000,
                                      plusargs=[f"+{PLUSARG}={number}"])
                runs.update({first + index: run for index, run in done.items()})
                if number and not all(run.passed for run in done.values()):
                    break
        except AssertionError as error:
            reason = "timeout" if "not finished" in str(error) else "simulation failed"
            return {"killed": True, "reason": reason, "first_mismatch": str(error).strip().splitlines()[-1][:300],
                    "cycles": None, "seconds": seconds()}
        except (ValueError, RuntimeError, OSError, KeyError) as error:
            return {"killed": True, "reason": "bad output", "first_mismatch": str(error)[:300], "cycles": None,
                    "seconds": seconds()}
        failing = [(index, run) for index, run in sorted(runs.items()) if not run.passed]
        cycles = max(run.cycles for run in runs.values())
        if failing:
            index, run = failing[0]
            return {"killed": True, "reason": "mismatch", "first_mismatch": f"case {index}: {run.mismatch}",
                    "cases_failing": [i for i, _ in failing], "cycles": cycles, "seconds": seconds()}
        return {"killed": False, "reason": None, "first_mismatch": None, "cycles": cycles, "seconds": seconds()}
