"""A model file to a :class:`~subtile.network.graph.Graph`, by its extension: ``.toml`` (the
native topology with its .npz), ``.onnx`` or ``.nir``. Used by ``subtile run`` and by the sweep's
``model`` workload."""

from __future__ import annotations

from pathlib import Path

from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError

__all__ = ["FRONT_ENDS", "load_model"]

FRONT_ENDS = {".toml": "native", ".onnx": "onnx", ".nir": "nir"}


def load_model(path: str | Path, *, name: str = "model"):
    """The :class:`~subtile.network.graph.Graph` of ``path``, by its extension.

    ConfigError (naming ``name``) for an unknown extension or a missing file, ToolchainError when
    the front end's package (onnx, nir) is not installed; the front ends' own one-line errors for
    what they cannot map."""
    path = Path(path)
    kind = FRONT_ENDS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"{name}: {path.name} has extension {path.suffix or '(none)'!r}; allowed: "
                          f"{', '.join(FRONT_ENDS)}")
    if not path.is_file():
        raise ConfigError(f"{name}: {path} does not exist")
    if kind == "native":
        from subtile.network import native
        return native.load(path)
    try:
        __import__(kind)
    except ImportError:
        raise ToolchainError(f"{name}: reading {path.suffix} files needs the Python package {kind}, which is "
                             "not installed (pip install 'subtile[network]')") from None
    if kind == "onnx":
        from subtile.network import onnx_front
        return onnx_front.load(path)
    from subtile.network import nir_front
    return nir_front.load(path)
