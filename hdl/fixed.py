"""Amaranth side of the shared fixed-point specification.

The rounding, saturation and wrap rules live in :mod:`subtile.spec.fixed`; this module only
supplies the Amaranth backend (:data:`AMARANTH_OPS`) those rules run on, and the Amaranth shape
of a format. Never re-implement a rule here: call the golden one with ``ops=AMARANTH_OPS``.
"""

from amaranth.hdl import Mux, Shape, signed, unsigned

from subtile.spec.fixed import FixedFormat

__all__ = ["AMARANTH_OPS", "shape_of", "state_shapes"]


class _AmaranthOps:
    """Backend of the shared rules for Amaranth values (value-preserving arithmetic)."""

    name = "amaranth"

    @staticmethod
    def select(cond, if_true, if_false):
        return Mux(cond, if_true, if_false)


AMARANTH_OPS = _AmaranthOps()


def shape_of(fmt: FixedFormat) -> Shape:
    """The Amaranth shape holding the codes of ``fmt``."""
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def state_shapes(config) -> tuple[Shape, Shape, Shape]:
    """The shapes of a tile's accumulator, membrane and payload codes (``config``: a TileConfig)."""
    return tuple(shape_of(fmt) for fmt in (config.accumulator_format, config.membrane_format, config.payload_format))
