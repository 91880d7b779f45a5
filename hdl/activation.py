"""Smooth-activation units: the hardware of :mod:`subtile.spec.activation`."""

from amaranth.hdl import Const, Module, Mux, ShapeCastable, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from subtile.spec.activation import ActivationSpec, ActivationPlan
from subtile.spec.fixed import Overflow, Rounding, align, resize, shift_right, signed_width
from subtile.hdl.fixed import AMARANTH_OPS, shape_of
from subtile.hdl.validation import unused_if_refused

__all__ = ["ActivationUnit"]


class ActivationUnit(wiring.Component):
    """One activation function on fixed-point codes, bit-exact with
    :meth:`subtile.spec.activation.ActivationPlan.evaluate`.

    Parameters
    ----------
    spec : ActivationSpec
        Function, implementation (``lut`` or ``interp``), formats, segments, beta, guard bits
        and latency; validated when it is built. Keyword arguments of :class:`ActivationSpec`
        may be given instead.
    plan : ActivationPlan, optional
        An already resolved plan for ``spec`` (the segment search is skipped).

    Members
    -------
    x : In(shape of the input format)
        Input code.
    y : Out(shape of the output format)
        Output code, ``spec.latency`` cycles after ``x`` (0: combinational; 1: the table is
        read synchronously in the ``sync`` domain, which maps onto FPGA block RAM).
    """

    def __init__(self, spec: ActivationSpec | None = None, *, plan: ActivationPlan | None = None,
                 **spec_kwargs):
        with unused_if_refused(self):
            if spec is None:
                spec = plan.spec if plan is not None else ActivationSpec(**spec_kwargs)
            elif spec_kwargs:
                raise TypeError("give either an ActivationSpec or its keyword arguments, not both")
            if plan is not None and plan.spec != spec:
                raise ValueError("plan: it was resolved for another spec")
        self.spec = spec
        self.plan = plan if plan is not None else spec.plan()
        super().__init__({
            "x": In(shape_of(spec.input_format)),
            "y": Out(shape_of(spec.output_format)),
        })

    @property
    def latency(self) -> int:
        return self.spec.latency

    def elaborate(self, platform):
        m = Module()
        if self.spec.impl == "lut":
            self._elaborate_lut(m)
        else:
            self._elaborate_interp(m)
        return m

    def _table_port(self, m, name, table_shape, init, address):
        """A ROM with one read port: combinational at latency 0, synchronous at latency 1."""
        if len(init) == 1:
            # A one-row table is a constant (as a memory it would get a zero-width address).
            return Value.cast(table_shape.const(init[0]) if isinstance(table_shape, ShapeCastable)
                              else Const(init[0], table_shape))
        m.submodules[name] = rom = Memory(shape=table_shape, depth=len(init), init=init)
        port = rom.read_port(domain="comb" if self.latency == 0 else "sync")
        m.d.comb += port.addr.eq(address)
        return port.data

    def _delayed(self, m, value, name):
        """``value`` delayed to line up with the table read (a register at latency 1)."""
        if self.latency == 0:
            return value
        register = Signal.like(value, name=name)
        m.d.sync += register.eq(value)
        return register

    def _elaborate_lut(self, m):
        table = [int(v) for v in self.plan.tables["lut"]]
        # The table is ordered by the input's two's complement bits.
        data_ = self._table_port(m, "lut", shape_of(self.spec.output_format), table,
                                 self.x.as_unsigned())
        m.d.comb += self.y.eq(data_)

    def _elaborate_interp(self, m):
        plan, ops = self.plan, AMARANTH_OPS
        fmt_in = self.spec.input_format
        shift, used = plan.segment_shift, plan.used_segments
        base, slope = plan.tables["base"], plan.tables["slope"]
        row = data.StructLayout({
            "base": signed(signed_width(int(base.min()), int(base.max()))),
            "slope": signed(signed_width(int(slope.min()), int(slope.max()))),
        })

        negative = Signal(name="negative")
        magnitude = Signal(fmt_in.width, name="magnitude")      # |x| fits: -min_code = 2**(W-1)
        m.d.comb += [
            negative.eq(self.x < 0),
            magnitude.eq(Mux(negative, -self.x, self.x)),
        ]
        segment = magnitude >> shift
        in_range = Signal(name="in_range")
        if 0 < used < (1 << len(segment)):
            m.d.comb += in_range.eq(segment < used)
        else:
            # Constant cases are spelled out: a comparison with a constant result is a lint error.
            m.d.comb += in_range.eq(used > 0)
        address = Mux(in_range, segment, 0)
        entry = self._table_port(m, "segments", row,
                                 [{"base": int(b), "slope": int(s)} for b, s in zip(base, slope)],
                                 address)
        entry = row(entry)

        negative = self._delayed(m, negative, "negative_q")
        magnitude = self._delayed(m, magnitude, "magnitude_q")
        in_range = self._delayed(m, in_range, "in_range_q")

        core = Signal(signed(signed_width(*_core_bounds(plan))), name="core")
        interpolated = entry.base
        if shift:
            fraction = magnitude[:shift]
            interpolated = entry.base + shift_right(entry.slope * fraction, shift, Rounding.FLOOR, ops)
        m.d.comb += core.eq(Mux(in_range, interpolated, plan.asymptote_code))

        m.d.comb += self.y.eq(self._output(self._reconstruct(core, negative, magnitude)))

    def _reconstruct(self, core, negative, magnitude):
        """The function at x from the core at |x|, by the function's symmetry."""
        plan = self.plan
        if plan.function_def.symmetry == "complement":
            return Mux(negative, plan.complement_code - core, core)
        return core + Mux(negative, 0, align(magnitude, self.spec.input_format.frac_bits,
                                             plan.internal_frac_bits, Rounding.FLOOR, AMARANTH_OPS))

    def _output(self, value):
        """Round the internal value to the output format (nearest-even, saturating)."""
        return resize(value, self.plan.internal_frac_bits, self.spec.output_format,
                      Rounding.NEAREST_EVEN, Overflow.SATURATE, AMARANTH_OPS)


def _core_bounds(plan: ActivationPlan) -> tuple[int, int]:
    """Smallest and largest core value the interpolator can produce (sizes the core signal)."""
    import numpy as np
    core = plan.core_codes(np.arange(plan.max_magnitude + 1))
    return int(core.min()), int(core.max())
