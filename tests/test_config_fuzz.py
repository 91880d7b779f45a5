"""Fuzzing the configuration: any input either gives a valid TileConfig or a one-line
ConfigError naming a parameter, never another exception; valid random configurations give
lint-clean Verilog."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from subtile.config import TileConfig, random_config
from subtile.errors import ConfigError
from subtile.gen.tile import generate_tile
from subtile.sim import runner

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
    else:
        assert TileConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("seed", range(6))
def test_random_valid_configs_lint_clean(seed, tmp_path):
    config = random_config(np.random.default_rng(seed), max_neurons=12, name=f"fuzz{seed}")
    design = generate_tile(config)
    verilog = design.write(tmp_path)
    assert runner.lint([tmp_path / f"{design.top}.vlt", verilog], design.top) == [], config.to_toml()
