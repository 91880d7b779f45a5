"""The shared fixed-point specification: formats, rounding, overflow, and NumPy = Amaranth."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from subtile.spec.fixed import (FixedFormat, FormatError, Overflow, Rounding, requantize,
                                  shift_right, signed_width)
from subtile.hdl.fixed import AMARANTH_OPS, shape_of


@pytest.mark.parametrize("text, width, int_bits, is_signed", [
    ("fixed<8,4>", 8, 4, True), ("ufixed<8,0>", 8, 0, False), (" fixed< 16 , -2 > ", 16, -2, True),
    ("fixed<1,1>", 1, 1, True), ("ufixed<32,40>", 32, 40, False),
])
def test_parse_and_print(text, width, int_bits, is_signed):
    fmt = FixedFormat.parse(text)
    assert (fmt.width, fmt.int_bits, fmt.signed) == (width, int_bits, is_signed)
    assert FixedFormat.parse(str(fmt)) == fmt


@pytest.mark.parametrize("text, message", [
    ("fixed<0,0>", "width: 0 is outside the allowed range 1..32"),
    ("fixed<33,1>", "width: 33 is outside the allowed range 1..32"),
    ("float<8,4>", "is not a format"),
    ("fixed<8>", "is not a format"),
])
def test_parse_errors_name_parameter_and_range(text, message):
    with pytest.raises(FormatError, match=message) as info:
        FixedFormat.parse(text, name="weight_format")
    assert str(info.value).startswith("weight_format:")


def test_ranges():
    fmt = FixedFormat.parse("fixed<8,4>")
    assert (fmt.min_code, fmt.max_code, fmt.lsb) == (-128, 127, 1 / 16)
    assert (fmt.min_value, fmt.max_value) == (-8.0, 127 / 16)
    ufmt = FixedFormat.parse("ufixed<4,0>")
    assert (ufmt.min_code, ufmt.max_code, ufmt.max_value) == (0, 15, 15 / 16)


def test_quantize_rounding_modes_on_ties_and_signs():
    fmt = FixedFormat.parse("fixed<8,4>")      # LSB = 1/16
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.4, -0.4]) / 16
    assert list(fmt.quantize(x, "nearest_even")) == [0, 2, 2, 0, -2, -2, 0, 0]
    assert list(fmt.quantize(x, "floor")) == [0, 1, 2, -1, -2, -3, 0, -1]
    assert list(fmt.quantize(x, "toward_zero")) == [0, 1, 2, 0, -1, -2, 0, 0]


def test_quantize_overflow_modes():
    fmt = FixedFormat.parse("fixed<4,4>")      # integers -8..7
    x = np.array([7.0, 8.0, 9.0, -8.0, -9.0, 1e30, -1e30])
    assert list(fmt.quantize(x, overflow="saturate")) == [7, 7, 7, -8, -8, 7, -8]
    assert list(fmt.quantize(x[:5], overflow="wrap")) == [7, -8, -7, -8, 7]
    ufmt = FixedFormat.parse("ufixed<4,4>")
    assert list(ufmt.quantize([-1.0, 16.0, 17.0], overflow="wrap")) == [15, 0, 1]
    assert list(ufmt.quantize([-1.0, 16.0], overflow="saturate")) == [0, 15]


def test_bad_modes_are_named():
    with pytest.raises(FormatError, match="rounding: 'up' is not one of nearest_even, floor, toward_zero"):
        FixedFormat(8, 4).quantize([0.0], rounding="up")
    with pytest.raises(FormatError, match="overflow: 'clip' is not one of saturate, wrap"):
        FixedFormat(8, 4).quantize([0.0], overflow="clip")


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("shift", [1, 2, 5])
def test_integer_shift_agrees_with_real_rounding(rounding, shift):
    """The two forms of each rounding rule (real values, integer shifts) are the same rule."""
    n = np.arange(-300, 301, dtype=np.int64)
    assert np.array_equal(shift_right(n, shift, rounding), rounding.round_real(n / (1 << shift)))


def test_requantize_matches_quantize_of_the_real_value():
    src, dst = FixedFormat.parse("fixed<12,4>"), FixedFormat.parse("fixed<6,2>")
    codes = src.all_codes()
    for rounding in Rounding:
        for overflow in Overflow:
            expected = dst.quantize(src.to_real(codes), rounding, overflow)
            assert np.array_equal(requantize(codes, src, dst, rounding, overflow), expected)


def test_widths():
    assert signed_width(-128, 127) == 8 and signed_width(-129, 0) == 9 and signed_width(0, 0) == 1
    assert signed_width(0, 128) == 9


@pytest.mark.parametrize("rounding", list(Rounding))
def test_amaranth_backend_is_bit_exact_with_numpy(rounding):
    """The same rule run on Amaranth values generates hardware that computes the NumPy result."""
    src, dst = FixedFormat.parse("fixed<9,3>"), FixedFormat.parse("fixed<5,2>")
    x = Signal(shape_of(src))
    y_sat, y_wrap = Signal(shape_of(dst)), Signal(shape_of(dst))
    m = Module()
    m.d.comb += [y_sat.eq(requantize(x, src, dst, rounding, "saturate", AMARANTH_OPS)),
                 y_wrap.eq(requantize(x, src, dst, rounding, "wrap", AMARANTH_OPS))]
    codes = src.all_codes()
    got_sat, got_wrap = [], []

    async def testbench(ctx):
        for code in codes:
            ctx.set(x, int(code))
            await ctx.delay(1e-9)
            got_sat.append(ctx.get(y_sat))
            got_wrap.append(ctx.get(y_wrap))

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert got_sat == list(requantize(codes, src, dst, rounding, "saturate"))
    assert got_wrap == list(requantize(codes, src, dst, rounding, "wrap"))


@pytest.mark.parametrize("fmt", [FixedFormat(8, 2), FixedFormat(3, 1), FixedFormat(5, 5, signed=False)],
                         ids=str)
def test_bits_is_the_word_wrap_reads_back(fmt):
    from subtile.spec.fixed import bits, wrap
    codes = fmt.all_codes()
    words = bits(codes, fmt)
    assert words.min() >= 0 and words.max() < 1 << fmt.width and len(set(words.tolist())) == len(codes)
    assert (wrap(words, fmt) == codes).all()
    assert bits(int(fmt.min_code), fmt) == (1 << (fmt.width - 1) if fmt.signed else 0)
    assert (bits(codes + (1 << fmt.width), fmt) == words).all()     # only the low W bits count
