"""The internal network graph: a feed-forward chain of layers, each one tile computation.

Every front end (:mod:`~subtile.network.native`, :mod:`~subtile.network.onnx_front`,
:mod:`~subtile.network.nir_front`) produces a :class:`Graph`; quantization, the mapper and the
runs only see this form (as hls4ml does with its own layer graph). A layer is what a tile
computes at steady state (docs/architecture.md), per output neuron n::

    a_b[n] = sum_{i in branch b} x_i * W[i, n]   (+ bias[n] in branch 0)
    y[n]   = soma(sum_b branch_act(a_b[n]))

A plain MLP layer has one identity branch (``branch`` all zero); a dendritic layer groups its
inputs into branches with a branch activation (the digits quadrants are one example). The leak
``leak_shift`` k only sets how fast a layer's membrane follows its input (time constant 2**k
steps); the steady state does not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from subtile.errors import ConfigError
from subtile.spec.activation import FUNCTIONS
from subtile.spec.config import IDENTITY, ActivationChoice

__all__ = ["Layer", "Graph", "activation_choice"]


def activation_choice(value, *, name: str, allow_identity: bool = False) -> ActivationChoice:
    """An :class:`ActivationChoice` from a function name or table, or a one-line ConfigError."""
    choice = ActivationChoice.parse(value, name=name)
    if choice.is_identity and not allow_identity:
        raise ConfigError(f"{name}: 'identity' is not allowed (the tile's soma is one of "
                          f"{', '.join(FUNCTIONS)})")
    return choice


def _real(choice: ActivationChoice, x: np.ndarray) -> np.ndarray:
    if choice.is_identity:
        return x
    return FUNCTIONS[choice.function].real(x, choice.beta)


@dataclass
class Layer:
    """One layer of the graph (validated on creation).

    Parameters
    ----------
    name : str
        Names the layer in every report and refusal.
    weight : ndarray, shape (inputs, outputs)
        Float weights, ``y = f(x @ weight + bias)``.
    bias : ndarray, shape (outputs,), optional
        Float biases; the mapper gives each tile of the layer one held input for them.
    activation : ActivationChoice or str or dict
        The soma function (not identity).
    branch : ndarray of int, shape (inputs,), optional
        Dendritic branch of each input (default: all in branch 0).
    branch_activation : ActivationChoice or str or dict
        ``identity`` (default) or a function applied to each branch sum.
    leak_shift : int, optional
        The membrane's time constant 2**k steps; None takes the run's default.
    notes : list of str
        What the front end approximated (reported by ``subtile run``).
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray | None = None
    activation: ActivationChoice | str | dict = "tanh"
    branch: np.ndarray | None = None
    branch_activation: ActivationChoice | str | dict = IDENTITY
    leak_shift: int | None = None
    notes: list = field(default_factory=list)

    def __post_init__(self):
        where = f"layer {self.name}"
        weight = np.asarray(self.weight, dtype=np.float64)
        if weight.ndim != 2 or 0 in weight.shape:
            raise ConfigError(f"{where}: weight must be a non-empty (inputs, outputs) matrix, got shape {weight.shape}")
        if not np.isfinite(weight).all():
            raise ConfigError(f"{where}: weight holds a NaN or infinity")
        self.weight = weight
        if self.bias is not None:
            bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)
            if bias.shape != (weight.shape[1],):
                raise ConfigError(f"{where}: bias has {bias.size} values, expected one per output ({weight.shape[1]})")
            if not np.isfinite(bias).all():
                raise ConfigError(f"{where}: bias holds a NaN or infinity")
            self.bias = None if not bias.any() else bias
        self.activation = activation_choice(self.activation, name=f"{where}: activation")
        self.branch_activation = activation_choice(self.branch_activation, name=f"{where}: branch_activation",
                                                   allow_identity=True)
        branch = np.zeros(weight.shape[0], dtype=np.int64) if self.branch is None else np.asarray(self.branch)
        if branch.shape != (weight.shape[0],) or not np.issubdtype(branch.dtype, np.integer) or branch.min() < 0:
            raise ConfigError(f"{where}: branch must give a branch index >= 0 for each of the "
                              f"{weight.shape[0]} inputs")
        used = np.unique(branch)
        if not np.array_equal(used, np.arange(used.size)):
            raise ConfigError(f"{where}: branch indices must be 0..B-1 without gaps, got {used.tolist()}")
        self.branch = branch.astype(np.int64)
        if self.leak_shift is not None and (isinstance(self.leak_shift, bool) or not isinstance(self.leak_shift, (int, np.integer))
                                            or not 0 <= self.leak_shift <= 15):
            raise ConfigError(f"{where}: leak_shift {self.leak_shift!r} is outside the allowed range 0..15")

    @property
    def inputs(self) -> int:
        return self.weight.shape[0]

    @property
    def outputs(self) -> int:
        return self.weight.shape[1]

    @property
    def branches(self) -> int:
        return int(self.branch.max()) + 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The float layer on ``x`` (samples, inputs) -> (samples, outputs)."""
        x = np.asarray(x, dtype=np.float64)
        total = 0.0
        for b in range(self.branches):
            mask = self.branch == b
            a = x[:, mask] @ self.weight[mask]
            if b == 0 and self.bias is not None:
                a = a + self.bias
            total = total + _real(self.branch_activation, a)
        return _real(self.activation, total)


@dataclass
class Graph:
    """A feed-forward chain of layers.

    Parameters
    ----------
    name : str
    inputs : int
        Width of the input vector (``DATA.npz`` ``x`` has this many columns).
    layers : list of Layer
        In order; layer i + 1 takes layer i's outputs.
    notes : list of str
        Graph-level notes of the front end (approximations, dropped nodes).
    """

    name: str
    inputs: int
    layers: list
    notes: list = field(default_factory=list)

    def __post_init__(self):
        if not self.layers:
            raise ConfigError(f"network {self.name}: no layers")
        width = self.inputs
        names = set()
        for layer in self.layers:
            if layer.name in names:
                raise ConfigError(f"layer {layer.name}: the name is used twice")
            names.add(layer.name)
            if layer.inputs != width:
                raise ConfigError(f"layer {layer.name}: takes {layer.inputs} inputs, the previous layer gives {width}")
            width = layer.outputs

    @property
    def outputs(self) -> int:
        return self.layers[-1].outputs

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The float reference: ``x`` (samples, inputs) -> (samples, outputs)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.inputs:
            raise ConfigError(f"x: expected (samples, {self.inputs}) inputs, got shape {x.shape}")
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def all_notes(self) -> list[str]:
        return list(self.notes) + [f"layer {l.name}: {n}" for l in self.layers for n in l.notes]
