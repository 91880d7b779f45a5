"""The sweep's ``model`` workload (explore/workload.py, ModelWorkload): a user's network file with
its data set. The shipped iris example swept on the RTL (RTL == golden on every point), the task
metric against an independent golden run, MSE for regression targets, the per-layer and tile axes
reaching the mapped mesh, and every bad key, path or axis value refused in one line before any
tool runs."""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from subtile.cli.main import main
from subtile.errors import ConfigError
from subtile.explore.sweep import load_sweep, point_key, sweep_records
from subtile.explore.workload import ModelWorkload, make_workload
from subtile.network import quantize as network_quantize
from subtile.network import run as network_run
from subtile.network.mapper import MapOptions, map_network
from subtile.network.model_file import load_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sweep_iris.toml"
IRIS = ROOT / "examples" / "iris"

pytest.importorskip("onnx")


def _iris_copy(tmp_path, sweep_text=None, **files):
    """The example sweep file and its iris/ folder copied under ``tmp_path/case`` (the sweep's
    text optionally replaced), extra files written into iris/."""
    case = tmp_path / "case"
    shutil.copytree(IRIS, case / "iris", ignore=shutil.ignore_patterns("*.py"))
    (case / "s.toml").write_text(EXAMPLE.read_text() if sweep_text is None else sweep_text)
    for name, arrays in files.items():
        np.savez(case / "iris" / name, **arrays)
    return case / "s.toml"


