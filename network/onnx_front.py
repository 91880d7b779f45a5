"""The ONNX front end: MLP graphs as PyTorch and Keras export them.

Accepted: one graph input (samples x features; Flatten, Reshape, Identity and Dropout on the way
are pass-through), ``Gemm`` or ``MatMul`` (+ ``Add``) with constant weights, and between two of
them an elementwise function of the layer's pre-activation built from ``Tanh``, ``Sigmoid``,
``Softplus``, ``Relu``, ``HardSigmoid``, ``Gelu``, ``Erf``, ``Mul``, ``Add``, ``Sub``, ``Div``
and ``Sqrt`` (so Gelu's erf form ``0.5 x (1 + erf(x / sqrt 2))`` and Swish ``x * Sigmoid(beta x)``
come as the exporters write them). A constant scale or offset applied to a pre-activation that
nothing else reads is folded into the weights. Each elementwise function is identified
*numerically*: it is evaluated on a probe range and compared with the tile's functions
(:data:`subtile.spec.activation.FUNCTIONS`; Swish's beta is fitted), so any arrangement of the
nodes that computes one of them is accepted and anything else is refused by name. A final
``Softmax``/``LogSoftmax`` is dropped (argmax is unchanged; noted). Everything else is refused
with one line naming the node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.network.graph import Graph, Layer
from subtile.spec.activation import FUNCTIONS
from subtile.spec.config import ActivationChoice

__all__ = ["load", "identify"]

PROBE = np.linspace(-8.0, 8.0, 641)
TOLERANCE = 1e-4
_UNARY = {
    "Tanh": np.tanh,
    "Sigmoid": lambda z: FUNCTIONS["sigmoid"].real(z, 1.0),
    "Relu": lambda z: np.maximum(z, 0.0),
    "Softplus": lambda z: np.logaddexp(0.0, z),
    "Erf": lambda z: np.vectorize(__import__("math").erf, otypes=[np.float64])(z),
    "Sqrt": np.sqrt,
}
_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
_PASS = {"Identity", "Dropout", "Flatten", "Reshape"}
SUPPORTED = sorted({"Gemm", "MatMul", "HardSigmoid", "Gelu", "Softmax", "LogSoftmax", *_UNARY, *_BINARY, *_PASS})


def identify(f, *, where: str) -> ActivationChoice | None:
    """The tile function that ``f`` (elementwise, on the probe) computes; None for the identity.

    Raises a one-line ConfigError naming ``where`` if it is none of them."""
    with np.errstate(all="ignore"):
        got = np.asarray(f(PROBE[:, None]), dtype=np.float64)
    if got.ndim == 2 and got.shape[1] > 1 and not np.allclose(got, got[:, :1], atol=TOLERANCE):
        raise ConfigError(f"{where}: the elementwise function differs between outputs (a per-output "
                          "scale or offset after the activation); it cannot map onto one soma")
    got = got.reshape(len(PROBE), -1)[:, 0]

    def close(ref):
        return np.all(np.abs(got - ref) <= TOLERANCE * (1 + np.abs(ref)))

    if close(PROBE):
        return None
    for name, function in FUNCTIONS.items():
        if name != "swish" and close(function.real(PROBE, 1.0)):
            return ActivationChoice(name)
    at_one = got[np.argmin(np.abs(PROBE - 1.0))]
    if 0 < at_one < 1:
        beta = float(np.log(at_one / (1 - at_one)))
        if 0 < beta <= 64 and close(FUNCTIONS["swish"].real(PROBE, beta)):
            return ActivationChoice("swish", beta=1.0 if abs(beta - 1) < 1e-6 else round(beta, 6))
    raise ConfigError(f"{where}: the elementwise function is none of {', '.join(FUNCTIONS)} "
                      "(HardSigmoid must have alpha 1/6, beta 0.5, as PyTorch exports it)")


class _Pre:
    """A layer being built: z = x @ weight + bias, from the boundary ``source``."""

    def __init__(self, name, weight, bias, source):
        self.name, self.weight, self.bias, self.source = name, weight, bias, source


class _Elem:
    """An elementwise function ``f`` of the pre-activation of ``pre``."""

    def __init__(self, pre, f):
        self.pre, self.f = pre, f


class _Boundary:
    """The output of layer ``index`` (-1: the graph input), optionally under a dropped softmax."""

    def __init__(self, index, softmax=None):
        self.index, self.softmax = index, softmax


def load(path: str | Path) -> Graph:
    """The :class:`Graph` of the ONNX file ``path`` (checked with ``onnx.checker``)."""
    import onnx
    from onnx import numpy_helper
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"model: {path} does not exist")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as error:            # onnx raises several types for a broken file
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model: {path} is not a valid ONNX model ({text})") from None
    g = model.graph
    consts = {init.name: numpy_helper.to_array(init).astype(np.float64) for init in g.initializer}
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise ConfigError(f"model: {len(inputs)} graph inputs ({', '.join(i.name for i in inputs)}); one is supported")
    if len(g.output) != 1:
        raise ConfigError(f"model: {len(g.output)} graph outputs; one is supported")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
    consumers = {}
    for node in g.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    values = {inputs[0].name: _Boundary(-1)}
    layers, notes = [], []

    def where(node):
        return f"node {node.name or node.output[0]} ({node.op_type})"

    def boundary(value, node) -> _Boundary:
        """``value`` as a layer output; closes the layer being built."""
        if isinstance(value, _Boundary):
            if value.softmax:
                raise ConfigError(f"{where(node)}: reads the output of {value.softmax}, which is only allowed at the graph output")
            return value
        if isinstance(value, _Pre):
            value = _Elem(value, lambda z: z)
        if not isinstance(value, _Elem):
            raise ConfigError(f"{where(node)}: a constant where a layer input is expected")
        pre = value.pre
        choice = identify(value.f, where=f"layer {pre.name}")
        if choice is None:
            raise ConfigError(f"layer {pre.name}: no activation after it; the tile's soma needs one of "
                              f"{', '.join(FUNCTIONS)} (for a classifier, add Tanh or Sigmoid)")
        if pre.source.index != len(layers) - 1:
            raise ConfigError(f"layer {pre.name}: reads layer {pre.source.index}'s output, not the previous layer's "
                              "(only chains of layers are supported)")
        layers.append(Layer(pre.name, pre.weight, bias=pre.bias, activation=choice))
        return _Boundary(len(layers) - 1)

    def get(name, node):
        if name in values:
            return values[name]
        if name in consts:
            return consts[name]
        raise ConfigError(f"{where(node)}: input {name!r} is not produced by an earlier node")

    for node in g.node:
        op, attrs = node.op_type, {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        args = [get(n, node) if n else None for n in node.input]
        out = node.output[0]
        name = node.name or out
        if op == "Constant":
            values[out] = numpy_helper.to_array(attrs["value"]).astype(np.float64) if "value" in attrs else None
            if values[out] is None:
                raise ConfigError(f"{where(node)}: only tensor constants are supported")
            consts[out] = values.pop(out)
        elif op in _PASS:
            if isinstance(args[0], _Boundary) and args[0].index == -1 and op in ("Flatten", "Reshape"):
                values[out] = args[0]
            elif op in ("Identity", "Dropout"):
                values[out] = args[0]
            else:
                raise ConfigError(f"{where(node)}: only on the graph input (a network of dense layers)")
        elif op in ("Gemm", "MatMul"):
            a, b = args[0], args[1]
            if not isinstance(b, np.ndarray):
                raise ConfigError(f"{where(node)}: the weight (second input) must be a constant initializer")
            if op == "Gemm":
                if attrs.get("transA", 0):
                    raise ConfigError(f"{where(node)}: transA = 1 is not supported")
                weight = attrs.get("alpha", 1.0) * (b.T if attrs.get("transB", 0) else b)
                c = args[2] if len(args) > 2 and args[2] is not None else np.zeros(weight.shape[1])
                if not isinstance(c, np.ndarray):
                    raise ConfigError(f"{where(node)}: the bias (third input) must be a constant")
                bias = attrs.get("beta", 1.0) * np.broadcast_to(c, (1, weight.shape[1])).reshape(-1)
            else:
                if b.ndim != 2:
                    raise ConfigError(f"{where(node)}: the weight must be a matrix, got shape {b.shape}")
                weight, bias = b, np.zeros(b.shape[1])
            source = boundary(a, node)
            values[out] = _Pre(name, weight.copy(), bias.copy(), source)
        elif op in _BINARY:
            x, y = args
            pre = x if isinstance(x, (_Pre, _Elem)) else y
            other = y if pre is x else x
            if not isinstance(pre, (_Pre, _Elem)):
                raise ConfigError(f"{where(node)}: needs a layer's pre-activation or its function as an input")
            fold = isinstance(pre, _Pre) and isinstance(other, np.ndarray) and consumers.get(node.input[0 if pre is x else 1], 0) == 1
            if fold and op in ("Add", "Sub") and (pre is x or op == "Add"):
                c = np.broadcast_to(other, (1, pre.weight.shape[1])).reshape(-1)
                values[out] = _Pre(pre.name, pre.weight, pre.bias + (c if op == "Add" else -c), pre.source)
            elif fold and op in ("Mul", "Div") and (pre is x or op == "Mul"):
                c = np.broadcast_to(other, (1, pre.weight.shape[1])).reshape(-1)
                c = c if op == "Mul" else 1.0 / c
                values[out] = _Pre(pre.name, pre.weight * c, pre.bias * c, pre.source)
            else:
                base = pre if isinstance(pre, _Pre) else pre.pre
                fx = _lift(x, base, node, where)
                fy = _lift(y, base, node, where)
                fn = _BINARY[op]
                values[out] = _Elem(base, lambda z, fx=fx, fy=fy, fn=fn: fn(fx(z), fy(z)))
        elif op in _UNARY or op in ("HardSigmoid", "Gelu"):
            value = args[0]
            if not isinstance(value, (_Pre, _Elem)):
                raise ConfigError(f"{where(node)}: must follow a Gemm or MatMul (+ Add)")
            base = value if isinstance(value, _Pre) else value.pre
            inner = _lift(value, base, node, where)
            if op == "HardSigmoid":
                alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
                fn = lambda t, a=alpha, b=beta: np.clip(a * t + b, 0.0, 1.0)
            elif op == "Gelu":
                if attrs.get("approximate", "none") not in ("none", b"none"):
                    raise ConfigError(f"{where(node)}: approximate = tanh is not supported; the tile's GELU is the erf form")
                fn = lambda t: FUNCTIONS["gelu"].real(t, 1.0)
            else:
                fn = _UNARY[op]
            values[out] = _Elem(base, lambda z, inner=inner, fn=fn: fn(inner(z)))
        elif op in ("Softmax", "LogSoftmax"):
            values[out] = _Boundary(boundary(args[0], node).index, softmax=f"{op} {name}")
            notes.append(f"{op} {name} at the output dropped: argmax (the class) is unchanged; the outputs "
                         "compared are its input")
        else:
            raise ConfigError(f"{where(node)}: not supported; allowed: {', '.join(SUPPORTED)}")
    final = g.output[0].name
    if final not in values:
        raise ConfigError(f"model: the graph output {final!r} is a constant")
    last = values[final]

    class _Out:
        name, op_type, output = final, "output", [final]

    boundary(last, _Out) if not isinstance(last, _Boundary) else None
    if not layers:
        raise ConfigError("model: no Gemm or MatMul layer")
    features = dims[-1] if dims and dims[-1] else layers[0].inputs
    if features != layers[0].inputs:
        raise ConfigError(f"model: the input has {features} features, the first layer takes {layers[0].inputs}")
    graph_name = g.name if g.name and g.name not in ("main_graph", "torch_jit", "tf2onnx") else path.stem
    return Graph(graph_name, layers[0].inputs, layers, notes)


def _lift(value, base, node, where):
    """A callable z -> value for an operand of an elementwise node on ``base``'s pre-activation."""
    if isinstance(value, np.ndarray):
        return lambda z, c=value: c
    if isinstance(value, _Pre):
        if value is not base:
            raise ConfigError(f"{where(node)}: combines two different layers' values")
        return lambda z: z
    if isinstance(value, _Elem):
        if value.pre is not base:
            raise ConfigError(f"{where(node)}: combines two different layers' values")
        return value.f
    raise ConfigError(f"{where(node)}: reads a layer output where an elementwise operand is expected")
