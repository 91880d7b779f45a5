"""Fuzzing the configuration: any input either gives a valid TileConfig or a one-line
ConfigError naming a parameter, never another exception; valid random configurations give
lint-clean Verilog."""

import json

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from subtile.spec.config import TileConfig, random_config
from subtile.errors import ConfigError
from subtile.gen.tile import generate_tile
from subtile.toolchain import runner

FIELDS = [f for f in TileConfig.__dataclass_fields__]

values = st.one_of(
    st.integers(-5, 70000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=12), st.sampled_from(["fixed<8,2>", "ufixed<4,0>", "fixed<40,3>", "fixed<2,9>",
                                           "icg", "enable", "none", "tanh", "identity", "lut"]),
    st.dictionaries(st.sampled_from(["function", "impl", "segments", "beta", "guard_bits", "bogus"]),
                    st.one_of(st.integers(-2, 70), st.sampled_from(["tanh", "lut", "identity", "x"])),
                    max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS + ["nuerons"]), values, max_size=5))
def test_any_input_is_a_config_or_a_named_error(data):
    try:
        config = TileConfig.from_dict(data)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and ":" in message
        assert message.split(":")[0].split(".")[0] in FIELDS + ["tile", "accumulator"]
        event("invalid: refused")         # counted by pytest --hypothesis-show-statistics
    else:
        assert TileConfig.from_dict(config.to_dict()) == config
        event("valid")


@pytest.mark.parametrize("seed", range(6))
def test_random_valid_configs_lint_clean(seed, tmp_path):
    config = random_config(np.random.default_rng(seed), max_neurons=12, name=f"fuzz{seed}")
    design = generate_tile(config)
    verilog = design.write(tmp_path)
    assert runner.lint([tmp_path / f"{design.top}.vlt", verilog], design.top) == [], config.to_toml()


#: Values that are wrong for a field whatever the other fields hold.
BAD_VALUES = {
    "name": ["", "1tile", "a-b", "my tile", "tile\n", "../escape", "a/b", "tile.v", "\u00e9t\u00e9", 7, None,
             "module", "wire", "logic", "always", "endmodule", "reg", "input", "interface"],
    "neurons": [0, -1, 257, 4.0, "4", True, None],
    "branches": [0, 17, 2.5, "2"],
    "synapses": [0, 65, -3, [4]],
    "addresses": [0, 65537, "64"],
    "weight_format": ["fixed<40,2>", "ufixed<8,2>", "fixed<1,1>", "float", "fixed<8,", 8],
    "payload_format": ["fixed<17,2>", "ufixed<4,0>", ""],
    "dendrite_format": ["fixed<0,0>", "fixed<99,9>", None],
    "membrane_format": ["fixd<8,2>", "ufixed<12,5>"],
    "branch_activation": ["tanhh", {"function": "tanh", "impl": "spline"}, {"bogus": 1}, 3],
    "soma_activation": ["identity", "nope", {"function": "relu", "colour": "red"}, []],
    "leak_shift": [-1, 16, 1.5],
    "delta": [-1, 70000, "2"],
    "lanes": [0, -2, 300, "1"],
    "gating": ["clock", "", None, 1],
    "seed": [-1, 2**32, 1.0],
    "weight_density": [-0.1, 1.5, float("nan"), float("inf"), "0.5", True],
    "table_fill": [2, -1e-9, None],
}


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_random_valid_configs_accepted_and_one_bad_field_named(seed, data):
    """A random valid configuration is accepted and survives TOML; the same configuration with
    one field made invalid is refused with a one-line error naming exactly that field."""
    config = random_config(np.random.default_rng(seed), max_neurons=64)
    assert TileConfig.from_dict(config.to_dict()) == config
    event("valid")
    field = data.draw(st.sampled_from(sorted(BAD_VALUES)), label="field")
    value = data.draw(st.sampled_from(BAD_VALUES[field]), label="value")
    broken = {**config.to_dict(), field: value}
    with pytest.raises(ConfigError) as refused:
        TileConfig.from_dict(broken)
    message = str(refused.value)
    assert "\n" not in message and message.split(":")[0].split(".")[0] == field, message
    event("invalid: refused")


def test_names_never_leave_the_output_folder(tmp_path):
    """The module name is the file name: only identifiers, so no path can escape ``-o``."""
    from subtile.cli.main import main
    for name in ("../up", "/abs", "a/b", "x\n", "x.v"):
        config = tmp_path / "bad.toml"
        config.write_text(f"[tile]\nname = {json.dumps(name)}\n")    # a JSON string is a TOML string
        assert main(["generate", "tile", "--config", str(config), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "up.v").exists()


@pytest.mark.parametrize("name", ["module", "wire", "logic", "always", "begin", "assign", "typedef"])
def test_a_keyword_name_is_refused_before_any_tool_runs(name, tmp_path, capsys):
    """A module named like a Verilog/SystemVerilog keyword cannot be written: refused up front
    with one line naming the parameter (it used to pass validation and crash generation)."""
    from subtile.cli.main import main
    from subtile.spec.config import MeshConfig
    with pytest.raises(ConfigError) as refused:
        TileConfig(name=name)
    assert str(refused.value).startswith(f"name: {name!r} is a Verilog/SystemVerilog keyword")
    assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"^mesh\.name: .* keyword"):
        MeshConfig(name=name)
    config = tmp_path / "bad.toml"
    config.write_text(f'[tile]\nname = "{name}"\n')
    assert main(["generate", "tile", "--config", str(config), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"subtile: error: name: {name!r} is a Verilog")
    assert not (tmp_path / "out").exists()


def test_a_name_that_only_resembles_a_keyword_generates_lint_clean(tmp_path):
    """Keywords are lower case and whole words: "Logic" or "wires" are fine module names."""
    from subtile.spec.config import MeshConfig
    assert MeshConfig(name="mesh_module").name == "mesh_module"
    config = TileConfig(name="Logic", neurons=2, lanes=1, branches=1, synapses=2, addresses=4)
    design = generate_tile(config)
    verilog = design.write(tmp_path)
    assert runner.lint([tmp_path / f"{design.top}.vlt", verilog], design.top) == []


def test_mesh_name_must_be_a_whole_identifier():
    from subtile.spec.config import MeshConfig
    with pytest.raises(ConfigError, match=r"^mesh\.name: 'mesh!' is not an identifier"):
        MeshConfig(name="mesh!")
