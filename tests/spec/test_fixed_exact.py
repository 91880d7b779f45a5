"""An independent check of the shared fixed-point rules against exact rational arithmetic.

``spec/fixed.py`` and ``spec/activation.py`` are used by the golden model *and* the hardware,
so a wrong rule is invisible to every RTL-versus-golden comparison. These tests recompute each
rule with :class:`fractions.Fraction` and plain Python integers, from its definition in
docs/architecture.md and the module docstrings, over every code of small formats. No
expectation calls the rule under test (nor ``FixedFormat.min_code``/``max_code``/``quantize``).
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from subtile.golden.tile import TileModel, random_stimulus
from subtile.spec.activation import ActivationSpec
from subtile.spec.config import TileConfig
from subtile.spec.fixed import (FixedFormat, Overflow, Rounding, bits, requantize, resize, saturate,
                                shift_right, wrap)


# -- the exact rules ---------------------------------------------------------------------------------
def exact_round(q: Fraction, rounding: str) -> int:
    """An exact rational to an integer by the named rule, from its definition."""
    fl = math.floor(q)
    if rounding == "floor":
        return fl
    if rounding == "toward_zero":
        return fl if q >= 0 else math.ceil(q)
    rest = q - fl                          # in [0, 1)
    if rest > Fraction(1, 2):
        return fl + 1
    if rest < Fraction(1, 2):
        return fl
    return fl if fl % 2 == 0 else fl + 1   # an exact tie goes to the even integer


def code_range(width: int, signed: bool) -> tuple[int, int]:
    """The codes of a W-bit word: two's complement or unsigned."""
    return (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2 ** width - 1)


def exact_overflow(code: int, width: int, signed: bool, overflow: str) -> int:
    lo, hi = code_range(width, signed)
    if overflow == "saturate":
        return lo if code < lo else hi if code > hi else code
    # wrap: the one code of the range congruent to ``code`` modulo 2**W
    (result,) = [c for c in range(lo, hi + 1) if (c - code) % (2 ** width) == 0]
    return result


def real(code: int, frac_bits: int) -> Fraction:
    return Fraction(code) / Fraction(2) ** frac_bits


ROUNDINGS = [r.value for r in Rounding]
OVERFLOWS = [o.value for o in Overflow]
# Small formats: both signs, the binary point inside, at and beyond both ends of the word.
SMALL_FORMATS = [FixedFormat(w, i, signed=s) for w, i, s in [
    (1, 1, True), (1, 0, False), (2, 1, True), (2, 2, False), (3, 0, True), (3, 5, True),
    (4, 2, True), (4, -1, True), (4, 0, False), (4, 6, False), (5, 3, True), (6, 2, True), (6, 1, False),
]]


# -- integer shifts and the real-valued rounding ------------------------------------------------------
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_shift_right_is_exact_division_then_rounding(rounding):
    values = np.arange(-300, 301, dtype=np.int64)
    for shift in range(-3, 10):
        got = shift_right(values, shift, rounding)
        expected = [exact_round(Fraction(int(v)) / Fraction(2) ** shift, rounding) for v in values]
        assert got.tolist() == expected, f"shift {shift}"
        # the same rule on Python ints (what elaboration-time constants use)
        assert [int(shift_right(int(v), shift, rounding)) for v in values[::37]] == expected[::37]


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_round_real_is_exact_on_dyadic_values(rounding):
    # quarters, eighths and sixteenths: every tie and near-tie, both signs, exactly representable
    for denominator in (2, 4, 8, 16):
        numerators = np.arange(-80, 81)
        got = Rounding(rounding).round_real(numerators / denominator)
        assert got.tolist() == [exact_round(Fraction(int(n), denominator), rounding) for n in numerators]


@pytest.mark.parametrize("fmt", SMALL_FORMATS, ids=str)
def test_saturate_wrap_and_bits_are_the_word_rules(fmt):
    width, signed = fmt.width, fmt.signed
    lo, hi = code_range(width, signed)
    assert (fmt.min_code, fmt.max_code) == (lo, hi)
    values = list(range(-3 * 2 ** width - 2, 3 * 2 ** width + 3))
    array = np.array(values, dtype=np.int64)
    assert saturate(array, fmt).tolist() == [exact_overflow(v, width, signed, "saturate") for v in values]
    assert wrap(array, fmt).tolist() == [exact_overflow(v, width, signed, "wrap") for v in values]
    assert bits(array, fmt).tolist() == [v % 2 ** width for v in values]
    assert Fraction(fmt.lsb) == Fraction(2) ** -fmt.frac_bits


