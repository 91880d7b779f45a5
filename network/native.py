"""The native front end: a TOML topology and an ``.npz`` of weights.

Example (``examples/network/digits_mlp.toml``)::

    [network]
    name = "digits_mlp"
    inputs = 64
    weights = "digits_mlp.npz"      # relative to the TOML file

    [[layers]]
    name = "hidden"
    outputs = 24
    activation = "tanh"             # or a table: {function = "swish", beta = 1.0}
    weight = "hidden_w"             # npz key, shape (inputs, outputs)
    bias = "hidden_b"               # optional npz key, shape (outputs,)
    # branch = "hidden_branch"      # optional npz key: dendritic branch of each input
    # branch_activation = "tanh"    # default identity
    # leak_shift = 1                # default: the run's

Every key is checked: an unknown key, a missing array or a shape that does not chain gives one
line naming it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.network.graph import Graph, Layer

__all__ = ["load", "save"]

_NETWORK_KEYS = {"name", "inputs", "weights"}
_LAYER_KEYS = {"name", "outputs", "activation", "weight", "bias", "branch", "branch_activation", "leak_shift"}


def _table(data, key, where):
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a [{key}] table")
    return value


def load(path: str | Path) -> Graph:
    """The :class:`Graph` described by the TOML file ``path`` (and the npz it names)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"model: {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"model: {path} is not valid TOML ({error})") from None
    unknown = set(data) - {"network", "layers"}
    if unknown:
        raise ConfigError(f"model: unknown table(s) {', '.join(sorted(unknown))}; allowed: network, layers")
    net = _table(data, "network", "model")
    unknown = set(net) - _NETWORK_KEYS
    if unknown:
        raise ConfigError(f"network: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_NETWORK_KEYS))}")
    inputs = net.get("inputs")
    if isinstance(inputs, bool) or not isinstance(inputs, int) or inputs < 1:
        raise ConfigError(f"network.inputs: expected a positive integer, got {inputs!r}")
    weights_path = path.parent / net.get("weights", path.with_suffix(".npz").name)
    try:
        with np.load(weights_path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise ConfigError(f"network.weights: {weights_path} does not exist") from None
    except (ValueError, OSError) as error:
        raise ConfigError(f"network.weights: {weights_path} is not a readable .npz ({error})") from None
    layers_data = data.get("layers")
    if not isinstance(layers_data, list) or not layers_data:
        raise ConfigError("layers: expected at least one [[layers]] table")
    layers = []
    for index, entry in enumerate(layers_data):
        name = entry.get("name", f"layer{index}")
        where = f"layer {name}"
        unknown = set(entry) - _LAYER_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_LAYER_KEYS))}")

        def array(key, required):
            ref = entry.get(key)
            if ref is None:
                if required:
                    raise ConfigError(f"{where}: {key} (an npz key) is required")
                return None
            if ref not in arrays:
                raise ConfigError(f"{where}: {key} {ref!r} is not in {weights_path.name} "
                                  f"(keys: {', '.join(sorted(arrays)) or 'none'})")
            return arrays[ref]

        weight = array("weight", True)
        outputs = entry.get("outputs")
        if outputs is not None and np.ndim(weight) == 2 and weight.shape[1] != outputs:
            raise ConfigError(f"{where}: outputs = {outputs} but weight {entry['weight']!r} has shape {weight.shape}")
        layers.append(Layer(name=name, weight=weight, bias=array("bias", False),
                            activation=entry.get("activation", "tanh"), branch=array("branch", False),
                            branch_activation=entry.get("branch_activation", "identity"),
                            leak_shift=entry.get("leak_shift")))
    return Graph(name=str(net.get("name", path.stem)), inputs=inputs, layers=layers)


def _choice_toml(choice) -> str:
    if choice.function != "swish" or choice.beta == 1.0:
        return f'"{choice.function}"'
    return f'{{function = "swish", beta = {choice.beta!r}}}'


def save(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as ``path`` (TOML) and the npz next to it (same stem); returns the TOML path."""
    path = Path(path)
    arrays = {}
    lines = ["[network]", f'name = "{graph.name}"', f"inputs = {graph.inputs}",
             f'weights = "{path.with_suffix(".npz").name}"']
    for layer in graph.layers:
        lines += ["", "[[layers]]", f'name = "{layer.name}"', f"outputs = {layer.outputs}",
                  f"activation = {_choice_toml(layer.activation)}", f'weight = "{layer.name}_w"']
        arrays[f"{layer.name}_w"] = layer.weight
        if layer.bias is not None:
            lines.append(f'bias = "{layer.name}_b"')
            arrays[f"{layer.name}_b"] = layer.bias
        if layer.branches > 1:
            lines.append(f'branch = "{layer.name}_branch"')
            arrays[f"{layer.name}_branch"] = layer.branch
        if not layer.branch_activation.is_identity:
            lines.append(f"branch_activation = {_choice_toml(layer.branch_activation)}")
        if layer.leak_shift is not None:
            lines.append(f"leak_shift = {layer.leak_shift}")
    path.write_text("\n".join(lines) + "\n")
    np.savez(path.with_suffix(".npz"), **arrays)
    return path
