"""The activation golden model: exhaustive accuracy goals, symmetry, range, validation."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from subtile.spec.activation import (FUNCTIONS, ActivationSpec, FormatError, standard_specs)
from subtile.spec.fixed import FixedFormat

STANDARD = standard_specs()


@pytest.mark.parametrize("spec", STANDARD, ids=lambda s: f"{s.function}-{s.impl}-{s.input_format}")
def test_accuracy_goal_over_every_input_code(spec):
    accuracy = spec.plan().accuracy
    assert accuracy.max_error <= {"lut": 0.5, "interp": 1.0}[spec.impl] + 1e-9, accuracy
    if FUNCTIONS[spec.function].monotonic:
        assert accuracy.monotonic


def test_lut_is_the_correctly_rounded_function():
    spec = ActivationSpec("gelu", "lut", "fixed<10,4>", "fixed<10,4>")
    codes = spec.input_format.all_codes()
    expected = spec.output_format.quantize(
        np.array([0.5 * x * (1 + __import__("math").erf(x / 2 ** 0.5)) for x in spec.input_format.to_real(codes)]))
    assert np.array_equal(spec.plan().evaluate(codes), expected)


@pytest.mark.parametrize("function", ["sigmoid", "tanh", "hard_sigmoid"])
def test_complement_symmetry_holds_in_codes(function):
    """f(-x) = A - f(x) exactly in the interp output for symmetric formats away from the
    saturation edge (the output is computed from |x|, so both sides share one table)."""
    spec = ActivationSpec(function, "interp", "fixed<10,4>", "fixed<12,2>")
    plan = spec.plan()
    codes = np.arange(1, 512)
    a = round(FUNCTIONS[function].complement / spec.output_format.lsb)
    assert np.array_equal(plan.evaluate(-codes), a - plan.evaluate(codes))


def test_residual_functions_add_x_on_the_positive_side():
    spec = ActivationSpec("softplus", "interp", "fixed<8,4>", "fixed<12,4>")
    plan = spec.plan()
    codes = np.arange(1, 128)
    # both sides hold x + c(|x|) and c(|x|) with the same core; the output has more fraction
    # bits than the input, so the difference is exactly x
    assert np.array_equal(plan.evaluate(codes) - plan.evaluate(-codes), codes << 4)


def test_table_range_follows_the_formats():
    narrow = ActivationSpec("sigmoid", "interp", "fixed<8,4>", "ufixed<4,0>").plan()
    wide = ActivationSpec("sigmoid", "interp", "fixed<8,4>", "ufixed<8,0>").plan()
    # sigmoid reaches its last output code sooner when the output is coarse
    assert 0 < narrow.table_range < wide.table_range <= 128
    codes = np.arange(wide.table_range, 128)
    assert np.all(wide.evaluate(codes) == 255)


@pytest.mark.parametrize("fmt", ["fixed<1,1>", "fixed<2,1>", "fixed<3,3>", "ufixed<2,0>", "fixed<4,-2>", "fixed<5,9>"])
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_narrow_and_unusual_inputs_never_fail(fmt, function):
    for impl in ("lut", "interp"):
        plan = ActivationSpec(function, impl, fmt, "fixed<6,2>").plan()
        assert plan.accuracy.meets_goal, (impl, plan.accuracy)


def test_explicit_segments_are_honoured_and_reported():
    coarse = ActivationSpec("sigmoid", "interp", "fixed<12,4>", "ufixed<12,0>", segments=4).plan()
    assert coarse.segments == 4 and coarse.used_segments <= 4
    assert not coarse.accuracy.meets_goal           # 4 segments are too few for 12 output bits
    auto = ActivationSpec("sigmoid", "interp", "fixed<12,4>", "ufixed<12,0>").plan()
    smaller = ActivationSpec("sigmoid", "interp", "fixed<12,4>", "ufixed<12,0>", segments=auto.segments // 2).plan()
    assert auto.accuracy.meets_goal and not smaller.accuracy.meets_goal   # auto is the minimum


def test_swish_beta_changes_the_function():
    a = ActivationSpec("swish", "interp", "fixed<8,4>", "fixed<8,4>", beta=1.0).plan()
    b = ActivationSpec("swish", "interp", "fixed<8,4>", "fixed<8,4>", beta=1.702).plan()
    codes = a.input_format.all_codes()
    assert not np.array_equal(a.evaluate(codes), b.evaluate(codes))
    assert b.accuracy.meets_goal


@pytest.mark.parametrize("kwargs, message", [
    ({"function": "elu"}, "function: 'elu' is not one of"),
    ({"impl": "cordic"}, "impl: 'cordic' is not one of lut, interp"),
    ({"input_format": "fixed<17,4>"}, "input_format: width 17 is outside the allowed range 1..16"),
    ({"output_format": "fixed<25,4>"}, "output_format: width 25 is outside the allowed range 1..24"),
    ({"segments": 12}, "segments: 12 is not a power of two"),
    ({"segments": 0}, "segments: 0 is outside the allowed range 1..65536"),
    ({"segments": 8, "impl": "lut"}, "segments: only the 'interp' implementation has segments"),
    ({"beta": 0.0}, r"beta: 0.0 is outside the allowed range \(0, 64\]"),
    ({"guard_bits": 9}, "guard_bits: 9 is outside the allowed range 0..8"),
    ({"latency": 2}, "latency: 2 is outside the allowed range 0..1"),
])
def test_invalid_specs_are_refused_with_the_parameter_named(kwargs, message):
    with pytest.raises(FormatError, match=message):
        ActivationSpec(**kwargs)


def test_evaluate_refuses_codes_outside_the_format():
    plan = ActivationSpec().plan()
    with pytest.raises(FormatError, match="codes: values outside fixed<8,4>"):
        plan.evaluate([128])


@settings(max_examples=60, deadline=None)
@given(function=st.sampled_from(sorted(FUNCTIONS)), impl=st.sampled_from(["lut", "interp"]),
       in_width=st.integers(1, 12), in_int=st.integers(-2, 8), out_width=st.integers(1, 16),
       out_int=st.integers(-1, 6), out_signed=st.booleans(), guard=st.integers(0, 6))
def test_random_specs_meet_the_goal(function, impl, in_width, in_int, out_width, out_int, out_signed, guard):
    spec = ActivationSpec(function, impl, FixedFormat(in_width, in_int),
                          FixedFormat(out_width, out_int, out_signed), guard_bits=guard)
    plan = spec.plan()
    assert plan.accuracy.meets_goal, (spec, plan.accuracy)
