"""The cocotb kit (subtile.kit) on Verilator and Icarus: the user example, a failing golden
expectation, and identical output events from both simulators for a tile and a small mesh."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from subtile.gen.export import export_tile
from subtile.gen.mesh import generate_mesh
from subtile.spec.config import MeshConfig, TileConfig, load_config
from subtile.toolchain import runner

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SIMULATORS = ("verilator", "icarus")
#: A 4-neuron tile, 2 lanes, dense weights and delta 1: small enough for Icarus, busy enough that
#: 8 random steps give output events (16-21 in the golden model for stimulus seeds 1-3).
SMALL = {"neurons": 4, "branches": 1, "synapses": 4, "addresses": 8, "lanes": 2,
         "weight_format": "fixed<4,2>", "payload_format": "fixed<4,2>", "dendrite_format": "fixed<6,3>",
         "membrane_format": "fixed<6,3>", "branch_activation": "identity",
         "soma_activation": {"function": "tanh", "impl": "interp"}, "delta": 1, "weight_density": 1.0,
         "table_fill": 1.0}
#: A 2 x 1 mesh of those tiles, input at tile 0, output at tile 1.
MESH = MeshConfig.from_dict({
    "mesh": {"name": "kitmesh", "width": 2, "height": 1, "inputs": [[0, 0]], "outputs": [[1, 0]],
             "max_destinations": 2, "axon_fill": 1.0}, "tile": SMALL})


def _example():
    spec = importlib.util.spec_from_file_location("example_run", ROOT / "examples/cocotb/run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tile(tmp_path_factory):
    """The SMALL tile exported as a user gets it: (manifest path, sources, top)."""
    out = tmp_path_factory.mktemp("tile") / "rtl"
    result = export_tile(TileConfig.from_dict({"name": "kittile", **SMALL}), out)
    manifest = json.loads((out / "manifest.json").read_text())
    return out / "manifest.json", [out / name for name in manifest["verilog"]], result.design.top


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    out = tmp_path_factory.mktemp("mesh")
    design = generate_mesh(MESH)
    return out / "manifest.json", [design.write(out)], design.top


def _run(design, module, simulator, test_dir, **env):
    manifest, sources, top = design
    build = runner.build(sources, top, simulator=simulator)
    return runner.run(build, module, test_dir=test_dir, seed=1,
                      extra_env={"SUBTILE_MANIFEST": str(manifest), "PYTHONPATH": str(HERE), **env})


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_example_runs_green(simulator, tmp_path, capsys):
    code = _example().main(["--simulator", simulator, "--config", str(ROOT / "examples/tiny.toml"),
                            "--work", str(tmp_path)])
    assert code == 0, capsys.readouterr().out
    assert f"{simulator}: 2 tests, 0 failed" in capsys.readouterr().out
    log = next((tmp_path / simulator).glob("*.log")).read_text(errors="replace")
    checked = re.search(r"(\d+) steps, (\d+) output events checked", log)
    assert checked and int(checked[1]) == 12 and int(checked[2]) > 0, log[-2000:]


def test_example_refuses_bad_simulator(capsys):
    assert _example().main(["--simulator", "modelsim"]) == 2
    assert capsys.readouterr().err.strip() == "error: --simulator: 'modelsim' is not one of verilator, icarus"


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_wrong_golden_expectation_fails_readably(simulator, tile, tmp_path):
    run = _run(tile, "cocotb_wrong_golden", simulator, tmp_path)
    assert (run.tests, run.failed) == (1, 1)
    [message] = run.failure_messages()
    assert re.search(r"Mismatch: golden mismatch at step 0: neuron 0: expected (payload -?\d+|no event), got payload -?\d+ "
                     r"\(1 input events in the step; expected \[.*\], got \[.*\]\)", message), message
    assert "no mismatch reported" not in message


@pytest.mark.parametrize("which", ["tile", "mesh"])
def test_simulators_give_identical_events(which, tile, mesh, tmp_path):
    design = tile if which == "tile" else mesh
    records = {}
    for simulator in SIMULATORS:
        path = tmp_path / f"{simulator}.json"
        run = _run(design, "cocotb_record", simulator, tmp_path / simulator, KIT_RECORD=str(path))
        run.raise_for_failures()
        records[simulator] = json.loads(path.read_text())
    assert records["verilator"]["events"] > 0
    assert records["verilator"]["steps"] == records["icarus"]["steps"]
    # Cycle for cycle: each step takes as many cycles from its tick to its end on both.
    assert len(records["verilator"]["step_cycles"]) == len(records["verilator"]["steps"])
    assert records["verilator"]["step_cycles"] == records["icarus"]["step_cycles"]