@pytest.mark.parametrize("src", SMALL_FORMATS, ids=str)
def test_requantize_is_exact_real_rounding_then_overflow(src):
    """Every code of ``src`` to every small ``dst``: the real value, scaled exactly to ``dst``'s
    LSB, rounded by the exact rule, then saturated or wrapped."""
    lo, hi = code_range(src.width, src.signed)
    codes = np.arange(lo, hi + 1, dtype=np.int64)
    for dst, rounding, overflow in itertools.product(SMALL_FORMATS, ROUNDINGS, OVERFLOWS):
        got = requantize(codes, src, dst, rounding, overflow).tolist()
        expected = [exact_overflow(exact_round(real(int(c), src.frac_bits) * Fraction(2) ** dst.frac_bits,
                                               rounding), dst.width, dst.signed, overflow) for c in codes]
        assert got == expected, f"{src} -> {dst}, {rounding}, {overflow}"


def test_resize_of_wide_sums_is_exact():
    """``resize`` from an arbitrary-width integer (the branch sum u, the accumulator read-out)."""
    rng = np.random.default_rng(21)
    values = rng.integers(-5000, 5000, size=400)
    for frac_bits, dst, rounding, overflow in itertools.product(
            (-2, 0, 3, 7), [FixedFormat(6, 2), FixedFormat(8, 5), FixedFormat(5, 5, signed=False)],
            ROUNDINGS, OVERFLOWS):
        got = resize(values, frac_bits, dst, rounding, overflow).tolist()
        expected = [exact_overflow(exact_round(real(int(v), frac_bits) * Fraction(2) ** dst.frac_bits, rounding),
                                   dst.width, dst.signed, overflow) for v in values]
        assert got == expected, f"frac {frac_bits} -> {dst}, {rounding}, {overflow}"


@pytest.mark.parametrize("fmt", [FixedFormat(4, 2), FixedFormat(5, 0), FixedFormat(3, 4, signed=False)], ids=str)
def test_quantize_is_exact_rounding_of_the_real_value(fmt):
    lo, hi = code_range(fmt.width, fmt.signed)
    # every eighth of an LSB from 8 codes below the range to 8 codes above it
    values = [real(k, fmt.frac_bits + 3) for k in range((lo - 8) * 8, (hi + 8) * 8 + 1)]
    floats = np.array([float(v) for v in values])
    assert all(Fraction(f) == v for f, v in zip(floats, values))       # dyadic: exact in float64
    for rounding, overflow in itertools.product(ROUNDINGS, OVERFLOWS):
        expected = [exact_overflow(exact_round(v * Fraction(2) ** fmt.frac_bits, rounding), fmt.width, fmt.signed,
                                   overflow) for v in values]
        assert fmt.quantize(floats, rounding, overflow).tolist() == expected


# -- products, the accumulator and the leak --------------------------------------------------------------
@pytest.mark.parametrize("weight, payload, synapses", [
    ("fixed<2,1>", "fixed<2,2>", 1), ("fixed<3,1>", "fixed<4,2>", 3), ("fixed<8,2>", "fixed<8,2>", 16),
    ("fixed<5,5>", "fixed<3,0>", 7), ("fixed<6,-1>", "fixed<4,6>", 64),
])
def test_accumulator_holds_every_sum_of_products_exactly(weight, payload, synapses):
    """acc codes carry Fw + Fp fractional bits, so a code is the exact real sum of w * p; the
    width is the smallest holding S times every product (docs/architecture.md, "Derived")."""
    config = TileConfig(weight_format=weight, payload_format=payload, synapses=synapses, neurons=1,
                        branches=1, addresses=4, lanes=1)
    wf, pf, acc = config.weight_format, config.payload_format, config.accumulator_format
    w_lo, w_hi = code_range(wf.width, True)
    p_lo, p_hi = code_range(pf.width, True)
    products = [w * p for w in range(w_lo, w_hi + 1) for p in range(p_lo, p_hi + 1)]
    lo, hi = synapses * min(products), synapses * max(products)
    width = next(b for b in itertools.count(1) if -(2 ** (b - 1)) <= lo and hi <= 2 ** (b - 1) - 1)
    assert acc.width == width and acc.signed
    for w, p in [(w_lo, p_lo), (w_hi, p_lo), (w_lo, p_hi), (1, -1), (w_hi, p_hi)]:
        assert real(w * p, acc.frac_bits) == real(w, wf.frac_bits) * real(p, pf.frac_bits)


