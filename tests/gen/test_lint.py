"""Generated Verilog is lint-clean under `verilator --lint-only -Wall` with the documented
waivers only (gen.verilog.LINT_WAIVERS); any other warning is a defect."""

import pytest

from subtile.gen.activation import generate_activation
from subtile.gen.verilog import LINT_WAIVERS
from subtile.spec.activation import ActivationSpec, standard_specs
from subtile.toolchain import runner
from subtile.sim.activation_bench import bench_design


def lint_design(design, tmp_path):
    verilog = design.write(tmp_path)
    return runner.lint([tmp_path / f"{design.top}.vlt", verilog], design.top)


def test_every_standard_unit_lints_clean(tmp_path):
    # all standard units in one design (the bench instantiates each as its own module)
    design, _ = bench_design([s.plan() for s in standard_specs() if s.input_format.width <= 12])
    assert lint_design(design, tmp_path) == []


@pytest.mark.parametrize("spec", [
    ActivationSpec("softplus", "interp", "fixed<8,4>", "fixed<8,3>", latency=1),
    ActivationSpec("gelu", "lut", "fixed<6,3>", "fixed<6,3>", latency=1),
    ActivationSpec("relu", "interp", "fixed<1,1>", "ufixed<1,0>"),
], ids=lambda s: f"{s.function}-{s.impl}-l{s.latency}")
def test_single_units_lint_clean(spec, tmp_path):
    assert lint_design(generate_activation(spec), tmp_path) == []


def test_waivers_are_needed_and_nothing_else_is_reported(tmp_path):
    """Without the waiver file, only the waived rules appear (so the waivers hide nothing else)."""
    design = generate_activation(ActivationSpec("softplus", "interp", "fixed<8,4>", "fixed<8,3>", latency=1))
    verilog = design.write(tmp_path)
    messages = runner.lint([verilog], design.top)
    rules = {line.split(":")[0].removeprefix("%Warning-") for line in messages}
    assert rules and rules <= set(LINT_WAIVERS)


@pytest.mark.parametrize("gating", ["icg", "enable", "none"])
def test_tile_lints_clean(gating, tmp_path):
    from subtile.spec.config import TileConfig
    from subtile.gen.tile import generate_tile
    config = TileConfig(neurons=6, lanes=3, branches=3, synapses=5, addresses=20, gating=gating,
                        soma_activation={"function": "gelu", "impl": "lut"})
    assert lint_design(generate_tile(config), tmp_path) == []
