"""Exhaustive Verilator regression: every activation function x both implementations over the
standard format pairs (4- to 16-bit inputs), plus latency, beta, segment and unsigned-input
variants. Each group is one Verilator build and one simulation; each unit is one test."""

import numpy as np
import pytest

from subtile.spec.activation import FUNCTIONS, IMPLEMENTATIONS, ActivationSpec, standard_specs
from subtile.spec.fixed import FixedFormat
from subtile.sim.activation_bench import reproduce_command, simulate, unit_name

EXTRAS = [
    *(ActivationSpec(f, impl, "fixed<8,4>", out, latency=1)
      for f, out in [("sigmoid", "ufixed<8,0>"), ("tanh", "fixed<8,1>"), ("gelu", "fixed<8,4>"),
                     ("relu", "fixed<8,4>")] for impl in ("lut", "interp")),
    ActivationSpec("swish", "interp", "fixed<8,4>", "fixed<9,4>", beta=1.702),
    ActivationSpec("sigmoid", "interp", "fixed<12,4>", "ufixed<12,0>", segments=8),
    ActivationSpec("softplus", "interp", "ufixed<7,3>", "ufixed<8,3>"),
    ActivationSpec("tanh", "interp", "fixed<10,3>", "fixed<10,1>", guard_bits=0),
]



def random_specs(count, seed=2026):
    """Seeded random specs over the whole parameter space (inputs up to 14 bits)."""
    rng = np.random.default_rng(seed)
    specs = set()
    while len(specs) < count:
        in_width, out_width = int(rng.integers(1, 15)), int(rng.integers(1, 17))
        impl = str(rng.choice(IMPLEMENTATIONS))
        specs.add(ActivationSpec(
            function=str(rng.choice(sorted(FUNCTIONS))), impl=impl,
            input_format=FixedFormat(in_width, int(rng.integers(-2, in_width + 3)), bool(rng.random() < 0.85)),
            output_format=FixedFormat(out_width, int(rng.integers(-1, 6)), bool(rng.random() < 0.7)),
            beta=float(rng.choice([0.5, 1.0, 1.702, 4.0])), guard_bits=int(rng.integers(0, 7)),
            latency=int(rng.integers(0, 2)),
            segments=int(2 ** rng.integers(0, 8)) if impl == "interp" and rng.random() < 0.3 else None))
    return sorted(specs, key=unit_name)


GROUPS = {
    "narrow": [s for s in standard_specs() if s.input_format.width <= 12] + EXTRAS,
    "wide": [s for s in standard_specs() if s.input_format.width > 12],
    "random": random_specs(60),
}
@pytest.fixture(scope="session")
def regression(tmp_path_factory):
    """Runs each group once per worker, on first use. Each group is a test class, so
    ``pytest -n 2 --dist loadscope`` keeps a group's tests (and its build) on one worker."""
    results = {}

    def get(group):
        if group not in results:
            plans = [spec.plan() for spec in GROUPS[group]]
            work_dir = tmp_path_factory.mktemp(f"activation-{group}")
            results[group], _build, _run = simulate(plans, work_dir, top=f"activation_{group}")
        return results[group]
    return get


class _GroupTests:
    group: str

    def test_rtl_bit_exact_over_every_input_code(self, regression, spec):
        result = regression(self.group)[unit_name(spec)]
        assert result.compared >= (1 << spec.input_format.width) - spec.latency
        assert result.passed, f"{result.describe()}\nreproduce: {reproduce_command(spec)}"


@pytest.mark.parametrize("spec", GROUPS["narrow"], ids=unit_name)
class TestNarrowInputs(_GroupTests):
    group = "narrow"


@pytest.mark.parametrize("spec", GROUPS["wide"], ids=unit_name)
class TestWideInputs(_GroupTests):
    group = "wide"


@pytest.mark.slow
@pytest.mark.parametrize("spec", GROUPS["random"], ids=unit_name)
class TestRandomSpecs(_GroupTests):
    """60 seeded random specs in one build (formats, signedness, beta, guard bits, latency)."""
    group = "random"


def test_matrix_covers_the_goal():
    """All functions x both implementations over >= 6 format pairs incl. 4/8/12/16-bit inputs."""
    standard = [s for s in GROUPS["narrow"] + GROUPS["wide"] if s in standard_specs()]
    widths = {s.input_format.width for s in standard}
    assert {4, 8, 12, 16} <= widths and len({(s.input_format, s.output_format) for s in standard}) >= 6
    for function in FUNCTIONS:
        for impl in ("lut", "interp"):
            assert {s.input_format.width for s in standard if (s.function, s.impl) == (function, impl)} == widths
