"""One dendritic branch of a neuron: its accumulator to the branch activation's output."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.errors import ConfigError
from subtile.spec.activation import ActivationPlan, ActivationSpec
from subtile.spec.fixed import FixedFormat, Overflow, Rounding, resize
from subtile.hdl.activation import ActivationUnit
from subtile.hdl.fixed import AMARANTH_OPS, shape_of
from subtile.hdl.validation import unused_if_refused

__all__ = ["Branch"]


class Branch(wiring.Component):
    """A branch: ``d = branch_act(resize(acc))``, combinational (docs/architecture.md).

    ``a = resize(acc, Fa, dendrite_format, nearest_even, saturate)``; ``d = a`` for the identity
    branch activation, else the activation unit's output (input and output in the dendrite
    format).

    Parameters
    ----------
    accumulator_format : FixedFormat
        Format of the accumulator codes (``TileConfig.accumulator_format``).
    dendrite_format : FixedFormat
        Format of the branch activation's input and output.
    spec : ActivationSpec or None
        The branch activation, ``None`` for identity. Its input and output formats must be the
        dendrite format.
    plan : ActivationPlan, optional
        An already resolved plan of ``spec`` (skips the segment search).

    Members
    -------
    acc : In(signed(accumulator width))
        The branch's accumulator.
    d : Out(signed(dendrite width))
        The branch output.
    """

    def __init__(self, *, accumulator_format: FixedFormat, dendrite_format: FixedFormat,
                 spec: ActivationSpec | None = None, plan: ActivationPlan | None = None):
        with unused_if_refused(self):
            for label, fmt in (("accumulator_format", accumulator_format),
                               ("dendrite_format", dendrite_format)):
                if not isinstance(fmt, FixedFormat) or not fmt.signed:
                    raise ConfigError(f"{label}: expected a signed FixedFormat, got {fmt!r}")
            if spec is not None and (spec.input_format != dendrite_format
                                     or spec.output_format != dendrite_format):
                raise ConfigError(f"branch_activation: input and output must be {dendrite_format}, got "
                                  f"{spec.input_format} -> {spec.output_format}")
            if spec is None and plan is not None:
                raise ConfigError("plan: given for the identity branch activation")
        self.accumulator_format = accumulator_format
        self.dendrite_format = dendrite_format
        self.spec = spec
        self.plan = plan
        super().__init__({
            "acc": In(shape_of(accumulator_format)),
            "d": Out(shape_of(dendrite_format)),
        })

    def elaborate(self, platform):
        m = Module()
        a = resize(self.acc, self.accumulator_format.frac_bits, self.dendrite_format,
                   Rounding.NEAREST_EVEN, Overflow.SATURATE, AMARANTH_OPS)
        if self.spec is None:
            m.d.comb += self.d.eq(a)
        else:
            m.submodules.activation = unit = ActivationUnit(self.spec, plan=self.plan)
            m.d.comb += [
                unit.x.eq(a),
                self.d.eq(unit.y),
            ]
        return m
