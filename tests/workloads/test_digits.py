"""The digits workload (issue 8): data, training, quantization, mapping, golden and RTL runs."""

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from subtile.cli.main import main
from subtile.errors import ConfigError
from subtile.workloads import digits as D
from subtile.golden.mesh import MeshModel
from subtile.network import run as network_run


@pytest.fixture(scope="module")
def data():
    return D.load_digits_split(0)


@pytest.fixture(scope="module")
def net(data):
    x_train, y_train, *_ = data
    return D.train(x_train, y_train, hidden=24, seed=0, epochs=600)


def test_split_is_fixed_and_exact(data):
    x_train, y_train, x_test, y_test, pixels = data
    again = D.load_digits_split(0)
    assert np.array_equal(again[4], pixels) and np.array_equal(again[1], y_train)
    assert (len(x_train), len(x_test)) == (1437, 360)
    assert pixels.min() == 0 and pixels.max() == 16
    # Payload code PIXEL_CODE * pixel is exactly pixel / 16 (the float model's input).
    assert np.array_equal(D.PAYLOAD_FORMAT.to_real(D.PIXEL_CODE * pixels), x_test)
    assert D.PAYLOAD_FORMAT.contains(-D.PIXEL_CODE * 16)
    assert not np.array_equal(D.load_digits_split(1)[4], pixels)


def test_training_is_deterministic(data):
    x_train, y_train, *_ = data
    a = D.train(x_train[:200], y_train[:200], hidden=8, seed=3, epochs=20)
    b = D.train(x_train[:200], y_train[:200], hidden=8, seed=3, epochs=20)
    c = D.train(x_train[:200], y_train[:200], hidden=8, seed=4, epochs=20)
    assert np.array_equal(a.w1, b.w1) and np.array_equal(a.w2, b.w2)
    assert not np.array_equal(a.w1, c.w1)


def test_quadrant_mapping():
    branch, slot = D.quadrant_slots()
    rows = branch * 16 + slot
    assert sorted(rows) == list(range(64))               # distinct (branch, slot) per pixel
    image = np.arange(64).reshape(8, 8)
    assert set(branch[image[:4, :4].ravel()]) == {0} and set(branch[image[4:, 4:].ravel()]) == {3}


@pytest.mark.parametrize("bits", [3, 5, 8])
def test_quantization(net, bits):
    q = D.quantize(net, bits)
    for codes, fmt, w in ((q.w1, q.format1, net.w1), (q.w2, q.format2, net.w2)):
        assert fmt.width == bits and fmt.contains(codes).all()
        inside = np.abs(w) <= fmt.max_value
        assert np.all(np.abs(codes * fmt.lsb - w)[inside] <= fmt.lsb / 2 + 1e-12)
        # The chosen integer bits beat their neighbours on squared error.
        error = lambda f: ((np.clip(np.round(w / f.lsb), f.min_code, f.max_code) * f.lsb - w) ** 2).sum()
        for other in (fmt.int_bits - 1, fmt.int_bits + 1):
            assert error(fmt) <= error(type(fmt)(bits, other))


def test_accuracy_of_float_and_quantized_models(data, net):
    _, _, x_test, y_test, pixels = data
    float_accuracy = (D.float_predict(net, x_test) == y_test).mean()
    assert float_accuracy >= 0.95
    q, m = D.mapped(net, D.DigitsSpec())
    np.testing.assert_allclose(D.graph(net).forward(x_test).argmax(1), D.float_predict(net, x_test))
    direct = (D.quantized_predict(D.quantize(net, 8), m.config, pixels).argmax(axis=1) == y_test).mean()
    assert direct >= 0.95 and abs(direct - float_accuracy) <= 0.01


def test_mapper_gives_the_quadrant_layout(net):
    """The network path maps digits exactly as the hand-made layout: hidden tile (0, 0) with one
    branch per quadrant (slot = pixel in quadrant), output tile (1, 0), hidden j -> address j."""
    q, m = D.mapped(net, D.DigitsSpec())
    hidden, output = m.config.tile_config(0), m.config.tile_config(1)
    assert (m.config.width, m.config.height, m.config.inputs, m.config.outputs) == (2, 1, ((0, 0),), ((1, 0),))
    assert (hidden.branches, hidden.synapses, hidden.addresses, str(hidden.branch_activation.function)) == (4, 16, 64, "tanh")
    assert (output.branches, output.synapses, output.addresses) == (1, 24, 24)
    branch, slot = D.quadrant_slots()
    table = m.contents[0][1]
    assert np.array_equal(table.branch, branch) and np.array_equal(table.slot, slot) and table.valid.all()
    assert np.array_equal(m.contents[0][0], D.quantize(net, 8).w1.reshape(64, 24))
    assert m.axons.destinations[0] == tuple(((1, j),) for j in range(24))
    assert all(d == () for d in m.axons.destinations[1])


