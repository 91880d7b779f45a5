"""Activation units in Amaranth's simulator: bit-exact with the golden model, and the
comparison catches the faults it must catch (wrong rounding, off-by-one table index, sign
error on the negative side, missing saturation)."""

import numpy as np
import pytest
from amaranth.hdl import Mux

from subtile.spec.activation import FUNCTIONS, ActivationSpec
from subtile.spec.fixed import Overflow, Rounding, resize
from subtile.hdl.activation import ActivationUnit
from subtile.hdl.fixed import AMARANTH_OPS
from subtile.sim.amaranth_sim import sweep


def outputs_for(function):
    return {"sigmoid": "ufixed<7,0>", "hard_sigmoid": "ufixed<7,0>", "tanh": "fixed<7,1>"}.get(function, "fixed<7,3>")


def mismatches(unit):
    codes = unit.spec.input_format.all_codes()
    got = sweep(unit, codes, latency=unit.latency)
    return int(np.count_nonzero(got != unit.plan.evaluate(codes)))


@pytest.mark.parametrize("latency", [0, 1])
@pytest.mark.parametrize("impl", ["lut", "interp"])
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_unit_is_bit_exact_in_amaranth_sim(function, impl, latency):
    spec = ActivationSpec(function, impl, "fixed<7,3>", outputs_for(function), latency=latency)
    assert mismatches(ActivationUnit(spec)) == 0


def test_vcd_can_be_written(tmp_path):
    unit = ActivationUnit(ActivationSpec("tanh", "interp", "fixed<5,2>", "fixed<6,1>", latency=1))
    sweep(unit, unit.spec.input_format.all_codes(), latency=1, vcd_path=tmp_path / "tanh.vcd")
    assert "negative" in (tmp_path / "tanh.vcd").read_text()


# -- fault injection: each broken unit must be caught ---------------------------------------------
class FloorRounding(ActivationUnit):
    def _output(self, value):
        return resize(value, self.plan.internal_frac_bits, self.spec.output_format,
                      Rounding.FLOOR, Overflow.SATURATE, AMARANTH_OPS)


class NoSaturation(ActivationUnit):
    def _output(self, value):
        return resize(value, self.plan.internal_frac_bits, self.spec.output_format,
                      Rounding.NEAREST_EVEN, Overflow.WRAP, AMARANTH_OPS)


class SignError(ActivationUnit):
    def _reconstruct(self, core, negative, magnitude):
        if self.plan.function_def.symmetry == "complement":
            return Mux(negative, core - self.plan.complement_code, core)    # A - c written as c - A
        return super()._reconstruct(core, negative, magnitude)


class OffByOneIndex(ActivationUnit):
    def _table_port(self, m, name, table_shape, init, address):
        return super()._table_port(m, name, table_shape, init, address + 1)


@pytest.mark.parametrize("faulty, spec", [
    (FloorRounding, ActivationSpec("sigmoid", "interp", "fixed<8,4>", "ufixed<8,0>")),
    (NoSaturation, ActivationSpec("softplus", "interp", "fixed<8,4>", "fixed<6,2>")),
    (SignError, ActivationSpec("tanh", "interp", "fixed<8,4>", "fixed<8,1>")),
    (OffByOneIndex, ActivationSpec("gelu", "interp", "fixed<8,4>", "fixed<8,4>")),
    (OffByOneIndex, ActivationSpec("swish", "lut", "fixed<6,3>", "fixed<6,3>")),
])
def test_injected_faults_are_detected(faulty, spec):
    assert mismatches(ActivationUnit(spec)) == 0
    assert mismatches(faulty(spec)) > 0


def test_spec_and_plan_must_agree():
    spec = ActivationSpec("tanh", "interp", "fixed<6,3>", "fixed<6,1>")
    other = ActivationSpec("sigmoid", "interp", "fixed<6,3>", "ufixed<6,0>").plan()
    with pytest.raises(ValueError, match="plan: it was resolved for another spec"):
        ActivationUnit(spec, plan=other)
