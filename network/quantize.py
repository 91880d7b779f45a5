"""Per-layer quantization: weight codes in a ``fixed<bits, I>`` chosen per layer.

The integer bits I of each layer's weight format are those with the smallest squared error of the
rounded, saturated weights and biases together (as the digits workload chooses them: at few bits,
clipping the largest weights beats a coarse step that holds them). A bias is a weight on a held
input of level :func:`bias_level` (docs: the tile has no bias; the mapper gives it an input
address that is set once, by one event, and held), so it shares its layer's format. The report
counts the weights that saturate and those that round to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from subtile.errors import ConfigError
from subtile.network.graph import Graph, Layer
from subtile.spec.fixed import FixedFormat

__all__ = ["QuantizedLayer", "QuantizedNetwork", "weight_format", "quantize", "bias_level", "encode_inputs"]

PAYLOAD_FORMAT = FixedFormat(8, 2)          # event payloads and levels: LSB 1/64, range [-2, 2)
INTERNAL_FORMAT = FixedFormat(12, 5)        # dendrite and membrane: LSB 1/128, range [-32, 32)


def weight_format(values: np.ndarray, bits: int) -> FixedFormat:
    """``fixed<bits, I>`` with the integer bits I (sign included) of least squared error for
    ``values`` rounded to the nearest code and saturated."""
    values = np.asarray(values, dtype=np.float64).ravel()
    best = None
    for integer in range(bits - 15, bits + 1):
        fmt = FixedFormat(bits, integer)
        codes = np.clip(np.round(values / fmt.lsb), fmt.min_code, fmt.max_code)
        error = float(((codes * fmt.lsb - values) ** 2).sum())
        if best is None or error < best[0]:
            best = (error, fmt)
    return best[1]


def bias_level(payload_format: FixedFormat) -> int:
    """Payload code of the held bias input: 1.0 if the format holds it, else its largest power of two."""
    code = 1 << payload_format.frac_bits
    while code > payload_format.max_code:
        code >>= 1
    return code


def encode_inputs(x: np.ndarray, payload_format: FixedFormat = PAYLOAD_FORMAT) -> tuple[np.ndarray, int]:
    """Input levels as payload codes (nearest, saturated) and how many saturated."""
    raw = np.round(np.asarray(x, dtype=np.float64) / payload_format.lsb)
    codes = np.clip(raw, payload_format.min_code, payload_format.max_code).astype(np.int64)
    return codes, int(np.count_nonzero(raw != codes))


@dataclass
class QuantizedLayer:
    """One layer's codes and formats.

    Attributes
    ----------
    layer : Layer
        The float layer.
    weight, bias : ndarray of int64
        Weight-format codes, shapes (inputs, outputs) and (outputs,) (bias None without one).
        The bias code multiplies the held level :func:`bias_level`.
    weight_format : FixedFormat
    saturated, zeroed, total : int
        Weights (biases included) clipped to the format's range; non-zero weights that round to
        code 0; all weights.
    leak_shift : int
    dendrite_format, membrane_format : FixedFormat
    """

    layer: Layer
    weight: np.ndarray
    bias: np.ndarray | None
    weight_format: FixedFormat
    saturated: int
    zeroed: int
    total: int
    leak_shift: int
    dendrite_format: FixedFormat = INTERNAL_FORMAT
    membrane_format: FixedFormat = INTERNAL_FORMAT

    @property
    def name(self) -> str:
        return self.layer.name

    def report(self) -> dict:
        return {"layer": self.name, "weight_format": str(self.weight_format), "weights": self.total,
                "saturated": self.saturated, "zeroed": self.zeroed, "leak_shift": self.leak_shift}


@dataclass
class QuantizedNetwork:
    """The graph with every layer quantized; ``delta`` and ``payload_format`` are shared by all tiles."""

    graph: Graph
    layers: list
    payload_format: FixedFormat = PAYLOAD_FORMAT
    delta: int = 1
    notes: list = field(default_factory=list)

    def report(self) -> list[dict]:
        return [layer.report() for layer in self.layers]


def quantize(graph: Graph, weight_bits: int = 8, *, leak_shift: int = 0, delta: int = 1,
             payload_format: FixedFormat = PAYLOAD_FORMAT, internal_format: FixedFormat = INTERNAL_FORMAT) -> QuantizedNetwork:
    """Quantize every layer of ``graph``.

    Parameters
    ----------
    weight_bits : int
        Width of every layer's weight format, 2..16 (integer bits chosen per layer).
    leak_shift : int
        k of layers that do not set their own (0..15).
    delta : int
        Event threshold of every tile, in payload LSBs.
    payload_format, internal_format : FixedFormat
        Payload format (all tiles) and the dendrite and membrane formats.
    """
    for name, value, lo, hi in (("weight-bits", weight_bits, 2, 16), ("leak-shift", leak_shift, 0, 15),
                                ("delta", delta, 0, payload_format.max_code)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ConfigError(f"{name}: {value!r} is outside the allowed range {lo}..{hi}")
    level = bias_level(payload_format) * payload_format.lsb
    layers = []
    for layer in graph.layers:
        values = layer.weight.ravel() if layer.bias is None else np.concatenate([layer.weight.ravel(), layer.bias / level])
        fmt = weight_format(values, weight_bits)
        raw = np.round(values / fmt.lsb)
        codes = np.clip(raw, fmt.min_code, fmt.max_code).astype(np.int64)
        saturated = int(np.count_nonzero(raw != codes))
        zeroed = int(np.count_nonzero((codes == 0) & (values != 0)))
        weight = codes[:layer.weight.size].reshape(layer.weight.shape)
        bias = None if layer.bias is None else codes[layer.weight.size:]
        layers.append(QuantizedLayer(layer, weight, bias, fmt, saturated, zeroed, int(values.size),
                                     leak_shift if layer.leak_shift is None else int(layer.leak_shift),
                                     internal_format, internal_format))
    return QuantizedNetwork(graph, layers, payload_format, delta)
