"""The layer graph, the native front end, quantization and the mapper (no simulator)."""

import numpy as np
import pytest

from subtile.errors import ConfigError
from subtile.network import mapper, native, quantize
from subtile.network.graph import Graph, Layer
from subtile.golden.tile import TileModel


def _toml(tmp_path, text, **arrays):
    np.savez(tmp_path / "m.npz", **arrays)
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


LAYERS = """[network]
name = "t"
inputs = 3
weights = "m.npz"

[[layers]]
name = "h"
activation = "tanh"
weight = "w1"
bias = "b1"

[[layers]]
name = "o"
activation = {function = "swish", beta = 1.5}
weight = "w2"
"""


def test_native_forward_is_the_formula(tmp_path):
    rng = np.random.default_rng(1)
    w1, b1, w2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2))
    graph = native.load(_toml(tmp_path, LAYERS, w1=w1, b1=b1, w2=w2))
    x = rng.normal(size=(7, 3))
    h = np.tanh(x @ w1 + b1)
    z = h @ w2
    np.testing.assert_allclose(graph.forward(x), z / (1 + np.exp(-1.5 * z)), rtol=1e-12)
    again = native.load(native.save(graph, tmp_path / "copy.toml"))
    np.testing.assert_array_equal(again.forward(x), graph.forward(x))


def test_dendritic_layer_forward():
    w = np.arange(8.0).reshape(4, 2) / 10
    layer = Layer("d", w, bias=np.array([0.5, -0.5]), branch=np.array([0, 0, 1, 1]), branch_activation="tanh",
                  activation="sigmoid")
    x = np.array([[1.0, -1.0, 0.5, 2.0]])
    u = np.tanh(x[:, :2] @ w[:2] + [0.5, -0.5]) + np.tanh(x[:, 2:] @ w[2:])
    np.testing.assert_allclose(layer.forward(x), 1 / (1 + np.exp(-u)))


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('weight = "w2"', 'weight = "nope"'), "layer o: weight 'nope' is not in m.npz"),
    (lambda t: t.replace('name = "o"', 'name = "o"\ncolour = 1'), "layer o: unknown key(s) colour"),
    (lambda t: t.replace("inputs = 3", "inputs = 5"), "layer h: takes 3 inputs, the previous layer gives 5"),
    (lambda t: t.replace('activation = "tanh"', 'activation = "identity"'), "layer h: activation: 'identity' is not allowed"),
    (lambda t: t.replace('activation = "tanh"', 'activation = "cosh"'), "layer h: activation.function: 'cosh'"),
])
def test_native_refusals(tmp_path, edit, message):
    rng = np.random.default_rng(1)
    path = _toml(tmp_path, edit(LAYERS), w1=rng.normal(size=(3, 4)), b1=rng.normal(size=4), w2=rng.normal(size=(4, 2)))
    with pytest.raises(ConfigError) as error:
        native.load(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_quantization_chooses_integer_bits_and_counts():
    rng = np.random.default_rng(2)
    w = rng.normal(0, 0.3, size=(20, 5))
    w[0, 0], w[1, 1] = 7.0, 1e-6                    # one outlier to clip, one weight that rounds to 0
    graph = Graph("g", 20, [Layer("l", w, bias=np.full(5, 0.1))])
    for bits in (3, 6, 8):
        q = quantize.quantize(graph, bits)
        ql = q.layers[0]
        fmt = ql.weight_format
        assert fmt.width == bits and fmt.contains(ql.weight).all() and fmt.contains(ql.bias).all()
        values = np.concatenate([w.ravel(), np.full(5, 0.1)])
        error = lambda f: ((np.clip(np.round(values / f.lsb), f.min_code, f.max_code) * f.lsb - values) ** 2).sum()
        neighbours = [type(fmt)(bits, fmt.int_bits + d) for d in (-1, 1) if fmt.int_bits + d <= bits]   # searched: I <= W
        assert all(error(fmt) <= error(n) for n in neighbours)
        raw = np.round(values / fmt.lsb)
        assert ql.saturated == np.count_nonzero((raw > fmt.max_code) | (raw < fmt.min_code))
        assert ql.saturated >= 1 or bits > 3                     # at 3 bits the outlier is clipped
        assert ql.zeroed >= 1 and ql.total == 105


def _mlp(inputs, hidden, outputs, seed=0):
    rng = np.random.default_rng(seed)
    return Graph("mlp", inputs, [Layer("fc1", rng.normal(0, 0.3, (inputs, hidden)), bias=rng.normal(0, 0.1, hidden)),
                                 Layer("fc2", rng.normal(0, 0.3, (hidden, outputs)), activation="sigmoid")])


def test_mapper_splits_layers_and_multicasts(tmp_path):
    q = quantize.quantize(_mlp(70, 20, 12), 8)
    m = mapper.map_network(q, mapper.MapOptions(neurons=8))
    cfg = m.config
    assert [len(p) for p in m.parts] == [3, 2]
    assert sum(p.count for p in m.parts[0]) == 20 and sum(p.count for p in m.parts[1]) == 12
    assert cfg.max_destinations == 2 and (cfg.width, cfg.height) == (3, 2)
    first = cfg.tile_config(m.parts[0][0].tile)
    assert (first.branches, first.synapses, first.addresses) == (2, 36, 71)   # 70 inputs + bias over 2 branches
    # Every hidden neuron reaches both output tiles at its own index; consecutive tiles are neighbours.
    for part in m.parts[0]:
        for n, dests in enumerate(m.axons.destinations[part.tile]):
            assert sorted(dests) == sorted((p.tile, part.offset + n) for p in m.parts[1])
    positions = [cfg.position(p.tile) for parts in m.parts for p in parts]
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(positions, positions[1:]))
    # The memories hold the codes: a tile stepped on its inputs at level 1 sums its weights.
    part = m.parts[0][1]
    weights, table = m.contents[part.tile]
    tile = TileModel(cfg.tile_config(part.tile), weights, table)
    ql = q.layers[0]
    assert np.array_equal(weights[table.rows[:70]], ql.weight[:, part.offset:part.offset + part.count])
    assert np.array_equal(weights[table.rows[70]], ql.bias[part.offset:part.offset + part.count])
    assert m.bias_events[part.tile].tolist() == [[70, 64]]
    assert cfg.inputs == tuple(cfg.position(p.tile) for p in m.parts[0])
    assert cfg.outputs == tuple(cfg.position(p.tile) for p in m.parts[1])
    # Written and read back unchanged.
    m.write(tmp_path / "map")
    back = mapper.load_mapping(tmp_path / "map")
    assert back.config == cfg and back.axons == m.axons and back.parts == m.parts
    for (w1, t1), (w2, t2) in zip(back.contents, m.contents):
        assert np.array_equal(w1, w2) and np.array_equal(t1.encode(), t2.encode())


