"""The batched golden tile and mesh against the per-sample models, event for event (seeded random)."""

import numpy as np
import pytest

from subtile.golden.batch import BatchMeshModel, BatchTileModel, dense_events
from subtile.golden.mesh import MeshModel, random_mesh_stimulus
from subtile.golden.tile import TileModel, random_stimulus
from subtile.spec.config import MeshConfig, TileConfig


def _events(result, sample):
    emit = result["emit"][sample]
    neurons = np.flatnonzero(emit)
    return np.stack([neurons, result["payload"][sample][neurons]], axis=1)


@pytest.mark.parametrize("tile", [
    TileConfig(neurons=8, branches=2, synapses=4, addresses=12, lanes=4, leak_shift=1, delta=2, seed=3),
    TileConfig(neurons=6, branches=3, synapses=3, addresses=9, lanes=6, leak_shift=0, delta=0, seed=5,
               branch_activation="sigmoid", soma_activation="softplus", table_fill=0.7),
])
def test_batch_tile_matches_tile_model(tile):
    samples, steps = 5, 12
    stimuli = [random_stimulus(tile, steps, 0.4, seed) for seed in range(samples)]
    batch = BatchTileModel(tile, samples=samples)
    models = [TileModel(tile) for _ in range(samples)]
    emitted = 0
    for s in range(steps):
        payload, count = dense_events([stim[s] for stim in stimuli], samples, tile.addresses)
        result = batch.step(payload, count)
        for k, model in enumerate(models):
            expected = model.step(stimuli[k][s])
            np.testing.assert_array_equal(_events(result, k), expected.events_out)
            assert result["synaptic_ops"][k] == expected.synaptic_ops
            assert result["events_in"][k] == expected.events_in
            assert batch.state(k) == expected.state
            emitted += len(expected.events_out)
    assert emitted > 0


def test_batch_mesh_matches_mesh_model():
    config = MeshConfig(width=2, height=2, tile=TileConfig(neurons=6, branches=2, synapses=4, addresses=10, lanes=3,
                                                           leak_shift=1, delta=1),
                        max_destinations=2, axon_fill=0.9)
    samples, steps = 4, 10
    stimuli = [random_mesh_stimulus(config, steps, 0.3, seed) for seed in range(samples)]
    batch = BatchMeshModel(config, samples=samples)
    models = [MeshModel(config) for _ in range(samples)]
    total_packets = 0
    for s in range(steps):
        external = [dense_events([stimuli[k][s][i] for k in range(samples)], samples, config.tile_config(i).addresses)
                    for i in range(config.count)]
        result = batch.step(external)
        for k, model in enumerate(models):
            expected = model.step(stimuli[k][s])
            assert result["packets"][k] == expected.packets
            total_packets += expected.packets
            for i in range(config.count):
                np.testing.assert_array_equal(_events(result["tiles"][i], k), expected.tiles[i].events_out)
                assert batch.tiles[i].state(k) == expected.tiles[i].state
    assert total_packets > 0
