"""Done-when of issue 14: a NIR graph written by nir.write and an ONNX file built with onnx.helper (both
trained in NumPy on the bundled digits by examples/network/make_models.py), mapped and run on the RTL
mesh in one shared Verilator build: RTL == golden on every sample, event for event, and accuracy
within 1 point of the float model at 8-bit weights."""

import json

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("nir")

from subtile.cli.main import main  # noqa: E402
from subtile.network import mapper, nir_front, onnx_front, quantize, run  # noqa: E402
from subtile.network.graph import Graph, Layer  # noqa: E402

RTL_SAMPLES = 8


@pytest.fixture(scope="module")
def mapped(models):
    out = {}
    for name, graph in (("onnx", onnx_front.load(models / "digits_mlp.onnx")),
                        ("nir", nir_front.load(models / "digits_li.nir"))):
        q = quantize.quantize(graph, 8)
        out[name] = (graph, q, mapper.map_network(q))
    return out


def _split_network():
    """10 -> 9 -> 4 with at most 3 neurons per tile: 3 + 2 tiles on a 3 x 2 mesh (one unused), every
    hidden neuron multicast to both output tiles, a leak and a threshold of 2."""
    rng = np.random.default_rng(5)
    graph = Graph("split", 10, [Layer("h", rng.normal(0, 0.6, (10, 9)), bias=rng.normal(0, 0.3, 9), activation="sigmoid"),
                                Layer("o", rng.normal(0, 0.8, (9, 4)), bias=rng.normal(0, 0.3, 4), activation="gelu")])
    q = quantize.quantize(graph, 6, leak_shift=1, delta=2)
    m = mapper.map_network(q, mapper.MapOptions(neurons=3))
    assert (m.config.width, m.config.height, m.config.max_destinations) == (3, 2, 2)
    return m, rng.uniform(-1, 1.5, (12, 10))


def test_golden_accuracy_within_one_point_of_float(mapped, digits_test):
    x, y = digits_test
    for name, (graph, q, m) in mapped.items():
        batch = run.golden_batch(m, x, steps=run.default_steps(m))
        float_accuracy, golden_accuracy = run.score(graph.forward(x), y), run.score(batch.values, y)
        assert float_accuracy > 0.9, name
        assert abs(golden_accuracy - float_accuracy) <= 0.01, (name, float_accuracy, golden_accuracy)


def test_rtl_equals_golden_on_every_sample(mapped, digits_test, tmp_path_factory):
    x, y = digits_test
    x, y = x[:RTL_SAMPLES], y[:RTL_SAMPLES]
    networks = []
    for name, (graph, q, m) in mapped.items():
        steps = run.default_steps(m)
        program = run.sequential_program(m, x, steps=steps)
        batch = run.golden_batch(m, x, steps=steps)
        np.testing.assert_array_equal(program.codes, batch.codes)      # every sample starts from R
        networks.append((m, program))
    results = run.rtl_run(networks, work_dir=tmp_path_factory.mktemp("rtl"), energy=True, name="network_test_bench")
    for (m, program), result in zip(networks, results):
        assert result.passed, result.mismatch                          # every tile's events, every step
        np.testing.assert_array_equal(result.codes, program.codes)     # the RTL's own read-out
        assert program.codes.any() and result.cycles > 0
        kinds = result.energy_by_kind_pj
        assert result.energy_pj > 0 and kinds["router"] > 0 and kinds["tile"] > 0
        assert result.energy_pj == pytest.approx(sum(kinds.values()))


@pytest.mark.slow
def test_split_layers_and_multicast_on_rtl(tmp_path):
    """Layers split over tiles, axon tables multicasting to two tiles, an unused mesh position, a leak and
    delta = 2: RTL == the golden program on every sample."""
    m, inputs = _split_network()
    program = run.sequential_program(m, inputs, steps=run.default_steps(m))
    result, = run.rtl_run([(m, program)], work_dir=tmp_path, energy=False, name="network_split_bench")
    assert result.passed, result.mismatch
    np.testing.assert_array_equal(result.codes, program.codes)
    assert program.codes.any() and program.packets > program.events_out     # multicast: more packets than events


@pytest.mark.slow
@pytest.mark.parametrize("model", ["digits_mlp.onnx", "digits_li.nir"])
def test_subtile_run_rtl_whole_test_split(models, tmp_path, model, capsys):
    code = main(["run", str(models / model), "--data", str(models / "digits_test.npz"), "--rtl",
                 "--work-dir", str(tmp_path / "work"), "--json", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and report["rtl_pass"] and report["rtl_golden_agreement"] == 1.0
    assert report["samples"] == 360
    assert abs(report["accuracy_rtl"] - report["accuracy_float"]) <= 0.01
