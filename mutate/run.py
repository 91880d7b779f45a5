"""Running the mutants: one instrumented build, the regression on every mutant, resumable results.

Each mutant runs the regression of :func:`subtile.mutate.regression.regression_cases` (several
harnesses of the same tile with different stimulus, idle cycles and backpressure, state compared
after every step); it is *killed* when any output event or state register differs from the golden
model, or when the run hangs (a cycle budget of a few times the original run's). Results go to a
:class:`subtile.store.ResultStore`, one row per mutant, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from subtile.spec.config import MeshConfig, TileConfig
from subtile.sim.tile_harness import generate_bench
from subtile.store import ResultStore
from subtile.sim.tile_bench import PUBLIC_SIGNALS, READ_SIGNALS, TileBench, TileCase
from subtile.mutate.operators import OPERATOR_NAMES
from subtile.mutate.sites import InstrumentedBench
from subtile.mutate.sites import PLUSARG, find_mutations, instrument, select_mutations
from subtile.mutate.mesh import MeshMutationBench, mesh_regression_cases, mesh_stimulus_digest
from subtile.mutate.regression import regression_cases
from subtile.mutate.report import build_report

__all__ = ["MutationBench", "mutation_bench_design", "run_mutation_testing"]


def mutation_bench_design(configs, contents, *, top: str):
    """The bench whose tiles a mutation run instruments: one harness per config, every lane a
    module of its own, since each fault goes into one lane's copy (its sites are named by the
    module paths below a harness, ``tile.lane_3.encoder``)."""
    return generate_bench(configs, contents, top=top, share_lanes=False)


class MutationBench(InstrumentedBench):
    """The instrumented bench: ``harnesses`` copies of one tile, all mutants in one build."""

    public, public_read = PUBLIC_SIGNALS, READ_SIGNALS

    def __init__(self, config: TileConfig, *, count: int, seed: int, harnesses: int = 4,
                 operators=OPERATOR_NAMES):
        self.config, self.seed, self.harnesses = config, seed, harnesses
        configs = [config] * harnesses
        self.bench = TileBench(configs, name=f"{config.name}_mutants")
        design = mutation_bench_design(configs, self.bench.contents, top=self.bench.name)
        self.design = design
        self.candidates = find_mutations(design.verilog, design.top, operators=operators)
        if not self.candidates:
            raise RuntimeError(f"no mutation sites found in {design.top}")
        self.mutations = select_mutations(self.candidates, count, seed)
        self.verilog = instrument(design.verilog, design.top, harnesses, self.mutations)

    def run(self, number: int, cases: list[TileCase], work_dir: Path, timeout_cycles: int | None) -> dict:
        """Run mutant ``number`` (0 = the original design): outcome and first divergence."""
        start = time.perf_counter()
        try:
            runs = self.bench.run(dict(enumerate(cases)), work_dir=work_dir, plusargs=[f"+{PLUSARG}={number}"],
                                  timeout_cycles=timeout_cycles)
        except AssertionError as error:
            reason = "timeout" if "timeout" in str(error) else "simulation failed"
            return {"killed": True, "reason": reason, "first_mismatch": str(error).strip().splitlines()[-1][:300],
                    "cycles": None, "seconds": round(time.perf_counter() - start, 3)}
        except (ValueError, RuntimeError) as error:
            return {"killed": True, "reason": "bad output", "first_mismatch": str(error)[:300], "cycles": None,
                    "seconds": round(time.perf_counter() - start, 3)}
        failing = [(index, run) for index, run in sorted(runs.items()) if not run.passed]
        cycles = sum(run.cycles for run in runs.values())
        if failing:
            index, run = failing[0]
            return {"killed": True, "reason": "mismatch", "first_mismatch": f"case {index}: {run.mismatch}",
                    "cases_failing": [i for i, _ in failing], "cycles": cycles,
                    "seconds": round(time.perf_counter() - start, 3)}
        return {"killed": False, "reason": None, "first_mismatch": None, "cycles": cycles,
                "seconds": round(time.perf_counter() - start, 3)}


def _stimulus_digest(cases: list[TileCase]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(repr((case.seed, case.idle, case.stall, case.read_state)).encode())
        for step in case.stimulus:
            digest.update(np.asarray(step.events, dtype=np.int64).tobytes() + repr(list(step.writes)).encode())
    return digest.hexdigest()


def run_mutation_testing(config: TileConfig | MeshConfig, *, count: int, seed: int, steps: int, work_dir: Path,
                         db: Path | None = None, log=print, harnesses: int = 4, equivalents=(),
                         operators=OPERATOR_NAMES) -> dict:
    """Build all mutants once, run the regression on each, return the report (see module doc).
    A tile's mutants are in the tile; a mesh's in its routers, fan-outs, network interfaces and
    glue, against the mesh regression (:mod:`subtile.mutate.mesh`).

    With ``db``, each mutant's outcome is stored as it finishes and mutants already stored for
    the same design, mutants and stimulus are skipped (resume after a crash or kill).
    """
    work_dir = Path(work_dir)
    if isinstance(config, MeshConfig):
        mbench = MeshMutationBench(config, count=count, seed=seed, harnesses=harnesses, operators=operators)
        cases = mesh_regression_cases(config, steps, seed)       # all of them, `harnesses` at a time
        stimulus = mesh_stimulus_digest(cases)
    else:
        mbench = MutationBench(config, count=count, seed=seed, harnesses=harnesses, operators=operators)
        cases = regression_cases(config, steps, seed)[:harnesses]
        stimulus = _stimulus_digest(cases)
    run_name = "mutate-" + hashlib.sha256(json.dumps(
        {"verilog": mbench.digest, "steps": steps, "seed": seed, "harnesses": harnesses, "stimulus": stimulus},
        sort_keys=True).encode()).hexdigest()[:16]
    store = ResultStore(db if db is not None else work_dir / "mutants.db", run=run_name)
    try:
        build = mbench.build(work_dir)
        log(f"{len(mbench.mutations)} mutants of {len(mbench.candidates)} candidate sites in one build "
            f"({'reused' if build.cached else 'compiled'} in {build.seconds:.1f} s)")
        baseline = mbench.run(0, cases, work_dir / "run", timeout_cycles=None)
        if baseline["killed"]:
            raise RuntimeError(f"the regression fails on the original design: {baseline['first_mismatch']}")
        timeout = 4 * baseline["cycles"] + 10_000
        pending = store.pending(f"{n:04d}" for n in range(1, len(mbench.mutations) + 1))
        others = store.other_runs()
        if others:
            # an older design, stimulus, seed or step count: its outcomes say nothing about this run
            log(f"{store.path} also holds {sum(others.values())} results of {len(others)} other run(s) "
                f"(another design, stimulus, seed or step count): not used")
        if len(pending) < len(mbench.mutations):
            log(f"resuming: {len(mbench.mutations) - len(pending)} mutants already in {store.path}")
        for key in pending:
            number = int(key)
            mutation = mbench.mutations[number - 1]
            try:
                outcome = mbench.run(number, cases, work_dir / "run", timeout_cycles=timeout)
            except Exception as error:  # noqa: BLE001 - stored as a failed point, the run goes on
                store.put(key, params=asdict(mutation), error=f"{type(error).__name__}: {error}")
                log(f"mutant {number}: ERROR {error}")
                continue
            store.put(key, params=asdict(mutation), metrics=outcome)
            log(f"mutant {number}/{len(mbench.mutations)}: {'killed' if outcome['killed'] else 'SURVIVED'} "
                f"({outcome['reason'] or 'no difference'}) {mutation.describe()}")
        results = store.results()
    finally:
        store.close()
    return build_report(config, mbench, results, equivalents=equivalents, count=count, seed=seed, steps=steps,
                        baseline=baseline, operators=list(operators), work_dir=work_dir, db=store.path,
                        run_name=run_name)
