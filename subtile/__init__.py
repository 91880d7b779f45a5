"""subtile: subthreshold-inspired neuromorphic tiles in Amaranth, verified bit-exact under Verilator.

Each top-level folder of the checkout is one subpackage (``golden/`` is ``subtile.golden``); the
map and the allowed import direction are in docs/layout.md. This package itself holds the base
every layer may use (``errors``, ``store``) and re-exports the main names below.
"""

__version__ = "0.1.0"

from subtile.errors import ConfigError
from subtile.spec.fixed import FixedFormat, Overflow, Rounding
from subtile.spec.activation import ActivationSpec

__all__ = ["ConfigError", "FixedFormat", "Overflow", "Rounding", "ActivationSpec", "__version__"]