def test_the_example_model_is_what_its_script_writes(tmp_path):
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("make_iris", IRIS / "make_iris.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["-o", str(tmp_path)])
    assert (tmp_path / "iris_mlp.onnx").read_bytes() == (IRIS / "iris_mlp.onnx").read_bytes()
    with np.load(tmp_path / "iris_test.npz") as new, np.load(IRIS / "iris_test.npz") as shipped:
        assert np.array_equal(new["x"], shipped["x"]) and np.array_equal(new["y"], shipped["y"])


def test_example_sweep_on_rtl_from_another_folder(tmp_path, monkeypatch, capsys):
    """Three points of the example (the first three of its seeded draw), run as a newcomer runs
    it: from another folder with a relative path. Golden mesh over all 45 flowers, RTL on the
    first 8 in one Verilator build, its events equal to the golden mesh's at every step."""
    text = EXAMPLE.read_text().replace("samples = 12", "samples = 3").replace("batch = 4", "batch = 3")
    path = _iris_copy(tmp_path, text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sweep", "../case/s.toml", "--db", "iris.sqlite", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stored"] == 3 and summary["failed"] == 0
    assert summary["reference"] == {"accuracy_float": 1.0, "chance": pytest.approx(1 / 3), "samples": 45}
    spec = load_sweep(path)
    records = {r["key"]: r for r in sweep_records(elsewhere / "iris.sqlite")}
    graph = load_model(IRIS / "iris_mlp.onnx")
    with np.load(IRIS / "iris_test.npz") as data:
        x, y = data["x"], data["y"]
    for params in spec.points():
        r = records[point_key(params)]
        assert r["status"] == "ok", r["error"]
        assert r["rtl_samples"] == 8 and r["rtl_golden_agreement"] == 1.0 and r["samples"] == 45
        assert r["cycles_per_inference"] > 0 and 0 < r["energy_min_pj_per_inference"] < r["energy_pj_per_inference"]
        # the task metric: an independent quantize / map / golden run of the same point
        q = network_quantize.quantize(graph, params["weight_bits"], leak_shift=params["leak_shift"],
                                      delta=params["delta"])
        q.layers[1] = network_quantize.quantize(graph, params["weight_bits.fc1"], leak_shift=params["leak_shift"],
                                                delta=params["delta"]).layers[1]
        mapped = map_network(q, MapOptions(lanes=params["lanes"], gating=params["gating"]))
        batch = network_run.golden_batch(mapped, x, steps=params["steps"])
        assert r["accuracy"] == network_run.score(batch.values, y)
        assert r["metrics"]["weight_formats"] == [str(layer.weight_format) for layer in q.layers]
        assert r["metrics"]["weight_formats"][1].startswith(f"fixed<{params['weight_bits.fc1']},")
        assert r["synaptic_ops_per_inference"] == float(batch.synaptic_ops.mean()) > 0
        # the RTL's read-out on the first 8: the golden program's codes, scored the same way
        program = network_run.sequential_program(mapped, x[:8], steps=params["steps"])
        assert r["accuracy_rtl"] == network_run.score(program.codes, y[:8])


@pytest.mark.slow
def test_the_whole_example_sweep_then_report(tmp_path, capsys):
    """The example as shipped: 12 points, 3 builds, then the report's recommended design."""
    from subtile.explore.report import write_report
    db = tmp_path / "iris.sqlite"
    assert main(["sweep", str(EXAMPLE), "--db", str(db), "--work-dir", str(tmp_path / "w"), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] == 0
    records = sweep_records(db)
    assert len(records) == 12 and all(r["rtl_golden_agreement"] == 1.0 for r in records)
    summary = write_report(db, tmp_path / "report")
    best = next(r for r in records if r["key"] == summary["recommended"])
    assert best["accuracy"] >= 0.99 and not best["silent"]


def test_regression_targets_score_mse_and_flag_a_silent_point(tmp_path):
    """Float targets: the metric is the MSE, "at chance" is no better than the targets' mean,
    the float reference is the float network on the same samples."""
    graph = load_model(IRIS / "iris_mlp.onnx")
    with np.load(IRIS / "iris_test.npz") as data:
        x = data["x"]
    rng = np.random.default_rng(3)
    targets = np.clip(graph.forward(x) + rng.normal(0, 0.05, (len(x), 3)), -0.99, 0.99)
    path = _iris_copy(tmp_path, '[sweep]\narea = []\n[workload]\nkind = "model"\nmodel = "iris/iris_mlp.onnx"\n'
                                'data = "iris/reg.npz"\nrtl = "none"\nmetric = "mse"\n'
                                '[axes]\nweight_format = ["fixed<8,2>", "fixed<3,5>"]\n',
                      **{"reg.npz": {"x": x, "y": targets}})
    spec = load_sweep(path)
    workload = make_workload(spec.workload, spec.base)
    results = {p[1]["weight_format"]: p[2] for p in workload.evaluate([(point_key(p), p) for p in spec.points()],
                                                                        tmp_path / "w", ())}
    mse_float = float(((graph.forward(x) - targets) ** 2).mean())
    baseline = float(((targets - targets.mean(axis=0)) ** 2).mean())
    assert workload.reference() == {"mse_float": mse_float, "mse_mean_predictor": baseline, "samples": 45}
    good, silent = results["fixed<8,2>"], results["fixed<3,5>"]
    q = network_quantize.quantize(graph, 8)
    assert all(str(layer.weight_format) == "fixed<8,2>" for layer in q.layers)
    batch = network_run.golden_batch(map_network(q), x, steps=3)
    assert good["mse"] == float(((batch.values - targets) ** 2).mean()) and good["accuracy"] is None
    assert good["mse_float"] == mse_float < good["mse"] < baseline and not good["at_chance"]
    assert silent["silent"] and silent["at_chance"] and silent["mse"] >= baseline


def test_model_axes_reach_the_mapped_mesh():
    settings = ModelWorkload.validate({"kind": "model", "model": "iris_mlp.onnx", "data": "iris_test.npz"}, IRIS)
    assert settings["model"] == str(IRIS / "iris_mlp.onnx")
    workload = ModelWorkload(settings, {})
    point = workload.map({"weight_bits": 3, "weight_bits.fc1": 7, "neurons": 4, "lanes": 2, "gating": "none",
                          "soma_activation.impl": "lut", "delta": 2, "leak_shift": 1, "steps": 9})
    config = point.mapped.config
    assert [len(parts) for parts in point.mapped.parts] == [2, 1]     # 8 hidden neurons, at most 4 per tile
    tiles = [config.tile_config(p.tile) for parts in point.mapped.parts for p in parts]
    assert [str(t.weight_format) for t in tiles] == [point.formats[0]] * 2 + [point.formats[1]]
    assert point.formats[0].startswith("fixed<3,") and point.formats[1].startswith("fixed<7,")
    assert all(t.gating == "none" and t.soma_activation.impl == "lut" and t.delta == 2 and t.leak_shift == 1
               for t in tiles)
    assert [t.lanes for t in tiles] == [2, 2, 1]    # the largest divisor of N up to 2 (3 output neurons: 1)
    assert point.steps == 9 and workload.map({}).steps == network_run.default_steps(workload.map({}).mapped)


BAD = [
    ('kind = "model"\ndata = "iris/iris_test.npz"', "workload.model: required"),
    ('kind = "model"\nmodel = "iris/iris_mlp.pt"\ndata = "iris/iris_test.npz"', "workload.model: iris/iris_mlp.pt has extension '.pt'"),
    ('kind = "model"\nmodel = "iris/none.onnx"\ndata = "iris/iris_test.npz"', "workload.model: "),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = 3', "workload.data: give the path"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/wide.npz"', "workload.data: x must be (samples, 4)"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/bad.onnx"', "workload.data: iris/bad.onnx has extension"),
    ('kind = "model"\nmodel = "iris/bad.onnx"\ndata = "iris/iris_test.npz"', "workload.model: "),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nmetric = "mse"',
     "workload.metric: mse needs float targets"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nmetric = "f1"',
     "workload.metric: 'f1' is not one of auto, accuracy, mse"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nimages = 46',
     "workload.images: 46 is more than the 45 samples"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nneurons = 0',
     "workload.neurons: 0 is outside the allowed range 1..256"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nbranches = 1\nsynapses = 2',
     "workload.model: iris_mlp.onnx does not map at the defaults"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nhidden = 2',
     "workload: unknown key(s) hidden"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\n"weight_bits.fc9" = [4]',
     "axes.weight_bits.fc9: the model has no layer 'fc9'; its layers: fc0, fc1"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\nweight_bits = [8, 1]',
     "axes.weight_bits: 1 is outside the allowed range 2..16"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\nsteps = [0]',
     "axes.steps: 0 is outside the allowed range 1..4096"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\nhidden = [4]',
     "axes.hidden: not an axis of this workload"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\ngating = ["icg", "off"]',
     "axes.gating: 'off' is not allowed (gating: 'off'"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\nweight_format = ["fixed<1,1>"]',
     "axes.weight_format: 'fixed<1,1>' is not allowed"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\nlanes = [3, 0]',
     "axes.lanes: 0 is outside the allowed range 1..256"),
    ('kind = "model"\nmodel = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\n[axes]\n"soma_activation.impl" = ["rom"]',
     "axes.soma_activation.impl: 'rom' is not allowed"),
]


@pytest.mark.parametrize("workload, message", BAD)
def test_bad_model_workloads_are_one_line_errors_before_anything_runs(tmp_path, workload, message, capsys):
    axes = "" if "[axes]" in workload else "\n[axes]\nweight_bits = [8]"
    path = _iris_copy(tmp_path, f"[sweep]\narea = []\n[workload]\n{workload}{axes}\n",
                      **{"wide.npz": {"x": np.zeros((3, 5)), "y": np.zeros(3, dtype=np.int64)}})
    (path.parent / "iris" / "bad.onnx").write_text("not an onnx file")
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_sweep(path)
    db = tmp_path / "x.sqlite"
    assert main(["sweep", str(path), "--db", str(db)]) == 2
    assert not db.exists() and not (tmp_path / "x-work").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0] and message.split(":")[0] in err[0]


@pytest.mark.slow
def test_sky130_area_tells_lut_from_interp(tmp_path):
    """area = ["sky130"] synthesises each point's mesh against the sky130 HD Liberty (cached by
    its Verilog): the two soma implementations have the same flip-flops but not the same area."""
    path = _iris_copy(tmp_path, '[sweep]\nbatch = 2\narea = ["sky130"]\n[workload]\nkind = "model"\n'
                                'model = "iris/iris_mlp.onnx"\ndata = "iris/iris_test.npz"\nrtl = "none"\n'
                                '[axes]\nweight_bits = [6]\n"soma_activation.impl" = ["interp", "lut"]\n')
    assert main(["sweep", str(path), "--db", str(tmp_path / "a.sqlite"), "--quiet"]) == 0
    area = {r["soma_activation.impl"]: r["area_sky130_um2"] for r in sweep_records(tmp_path / "a.sqlite")}
    assert area["lut"] > 0 and area["interp"] > 0 and area["lut"] != area["interp"]
