"""Sequential digits (one image row per step): BPTT training, frames on the network path, RTL."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from subtile.network import mapper, quantize, run  # noqa: E402
from subtile.workloads import digits, seqdigits as S  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    x_train, y_train, x_test, y_test, _ = digits.load_digits_split(0)
    net = S.train(x_train[:600], y_train[:600], hidden=16, k=2, steps=10, epochs=150)
    return net, x_test, y_test


def test_frames_are_rows():
    x = np.arange(128.0).reshape(2, 64)
    f = S.frames(x)
    assert f.shape == (2, 8, 8) and np.array_equal(f[1, 3], x[1, 24:32])


def test_bptt_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    xf = S.frames(rng.uniform(0, 1, (12, 64)))
    onehot = np.eye(10)[rng.integers(0, 10, 12)]
    net = S.SeqNetwork(rng.normal(0, 0.5, (8, 5)), rng.normal(0, 0.5, (5, 10)), 1, 6)
    _, g1, g2 = S.gradients(net, xf, onehot)
    eps = 1e-6
    for weights, grad in ((net.w1, g1), (net.w2, g2)):
        for index in [(0, 0), (3, 2), (4, 4), (1, 3)]:
            saved = weights[index]
            weights[index] = saved + eps
            up = S.gradients(net, xf, onehot)[0]
            weights[index] = saved - eps
            down = S.gradients(net, xf, onehot)[0]
            weights[index] = saved
            assert grad[index] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


def test_temporal_golden_close_to_float_and_frames_exact(trained):
    net, x_test, y_test = trained
    report = S.evaluate(net, x_test, y_test)
    assert report["accuracy_float"] > 0.5
    assert abs(report["accuracy_golden"] - report["accuracy_float"]) <= 0.03
    # Each sample alone through the sequential program (frame changes step by step) equals the batch.
    q = quantize.quantize(S.graph(net), 8)
    m = mapper.map_network(q)
    xf = S.frames(x_test[:6])
    batch = run.golden_batch(m, xf, steps=net.steps)
    for i in range(6):
        program = run.sequential_program(m, xf[i:i + 1], steps=net.steps)
        assert np.array_equal(program.codes[0], batch.codes[i])
        assert program.external_events == np.count_nonzero(np.diff(
            quantize.encode_inputs(xf[i], m.config.payload_format)[0], axis=0, prepend=0)) + \
            np.count_nonzero(quantize.encode_inputs(xf[i, -1], m.config.payload_format)[0])


@pytest.mark.slow
def test_temporal_rtl_equals_golden(trained, tmp_path):
    net, x_test, y_test = trained
    report = S.evaluate(net, x_test[:20], y_test[:20], rtl=True, work_dir=tmp_path)
    assert report["rtl_pass"] and report["rtl_golden_agreement"] == 1.0
