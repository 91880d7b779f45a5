"""The fixed-point specification shared by the golden model and the hardware.

This module is the only place where subtile defines fixed-point formats, rounding and
overflow. The NumPy golden model calls these rules on integer arrays; the Amaranth
hardware (:mod:`subtile.hdl.fixed`) calls the *same functions* on Amaranth values, passing
:data:`subtile.hdl.fixed.AMARANTH_OPS` as ``ops``. The rules are written with operators that
mean the same thing on both (``+ - * >> & <``, with Amaranth's value-preserving widths), plus
one selection primitive supplied by ``ops``.

Formats follow hls4ml / Vitis HLS notation: ``fixed<W,I>`` is signed two's complement with W
total bits and I integer bits including the sign; ``ufixed<W,I>`` is unsigned. The real value
of code ``c`` is ``c * 2**-(W - I)``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import numpy as np

from subtile.errors import ConfigError

__all__ = [
    "Rounding", "Overflow", "FixedFormat", "NUMPY_OPS", "shift_right", "align",
    "saturate", "wrap", "bits", "resize", "requantize", "FormatError",
]

MAX_WIDTH = 32


class FormatError(ConfigError):
    """A fixed-point format or mode that is not valid."""


def _member(choices, value, name: str):
    """The member of the enum ``choices`` named by ``value``; FormatError naming ``name`` and the
    allowed values otherwise."""
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(m.value for m in choices)
        raise FormatError(f"{name}: {value!r} is not one of {allowed}") from None


class Rounding(str, enum.Enum):
    """How a value between two representable codes becomes a code."""

    NEAREST_EVEN = "nearest_even"   #: to the nearest code; exact ties go to the even code
    FLOOR = "floor"                 #: toward minus infinity (a plain arithmetic shift)
    TOWARD_ZERO = "toward_zero"     #: truncate the magnitude

    @classmethod
    def parse(cls, value: "Rounding | str") -> "Rounding":
        return _member(cls, value, "rounding")

    def round_real(self, scaled: np.ndarray) -> np.ndarray:
        """Round real values already scaled to LSB units to integers (float64 in, int64 out).

        The same rule as :func:`shift_right` on integers; a test checks the two agree."""
        if self is Rounding.NEAREST_EVEN:
            out = np.rint(scaled)           # IEEE round-half-to-even
        elif self is Rounding.FLOOR:
            out = np.floor(scaled)
        else:
            out = np.trunc(scaled)
        return out.astype(np.int64)


class Overflow(str, enum.Enum):
    """What happens to a code outside the format's range."""

    SATURATE = "saturate"   #: clamp to the nearest representable code
    WRAP = "wrap"           #: keep the low W bits (two's complement wrap-around)

    @classmethod
    def parse(cls, value: "Overflow | str") -> "Overflow":
        return _member(cls, value, "overflow")


class _NumpyOps:
    """Backend of the shared rules for NumPy integer arrays (and Python ints)."""

    name = "numpy"

    @staticmethod
    def select(cond, if_true, if_false):
        return np.where(cond, if_true, if_false)


NUMPY_OPS = _NumpyOps()


