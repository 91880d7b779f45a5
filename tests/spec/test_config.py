"""TileConfig: defaults, TOML round trip, and one-line errors naming the parameter."""

import pytest

from subtile.spec.config import TileConfig, load_config
from subtile.errors import ConfigError


def test_default_tile_and_derived_formats():
    config = TileConfig()
    assert (config.neurons, config.branches, config.synapses, config.addresses, config.lanes) == (16, 4, 16, 64, 16)
    # S * max|w * level| = 16 * 128 * 128 = 2**18 needs 20 signed bits; 12 fractional bits
    assert str(config.accumulator_format) == "fixed<20,8>" and config.accumulator_frac_bits == 12
    assert config.soma_spec.input_format == config.membrane_format
    assert config.soma_spec.output_format == config.payload_format
    assert config.branch_spec.function == "tanh" and config.groups == 1 and config.rows == 64
    assert (config.address_width, config.neuron_width, config.table_entry_width) == (6, 4, 7)


def test_toml_round_trip(tmp_path):
    config = TileConfig(neurons=8, lanes=2, branch_activation={"function": "sigmoid", "impl": "lut"},
                        soma_activation={"function": "swish", "beta": 1.5}, gating="enable")
    path = tmp_path / "tile.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config


def test_toml_without_table_header(tmp_path):
    path = tmp_path / "tile.toml"
    path.write_text('neurons = 4\nlanes = 2\nsoma_activation = "sigmoid"\n')
    config = load_config(path)
    assert (config.neurons, config.lanes, config.soma_activation.function) == (4, 2, "sigmoid")


@pytest.mark.parametrize("changes, message", [
    ({"neurons": 0}, "neurons: 0 is outside the allowed range 1..256"),
    ({"branches": 17}, "branches: 17 is outside the allowed range 1..16"),
    ({"synapses": 65}, "synapses: 65 is outside the allowed range 1..64"),
    ({"addresses": 70000}, "addresses: 70000 is outside the allowed range 1..65536"),
    ({"weight_format": "fixed<1,1>"}, "weight_format: width 1 is outside the allowed range 2..16"),
    ({"payload_format": "ufixed<8,2>"}, "payload_format: ufixed<8,2> must be signed"),
    ({"membrane_format": "fixed<17,4>"}, "membrane_format: width 17 is outside the allowed range 2..16"),
    ({"leak_shift": 16}, "leak_shift: 16 is outside the allowed range 0..15"),
    ({"delta": -1}, "delta: -1 is outside the allowed range 0..255"),
    ({"lanes": 3}, "lanes: 3 does not divide neurons=16; allowed: 1, 2, 4, 8, 16"),
    ({"gating": "clock"}, "gating: 'clock' is not one of icg, enable, none"),
    ({"name": "my tile"}, "name: 'my tile' is not an identifier"),
    ({"soma_activation": "identity"}, "soma_activation.function: 'identity' is not allowed for the soma"),
    ({"branch_activation": {"function": "cosh"}}, "branch_activation.function: 'cosh' is not one of identity, sigmoid"),
    ({"branch_activation": {"function": "tanh", "segments": 5}}, "branch_activation.segments: 5 is not a power of two"),
    ({"weight_density": 1.5}, "weight_density: 1.5 is outside the allowed range 0..1"),
    ({"weight_format": "fixed<16,2>", "payload_format": "fixed<16,2>", "synapses": 64},
     "accumulator: 38 bits needed, more than 32"),
])
def test_invalid_values_name_the_parameter(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TileConfig(**changes)


def test_unknown_keys_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="tile: unknown key\\(s\\) nuerons"):
        TileConfig.from_dict({"nuerons": 4})
    bad = tmp_path / "bad.toml"
    bad.write_text("neurons = [")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_product_width_holds_every_product_and_no_more():
    from subtile.spec.config import TileConfig
    from subtile.spec.fixed import FixedFormat
    for w, p in [(8, 8), (4, 6), (2, 12)]:
        config = TileConfig(weight_format=FixedFormat(w, 1), payload_format=FixedFormat(p, 1))
        wf, pf = config.weight_format, config.payload_format
        extremes = [a * b for a in (wf.min_code, wf.max_code) for b in (pf.min_code, pf.max_code)]
        n = config.product_width
        assert all(-(1 << (n - 1)) <= x < 1 << (n - 1) for x in extremes)
        assert not all(-(1 << (n - 2)) <= x < 1 << (n - 2) for x in extremes)