def test_mesh_converges_to_the_quantized_network(data, net):
    """Without leak and with every change sent, the golden mesh's read-out equals a direct
    layer-by-layer evaluation of the quantized network, and each image returns the mesh to
    exactly its reset state (the sequential program equals the batch, every image from reset)."""
    _, _, x_test, _, pixels = data
    spec = D.DigitsSpec(leak_shift=0, delta=1, steps=3, weight_bits=6)
    q, m = D.mapped(net, spec)
    program = network_run.sequential_program(m, x_test[:40], steps=3)
    assert program.prelude_steps == 0
    assert np.array_equal(program.codes, D.quantized_predict(D.quantize(net, 6), m.config, pixels[:40]))
    assert np.array_equal(network_run.golden_batch(m, x_test[:40], steps=3).codes, program.codes)


def test_blank_quadrants_send_nothing(net):
    """A pixel at 0 sends no event and an ink-free quadrant is never touched: synaptic
    operations count only the non-zero pixels' rows."""
    q, m = D.mapped(net, D.DigitsSpec(steps=2))
    image = np.zeros((1, 64))
    image[0, [0, 9]] = [16 / 16, 5 / 16]                # two pixels, both in quadrant 0
    program = network_run.sequential_program(m, image, steps=2)
    first = program.steps[0][0]
    assert first.tolist() == [[0, 16 * D.PIXEL_CODE], [9, 5 * D.PIXEL_CODE]]
    assert program.external_events == 4                 # on and off
    weights = m.contents[0][0]
    nonzero = np.count_nonzero(weights[[0, 5]], axis=1).sum()   # rows (b 0, s 0), (b 0, s 5)
    model = MeshModel(m.config, contents=m.contents, axons=m.axons)
    assert model.step([first, None]).tiles[0].synaptic_ops == nonzero


def test_spec_validation():
    with pytest.raises(ConfigError, match="hidden: 1 is outside the allowed range 2..64"):
        D.DigitsSpec(hidden=1)
    with pytest.raises(ConfigError, match="weight_bits"):
        D.DigitsSpec(weight_bits=17)
    with pytest.raises(ConfigError, match="steps"):
        D.DigitsSpec(steps=1)


def test_cli_rejects_bad_values(capsys):
    assert main(["digits", "--steps", "1", "--golden-only"]) == 2
    assert "steps: 1 is outside the allowed range" in capsys.readouterr().err
    assert main(["digits", "--images", "0", "--golden-only"]) == 2


def test_cli_golden_only(capsys):
    assert main(["digits", "--golden-only", "--images", "40", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy_float", "accuracy_golden", "accuracy_rtl", "rtl_golden_agreement",
                "energy_per_inference_pj", "events_per_inference"):
        assert key in report
    assert report["images"] == 40 and report["accuracy_golden"] >= 0.9
    assert report["accuracy_rtl"] is None


class TestDigitsRtl:
    """The RTL mesh on a few dozen test images: one mesh build (energy from its own counters)."""

    def test_rtl_matches_golden_on_every_image(self, tmp_path):
        from subtile.workloads.digits_rtl import evaluate
        result = evaluate(D.DigitsSpec(), images=36, work_dir=tmp_path)
        assert result.rtl_pass, result.mismatch
        assert result.rtl_golden_agreement == 1.0
        assert result.accuracy_rtl == result.accuracy_golden >= 0.9
        assert result.cycles_per_inference > result.steps_per_inference
        assert result.energy_per_inference_pj > 0
        assert set(result.energy_breakdown_pj) == {"tile", "router", "interface"}
        assert result.energy_per_inference_pj == pytest.approx(sum(result.energy_breakdown_pj.values()))


@pytest.mark.slow
def test_rtl_full_test_split(tmp_path):
    from subtile.workloads.digits_rtl import evaluate
    result = evaluate(D.DigitsSpec(), work_dir=tmp_path)
    assert result.images == 360
    assert result.rtl_pass, result.mismatch
    assert result.rtl_golden_agreement == 1.0
    assert result.accuracy_rtl >= 0.95
    assert abs(result.accuracy_rtl - result.accuracy_float) <= 0.01
