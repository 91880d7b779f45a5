"""The mesh golden model and MeshConfig: delivery one step later, multicast, order independence,
TOML round trip and one-line errors."""

from types import SimpleNamespace

import numpy as np
import pytest

from subtile.spec.config import MeshConfig, TileConfig, load_config
from subtile.errors import ConfigError
from subtile.golden.mesh import AxonTable, MeshModel, coverage_axons, initial_axons, random_mesh_stimulus
from subtile.golden.tile import TileModel, initial_contents

SMALL = TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2, delta=1)


def test_events_of_step_t_are_applied_at_step_t_plus_1():
    """A 1x2 mesh equals two tile models wired by hand: tile 0's output events of step t, mapped
    through its axon table, join tile 1's input in step t + 1."""
    config = MeshConfig(width=2, height=1, tile=SMALL, max_destinations=2)
    axons = AxonTable.build(config, [
        [((1, 3),), ((1, 5), (1, 7)), (), ((0, 2),)],        # tile 0: neuron 1 multicasts, 2 is silent
        [(), (), (), ()],
    ])
    mesh = MeshModel(config, axons=axons)
    tiles = [TileModel(config.tile_config(i), *initial_contents(config.tile_config(i))) for i in range(2)]
    stimulus = random_mesh_stimulus(config, 12, 0.5, seed=3)
    carry = [np.zeros((0, 2), dtype=np.int64), np.zeros((0, 2), dtype=np.int64)]
    for step, external in enumerate(stimulus):
        result = mesh.step(external)
        outs = [tiles[i].step(np.concatenate([carry[i], external[i]])) for i in range(2)]
        for i in range(2):
            assert np.array_equal(result.tiles[i].events_out, outs[i].events_out), (step, i)
            assert result.tiles[i].state == outs[i].state
        routed0, routed1 = [], []
        for neuron, payload in outs[0].events_out:
            for target, address in axons.destinations[0][neuron]:
                (routed0 if target == 0 else routed1).append((address, payload))
        assert result.packets == len(routed0) + len(routed1)
        assert list(result.delivered) == [len(routed0), len(routed1)]
        # k destinations make k packets; silent neuron 2 and tile 1 (no destinations) make none.
        assert result.packets == sum((1, 2, 0, 1)[n] for n, _ in outs[0].events_out)
        carry = [np.array(routed0, dtype=np.int64).reshape(-1, 2), np.array(routed1, dtype=np.int64).reshape(-1, 2)]


def test_arrival_order_does_not_change_results():
    config = MeshConfig(width=2, height=2, tile=SMALL, max_destinations=3, axon_fill=1.0)
    stimulus = random_mesh_stimulus(config, 15, 0.4, seed=9)
    reference = MeshModel(config).run(stimulus)
    shuffled = MeshModel(config)
    rng = np.random.default_rng(0)
    for step, external in enumerate(stimulus):
        shuffled.pending = [p[rng.permutation(len(p))] for p in shuffled.pending]
        result = shuffled.step([e[rng.permutation(len(e))] for e in external])
        for i in range(config.count):
            assert np.array_equal(result.tiles[i].events_out, reference[step].tiles[i].events_out)
            assert result.tiles[i].state == reference[step].tiles[i].state
    assert sum(r.packets for r in reference) > 0


def test_initial_axons_respect_the_config():
    config = MeshConfig(width=3, height=2, tile=SMALL, max_destinations=4, axon_fill=0.5, axon_seed=7)
    axons = initial_axons(config)
    counts = np.concatenate([axons.fanout(i) for i in range(config.count)])
    assert counts.max() <= 4 and (counts == 0).any() and (counts > 1).any()
    assert initial_axons(config) == axons
    assert initial_axons(config.replace(axon_seed=8)) != axons
    assert all(len(d) == 0 for tile in initial_axons(config.replace(max_destinations=0)).destinations for d in tile)


def test_coverage_axons_hold_every_kind_of_destination_list():
    config = MeshConfig(width=3, height=2, tile=SMALL, max_destinations=3, axon_fill=0.5, axon_seed=7)
    axons, seeded = coverage_axons(config), initial_axons(config)
    assert coverage_axons(config) == axons
    for i, (tile, base) in enumerate(zip(axons.destinations, seeded.destinations)):
        lists = {(n + i) % 4: tile[n] for n in range(4)}
        assert lists[0] == ()                                               # empty
        assert len(lists[1]) == 3 and len(set(lists[1])) == 3               # full, distinct
        assert len(lists[2]) == 3 and len(set(lists[2])) == 1               # one destination thrice
        assert len(lists[3]) == 1                                           # single
        assert tile[4:] == base[4:]                                         # the rest as seeded
    # tiles of two neurons: every kind still somewhere in the mesh
    small = config.replace(tile=SMALL.replace(neurons=2))
    kinds = {len(set(d)) * 10 + len(d) for tile in coverage_axons(small).destinations for d in tile[:2]}
    assert kinds == {0, 33, 13, 11}


