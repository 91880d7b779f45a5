"""The ONNX and NIR front ends: float reference == onnxruntime, NIR folding and leak, refusals."""

import numpy as np
import pytest

from subtile.errors import ConfigError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
nir = pytest.importorskip("nir")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from subtile.network import nir_front, onnx_front  # noqa: E402

RNG = np.random.default_rng(7)
W1, B1 = RNG.normal(0, 0.5, (5, 4)).astype(np.float32), RNG.normal(0, 0.3, 4).astype(np.float32)
W2, B2 = RNG.normal(0, 0.5, (4, 3)).astype(np.float32), RNG.normal(0, 0.3, 3).astype(np.float32)


def _const(name, value):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value, np.float32), name))


def _activation(kind, x, y):
    """Nodes computing y = f(x) as exporters write them."""
    if kind == "hardsigmoid":
        return [helper.make_node("HardSigmoid", [x], [y], alpha=1 / 6, beta=0.5)]
    if kind == "gelu_op":
        return [helper.make_node("Gelu", [x], [y])]
    if kind == "gelu_erf":                  # PyTorch's export before opset 20
        return [_const(f"{y}_s2", np.sqrt(2)), helper.make_node("Div", [x, f"{y}_s2"], [f"{y}_d"]),
                helper.make_node("Erf", [f"{y}_d"], [f"{y}_e"]), _const(f"{y}_1", 1.0),
                helper.make_node("Add", [f"{y}_e", f"{y}_1"], [f"{y}_a"]),
                helper.make_node("Mul", [x, f"{y}_a"], [f"{y}_m"]), _const(f"{y}_h", 0.5),
                helper.make_node("Mul", [f"{y}_m", f"{y}_h"], [y])]
    if kind == "swish":
        return [helper.make_node("Sigmoid", [x], [f"{y}_s"]), helper.make_node("Mul", [x, f"{y}_s"], [y])]
    if kind == "swish_beta":
        return [_const(f"{y}_b", 1.7), helper.make_node("Mul", [x, f"{y}_b"], [f"{y}_bx"]),
                helper.make_node("Sigmoid", [f"{y}_bx"], [f"{y}_s"]), helper.make_node("Mul", [x, f"{y}_s"], [y])]
    if kind == "hardsigmoid_default":
        return [helper.make_node("HardSigmoid", [x], [y])]
    if kind == "leakyrelu":
        return [helper.make_node("LeakyRelu", [x], [y])]
    op = {"tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus", "relu": "Relu"}[kind]
    return [helper.make_node(op, [x], [y])]