_FORMAT_RE = re.compile(r"^\s*(u?)fixed\s*<\s*(-?\d+)\s*,\s*(-?\d+)\s*>\s*$")


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format: ``fixed<W,I>`` (signed) or ``ufixed<W,I>`` (unsigned).

    Parameters
    ----------
    width : int
        Total bits W, 1 to 32.
    int_bits : int
        Integer bits I, including the sign bit for signed formats. May be negative or larger
        than W (the binary point then lies outside the word), as in hls4ml.
    signed : bool
        Two's complement when true.
    """

    width: int
    int_bits: int
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.width, (int, np.integer)) or isinstance(self.width, bool):
            raise FormatError(f"width: expected an integer, got {self.width!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise FormatError(f"width: {self.width} is outside the allowed range 1..{MAX_WIDTH}")
        if not isinstance(self.int_bits, (int, np.integer)) or isinstance(self.int_bits, bool):
            raise FormatError(f"int_bits: expected an integer, got {self.int_bits!r}")
        if not -MAX_WIDTH <= self.int_bits <= 2 * MAX_WIDTH:
            raise FormatError(f"int_bits: {self.int_bits} is outside the allowed range "
                              f"{-MAX_WIDTH}..{2 * MAX_WIDTH}")

    # -- text form ---------------------------------------------------------------------
    @classmethod
    def parse(cls, text: "str | FixedFormat", *, name: str = "format") -> "FixedFormat":
        """Parse ``fixed<W,I>`` or ``ufixed<W,I>``; errors name the parameter ``name``."""
        if isinstance(text, FixedFormat):
            return text
        match = _FORMAT_RE.match(str(text))
        if not match:
            raise FormatError(f"{name}: {text!r} is not a format; write fixed<W,I> or ufixed<W,I> "
                              f"with 1 <= W <= {MAX_WIDTH}")
        try:
            return cls(int(match[2]), int(match[3]), signed=not match[1])
        except FormatError as error:
            raise FormatError(f"{name}: {text!r}: {error}") from None

    def __str__(self):
        return f"{'' if self.signed else 'u'}fixed<{self.width},{self.int_bits}>"

    # -- derived quantities ------------------------------------------------------------
    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min_value(self) -> float:
        return self.min_code * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_code * self.lsb

    def all_codes(self) -> np.ndarray:
        """Every code of the format in increasing order (int64)."""
        return np.arange(self.min_code, self.max_code + 1, dtype=np.int64)

    def contains(self, codes) -> np.ndarray:
        codes = np.asarray(codes)
        return (codes >= self.min_code) & (codes <= self.max_code)

    # -- real <-> code -------------------------------------------------------------------
    def quantize(self, values, rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
                 overflow: "Overflow | str" = Overflow.SATURATE) -> np.ndarray:
        """Real values to codes (int64 array) with the named rounding and overflow modes.

        Scaling by a power of two is exact in float64, so the only rounding is ``rounding``."""
        rounding, overflow = Rounding.parse(rounding), Overflow.parse(overflow)
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise FormatError("quantize: values must be finite")
        scaled = np.ldexp(values, self.frac_bits)
        # Clip far-out values before the int64 conversion; saturation/wrap below stay exact
        # because the clip bound is a multiple of 2**W.
        bound = float(1 << 62)
        codes = rounding.round_real(np.clip(scaled, -bound, bound))
        return self.overflow(codes, overflow)

    def to_real(self, codes) -> np.ndarray:
        return np.ldexp(np.asarray(codes, dtype=np.float64), -self.frac_bits)

    def overflow(self, codes, mode: "Overflow | str", ops=NUMPY_OPS):
        """Apply the overflow rule ``mode`` to integer codes (NumPy or Amaranth)."""
        mode = Overflow.parse(mode)
        if mode is Overflow.SATURATE:
            return saturate(codes, self, ops)
        return wrap(codes, self)


# -- the shared integer rules ---------------------------------------------------------------
def shift_right(value, shift: int, rounding: "Rounding | str", ops=NUMPY_OPS):
    """Divide an integer by ``2**shift`` with the named rounding (``shift <= 0`` multiplies).

    Works unchanged on NumPy int64 arrays and on Amaranth values (pass their ``ops``).
    """
    rounding = Rounding.parse(rounding)
    if shift <= 0:
        return value << -shift if shift < 0 else value
    if rounding is Rounding.FLOOR:
        return value >> shift
    if rounding is Rounding.TOWARD_ZERO:
        return (value + ops.select(value < 0, (1 << shift) - 1, 0)) >> shift
    # Nearest, ties to even: add half an LSB minus one, plus one more when the kept part is
    # odd. A tie then rounds up exactly when rounding up lands on an even result.
    kept_lsb = (value >> shift) & 1
    return (value + ((1 << (shift - 1)) - 1) + kept_lsb) >> shift


def saturate(value, fmt: FixedFormat, ops=NUMPY_OPS):
    """Clamp integer codes to ``fmt``'s range."""
    return ops.select(value < fmt.min_code, fmt.min_code,
                      ops.select(value > fmt.max_code, fmt.max_code, value))


def wrap(value, fmt: FixedFormat):
    """Keep the low W bits of integer codes, read back in ``fmt``'s signedness."""
    mask = (1 << fmt.width) - 1
    offset = -fmt.min_code          # 2**(W-1) for signed formats, 0 for unsigned
    return ((value + offset) & mask) - offset


def bits(value, fmt: FixedFormat):
    """The W-bit two's-complement pattern of integer codes (``0 .. 2**W - 1``): what a W-bit
    register or memory word of ``fmt`` holds. :func:`wrap` reads it back."""
    return value & ((1 << fmt.width) - 1)


def align(value, src_frac_bits: int, dst_frac_bits: int, rounding: "Rounding | str", ops=NUMPY_OPS):
    """Move integer codes from ``src_frac_bits`` to ``dst_frac_bits`` fractional bits."""
    return shift_right(value, src_frac_bits - dst_frac_bits, rounding, ops)


def requantize(value, src: FixedFormat, dst: FixedFormat,
               rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
               overflow: "Overflow | str" = Overflow.SATURATE, ops=NUMPY_OPS):
    """Codes of format ``src`` to codes of format ``dst``: align the binary point with
    ``rounding``, then apply ``overflow``."""
    return resize(value, src.frac_bits, dst, rounding, overflow, ops)


def resize(value, frac_bits: int, dst: FixedFormat,
           rounding: "Rounding | str" = Rounding.NEAREST_EVEN,
           overflow: "Overflow | str" = Overflow.SATURATE, ops=NUMPY_OPS):
    """An integer with ``frac_bits`` fractional bits (any width) to codes of ``dst``."""
    return dst.overflow(align(value, frac_bits, dst.frac_bits, rounding, ops), overflow, ops)


def signed_width(lo: int, hi: int) -> int:
    """Bits of the smallest two's complement word holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def unsigned_width(hi: int) -> int:
    """Bits of the smallest unsigned word holding every integer in [0, hi]."""
    return max(1, int(hi).bit_length())
