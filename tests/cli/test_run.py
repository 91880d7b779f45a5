"""`subtile run`: a golden run's report, and every refusal as one line with exit code 2 before any tool runs."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from subtile.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "network" / "digits_mlp.toml"
DATA = ROOT / "examples" / "network" / "digits_test.npz"


def test_golden_run_report(tmp_path, capsys):
    code = main(["run", str(EXAMPLE), "--data", str(DATA), "--samples", "100", "--json", str(tmp_path / "r.json"),
                 "--write-mapping", str(tmp_path / "map")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    for key in ("accuracy_float", "accuracy_golden", "accuracy_rtl", "rtl_golden_agreement", "events_per_inference",
                "synaptic_ops_per_inference", "cycles_per_inference", "energy_per_inference_pj", "quantization", "mapping"):
        assert key in report
    assert report["samples"] == 100 and report["accuracy_rtl"] is None
    assert abs(report["accuracy_golden"] - report["accuracy_float"]) <= 0.02
    assert report["mapping"]["mesh"] == [2, 1]
    assert {p.name for p in (tmp_path / "map").iterdir()} == {"mesh.toml", "contents.npz", "mapping.json"}
    out = capsys.readouterr().out
    assert "| digits_mlp | 100 | 8 |" in out and "samples/s" in out
    # The written mesh is an ordinary mesh config.
    from subtile.spec.config import MeshConfig, load_config
    assert isinstance(load_config(tmp_path / "map" / "mesh.toml"), MeshConfig)


def _lif_nir(path):
    nir = pytest.importorskip("nir")
    nodes = {"input": nir.Input(input_type={"input": np.array([64])}),
             "fc": nir.Affine(weight=np.zeros((10, 64)), bias=np.zeros(10)),
             "lif1": nir.LIF(tau=np.ones(10), r=np.ones(10), v_leak=np.zeros(10), v_threshold=np.ones(10)),
             "output": nir.Output(output_type={"output": np.array([10])})}
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif1"), ("lif1", "output")]))
    return path


def _bad_data(path):
    np.savez(path, x=np.zeros((5, 3)), y=np.zeros(5, dtype=np.int64))
    return path


@pytest.mark.parametrize("make_args, message", [
    (lambda t: [str(t / "m.pt"), "--data", str(DATA)], "m.pt must end in .toml or .onnx or .nir"),
    (lambda t: [str(t / "none.onnx"), "--data", str(DATA)], "does not exist"),
    (lambda t: [str(EXAMPLE), "--data", str(t / "none.npz")], "data: "),
    (lambda t: [str(EXAMPLE), "--data", str(_bad_data(t / "d.npz"))], "data: x must be (samples, 64) numbers"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--samples", "1000"], "samples: 1000 is outside the allowed range 1..360"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--weight-bits", "1"], "weight-bits: 1 is outside the allowed range 2..16"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--steps", "0"], "steps: 0 is outside the allowed range 1..4096"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--branches", "2", "--synapses", "8"],
     "layer fc0: fan-in 65 exceeds branches x synapses = 2 x 8 = 16; set --branches/--synapses or split the layer"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--mesh", "1x1"], "mesh: 1 x 1 = 1 tiles, the network needs 2"),
    (lambda t: [str(EXAMPLE), "--data", str(DATA), "--neurons", "300"], "neurons: 300 is outside the allowed range 1..256"),
    (lambda t: [str(_lif_nir(t / "lif.nir")), "--data", str(DATA)],
     "node lif1 (LIF): spiking neurons cannot map: the tile is graded"),
])
def test_refusals(tmp_path, capsys, make_args, message):
    (tmp_path / "m.pt").write_text("")
    work = tmp_path / "work"
    code = main(["run", *make_args(tmp_path), "--rtl", "--work-dir", str(work)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not work.exists()                           # nothing ran, nothing left behind


def test_a_model_format_whose_package_is_missing_is_one_line(tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnx", None)      # import onnx raises ImportError
    code = main(["run", str(model), "--data", str(DATA)])
    err = capsys.readouterr().err
    assert code == 3 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "needs the Python package onnx" in err and "subtile[network]" in err


@pytest.fixture(scope="module")
def mapping(tmp_path_factory):
    """The example network mapped by `subtile run --write-mapping` (mesh.toml, contents.npz)."""
    folder = tmp_path_factory.mktemp("mapping")
    assert main(["run", str(EXAMPLE), "--data", str(DATA), "--samples", "5", "--no-energy", "-q",
                 "--write-mapping", str(folder)]) == 0
    return folder


def test_generate_mesh_takes_the_mapped_contents(mapping, tmp_path):
    from subtile.network.mapper import load_mapping
    from subtile.spec.contents import initial_axons
    mapped = load_mapping(mapping)
    assert mapped.axons != initial_axons(mapped.config)     # else the manifest could not tell them apart
    assert main(["generate", "mesh", "--config", str(mapping / "mesh.toml"), "--contents",
                 str(mapping / "contents.npz"), "-o", str(tmp_path / "rtl"), "-q"]) == 0
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    assert manifest["axons"] == [[[list(d) for d in neuron] for neuron in tile] for tile in mapped.axons.destinations]


@pytest.mark.parametrize("command", [["sim"], ["sim", "mesh"], ["energy"], ["generate", "mesh", "-o", "OUT"]])
@pytest.mark.parametrize("contents, config, message", [
    ("missing.npz", "mapped", "contents: missing.npz does not exist"),
    ("garbage.npz", "mapped", "is not a readable .npz (not a NumPy .npz archive)"),
    ("mapped", "examples/mesh.toml", "has no weights_2 for the 4 tiles of mesh 'mesh'"),
    ("mapped", "examples/tile.toml", "contents: applies to a mesh config"),
])
def test_contents_refusals(mapping, tmp_path, capsys, monkeypatch, command, contents, config, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.npz").write_text("not an archive")
    if command[-1:] == ["mesh"] or command[:2] == ["generate", "mesh"]:
        if config.endswith("tile.toml"):
            message = "has no [mesh] table"                  # the mesh kinds refuse a tile config first
    contents = str(mapping / "contents.npz") if contents == "mapped" else contents
    config = str(mapping / "mesh.toml") if config == "mapped" else str(ROOT / config)
    command = [str(tmp_path / "out") if word == "OUT" else word for word in command]
    before = set(tmp_path.iterdir())
    assert main([*command, "--config", config, "--contents", contents, "--work-dir", str(tmp_path / "w")]
                if command[0] != "generate" else [*command, "--config", config, "--contents", contents]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert set(tmp_path.iterdir()) == before                 # nothing left behind