def test_duplicate_destinations_deliver_one_event_per_entry():
    """An axon-table entry repeated k times delivers the event k times (k packets in the RTL)."""
    config = MeshConfig(width=2, height=1, tile=SMALL, max_destinations=2)
    single = [[((1, 3),)] + [()] * (SMALL.neurons - 1), [()] * SMALL.neurons]
    double = [[((1, 3), (1, 3))] + [()] * (SMALL.neurons - 1), [()] * SMALL.neurons]
    emitted = [SimpleNamespace(events_out=np.array([[0, 5]])), SimpleNamespace(events_out=np.zeros((0, 2)))]
    routed = {name: MeshModel(config, axons=AxonTable.build(config, table)).route(emitted)
              for name, table in (("single", single), ("double", double))}
    assert routed["single"][0][1].tolist() == [[3, 5]] and routed["single"][1].tolist() == [0, 1]
    assert routed["double"][0][1].tolist() == [[3, 5], [3, 5]] and routed["double"][1].tolist() == [0, 2]


def test_external_outputs_are_the_output_tiles_events():
    config = MeshConfig(width=2, height=2, tile=SMALL, outputs=((1, 0), (0, 1)))
    model = MeshModel(config)
    for external in random_mesh_stimulus(config, 5, 0.5, seed=1):
        result = model.step(external)
        assert np.array_equal(result.external_out[0], result.tiles[1].events_out)
        assert np.array_equal(result.external_out[1], result.tiles[2].events_out)


def test_mesh_toml_round_trip(tmp_path):
    config = MeshConfig(name="m", width=3, height=2, tile=SMALL, fifo_depth=8, max_destinations=3,
                        inputs=((0, 0), (2, 1)), outputs=((1, 1),))
    path = tmp_path / "mesh.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    per_tile = config.replace(tiles=tuple(SMALL.replace(seed=10 + i) for i in range(6)))
    path.write_text(per_tile.to_toml())
    loaded = load_config(path)
    assert loaded == per_tile and loaded.tile_config(4).seed == 14
    assert config.tile_config(4).seed == SMALL.seed + 4


def test_example_mesh_config_loads():
    from pathlib import Path
    config = load_config(Path(__file__).parents[2] / "examples" / "mesh.toml")
    assert isinstance(config, MeshConfig)


@pytest.mark.parametrize("text, message", [
    ('[mesh]\nwidth = 0\n', "mesh.width: 0 is outside the allowed range 1..16"),
    ('[mesh]\nfifo_depth = 1\n', "mesh.fifo_depth: 1 is outside the allowed range 2..1024"),
    ('[mesh]\nmax_destinations = 17\n', "mesh.max_destinations: 17 is outside the allowed range 0..16"),
    ('[mesh]\ninputs = [[2, 0]]\n', r"mesh.inputs.x: 2 is outside the allowed range 0..1"),
    ('[mesh]\ninputs = []\n', "mesh.inputs: at least one input tile is needed"),
    ('[mesh]\noutputs = [[0, 0], [0, 0]]\n', r"mesh.outputs: tile \[0, 0\] is listed twice"),
    ('[mesh]\naxon_fill = 2\n', "mesh.axon_fill: 2 is outside the allowed range 0..1"),
    ('[mesh]\nspeed = 2\n', "mesh: unknown key"),
    ('[mesh]\nwidth = 1\nheight = 2\n[[tiles]]\nneurons = 4\nlanes = 2\n', "tiles: 1 given, expected none"),
    ('[mesh]\nwidth = 2\nheight = 1\n[[tiles]]\npayload_format = "fixed<6,2>"\n[[tiles]]\n',
     "tiles.payload_format: all tiles must share one payload format"),
    ('[mesh]\n[tile]\nneurons = 0\n', "neurons: 0 is outside the allowed range 1..256"),
])
def test_mesh_config_errors_name_the_parameter(tmp_path, text, message):
    path = tmp_path / "mesh.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert "\n" not in str(error.value)


def test_axon_table_validation():
    config = MeshConfig(width=2, height=1, tile=SMALL, max_destinations=1)
    with pytest.raises(ConfigError, match="axons\\[0\\]\\[0\\]: 2 destinations, more than max_destinations = 1"):
        AxonTable.build(config, [[((1, 0), (1, 1)), (), (), ()], [(), (), (), ()]])
    with pytest.raises(ConfigError, match="address 16 is outside the allowed range 0..15 of tile 1"):
        AxonTable.build(config, [[((1, 16),), (), (), ()], [(), (), (), ()]])
