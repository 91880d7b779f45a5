"""Smooth activation functions: real references and the bit-exact integer model.

Two implementations share one description of each function:

``lut``
    A table over every input code holding the correctly rounded output (nearest-even,
    saturated): at most 0.5 output LSB from the real function.
``interp``
    Piecewise-linear interpolation of a *core* function over ``t = |x|``, with 2**k segments
    whose width is a power of two in input LSBs, and the function's symmetry to cover x < 0:

    * complement functions, ``f(-x) = A - f(x)``: sigmoid (A = 1), tanh (A = 0),
      hard_sigmoid (A = 1); the core is ``c(t) = f(t)``.
    * residual functions, ``f(x) = x + f(-x)``: softplus, swish, GELU and ReLU all satisfy it
      (swish(x) - swish(-x) = x (s(bx) + s(-bx)) = x, likewise for GELU); the core is the
      bounded, decaying ``c(t) = f(-t)``, so no multiplier is needed and errors stay bounded.

    Beyond the table range the core takes its exact asymptote (1 or 0). The range is the
    smallest one outside which the asymptote already gives the correctly rounded output, so
    it follows from the formats and never fails for narrow inputs.

The integer pipeline below is the specification the hardware implements
(:class:`subtile.hdl.activation.ActivationUnit`); rounding and saturation come from
:mod:`subtile.spec.fixed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from subtile.spec.fixed import FixedFormat, FormatError, Rounding, Overflow, align, resize, shift_right

__all__ = ["FUNCTIONS", "IMPLEMENTATIONS", "ActivationSpec", "ActivationPlan", "Accuracy"]

IMPLEMENTATIONS = ("lut", "interp")
MAX_INPUT_WIDTH = 16
MAX_OUTPUT_WIDTH = 24
MAX_SEGMENTS = 1 << MAX_INPUT_WIDTH
#: Accuracy goals in output LSBs, checked exhaustively by the tests and `subtile accuracy`.
GOAL_MAX_ERROR = {"lut": 0.5, "interp": 1.0}

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))                   # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class _Function:
    name: str
    symmetry: str            # "complement" or "residual"
    complement: float        # A in f(-x) = A - f(x); unused for residual functions
    asymptote: float         # core value for t -> infinity
    monotonic: bool
    uses_beta: bool
    real: object             # f(x, beta) -> float64 array
    core: object             # c(t, beta) for t >= 0 -> float64 array
    description: str


FUNCTIONS: dict[str, _Function] = {f.name: f for f in [
    _Function("sigmoid", "complement", 1.0, 1.0, True, False,
              lambda x, b: _sigmoid(x), lambda t, b: _sigmoid(t),
              "1 / (1 + exp(-x))"),
    _Function("tanh", "complement", 0.0, 1.0, True, False,
              lambda x, b: np.tanh(x), lambda t, b: np.tanh(t),
              "tanh(x)"),
    _Function("hard_sigmoid", "complement", 1.0, 1.0, True, False,
              lambda x, b: np.clip((np.asarray(x, np.float64) + 3.0) / 6.0, 0.0, 1.0),
              lambda t, b: np.clip((np.asarray(t, np.float64) + 3.0) / 6.0, 0.0, 1.0),
              "clip((x + 3) / 6, 0, 1), the PyTorch Hardsigmoid (baseline)"),
    _Function("swish", "residual", 0.0, 0.0, False, True,
              lambda x, b: np.asarray(x, np.float64) * _sigmoid(b * np.asarray(x, np.float64)),
              lambda t, b: -np.asarray(t, np.float64) * _sigmoid(-b * np.asarray(t, np.float64)),
              "x * sigmoid(beta * x), SiLU for beta = 1"),
    _Function("softplus", "residual", 0.0, 0.0, True, False,
              lambda x, b: np.logaddexp(0.0, x),
              lambda t, b: np.log1p(np.exp(-np.asarray(t, np.float64))),
              "ln(1 + exp(x))"),
    _Function("gelu", "residual", 0.0, 0.0, False, False,
              lambda x, b: 0.5 * np.asarray(x, np.float64) * (1.0 + _erf(np.asarray(x, np.float64) * _SQRT1_2)),
              lambda t, b: -0.5 * np.asarray(t, np.float64) * _erfc(np.asarray(t, np.float64) * _SQRT1_2),
              "x * Phi(x), the exact (erf) form"),
    _Function("relu", "residual", 0.0, 0.0, True, False,
              lambda x, b: np.maximum(np.asarray(x, np.float64), 0.0),
              lambda t, b: np.zeros_like(np.asarray(t, np.float64)),
              "max(x, 0) (baseline)"),
]}


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise FormatError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise FormatError(f"{name}: {value} is outside the allowed range {lo}..{hi}")


@dataclass(frozen=True)
class ActivationSpec:
    """What a user asks for: function, implementation and formats (validated on creation).

    Parameters
    ----------
    function : str
        One of :data:`FUNCTIONS`.
    impl : str
        ``"lut"`` or ``"interp"``.
    input_format, output_format : FixedFormat or str
        Input width 1..16 bits, output width 1..24 bits.
    segments : int or None
        ``interp`` only: number of segments, a power of two 1..65536. ``None`` picks the
        smallest count that meets the accuracy goal (1 output LSB, monotonic functions stay
        monotonic).
    beta : float
        Swish's beta (0 < beta <= 64); ignored by the other functions.
    guard_bits : int
        Extra fractional bits of the ``interp`` datapath beyond the output's (0..8).
    latency : int
        0 for a combinational unit, 1 for a registered table read (FPGA block-RAM friendly).
    """

    function: str = "sigmoid"
    impl: str = "interp"
    input_format: FixedFormat = FixedFormat(8, 4)
    output_format: FixedFormat = FixedFormat(8, 0, signed=False)
    segments: int | None = None
    beta: float = 1.0
    guard_bits: int = 4
    latency: int = 0

    def __post_init__(self):
        if self.function not in FUNCTIONS:
            raise FormatError(f"function: {self.function!r} is not one of {', '.join(FUNCTIONS)}")
        if self.impl not in IMPLEMENTATIONS:
            raise FormatError(f"impl: {self.impl!r} is not one of {', '.join(IMPLEMENTATIONS)}")
        object.__setattr__(self, "input_format", FixedFormat.parse(self.input_format, name="input_format"))
        object.__setattr__(self, "output_format", FixedFormat.parse(self.output_format, name="output_format"))
        if self.input_format.width > MAX_INPUT_WIDTH:
            raise FormatError(f"input_format: width {self.input_format.width} is outside the allowed "
                              f"range 1..{MAX_INPUT_WIDTH} for activation units")
        if self.output_format.width > MAX_OUTPUT_WIDTH:
            raise FormatError(f"output_format: width {self.output_format.width} is outside the allowed "
                              f"range 1..{MAX_OUTPUT_WIDTH} for activation units")
        if self.segments is not None:
            _check_int("segments", self.segments, 1, MAX_SEGMENTS)
            if self.segments & (self.segments - 1):
                raise FormatError(f"segments: {self.segments} is not a power of two in 1..{MAX_SEGMENTS}")
            if self.impl != "interp":
                raise FormatError("segments: only the 'interp' implementation has segments")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) \
                or not math.isfinite(self.beta) or not 0 < self.beta <= 64:
            raise FormatError(f"beta: {self.beta!r} is outside the allowed range (0, 64]")
        _check_int("guard_bits", self.guard_bits, 0, 8)
        _check_int("latency", self.latency, 0, 1)

    @property
    def function_def(self) -> _Function:
        return FUNCTIONS[self.function]

    def real(self, x) -> np.ndarray:
        """The real-valued function at real inputs ``x``."""
        return self.function_def.real(np.asarray(x, dtype=np.float64), float(self.beta))

    def reference_codes(self, codes) -> np.ndarray:
        """Correctly rounded (nearest-even, saturated) output codes for input codes."""
        return self.output_format.quantize(self.real(self.input_format.to_real(codes)))

    def plan(self) -> "ActivationPlan":
        """Resolve tables and constants; for ``segments=None`` search the smallest count
        meeting the goal."""
        if self.impl == "lut":
            return ActivationPlan(self)
        if self.segments is not None:
            return ActivationPlan(self, log2_segments=self.segments.bit_length() - 1)
        best = None
        for log2_segments in range(0, MAX_INPUT_WIDTH + 1):
            plan = ActivationPlan(self, log2_segments=log2_segments)
            if plan.accuracy.meets_goal:
                return plan
            best = plan
        return best     # unreachable in practice: one code per segment is exact to 0.5 LSB + guard

    def to_dict(self) -> dict:
        return {"function": self.function, "impl": self.impl,
                "input_format": str(self.input_format), "output_format": str(self.output_format),
                "segments": self.segments, "beta": float(self.beta),
                "guard_bits": self.guard_bits, "latency": self.latency}


@dataclass(frozen=True)
class Accuracy:
    """Exhaustive accuracy of a plan over every input code, in output LSBs."""

    max_error: float
    mean_error: float
    worst_input_code: int
    monotonic: bool | None      # None for functions that are not monotonic
    goal: float

    @property
    def meets_goal(self) -> bool:
        return self.max_error <= self.goal + 1e-9 and self.monotonic is not False

    def to_dict(self) -> dict:
        return {"max_error_lsb": self.max_error, "mean_error_lsb": self.mean_error,
                "worst_input_code": self.worst_input_code, "monotonic": self.monotonic,
                "goal_lsb": self.goal, "meets_goal": self.meets_goal}


@dataclass(frozen=True)
class ActivationPlan:
    """Everything the hardware needs: tables and constants, and the bit-exact model.

    ``evaluate(codes)`` returns exactly the output codes the hardware produces.
    """

    spec: ActivationSpec
    log2_segments: int = 0

    # -- shared quantities ------------------------------------------------------------------
    @property
    def function_def(self) -> _Function:
        return self.spec.function_def

    @property
    def input_format(self) -> FixedFormat:
        return self.spec.input_format

    @property
    def output_format(self) -> FixedFormat:
        return self.spec.output_format

    @property
    def max_magnitude(self) -> int:
        """Largest |x| over the input codes."""
        fmt = self.input_format
        return max(fmt.max_code, -fmt.min_code)

    @property
    def internal_frac_bits(self) -> int:
        """Fractional bits of the interp datapath: the output's plus guard bits, and at least
        the input's so that residual functions add x exactly."""
        frac = self.output_format.frac_bits + self.spec.guard_bits
        if self.function_def.symmetry == "residual":
            frac = max(frac, self.input_format.frac_bits)
        return frac

    def _core_real(self, t_codes) -> np.ndarray:
        return self.function_def.core(self.input_format.to_real(t_codes), float(self.spec.beta))

    def _scaled(self, value: float) -> int:
        return int(round(math.ldexp(value, self.internal_frac_bits)))

    @property
    def complement_code(self) -> int:
        """A of ``f(-x) = A - f(x)`` at the internal precision."""
        return self._scaled(self.function_def.complement)

    @property
    def asymptote_code(self) -> int:
        """The core's value beyond the table range, at the internal precision."""
        return self._scaled(self.function_def.asymptote)

    # -- the table range and segments ---------------------------------------------------------
    @cached_property
    def table_range(self) -> int:
        """Number of magnitudes t = 0, 1, ... covered by the table; from there on the core's
        asymptote gives the correctly rounded output for both signs."""
        codes = self.input_format.all_codes()
        reference = self.spec.reference_codes(codes)
        asymptotic = self._reconstruct(np.full(codes.shape, self.asymptote_code, np.int64), codes)
        differs = np.abs(codes[asymptotic != reference])
        return int(differs.max()) + 1 if differs.size else 0

    @property
    def segment_shift(self) -> int:
        """log2 of the segment width in input LSBs."""
        shift = 0
        while (1 << (self.log2_segments + shift)) < self.table_range:
            shift += 1
        return shift

    @property
    def used_segments(self) -> int:
        width = 1 << self.segment_shift
        return -(-self.table_range // width)

    @cached_property
    def tables(self) -> dict[str, np.ndarray]:
        """``lut``: ``{"lut": codes indexed by the input's two's complement bits}``;
        ``interp``: ``{"base": ..., "slope": ...}`` per segment at the internal precision."""
        if self.spec.impl == "lut":
            fmt = self.input_format
            codes = fmt.all_codes()
            table = np.empty(1 << fmt.width, dtype=np.int64)
            table[codes & ((1 << fmt.width) - 1)] = self.spec.reference_codes(codes)
            return {"lut": table}
        return self._fit_segments()

    def _fit_segments(self):
        shift, count = self.segment_shift, max(1, self.used_segments)
        scale = math.ldexp(1.0, self.internal_frac_bits)   # may be < 1: outputs with LSB > 1
        starts = np.arange(count, dtype=np.int64) << shift
        start_value = self._core_real(starts) * scale
        end_value = self._core_real(starts + (1 << shift)) * scale
        slope = np.rint(end_value - start_value).astype(np.int64)
        base = np.rint(start_value).astype(np.int64)
        if self.table_range:
            # Minimax offset per segment: centre the error band of every segment around zero
            # (the chord slope is the minimax slope of a convex or concave piece).
            t = np.arange(self.table_range, dtype=np.int64)
            segment = t >> shift
            approx = base[segment] + shift_right(slope[segment] * (t & ((1 << shift) - 1)),
                                                 shift, Rounding.FLOOR)
            error = approx - self._core_real(t) * scale
            bounds = np.searchsorted(segment, np.arange(count))
            high = np.maximum.reduceat(error, bounds)
            low = np.minimum.reduceat(error, bounds)
            base = base - np.rint((high + low) / 2).astype(np.int64)
        return {"base": base, "slope": slope}

    # -- the bit-exact model ------------------------------------------------------------------
    def _reconstruct(self, core, codes):
        """Output codes from the core value at |x| and the input codes x (the symmetry)."""
        negative = codes < 0
        if self.function_def.symmetry == "complement":
            value = np.where(negative, self.complement_code - core, core)
        else:
            magnitude = np.abs(codes)
            value = core + np.where(negative, 0, align(magnitude, self.input_format.frac_bits,
                                                       self.internal_frac_bits, Rounding.FLOOR))
        return resize(value, self.internal_frac_bits, self.output_format,
                      Rounding.NEAREST_EVEN, Overflow.SATURATE)

    def core_codes(self, magnitudes) -> np.ndarray:
        """The interpolated core at magnitudes t (internal precision): what the table and the
        interpolator of the hardware produce."""
        t = np.asarray(magnitudes, dtype=np.int64)
        shift, tables = self.segment_shift, self.tables
        segment = t >> shift
        in_range = segment < self.used_segments
        index = np.where(in_range, segment, 0)
        interpolated = tables["base"][index] + shift_right(
            tables["slope"][index] * (t & ((1 << shift) - 1)), shift, Rounding.FLOOR)
        return np.where(in_range, interpolated, self.asymptote_code)

    def evaluate(self, codes) -> np.ndarray:
        """Output codes the hardware produces for input codes (int64 array in, int64 out)."""
        codes = np.asarray(codes, dtype=np.int64)
        if not np.all(self.input_format.contains(codes)):
            raise FormatError(f"codes: values outside {self.input_format} "
                              f"({self.input_format.min_code}..{self.input_format.max_code})")
        if self.spec.impl == "lut":
            return self.tables["lut"][codes & ((1 << self.input_format.width) - 1)]
        return self._reconstruct(self.core_codes(np.abs(codes)), codes)

    # -- accuracy ---------------------------------------------------------------------------------
    @cached_property
    def accuracy(self) -> Accuracy:
        fmt_in, fmt_out = self.input_format, self.output_format
        codes = fmt_in.all_codes()
        got = self.evaluate(codes)
        exact = np.clip(self.spec.real(fmt_in.to_real(codes)) / fmt_out.lsb,
                        fmt_out.min_code, fmt_out.max_code)
        error = np.abs(got - exact)
        worst = int(np.argmax(error))
        monotonic = bool(np.all(np.diff(got) >= 0)) if self.function_def.monotonic else None
        return Accuracy(float(error.max()), float(error.mean()), int(codes[worst]), monotonic,
                        GOAL_MAX_ERROR[self.spec.impl])

    # -- description for hardware and manifests --------------------------------------------------------
    @property
    def segments(self) -> int | None:
        return 1 << self.log2_segments if self.spec.impl == "interp" else None

    def table_entries(self) -> int:
        return sum(len(table) for table in self.tables.values())

    def table_bits(self) -> int:
        """Storage in bits: each table at the width of its widest entry."""
        from subtile.spec.fixed import signed_width
        return sum(len(t) * signed_width(int(t.min()), int(t.max())) for t in self.tables.values())

    def to_dict(self) -> dict:
        info = self.spec.to_dict()
        info.update({"segments": self.segments, "table_entries": self.table_entries(),
                     "table_bits": self.table_bits(), "accuracy": self.accuracy.to_dict()})
        if self.spec.impl == "interp":
            info.update({"segment_shift": self.segment_shift, "used_segments": self.used_segments,
                         "table_range_codes": self.table_range,
                         "internal_frac_bits": self.internal_frac_bits})
        return info


# -- the standard matrix: regression, accuracy table and README use this one list ---------------
#: Input formats of the standard matrix and, per input, the output formats of the three function
#: families: bounded in [0, 1] (sigmoid, hard_sigmoid), bounded in [-1, 1] (tanh) and unbounded
#: (swish, softplus, gelu, relu). The pairs vary the output width against the input width.
STANDARD_FORMATS = {
    "fixed<4,2>": ("ufixed<4,0>", "fixed<4,1>", "fixed<4,2>"),
    "fixed<6,3>": ("ufixed<8,0>", "fixed<8,1>", "fixed<8,3>"),
    "fixed<8,4>": ("ufixed<8,0>", "fixed<8,1>", "fixed<8,4>"),
    "fixed<10,3>": ("ufixed<6,0>", "fixed<6,1>", "fixed<6,3>"),
    "fixed<12,4>": ("ufixed<12,0>", "fixed<12,1>", "fixed<12,4>"),
    "fixed<16,6>": ("ufixed<16,0>", "fixed<16,1>", "fixed<16,6>"),
}


def output_format_for(function: str, outputs: tuple[str, str, str]) -> str:
    """Pick the output format of ``function``'s family from a STANDARD_FORMATS entry."""
    if function in ("sigmoid", "hard_sigmoid"):
        return outputs[0]
    return outputs[1] if function == "tanh" else outputs[2]


def standard_specs(*, input_formats=None, functions=None, impls=IMPLEMENTATIONS) -> list[ActivationSpec]:
    """Every function x implementation over the standard format pairs."""
    specs = []
    for input_format, outputs in STANDARD_FORMATS.items():
        if input_formats is not None and input_format not in input_formats:
            continue
        for function in (functions or FUNCTIONS):
            for impl in impls:
                specs.append(ActivationSpec(function, impl, input_format,
                                            output_format_for(function, outputs)))
    return specs