def test_leak_is_floor_of_the_exact_fraction_and_stops_below_u():
    values = range(-70, 71, 3)
    for k in range(0, 7):
        for u, v in itertools.product(values, values):
            v_new = v + int(shift_right(u - v, k, "floor"))
            assert v_new == v + math.floor(Fraction(u - v, 2 ** k))
        # the fixed point from below lies at most 2**k - 1 LSBs under u; from above it is u
        for u in (-40, 0, 33):
            v = u - 200
            while (step := int(shift_right(u - v, k, "floor"))) != 0:
                v += step
            assert 0 <= u - v <= 2 ** k - 1
            v = u + 200
            while (step := int(shift_right(u - v, k, "floor"))) != 0:
                v += step
            assert v == u


# -- activation units: the interpolator's arithmetic and the direct table ----------------------------------
ACTIVATIONS = [ActivationSpec(f, impl, "fixed<6,3>", out) for f, out in
               [("tanh", "fixed<5,1>"), ("sigmoid", "ufixed<6,0>"), ("softplus", "fixed<6,3>"),
                ("gelu", "fixed<5,3>"), ("swish", "fixed<7,3>")] for impl in ("interp", "lut")]


@pytest.mark.parametrize("spec", ACTIVATIONS, ids=lambda s: f"{s.function}-{s.impl}")
def test_activation_plan_evaluate_is_exact_arithmetic_on_its_tables(spec):
    """``evaluate`` recomputed with Fractions from the plan's tables and constants: the segment
    lookup, the floored interpolation, the symmetry and the final nearest-even saturation."""
    plan = spec.plan()
    fin, fout = spec.input_format, spec.output_format
    lo, hi = code_range(fin.width, True)
    codes = list(range(lo, hi + 1))
    got = plan.evaluate(np.array(codes, dtype=np.int64)).tolist()
    if spec.impl == "lut":
        # the correctly rounded (nearest-even, saturated) real function, each entry at its code
        expected = [exact_overflow(exact_round(Fraction(float(spec.real(real(c, fin.frac_bits)))) *
                                               Fraction(2) ** fout.frac_bits, "nearest_even"),
                                   fout.width, fout.signed, "saturate") for c in codes]
        assert got == expected
        return
    base, slope = plan.tables["base"].tolist(), plan.tables["slope"].tolist()
    shift, used, internal = plan.segment_shift, plan.used_segments, plan.internal_frac_bits
    complement = plan.function_def.symmetry == "complement"
    expected = []
    for c in codes:
        t = abs(c)
        segment, offset = divmod(t, 2 ** shift)
        core = (base[segment] + math.floor(Fraction(slope[segment] * offset, 2 ** shift))
                if segment < used else plan.asymptote_code)
        if complement:
            value = plan.complement_code - core if c < 0 else core
        else:
            value = core + (0 if c < 0 else math.floor(real(t, fin.frac_bits) * Fraction(2) ** internal))
        expected.append(exact_overflow(exact_round(real(value, internal) * Fraction(2) ** fout.frac_bits,
                                                   "nearest_even"), fout.width, fout.signed, "saturate"))
    assert got == expected
    # and the constants are the exact real ones at the internal precision
    assert plan.asymptote_code == exact_round(Fraction(plan.function_def.asymptote) * 2 ** internal, "nearest_even")


