"""Mutation beyond the tile (mutate/mesh.py): the sites of a mesh's routers, fan-outs, network
interfaces and glue, instrumented in one build of two mesh copies, against the mesh regression.

The default run builds one small 2 x 1 mesh bench with five hand-picked mutants (one per unit,
and a stall-counter fault only the comparison with the original design's run tells)
and runs the original and each mutant through the four regression cases, two at a time; the
60-mutant run on examples/mesh.toml carries the ``slow`` marker.
"""

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from subtile.cli.main import main
from subtile.mutate.mesh import CASES, MeshMutationBench, mesh_regression_cases, reference_mismatch
from subtile.sim.mesh_bench import RouterCounters
from subtile.mutate.operators import OPERATOR_NAMES
from subtile.mutate.sites import MESH_UNITS, PLUSARG, SELECT, find_mutations, instrument
from subtile.spec.config import MeshConfig, TileConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = TileConfig(neurons=2, branches=2, synapses=4, addresses=8, lanes=1, payload_format="fixed<6,2>",
                  dendrite_format="fixed<8,3>", membrane_format="fixed<8,3>", branch_activation="identity",
                  soma_activation={"function": "tanh", "impl": "lut"}, delta=1)
MESH = MeshConfig(name="mm", width=2, height=1, tile=TINY, fifo_depth=2, max_destinations=2, axon_fill=1.0,
                  inputs=((0, 0),), outputs=((1, 0),))


def _site(candidates, unit, kind, text, lhs=None):
    """The first candidate of ``unit`` by operator ``kind`` whose statement contains ``text``
    (and whose left-hand side is ``lhs``)."""
    return next(m for m in candidates if m.unit == unit and m.kind == kind and text in f"{m.lhs} = {m.original}"
                and lhs in (None, m.lhs.strip()))


def pick(candidates):
    return [_site(candidates, "fanout", "operator", "index == count"),           # wrong destination count
            _site(candidates, "router", "stuck", "", lhs="arb_local_any"),       # nothing reaches a tile
            _site(candidates, "interface", "operand", "fifo_en"),                # output FIFO enabled wrongly
            _site(candidates, "mesh", "stuck", "", lhs="tick_ready"),            # no step ever ends
            _site(candidates, "router", "term", "stalls_local_low + 1")]         # stalls uncounted: timing


@functools.cache
def bench():
    return MeshMutationBench(MESH, count=4, seed=1, harnesses=2, pick=pick)


def test_mesh_sites_are_outside_the_tiles_and_cover_every_mesh_unit():
    mbench = bench()
    candidates = mbench.candidates
    assert {m.unit for m in candidates} == set(MESH_UNITS)
    assert not any(".tile_" in m.module for m in candidates)
    assert {m.kind for m in candidates} >= set(OPERATOR_NAMES) - {"shift", "rounding"}   # no arithmetic shifts
    # the tile scope of the same Verilog finds none of these
    assert not find_mutations(mbench.design.verilog, mbench.design.top, scope="tile")
    for number, mutation in enumerate(mbench.mutations, start=1):
        guard = f"({SELECT} == 16'd{number}) ? ({mutation.mutated})"
        assert mbench.verilog.count(guard) == 2, mutation.describe()          # in both mesh copies
    assert mbench.verilog.count(f'$value$plusargs("{PLUSARG}=%d"') == 2 * len({m.module for m in mbench.mutations})
    assert instrument(mbench.design.verilog, mbench.design.top, 2, []) == mbench.design.verilog


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    mbench = bench()
    work = tmp_path_factory.mktemp("mesh-mutants")
    mbench.build(work)
    cases = mesh_regression_cases(MESH, 12, seed=1)
    baseline = mbench.run(0, cases, work / "run", timeout_cycles=None)
    timeout = 4 * baseline["cycles"] + 10_000
    return baseline, [mbench.run(n, cases, work / "run", timeout_cycles=timeout)
                      for n in range(1, len(mbench.mutations) + 1)]


def test_the_original_mesh_passes_every_case(outcomes):
    baseline, _ = outcomes
    assert len(CASES) == 4 and not baseline["killed"] and baseline["cycles"] > 0, baseline


def test_each_unit_s_fault_is_killed_by_the_mesh_regression(outcomes):
    _, results = outcomes
    # the stall counter's fault changes no event: only the original's run tells it
    assert "the original design" in results[-1]["first_mismatch"], results[-1]
    # no step ever ends: the progress watchdog stops it after the original's cycles, not the budget
    assert results[3]["reason"] == "timeout" and "no tick in" in results[3]["first_mismatch"], results[3]
    for mutation, outcome in zip(bench().mutations, results):
        assert outcome["killed"], mutation.describe()
        assert outcome["reason"] in ("mismatch", "timeout", "simulation failed", "bad output")
        if outcome["reason"] == "mismatch":
            assert outcome["first_mismatch"].startswith("case ")
            assert "expected" in outcome["first_mismatch"] or "the original design" in outcome["first_mismatch"]


def test_reference_mismatch_names_the_first_timing_difference():
    def run(cycles=100, stalls=(0, 3, 0, 0, 0), level=(2, 4, 0, 0, 0)):
        return SimpleNamespace(cycles=cycles, routers=[RouterCounters(0, 0, [0] * 5, list(stalls), list(level))])
    assert reference_mismatch(MESH, run(), run()) is None
    assert reference_mismatch(MESH, run(), run(cycles=101)) == "101 cycles, the original design 100"
    assert reference_mismatch(MESH, run(), run(stalls=(0, 2, 0, 0, 0))).startswith("router (0, 0): port 1 stalls 2")
    assert "max_level 3, the original design 4" in reference_mismatch(MESH, run(), run(level=(2, 3, 0, 0, 0)))


def test_bad_operators_are_refused_before_any_tool_runs(capsys, tmp_path):
    assert main(["mutate", "--config", str(EXAMPLES / "mesh.toml"), "--operators", "operand,bogus",
                 "--work-dir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("subtile: error: operators: bogus is not a list of operator, constant") and "\n" not in err
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_examples_mesh_60_mutants(tmp_path):
    """The figure of docs/mutation.md: 60 mutants of examples/mesh.toml, every operator, seed 1."""
    work = tmp_path / "mesh60"
    assert main(["mutate", "--config", str(EXAMPLES / "mesh.toml"), "-n", "60", "--seed", "1", "--harnesses", "2",
                 "--quiet", "--equivalent", str(EXAMPLES.parent / "docs" / "mutation-equivalents.toml"),
                 "--work-dir", str(work), "--json", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["finished"] == 60 and report["errors"] == 0
    assert set(report["per_unit"]) == set(MESH_UNITS)
    assert not report["contradicted_equivalents"]
    # Issue 21's goal; measured 51 of 52 (0.981, docs/mutation.md), every survivor analysed: a
    # weaker regression or a new blind spot fails here.
    assert report["score_without_equivalent"] >= 0.95, (work / "mutation.txt").read_text()