@pytest.mark.parametrize("graph, options, message", [
    (_mlp(1100, 4, 3), mapper.MapOptions(), "layer fc1: fan-in 1101 exceeds branches x synapses = 16 x 64 = 1024"),
    (_mlp(70, 4, 3), mapper.MapOptions(branches=1), "layer fc1: fan-in 71 exceeds branches x synapses = 1 x 64 = 64"),
    (_mlp(10, 40, 3), mapper.MapOptions(neurons=8, mesh=(2, 2)), "mesh: 2 x 2 = 4 tiles, the network needs 6"),
    (_mlp(10, 4, 40), mapper.MapOptions(neurons=2), "layer fc1: its outputs feed 20 tiles of layer fc2, more than max_destinations = 16"),
])
def test_mapper_refusals(graph, options, message):
    with pytest.raises(ConfigError) as error:
        mapper.map_network(quantize.quantize(graph, 8), options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_sparse_layers_map_only_their_fan_in_and_results_do_not_depend_on_the_split():
    """A block-diagonal first layer split over 2 tiles: each tile maps only its block's inputs (and the
    bias), each hidden neuron is sent only to the output tile that uses it; the golden read-out equals
    the one-tile mapping's (no partial sum saturates at these weights)."""
    from subtile.network import run
    rng = np.random.default_rng(3)
    w1 = np.zeros((12, 8))
    w1[:6, :4], w1[6:, 4:] = rng.normal(0, 0.4, (6, 4)), rng.normal(0, 0.4, (6, 4))
    w2 = np.zeros((8, 8))
    w2[:4, :4], w2[4:, 4:] = rng.normal(0, 0.5, (4, 4)), rng.normal(0, 0.5, (4, 4))
    graph = Graph("sparse", 12, [Layer("a", w1, bias=rng.normal(0, 0.1, 8)), Layer("b", w2, activation="sigmoid")])
    q = quantize.quantize(graph, 8)
    split = mapper.map_network(q, mapper.MapOptions(neurons=4))
    whole = mapper.map_network(q)
    first = [split.contents[p.tile][1] for p in split.parts[0]]
    assert [np.flatnonzero(t.valid).tolist() for t in first] == [[0, 1, 2, 3, 4, 5, 12], [6, 7, 8, 9, 10, 11, 12]]
    assert [split.config.tile_config(p.tile).synapses for p in split.parts[0]] == [7, 7]
    narrow = mapper.map_network(q, mapper.MapOptions(neurons=4, synapses=4))
    assert [narrow.config.tile_config(p.tile).branches for p in narrow.parts[0]] == [2, 2]   # 7 over 4-synapse branches
    assert split.config.max_destinations == 1
    for p in split.parts[0]:
        for n, dests in enumerate(split.axons.destinations[p.tile]):
            assert dests == ((split.parts[1][(p.offset + n) // 4].tile, p.offset + n),)
    x = rng.uniform(-1, 1, (50, 12))
    a = run.golden_batch(split, x, steps=3)
    b = run.golden_batch(whole, x, steps=3)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert a.packets.sum() > 0
    program = run.sequential_program(split, x[:10], steps=3)
    np.testing.assert_array_equal(program.codes, a.codes[:10])