def _onnx(path, hidden, output="tanh", *, matmul=False, opset=20):
    inits = [numpy_helper.from_array(W1.T.copy(), "w1"), numpy_helper.from_array(B1, "b1"),
             numpy_helper.from_array(W2, "w2"), numpy_helper.from_array(B2, "b2")]
    if matmul:
        first = [helper.make_node("MatMul", ["x", "w1t"], ["z1m"], name="fc1"), helper.make_node("Add", ["z1m", "b1"], ["z1"])]
        inits.append(numpy_helper.from_array(W1, "w1t"))
    else:
        first = [helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"], name="fc1", transB=1)]
    nodes = first + _activation(hidden, "z1", "h") + [
        helper.make_node("MatMul", ["h", "w2"], ["z2m"], name="fc2"), helper.make_node("Add", ["z2m", "b2"], ["z2"])]
    nodes += _activation(output, "z2", "y") if output else [helper.make_node("Identity", ["z2"], ["y"])]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("kind, function, beta", [
    ("tanh", "tanh", 1.0), ("sigmoid", "sigmoid", 1.0), ("softplus", "softplus", 1.0), ("relu", "relu", 1.0),
    ("hardsigmoid", "hard_sigmoid", 1.0), ("gelu_op", "gelu", 1.0), ("gelu_erf", "gelu", 1.0),
    ("swish", "swish", 1.0), ("swish_beta", "swish", 1.7),
])
@pytest.mark.parametrize("matmul", [False, True])
def test_onnx_float_reference_matches_onnxruntime(tmp_path, kind, function, beta, matmul):
    path = _onnx(tmp_path / "m.onnx", kind, matmul=matmul)
    graph = onnx_front.load(path)
    assert [l.activation.function for l in graph.layers] == [function, "tanh"]
    assert graph.layers[0].activation.beta == pytest.approx(beta)
    x = RNG.normal(0, 1.5, (64, 5)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    np.testing.assert_allclose(graph.forward(x), expected, atol=2e-5)


def test_onnx_digits_model_matches_onnxruntime(models, digits_test):
    x, _ = digits_test
    graph = onnx_front.load(models / "digits_mlp.onnx")
    expected = ort.InferenceSession(str(models / "digits_mlp.onnx")).run(None, {"input": x.astype(np.float32)})[0]
    np.testing.assert_allclose(graph.forward(x), expected, atol=2e-5)


@pytest.mark.parametrize("hidden, output, message", [
    ("hardsigmoid_default", "tanh", "layer fc1: the elementwise function is none of"),
    ("leakyrelu", "tanh", "node h (LeakyRelu): not supported; allowed:"),
    ("tanh", None, "layer fc2: no activation after it; the tile's soma needs one of"),
])
def test_onnx_refusals(tmp_path, hidden, output, message):
    with pytest.raises(ConfigError) as error:
        onnx_front.load(_onnx(tmp_path / "m.onnx", hidden, output))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_onnx_broken_file(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="is not a valid ONNX model"):
        onnx_front.load(tmp_path / "bad.onnx")


def _nir_graph(neuron, *, tau=4e-3, dt=1e-3, metadata=None):
    nodes = {"input": nir.Input(input_type={"input": np.array([5])}),
             "fc": nir.Affine(weight=W1.T.astype(np.float64), bias=B1.astype(np.float64)),
             "scale": nir.Scale(scale=np.full(4, 0.5)),
             "output": nir.Output(output_type={"output": np.array([4])})}
    r, v_leak = np.full(4, 2.0), np.full(4, 0.25)
    if neuron == "LI":
        nodes["n"] = nir.LI(tau=np.full(4, tau), r=r, v_leak=v_leak, metadata=metadata or {"activation": "sigmoid"})
    elif neuron == "CubaLI":
        nodes["n"] = nir.CubaLI(tau_syn=np.full(4, dt), tau_mem=np.full(4, tau), r=r, v_leak=v_leak, w_in=np.full(4, 1.5),
                                metadata=metadata or {"activation": "sigmoid"})
    elif neuron == "LIF":
        nodes["n"] = nir.LIF(tau=np.full(4, tau), r=r, v_leak=v_leak, v_threshold=np.ones(4))
    elif neuron == "IF":
        nodes["n"] = nir.IF(r=r, v_threshold=np.ones(4))
    elif neuron == "Threshold":
        nodes["n"] = nir.Threshold(threshold=np.ones(4))
    elif neuron == "Delay":
        nodes["n"] = nir.Delay(delay=np.ones(4))
    edges = [("input", "fc"), ("fc", "scale"), ("scale", "n"), ("n", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt}, type_check=False)


@pytest.mark.parametrize("neuron, gain", [("LI", 2.0), ("CubaLI", 3.0)])
def test_nir_folds_scale_r_and_v_leak(tmp_path, neuron, gain):
    nir.write(str(tmp_path / "g.nir"), _nir_graph(neuron))
    graph = nir_front.load(tmp_path / "g.nir")
    layer, = graph.layers
    x = RNG.normal(size=(9, 5))
    z = gain * 0.5 * (x @ W1 + B1) + 0.25                 # r * Scale * Affine + v_leak
    np.testing.assert_allclose(graph.forward(x), 1 / (1 + np.exp(-z)), rtol=1e-6)
    assert layer.leak_shift == 2 and layer.activation.function == "sigmoid"
    assert (neuron == "CubaLI") == any("tau_syn" in n for n in graph.all_notes())


@pytest.mark.parametrize("tau, k, approximate", [(1e-3, 0, False), (2e-3, 1, False), (8e-3, 3, False),
                                                 (3e-3, 2, True), (5.5e-3, 2, True)])
def test_nir_tau_to_leak_shift(tmp_path, tau, k, approximate):
    nir.write(str(tmp_path / "g.nir"), _nir_graph("LI", tau=tau))
    graph = nir_front.load(tmp_path / "g.nir")
    assert graph.layers[0].leak_shift == k
    notes = [n for n in graph.all_notes() if "not a power of two" in n]
    assert bool(notes) == approximate


@pytest.mark.parametrize("neuron, message", [
    ("LIF", "node n (LIF): spiking neurons cannot map: the tile is graded"),
    ("IF", "node n (IF): spiking neurons cannot map: the tile is graded"),
    ("Threshold", "node n (Threshold): spiking neurons cannot map: the tile is graded"),
    ("Delay", "node n (Delay): not supported; allowed:"),
])
def test_nir_refusals(tmp_path, neuron, message):
    nir.write(str(tmp_path / "g.nir"), _nir_graph(neuron))
    with pytest.raises(ConfigError) as error:
        nir_front.load(tmp_path / "g.nir")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_nir_default_activation_is_noted(tmp_path):
    nir.write(str(tmp_path / "g.nir"), _nir_graph("LI", metadata={"other": 1}))
    graph = nir_front.load(tmp_path / "g.nir")
    assert graph.layers[0].activation.function == "tanh"
    assert any("no 'activation'" in n for n in graph.all_notes())


def _reference_conv(x, weight, bias, stride, padding, dilation, groups):
    """Direct convolution of x (C, *spatial) by sliding windows (an independent reference)."""
    dims = weight.ndim - 2
    xp = np.pad(x, [(0, 0)] + [(padding, padding)] * dims)
    c_out, c_in_g = weight.shape[:2]
    span = [dilation * (k - 1) + 1 for k in weight.shape[2:]]
    windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=tuple(range(1, dims + 1)))
    windows = windows[(slice(None),) + tuple(slice(None, None, stride) for _ in range(dims))]
    windows = windows[(Ellipsis,) + tuple(slice(None, None, dilation) for _ in range(dims))]
    out = []
    for co in range(c_out):
        g = co // (c_out // groups)
        part = windows[g * c_in_g:(g + 1) * c_in_g]
        axes = (0,) + tuple(range(dims + 1, 2 * dims + 1))
        out.append(np.tensordot(part, weight[co], axes=(axes, tuple(range(dims + 1)))) + (bias[co] if bias is not None else 0))
    return np.stack(out)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, groups", [
    ((2, 7, 6), (3, 3), 1, 0, 1, 1), ((2, 8, 8), (3, 2), 2, 1, 1, 2), ((1, 9, 9), (3, 3), 1, 2, 2, 1),
    ((3, 10), (3,), 1, 1, 1, 1), ((4, 11), (2,), 3, 0, 1, 2),
])
def test_conv_unrolling_matches_a_direct_convolution(shape, kernel, stride, padding, dilation, groups):
    c_out = 4
    weight = RNG.normal(size=(c_out, shape[0] // groups, *kernel))
    bias = RNG.normal(size=c_out)
    matrix, b, out_shape = nir_front.unroll_conv(weight, bias, shape, stride=stride, padding=padding,
                                                 dilation=dilation, groups=groups)
    for _ in range(3):
        x = RNG.normal(size=shape)
        expected = _reference_conv(x, weight, bias, stride, padding, dilation, groups)
        assert expected.shape == out_shape
        np.testing.assert_allclose(x.reshape(-1) @ matrix + b, expected.reshape(-1), atol=1e-12)


def test_nir_conv_pool_graph_forward_and_sparse_mapping(tmp_path):
    from subtile.network import mapper, quantize
    w = RNG.normal(0, 0.5, (3, 1, 3, 3))
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
             "conv": nir.Conv2d(input_shape=(8, 8), weight=w, stride=1, padding=1, dilation=1, groups=1, bias=np.full(3, 0.1)),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}),
             "li": nir.LI(tau=np.full(48, 1.0), r=np.ones(48), v_leak=np.zeros(48), metadata={"activation": "tanh"}),
             "output": nir.Output(output_type={"output": np.array([48])})}
    edges = [("input", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "li"), ("li", "output")]
    nir.write(str(tmp_path / "c.nir"), nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1.0}, type_check=False))
    graph = nir_front.load(tmp_path / "c.nir")
    x = RNG.uniform(0, 1, (5, 64))
    conv = np.stack([_reference_conv(s.reshape(1, 8, 8), w, np.full(3, 0.1), 1, 1, 1, 1) for s in x])
    pooled = conv.reshape(5, 3, 4, 2, 4, 2).sum(axis=(3, 5)).reshape(5, -1)
    np.testing.assert_allclose(graph.forward(x), np.tanh(pooled), atol=1e-12)
    assert any("Conv2d unrolled into a sparse 64 x 192 Affine" in n for n in graph.all_notes())
    m = mapper.map_network(quantize.quantize(graph, 8), mapper.MapOptions(neurons=4))
    fan_ins = [int(m.contents[p.tile][1].valid.sum()) for p in m.parts[0]]
    # A tile holds one pooled row of one channel: image rows 0..2 (with the halo), 24 pixels, plus the bias.
    assert len(fan_ins) == 12 and fan_ins[0] == 25 and max(fan_ins) <= 33


def test_onnx_final_softmax_is_dropped_with_a_note(tmp_path):
    path = _onnx(tmp_path / "m.onnx", "relu", "tanh")
    model = onnx.load(str(path))
    graph = model.graph
    graph.node[-1].output[0] = "t"
    graph.node.append(helper.make_node("Softmax", ["t"], ["y"], name="softmax", axis=-1))
    onnx.save(model, str(path))
    imported = onnx_front.load(path)
    assert any("Softmax softmax at the output dropped" in n for n in imported.all_notes())
    x = RNG.normal(0, 1.5, (64, 5)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert np.array_equal(imported.forward(x).argmax(1), expected.argmax(1))
