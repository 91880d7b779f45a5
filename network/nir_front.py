"""The NIR front end (the ``nir`` package): graphs as Lava, Rockpool, Sinabs, snnTorch or Norse write them.

A chain from ``Input`` to ``Output`` of ``Affine``, ``Linear``, ``Scale``, ``Flatten``, ``Conv1d``,
``Conv2d``, ``SumPool2d`` and ``AvgPool2d`` nodes (convolutions and pooling unrolled into sparse
Affine matrices: the mapper maps each tile's real fan-in only), each group of them closed by a
graded neuron node, which becomes one tile layer:

* ``LI`` (tau, r, v_leak): the tile's membrane at steady state is ``v = r * (W x + b) + v_leak``,
  so r and v_leak fold into the weights and the bias; the time constant maps to the leak shift k
  with ``tau = 2**k dt`` (k = round(log2(tau / dt)), the approximation reported when tau / dt is
  not a power of two). dt comes from the graph's metadata ``dt`` (else 1: tau in steps).
* ``CubaLI``: as LI with ``r * w_in`` and tau_mem; the synaptic filter tau_syn is not modelled
  (it delays, the steady state is the same; reported).
* ``I`` (integrator): the tile's membrane always has a steady state; mapped as a leaky
  integrator with tau = dt (k = 0) and r folded in (reported).

NIR neurons are linear; the tile's graded read-out is a soma function, taken from the neuron
node's metadata ``activation`` (a function name or table, e.g. ``{"activation": "sigmoid"}``;
default tanh, reported). Spiking nodes (LIF, CubaLIF, IF, Threshold) are refused with a line
naming the node: the tile is graded. Consecutive linear nodes compose exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.network.graph import Graph, Layer

__all__ = ["load", "leak_shift", "unroll_conv"]

SPIKING = ("LIF", "CubaLIF", "IF", "Threshold")
LINEAR = ("Affine", "Linear", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d")


def _pair(value, dims):
    value = np.asarray(value).reshape(-1)
    return tuple(int(v) for v in (np.repeat(value, dims) if value.size == 1 else value))


def unroll_conv(weight, bias, in_shape, *, stride=1, padding=0, dilation=1, groups=1):
    """A convolution (PyTorch semantics, 1 or 2 spatial dimensions) as a sparse dense matrix.

    Parameters
    ----------
    weight : ndarray, shape (C_out, C_in / groups, *kernel)
    bias : ndarray, shape (C_out,) or None
    in_shape : tuple
        (C_in, *spatial) of the input, flattened in C order.
    padding : int, tuple, "same" or "valid"

    Returns
    -------
    (matrix (inputs, outputs), bias (outputs,), out_shape (C_out, *spatial'))
    """
    weight = np.asarray(weight, dtype=np.float64)
    dims = weight.ndim - 2
    c_out, c_in_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    if len(spatial) != dims or c_in != c_in_group * groups or c_out % groups:
        raise ValueError(f"input of shape {tuple(in_shape)} does not fit weights {weight.shape} with groups = {groups}")
    stride, dilation = _pair(stride, dims), _pair(dilation, dims)
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0,) * dims
        else:        # "same" (stride 1): PyTorch puts the extra pad on the right
            pad = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
    else:
        pad = _pair(padding, dims)
    out_spatial = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(spatial, pad, dilation, kernel, stride))
    if isinstance(padding, str) and padding == "same":
        out_spatial = spatial
    if min(out_spatial) < 1:
        raise ValueError(f"the kernel {kernel} does not fit the input {spatial}")
    inputs, outputs = int(np.prod(in_shape)), c_out * int(np.prod(out_spatial))
    matrix = np.zeros((inputs, outputs))
    per_group = c_out // groups
    out_index = np.arange(outputs).reshape((c_out, *out_spatial))
    in_index = np.arange(inputs).reshape(in_shape)
    for co in range(c_out):
        g = co // per_group
        for ci_local in range(c_in_group):
            ci = g * c_in_group + ci_local
            for offset in np.ndindex(*kernel):
                w = weight[(co, ci_local, *offset)]
                if w == 0:
                    continue
                for o in np.ndindex(*out_spatial):
                    pos = tuple(oi * s - p + k * d for oi, s, p, k, d in zip(o, stride, pad, offset, dilation))
                    if all(0 <= q < n for q, n in zip(pos, spatial)):
                        matrix[in_index[(ci, *pos)], out_index[(co, *o)]] += w
    b = np.zeros(outputs) if bias is None else np.repeat(np.asarray(bias, dtype=np.float64).reshape(-1), int(np.prod(out_spatial)))
    return matrix, b, (c_out, *out_spatial)
NEURONS = ("LI", "CubaLI", "I")


def leak_shift(tau: float, dt: float, *, where: str) -> tuple[int, str | None]:
    """k with tau ~ 2**k dt, and a note when that is not exact."""
    ratio = float(tau) / float(dt)
    if not ratio > 0 or not math.isfinite(ratio):
        raise ConfigError(f"{where}: tau / dt = {ratio} must be positive")
    k = min(15, max(0, round(math.log2(ratio))))
    exact = 2.0 ** k
    if abs(exact - ratio) <= 1e-9 * ratio:
        return k, None
    return k, (f"tau / dt = {ratio:g} is not a power of two: leak shift k = {k} (tau = {exact:g} dt, "
               f"{100 * abs(exact - ratio) / ratio:.0f} % off)")


def _uniform(values, name, where):
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size and not np.allclose(values, values[0]):
        raise ConfigError(f"{where}: {name} differs between neurons; a tile has one leak for all its neurons")
    return float(values[0]) if values.size else 1.0


def load(path: str | Path, *, dt: float | None = None) -> Graph:
    """The :class:`Graph` of the NIR file ``path`` (written by ``nir.write``)."""
    import nir
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"model: {path} does not exist")
    try:
        graph = nir.read(str(path), type_check=False)      # shapes are checked along the chain below
    except Exception as error:             # h5py and nir raise several types for a broken file
        raise ConfigError(f"model: {path} is not a readable NIR graph ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''})") from None
    nodes = graph.nodes
    succ, pred = {}, {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    starts = [n for n, node in nodes.items() if type(node).__name__ == "Input"]
    if len(starts) != 1:
        raise ConfigError(f"model: {len(starts)} Input nodes; one is supported")
    if dt is None:
        dt = graph.metadata.get("dt") if isinstance(graph.metadata, dict) else None
    notes = []
    if dt is None:
        dt = 1.0
        notes.append("no dt in the graph's metadata: tau is taken in steps (dt = 1)")
    start = starts[0]
    input_type = nodes[start].input_type
    shape = tuple(int(v) for v in np.asarray(next(iter(input_type.values()))).reshape(-1)) if input_type else None
    width = int(np.prod(shape)) if shape else None
    inputs, layers = width, []
    weight = bias = None
    name = start
    while True:
        following = succ.get(name, [])
        if len(following) != 1:
            raise ConfigError(f"node {name}: {len(following)} successors; only a chain Input -> ... -> Output is supported")
        name = following[0]
        if len(pred.get(name, [])) != 1:
            raise ConfigError(f"node {name}: {len(pred[name])} inputs; only a chain is supported (no recurrence or merges)")
        node = nodes[name]
        kind = type(node).__name__
        where = f"node {name} ({kind})"
        if kind == "Output":
            if weight is not None:
                raise ConfigError(f"{where}: reached after an Affine/Linear with no LI, CubaLI or I neuron after it; "
                                  "the tile's layers end in neurons")
            break
        if kind in SPIKING:
            raise ConfigError(f"{where}: spiking neurons cannot map: the tile is graded (it sends level changes, "
                              "not spikes); use LI, CubaLI or I")
        if kind == "Flatten":
            shape = (width,) if width is not None else None
            continue
        if kind in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
            if shape is None or len(shape) < 2:
                raise ConfigError(f"{where}: needs a (channels, *spatial) input shape; the Input node gives {shape}")
            try:
                if kind.startswith("Conv"):
                    if getattr(node, "input_shape", None) is not None and tuple(np.atleast_1d(node.input_shape)) != shape[1:]:
                        raise ValueError(f"input_shape {tuple(np.atleast_1d(node.input_shape))} but {shape[1:]} arrives")
                    m, b, out_shape = unroll_conv(node.weight, node.bias, shape, stride=node.stride, padding=node.padding,
                                                  dilation=node.dilation, groups=node.groups)
                else:
                    kernel = _pair(node.kernel_size, 2)
                    ones = np.full((shape[0], 1, *kernel), 1.0 if kind == "SumPool2d" else 1.0 / np.prod(kernel))
                    m, b, out_shape = unroll_conv(ones, None, shape, stride=node.stride, padding=node.padding,
                                                  groups=shape[0])
            except ValueError as error:
                raise ConfigError(f"{where}: {error}") from None
            if weight is None:
                weight, bias = m, b
            else:
                weight, bias = weight @ m, bias @ m + b
            shape, width = out_shape, m.shape[1]
            layers_note = f"{name}: {kind} unrolled into a sparse {m.shape[0]} x {m.shape[1]} Affine " \
                          f"({100 * np.count_nonzero(m) / m.size:.1f} % non-zero)"
            notes.append(layers_note)
            continue
        if kind in ("Affine", "Linear"):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2:
                raise ConfigError(f"{where}: weight must be a matrix (out, in), got shape {w.shape}")
            b = np.asarray(node.bias, dtype=np.float64).reshape(-1) if kind == "Affine" else np.zeros(w.shape[0])
            if weight is None:
                if width is not None and w.shape[1] != width:
                    raise ConfigError(f"{where}: takes {w.shape[1]} inputs, {width} arrive")
                if inputs is None:
                    inputs = w.shape[1]
                weight, bias = w.T.copy(), b
            else:
                if w.shape[1] != weight.shape[1]:
                    raise ConfigError(f"{where}: takes {w.shape[1]} inputs, {weight.shape[1]} arrive")
                weight, bias = weight @ w.T, bias @ w.T + b
            shape, width = (w.shape[0],), w.shape[0]
            continue
        if kind == "Scale":
            s = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            if weight is None:
                n = width if width is not None else s.size
                weight, bias = np.eye(n), np.zeros(n)
            weight, bias = weight * s, bias * s
            continue
        if kind not in NEURONS:
            allowed = ", ".join(("Input", "Output", *LINEAR, *NEURONS))
            raise ConfigError(f"{where}: not supported; allowed: {allowed}")
        if weight is None:
            raise ConfigError(f"{where}: a neuron node needs an Affine or Linear before it")
        layer_notes = []
        n = weight.shape[1]
        if kind == "LI":
            r = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (n,))
            v_leak = np.broadcast_to(np.asarray(node.v_leak, dtype=np.float64), (n,))
            k, note = leak_shift(_uniform(node.tau, "tau", where), dt, where=where)
        elif kind == "CubaLI":
            r = np.broadcast_to(np.asarray(node.r, dtype=np.float64) * np.asarray(node.w_in, dtype=np.float64), (n,))
            v_leak = np.broadcast_to(np.asarray(node.v_leak, dtype=np.float64), (n,))
            k, note = leak_shift(_uniform(node.tau_mem, "tau_mem", where), dt, where=where)
            layer_notes.append(f"{name}: the synaptic filter tau_syn is not modelled (it delays; the steady state "
                               "is the same)")
        else:
            r = np.broadcast_to(np.asarray(node.r, dtype=np.float64), (n,))
            v_leak = np.zeros(n)
            k, note = 0, (f"{name}: integrator mapped as a leaky integrator with tau = dt (leak shift 0); "
                          "the float reference is its steady state")
        if note:
            layer_notes.append(f"{name}: {note}" if not note.startswith(name) else note)
        metadata = node.metadata if isinstance(node.metadata, dict) else {}
        activation = metadata.get("activation")
        if activation is None:
            activation = "tanh"
            layer_notes.append(f"{name}: no 'activation' in the node's metadata: the soma is tanh")
        elif isinstance(activation, bytes):
            activation = activation.decode()
        layers.append(Layer(name, weight * r, bias=bias * r + v_leak, activation=activation, leak_shift=k,
                            notes=layer_notes))
        weight = bias = None
        width, shape = n, (shape if shape is not None and int(np.prod(shape)) == n else (n,))
    if not layers:
        raise ConfigError("model: no neuron layer between Input and Output")
    return Graph(path.stem, layers[0].inputs, layers, notes)
