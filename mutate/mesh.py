"""Mutation beyond the tile: the mesh's routers, fan-outs, network interfaces and glue.

Several copies of one mesh (one per regression case) share ONE Verilator build, instrumented
like the tile's (:func:`subtile.mutate.sites.instrument`: every mutant of every copy behind the
plusarg selector). The mesh embeds the coverage axon tables
(:func:`subtile.spec.contents.coverage_axons`: empty, full, duplicate and single destination
lists in every tile). The killing suite is the mesh regression of tests/sim/test_mesh_rtl.py:
the RTL mesh against the golden mesh, per step and per tile, every output event and every
event on every external output, each router's counters per port (packets forwarded as XY
routing sends them, stalls only where packets leave, FIFO occupancy within the depth and
non-zero exactly where packets enter: :func:`router_counter_mismatch`), under light and heavy
backpressure, a saturating load and a sparse one. The golden model has no timing, so the
original design's run is the reference for it: a mutant whose cycle count, stall counters or
FIFO high-water marks differ from the original's on the same case is killed too
(:func:`reference_mismatch`; the design is deterministic). A mutant is killed by any
difference, by a run that does not finish within a few times the original's cycles or that
releases no tick for as many cycles as the original's whole run (a progress watchdog: such a
run is slower than the original anyway), or by the simulation failing.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from subtile.golden.mesh import MeshModel, coverage_axons, random_mesh_stimulus
from subtile.mutate.operators import OPERATOR_NAMES
from subtile.mutate.sites import PLUSARG, InstrumentedBench, find_mutations, instrument, select_mutations
from subtile.sim.mesh_bench import PUBLIC_SIGNALS, MeshBench, MeshCase
from subtile.sim.mesh_harness import generate_mesh_bench
from subtile.spec.config import MeshConfig
from subtile.toolchain import runner

__all__ = ["MeshMutationBench", "mesh_regression_cases", "mesh_stimulus_digest", "router_traffic",
           "router_counter_mismatch", "reference_mismatch"]

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


#: Router ports (local, north, east, south, west): their (dx, dy) and the port a packet leaving by
#: one enters the next router by.
_STEP = {1: (0, -1), 2: (1, 0), 3: (0, 1), 4: (-1, 0)}
_OPPOSITE = {1: 3, 2: 4, 3: 1, 4: 2}


def router_traffic(config: MeshConfig, case: MeshCase, axons=None) -> tuple[np.ndarray, np.ndarray]:
    """Packets each router sends out of and takes in by each port over ``case``, from the golden
    mesh (axon tables ``axons``, default the seeded ones) and dimension-ordered XY routing
    (docs/architecture.md): ``(out, into)``, both
    (tiles, 5) arrays. The external events enter at the routers of the input ports in the order
    :func:`subtile.sim.mesh_bench.encode_mesh_stimulus` gives them; the packets the last step's
    output events make are counted too (they arrive although no tick applies them)."""
    out = np.zeros((config.count, 5), dtype=np.int64)
    into = np.zeros((config.count, 5), dtype=np.int64)

    def route(source: int, target: int):
        (x, y), (tx, ty) = config.position(source), config.position(target)
        into[source, 0] += 1
        while True:
            port = (2 if tx > x else 4) if x != tx else (3 if ty > y else 1) if y != ty else 0
            out[config.index(x, y), port] += 1
            if port == 0:
                return
            x, y = x + _STEP[port][0], y + _STEP[port][1]
            into[config.index(x, y), _OPPOSITE[port]] += 1

    model = MeshModel(config, axons=axons)
    rng = np.random.default_rng(case.seed)
    for external in case.stimulus:
        targets = [i for i, events in enumerate(external) for _ in np.asarray(events).reshape(-1, 2)]
        for k, index in enumerate(rng.permutation(len(targets))):
            route(config.index(*config.inputs[k % len(config.inputs)]), targets[index])
        result = model.step(external)
        for i, tile in enumerate(result.tiles):
            for neuron in np.asarray(tile.events_out).reshape(-1, 2)[:, 0]:
                for target, _address in model.axons.destinations[i][int(neuron)]:
                    route(i, target)
    return out, into


def router_counter_mismatch(config: MeshConfig, case: MeshCase, routers, axons=None) -> str | None:
    """The router counters' checks of the mesh regression (tests/sim/test_mesh_rtl.py), per port:
    packets forwarded as XY routing sends them (:func:`router_traffic`), no stall on a port
    that forwards nothing, input FIFO occupancy within the depth and non-zero exactly where
    packets enter. None when all hold, else the first that fails."""
    out, into = router_traffic(config, case, axons)
    for i, router in enumerate(routers):
        where = f"router {config.position(i)}"
        for port in range(5):
            if router.forwarded[port] != out[i, port]:
                return f"{where}: port {port} forwarded {router.forwarded[port]} packets, expected {out[i, port]}"
            if out[i, port] == 0 and router.stalls[port]:
                return f"{where}: port {port} stalled {router.stalls[port]} cycles but forwards nothing"
            if not 0 <= router.max_level[port] <= config.fifo_depth:
                return f"{where}: port {port} FIFO occupancy {router.max_level[port]} outside 0..{config.fifo_depth}"
            if (router.max_level[port] > 0) != (into[i, port] > 0):
                return (f"{where}: port {port} FIFO occupancy {router.max_level[port]} with {into[i, port]} "
                        "packets entering")
    return None


def reference_mismatch(config: MeshConfig, reference, run) -> str | None:
    """What a run's timing shows against the original design's run of the same case
    (``reference``): its cycle count, and per router and port its stall cycles and FIFO
    high-water mark (the golden mesh has no timing; the design is deterministic, so the
    original's run is the reference). None when they agree, else the first difference."""
    if run.cycles != reference.cycles:
        return f"{run.cycles} cycles, the original design {reference.cycles}"
    for i, (router, original) in enumerate(zip(run.routers, reference.routers)):
        for what in ("stalls", "max_level"):
            got, expected = getattr(router, what), getattr(original, what)
            for port in range(5):
                if got[port] != expected[port]:
                    return (f"router {config.position(i)}: port {port} {what} {got[port]}, "
                            f"the original design {expected[port]}")
    return None


class MeshMutationBench(InstrumentedBench):
    """The instrumented mesh bench: ``harnesses`` copies of one mesh, all mutants in one build;
    :meth:`run` runs any number of cases on it, ``harnesses`` at a time. Every copy embeds
    ``axons`` (default :func:`~subtile.spec.contents.coverage_axons` of ``config``)."""

    public = PUBLIC_SIGNALS

    def __init__(self, config: MeshConfig, *, count: int, seed: int, harnesses: int = 4,
                 operators=OPERATOR_NAMES, stimulus_depth: int = 1 << 14, response_depth: int = 1 << 13,
                 pick=None, axons=None):
        self.config, self.seed, self.harnesses = config, seed, harnesses
        self.axons = coverage_axons(config) if axons is None else axons
        configs, axons = [config] * harnesses, [self.axons] * harnesses
        self.bench = MeshBench(configs, name=f"{config.name}_mutants", stimulus_depth=stimulus_depth,
                               response_depth=response_depth, count_toggles=False, axons=axons)
        self.design = generate_mesh_bench(configs, top=self.bench.name, stimulus_depth=stimulus_depth,
                                          response_depth=response_depth, count_toggles=False, axons=axons)
        self.reference = {}             # case index -> the original design's MeshRun (run 0)
        self.candidates = find_mutations(self.design.verilog, self.design.top, scope="mesh", operators=operators)
        if not self.candidates:
            raise RuntimeError(f"no mutation sites found in {self.design.top}")
        # `pick(candidates)`: the mutants to run instead of `count` drawn from the seed
        self.mutations = list(pick(self.candidates)) if pick else select_mutations(self.candidates, count, seed)
        self.verilog = instrument(self.design.verilog, self.design.top, harnesses, self.mutations)

    def build(self, work_dir: Path) -> runner.Build:
        build = super().build(work_dir)
        self.bench._counters = [[] for _ in range(self.harnesses)]       # no toggle counters
        return build

    def run(self, number: int, cases: list[MeshCase], work_dir: Path, timeout_cycles: int | None) -> dict:
        """Run mutant ``number`` (0 = the original design, run first: its runs are the timing
        reference of the mutants'): outcome and first divergence."""
        start = time.perf_counter()
        seconds = lambda: round(time.perf_counter() - start, 3)
        runs = {}
        try:
            # More cases than mesh copies in the build: the cases run in passes of `harnesses`,
            # stopping at the first pass that tells the mutant from the original.
            for first in range(0, len(cases), self.harnesses):
                batch = dict(enumerate(cases[first:first + self.harnesses]))
                # A mutant's step longer than the original's whole run: slower than the original
                # (so killed by reference_mismatch anyway), ended at once as a hang.
                progress = {index: self.reference[first + index].cycles for index in batch
                            if number and first + index in self.reference}
                done = self.bench.run(batch, work_dir=work_dir, max_cycles=timeout_cycles or 50_000_000,
                                      plusargs=[f"+{PLUSARG}={number}"], progress_cycles=progress)
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
        if not number:
            self.reference = dict(runs)
        for index, run in runs.items():
            if run.passed:
                run.mismatch = router_counter_mismatch(self.config, cases[index], run.routers, self.axons)
            if run.passed and run.mismatch is None and number and index in self.reference:
                run.mismatch = reference_mismatch(self.config, self.reference[index], run)
            run.passed = run.mismatch is None
        failing = [(index, run) for index, run in sorted(runs.items()) if not run.passed]
        cycles = max(run.cycles for run in runs.values())
        if failing:
            index, run = failing[0]
            return {"killed": True, "reason": "mismatch", "first_mismatch": f"case {index}: {run.mismatch}",
                    "cases_failing": [i for i, _ in failing], "cycles": cycles, "seconds": seconds()}
        return {"killed": False, "reason": None, "first_mismatch": None, "cycles": cycles, "seconds": seconds()}
