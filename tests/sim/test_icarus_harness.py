"""The fast tile and mesh harnesses (sim/tile_harness.py, sim/mesh_harness.py) under Icarus as
under Verilator: the same run passes against the golden model on both, takes the same cycles,
and every in-simulation toggle and clock-pulse counter agrees (Icarus 11 miscounts $countones of
an expression, and starts the memories' read registers at X: the harness and gen/verilog.py
avoid both)."""

import shutil

import numpy as np
import pytest

from subtile.golden.mesh import random_mesh_stimulus
from subtile.golden.tile import random_stimulus
from subtile.sim.mesh_bench import MeshBench, MeshCase
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.spec.config import MeshConfig, TileConfig

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

CONFIG = TileConfig(name="t_icarus", neurons=8, lanes=2, branches=2, synapses=4, addresses=16, gating="icg")


@pytest.fixture(scope="module")
def simulator_runs(tmp_path_factory):
    stimulus = [np.asarray(e) for e in random_stimulus(CONFIG, 10, 0.3, seed=5)]
    case = TileCase([StepStimulus(e) for e in stimulus], seed=2, stall=0.3, read_state=True)
    out = {}
    for simulator in ("verilator", "icarus"):
        bench = TileBench([CONFIG], name="icarus_harness", simulator=simulator,
                          stimulus_depth=1024, response_depth=1024)
        out[simulator] = bench.run({0: case}, work_dir=tmp_path_factory.mktemp(simulator))[0]
    return out


def test_both_simulators_pass_against_the_golden_model(simulator_runs):
    for simulator, run in simulator_runs.items():
        assert run.passed, f"{simulator}: {run.mismatch}"
    assert simulator_runs["verilator"].events_out == simulator_runs["icarus"].events_out > 0
    assert simulator_runs["verilator"].cycles == simulator_runs["icarus"].cycles
    assert simulator_runs["verilator"].step_cycles == simulator_runs["icarus"].step_cycles


def test_every_counter_agrees(simulator_runs):
    verilator, icarus = simulator_runs["verilator"], simulator_runs["icarus"]
    assert len(verilator.toggles) + len(verilator.pulses) == len(TileBench.counters())
    assert verilator.toggles == icarus.toggles and verilator.pulses == icarus.pulses
    assert verilator.toggles["synapse"] > 0 and verilator.toggles["mac"] > 0


def test_icarus_refuses_verilator_only_options():
    with pytest.raises(ValueError, match="Verilator only"):
        TileBench([CONFIG], simulator="icarus", coverage=True)
    with pytest.raises(ValueError, match="simulator: 'xsim' is not one of verilator, icarus"):
        TileBench([CONFIG], simulator="xsim")


MESH = MeshConfig(name="m_icarus", width=2, height=1, fifo_depth=2, max_destinations=2,
                  tile=TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2, delta=1,
                                  branch_activation="identity", soma_activation={"function": "tanh", "impl": "lut"}))


def test_mesh_harness_agrees_between_simulators(tmp_path):
    """The fast mesh harness (sim/mesh_harness.py) on both: golden-exact, same cycles, same router
    counters and toggle counts."""
    case = MeshCase(random_mesh_stimulus(MESH, 8, 0.4, 3), seed=3, idle=0.2, stall=0.3)
    runs = {simulator: MeshBench([MESH], name="icarus_mesh", simulator=simulator, stimulus_depth=1024,
                                 response_depth=1024).run({0: case}, work_dir=tmp_path / simulator)[0]
            for simulator in ("verilator", "icarus")}
    verilator, icarus = runs["verilator"], runs["icarus"]
    assert verilator.passed and icarus.passed, (verilator.mismatch, icarus.mismatch)
    assert verilator.events_out == icarus.events_out > 0 and verilator.cycles == icarus.cycles
    assert [r.to_dict() for r in verilator.routers] == [r.to_dict() for r in icarus.routers]
    assert verilator.toggles and verilator.pulses
    assert verilator.toggles == icarus.toggles and verilator.pulses == icarus.pulses
