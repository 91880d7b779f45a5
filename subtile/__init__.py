"""subtile: subthreshold-inspired neuromorphic tiles in Amaranth, verified bit-exact under Verilator.

Layers (each a subpackage): ``subtile.golden`` (NumPy bit-exact model and the fixed-point
specification), ``subtile.hdl`` (Amaranth components), ``subtile.gen`` (Verilog and manifests),
``subtile.sim`` (Verilator runner and cocotb testbenches).
"""

__version__ = "0.1.0"

from .errors import ConfigError
from .golden.fixed import FixedFormat, Overflow, Rounding
from .golden.activation import ActivationSpec

__all__ = ["ConfigError", "FixedFormat", "Overflow", "Rounding", "ActivationSpec", "__version__"]