# -- the neuron update of the golden model, recomputed exactly ------------------------------------------------
def exact_tile_step(config, weights, table, state, events):
    """One step of docs/architecture.md with Fractions and Python ints (activation codes from
    the plans, checked above); returns (events_out, state) with state a dict of lists."""
    acc_w = config.accumulator_format.width
    acc_frac = config.weight_format.frac_bits + config.payload_format.frac_bits
    dendrite, membrane, payload = config.dendrite_format, config.membrane_format, config.payload_format
    acc = [row[:] for row in state["acc"]]
    dirty = state["dirty"][:]
    unmapped = state["unmapped"]
    for address, p in events:
        if not table.valid[address]:
            unmapped = (unmapped + 1) % 2 ** 32
            continue
        b, s = int(table.branch[address]), int(table.slot[address])
        for n in range(config.neurons):
            w = int(weights[b * config.synapses + s][n])
            if w:
                acc[n][b] = exact_overflow(acc[n][b] + w * int(p), acc_w, True, "wrap")
                dirty[n] = True
    branch = None if config.branch_spec is None else config.branch_spec.plan()
    soma = config.soma_spec.plan()

    def to_format(value: Fraction, fmt):
        return exact_overflow(exact_round(value * Fraction(2) ** fmt.frac_bits, "nearest_even"),
                              fmt.width, True, "saturate")

    v, y_sent, out = state["v"][:], state["y_sent"][:], []
    k, delta = config.leak_shift, config.delta
    p_lo, p_hi = code_range(payload.width, True)
    for n in range(config.neurons):
        if not dirty[n]:
            continue
        d_sum = Fraction(0)
        for b in range(config.branches):
            a = to_format(real(acc[n][b], acc_frac), dendrite)
            d = a if branch is None else int(branch.evaluate(np.array([a]))[0])
            d_sum += real(d, dendrite.frac_bits)
        u = to_format(d_sum, membrane)
        v_new = v[n] + math.floor(Fraction(u - v[n], 2 ** k))
        y = int(soma.evaluate(np.array([v_new]))[0])
        diff = y - y_sent[n]
        emit = diff != 0 and abs(diff) >= delta
        p_out = min(max(diff, p_lo), p_hi)
        if emit:
            y_sent[n] += p_out
            out.append((n, p_out))
        rest = y - y_sent[n]
        dirty[n] = math.floor(Fraction(u - v_new, 2 ** k)) != 0 or (rest != 0 and abs(rest) >= delta)
        v[n] = v_new
    return out, {"acc": acc, "v": v, "y_sent": y_sent, "dirty": dirty, "unmapped": unmapped}


EXACT_CONFIGS = [
    TileConfig(name="x_tanh", neurons=3, lanes=1, branches=2, synapses=3, addresses=7, weight_format="fixed<5,2>",
               payload_format="fixed<4,2>", dendrite_format="fixed<7,3>", membrane_format="fixed<6,3>",
               leak_shift=2, delta=2, seed=4, table_fill=0.8),
    TileConfig(name="x_sig", neurons=2, lanes=2, branches=3, synapses=2, addresses=6, weight_format="fixed<6,1>",
               payload_format="fixed<5,1>", dendrite_format="fixed<6,2>", membrane_format="fixed<8,4>",
               branch_activation="softplus", soma_activation="sigmoid", leak_shift=0, delta=0, seed=9),
    TileConfig(name="x_relu", neurons=4, lanes=2, branches=1, synapses=4, addresses=5, weight_format="fixed<4,4>",
               payload_format="fixed<3,1>", dendrite_format="fixed<5,2>", membrane_format="fixed<5,2>",
               branch_activation="identity", soma_activation="relu", leak_shift=3, delta=1, seed=2),
]


@pytest.mark.parametrize("config", EXACT_CONFIGS, ids=lambda c: c.name)
def test_golden_tile_equals_the_exact_recomputation(config):
    model = TileModel(config)
    weights, table = model.weights, model.table
    state = {"acc": [[0] * config.branches for _ in range(config.neurons)], "v": [0] * config.neurons,
             "y_sent": [0] * config.neurons, "dirty": model.state.dirty.tolist(), "unmapped": 0}
    emitted = 0
    for step, events in enumerate(random_stimulus(config, 40, 0.6, seed=config.seed)):
        result = model.step(events)
        out, state = exact_tile_step(config, weights, table, state, events.tolist())
        emitted += len(out)
        assert [tuple(e) for e in result.events_out.tolist()] == out, f"step {step}"
        got = result.state
        assert got.acc.tolist() == state["acc"] and got.v.tolist() == state["v"], f"step {step}"
        assert got.y_sent.tolist() == state["y_sent"] and got.dirty.tolist() == state["dirty"], f"step {step}"
        assert got.unmapped == state["unmapped"]
    assert emitted > 0
