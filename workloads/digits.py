"""Handwritten digits on a 2-tile mesh: data, training, quantization, mapping and the golden run.

The workload of issue 8. scikit-learn's bundled 8x8 digits (1,797 images, shipped inside the
package: nothing is downloaded) are split once with a fixed seed. A small dendritic network is
trained in NumPy with exactly the structure the tiles compute at steady state
(docs/architecture.md), so that quantization is the only difference between the float model and
the hardware:

* hidden tile (tile 0): 64 pixel inputs, one dendritic branch per image quadrant (4 branches of
  16 pixels), ``h_n = tanh(sum_b tanh(sum_s W1[b, s, n] x[b, s]))``;
* output tile (tile 1): the H hidden neurons as inputs, one identity branch,
  ``y_k = tanh(sum_j W2[j, k] h_j)``; the class is ``argmax_k y_k``.

Neither tile has a bias (the architecture has none). Pixels (0..16) enter as payload codes
``x = pixel / 16`` (exact in the payload format: code ``PIXEL_CODE * pixel``), as one sigma-delta event per non-zero pixel
at the first step of the image: a blank pixel sends nothing, and a quadrant without ink leaves
its branch's accumulators gated. Hidden neurons reach the output tile through the axon table
(hidden neuron j -> tile 1, address j) as graded delta events.

The network is a built-in model of :mod:`subtile.network` (:func:`graph`): it is quantized,
mapped onto a 2 x 1 mesh and run (golden, batched; RTL) by the same code as any imported model
(:func:`mapped`, :mod:`subtile.workloads.digits_rtl`). The mapper gives exactly the hand-made
layout (tile (0, 0): one branch per quadrant, slot = pixel in quadrant; tile (1, 0): the
outputs; hidden neuron j -> output address j), and the run plays the program described in
:mod:`subtile.network.run`: the pixel codes at step 0, ``steps`` steps, the read-out, then the
negative codes and idle steps until the mesh is quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subtile.errors import ConfigError
from subtile.network import quantize as network_quantize
from subtile.network.graph import Graph, Layer
from subtile.network.mapper import MapOptions, MappedNetwork, map_network
from subtile.spec.config import MeshConfig
from subtile.spec.fixed import FixedFormat

__all__ = ["DigitsSpec", "DigitsNetwork", "load_digits_split", "train", "quantize", "graph", "mapped",
           "float_predict", "quantized_predict"]

PAYLOAD_FORMAT = FixedFormat(8, 2)         # LSB 1/64: pixel / 16 in 0..1 is exact
#: Payload code of one pixel unit (1/16): a pixel p enters as the code PIXEL_CODE * p.
PIXEL_CODE = round(1 / 16 / PAYLOAD_FORMAT.lsb)
INTERNAL_FORMAT = FixedFormat(12, 5)       # dendrite and membrane formats of both tiles
QUADRANTS = 4
PIXELS = 64


@dataclass(frozen=True)
class DigitsSpec:
    """The workload's parameters (validated: a ConfigError names the bad one).

    Parameters
    ----------
    hidden : int
        Hidden neurons, 2..64.
    weight_bits : int
        Width of both layers' weight formats, 2..16 (integer bits chosen per layer).
    steps : int
        T, time steps per image before the read-out, 2..64.
    delta : int
        Event threshold of both tiles in payload LSBs.
    leak_shift : int
        k of both tiles, 0..6.
    seed : int
        Seed of the split and of the initial weights.
    epochs : int
        Full-batch training iterations.
    max_rest : int
        At most this many idle steps after an image's negative deltas.
    """

    hidden: int = 24
    weight_bits: int = 8
    steps: int = 8
    delta: int = 1
    leak_shift: int = 1
    seed: int = 0
    epochs: int = 600
    max_rest: int = 64

    def __post_init__(self):
        for name, lo, hi in (("hidden", 2, 64), ("weight_bits", 2, 16), ("steps", 2, 64),
                             ("delta", 0, PAYLOAD_FORMAT.max_code), ("leak_shift", 0, 6),
                             ("seed", 0, 2**32 - 1), ("epochs", 1, 100_000), ("max_rest", 1, 4096)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
            if not lo <= value <= hi:
                raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")


def load_digits_split(seed: int = 0, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test, pixels_test): x = pixel / 16 in image-row order,
    ``pixels_test`` the integer pixels 0..16. A fixed, seeded, stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    data = load_digits()
    pixels = data.images.reshape(-1, PIXELS).astype(np.int64)
    p_train, p_test, y_train, y_test = train_test_split(pixels, data.target, test_size=test_fraction,
                                                        random_state=seed, stratify=data.target)
    return p_train / 16.0, y_train.astype(np.int64), p_test / 16.0, y_test.astype(np.int64), p_test


def quadrant_slots() -> tuple[np.ndarray, np.ndarray]:
    """Branch (quadrant) and slot (pixel within the 4x4 quadrant) of each of the 64 pixels."""
    row, col = np.divmod(np.arange(PIXELS), 8)
    branch = (row // 4) * 2 + col // 4
    slot = (row % 4) * 4 + col % 4
    return branch, slot


@dataclass
class DigitsNetwork:
    """Float weights: ``w1[b, s, n]`` (quadrant, pixel in quadrant, hidden neuron), ``w2[j, k]``."""

    w1: np.ndarray
    w2: np.ndarray

    @property
    def hidden(self) -> int:
        return self.w1.shape[2]


def _branch_inputs(x: np.ndarray) -> np.ndarray:
    """(samples, 64) -> (samples, 4, 16) in (quadrant, slot) order."""
    branch, slot = quadrant_slots()
    out = np.zeros((x.shape[0], QUADRANTS, 16))
    out[:, branch, slot] = x
    return out


def _forward(net: DigitsNetwork, xb: np.ndarray):
    a = np.einsum("ebs,bsn->ebn", xb, net.w1)
    d = np.tanh(a)
    h = np.tanh(d.sum(axis=1))
    y = np.tanh(h @ net.w2)
    return a, d, h, y


#: Softmax sharpness applied to the tanh outputs during training (the tiles read tanh outputs).
LOGIT_SCALE = 5.0


def train(x: np.ndarray, labels: np.ndarray, *, hidden: int, seed: int = 0, epochs: int = 600,
          rate: float = 0.01) -> DigitsNetwork:
    """Full-batch Adam on softmax cross-entropy of ``LOGIT_SCALE * y``; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    net = DigitsNetwork(rng.normal(0, 1 / 4, size=(QUADRANTS, 16, hidden)),
                        rng.normal(0, 1 / np.sqrt(hidden), size=(hidden, 10)))
    xb = _branch_inputs(x)
    onehot = np.eye(10)[labels]
    params = [net.w1, net.w2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, epochs + 1):
        a, d, h, y = _forward(net, xb)
        z = LOGIT_SCALE * y
        z = z - z.max(axis=1, keepdims=True)
        prob = np.exp(z)
        prob /= prob.sum(axis=1, keepdims=True)
        gz = (prob - onehot) / len(x)
        gy = gz * LOGIT_SCALE * (1 - y * y)
        g2 = h.T @ gy
        gh = gy @ net.w2.T * (1 - h * h)
        gd = gh[:, None, :] * (1 - d * d)
        g1 = np.einsum("ebs,ebn->bsn", xb, gd)
        for p, g, mi, vi in zip(params, (g1, g2), m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * g * g
            p -= rate * (mi / (1 - 0.9**t)) / (np.sqrt(vi / (1 - 0.999**t)) + 1e-8)
    return net


def float_predict(net: DigitsNetwork, x: np.ndarray) -> np.ndarray:
    return _forward(net, _branch_inputs(x))[3].argmax(axis=1)


def weight_format(weights: np.ndarray, bits: int) -> FixedFormat:
    """fixed<bits, I> of one layer with the least squared error (:func:`subtile.network.quantize.weight_format`)."""
    return network_quantize.weight_format(weights, bits)


@dataclass
class QuantizedNetwork:
    """Weight codes and their formats: ``w1[b, s, n]``, ``w2[j, k]``."""

    w1: np.ndarray
    w2: np.ndarray
    format1: FixedFormat
    format2: FixedFormat

    @property
    def hidden(self) -> int:
        return self.w1.shape[2]


def quantize(net: DigitsNetwork, bits: int) -> QuantizedNetwork:
    """Round each layer's weights to the nearest code of its own fixed<bits, I> (saturating)."""
    out = []
    for w in (net.w1, net.w2):
        fmt = weight_format(w, bits)
        out.append((np.clip(np.round(w / fmt.lsb), fmt.min_code, fmt.max_code).astype(np.int64), fmt))
    return QuantizedNetwork(out[0][0], out[1][0], out[0][1], out[1][1])


def graph(net: DigitsNetwork) -> Graph:
    """The network as a :class:`subtile.network.graph.Graph`: the hidden layer's inputs grouped by
    quadrant (tanh branches), the output layer one identity branch; no biases."""
    branch, slot = quadrant_slots()
    weight = net.w1[branch, slot]                                  # (64 pixels, hidden)
    return Graph("digits", PIXELS, [
        Layer("hidden", weight, activation="tanh", branch=branch, branch_activation="tanh"),
        Layer("output", net.w2, activation="tanh")])


def mapped(net: DigitsNetwork, spec: DigitsSpec) -> tuple[network_quantize.QuantizedNetwork, MappedNetwork]:
    """Quantized (``spec.weight_bits``, ``leak_shift``, ``delta``) and mapped onto the 2 x 1 mesh."""
    q = network_quantize.quantize(graph(net), spec.weight_bits, leak_shift=spec.leak_shift, delta=spec.delta,
                                  payload_format=PAYLOAD_FORMAT, internal_format=INTERNAL_FORMAT)
    return q, map_network(q, MapOptions(neurons=64))


def quantized_predict(q: QuantizedNetwork, config: MeshConfig, pixels: np.ndarray) -> np.ndarray:
    """The converged output codes ``y`` (images, 10) of the quantized network, evaluated directly
    layer by layer with the tile's rounding (fixed points of the leak, delta = 0/1), with the tile
    formats of ``config`` (tile 0 hidden, tile 1 output, as :func:`mapped` places them): the
    reference the mesh must reach with ``leak_shift = 0`` and enough steps."""
    from subtile.spec.fixed import Overflow, Rounding, resize
    from subtile.golden.tile import _activation_table
    ne, sat = Rounding.NEAREST_EVEN, Overflow.SATURATE

    def layer(cfg, inputs, weights_bsn):
        acc = np.einsum("ebs,bsn->enb", inputs, weights_bsn)
        a = resize(acc, cfg.accumulator_frac_bits, cfg.dendrite_format, ne, sat)
        if cfg.branch_spec is not None:
            a = _activation_table(cfg.branch_spec)[a - cfg.dendrite_format.min_code]
        u = resize(a.sum(axis=2), cfg.dendrite_format.frac_bits, cfg.membrane_format, ne, sat)
        return _activation_table(cfg.soma_spec)[u - cfg.membrane_format.min_code]

    hidden, output = config.tile_config(0), config.tile_config(1)
    codes = pixels * PIXEL_CODE                                    # payload code of pixel / 16
    h = layer(hidden, _branch_inputs(codes.astype(np.float64)).astype(np.int64), q.w1)
    return layer(output, h[:, None, :], q.w2[None, :, :])
