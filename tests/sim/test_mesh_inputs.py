"""Mesh RTL against the golden mesh on axon tables no seeded draw produces (issue 21).

* duplicate destinations: neurons whose axon entries name the same (tile, address) twice (or
  three times, their own tile included), and several neurons sending to one (tile, address);
* rows whose payloads sum to exactly zero within a step: external events (a, p), (a, -p) and
  (a, p), (a, p), (a, -2p) in one step, on top of seeded random traffic.

Both meshes share one Verilator build; every output event of every tile and every external
output is compared per step, and each router's delivered-packet count with the model's.
"""

import numpy as np
import pytest

from subtile.golden.mesh import MeshModel, random_mesh_stimulus
from subtile.spec.config import MeshConfig, TileConfig
from subtile.spec.contents import AxonTable, initial_contents
from subtile.sim.mesh_bench import MeshBench, MeshCase

SMALL = TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2, payload_format="fixed<6,2>",
                   dendrite_format="fixed<8,3>", membrane_format="fixed<8,3>", branch_activation="identity",
                   soma_activation={"function": "tanh", "impl": "lut"}, delta=1, table_fill=0.5)

CONFIGS = [
    MeshConfig(name="dup1x2", width=2, height=1, tile=SMALL.replace(gating="none"), fifo_depth=3,
               max_destinations=3, inputs=((0, 0),), outputs=((1, 0),)),
    MeshConfig(name="dup2x2", width=2, height=2, tile=SMALL.replace(gating="icg"), fifo_depth=2,
               max_destinations=4, inputs=((0, 0), (1, 1)), outputs=((0, 1),)),
]
STEPS = 30


def mapped(config: MeshConfig, tile: int) -> np.ndarray:
    return np.flatnonzero(initial_contents(config.tile_config(tile))[1].valid)


def duplicate_axons(config: MeshConfig, seed: int) -> AxonTable:
    """Every neuron sends to one mapped (tile, address) of another tile twice, and (where room)
    to a second one once; neurons 0 and 1 of every tile share their destinations."""
    rng = np.random.default_rng(seed)
    tiles = []
    for i in range(config.count):
        neurons = []
        for n in range(config.tile_config(i).neurons):
            target = (i + 1 + int(rng.integers(config.count - 1))) % config.count
            address = int(rng.choice(mapped(config, target)))
            entry = [(target, address), (target, address)]
            if config.max_destinations >= 3:
                own = int(rng.choice(mapped(config, i)))
                entry.append((i, own))
            if config.max_destinations >= 4:
                entry.insert(1, (target, address))              # three times, not adjacent to the own one
            neurons.append(tuple(entry))
        neurons[1] = neurons[0]
        tiles.append(tuple(neurons))
    return AxonTable.build(config, tiles)


def zero_sum_stimulus(config: MeshConfig, seed: int) -> list[list[np.ndarray]]:
    """Seeded random traffic, with rows whose payloads cancel within a step added to every
    third step of every input tile."""
    stimulus = random_mesh_stimulus(config, STEPS, 0.3, seed)
    rng = np.random.default_rng(seed)
    pf = config.payload_format
    inputs = {config.index(x, y) for x, y in config.inputs}
    for s in range(0, STEPS, 3):
        for i in range(config.count):
            if i not in inputs:
                continue
            extra = []
            for a in rng.choice(mapped(config, i), size=3, replace=False):
                p = int(rng.integers(1, pf.max_code // 2 + 1)) * int(rng.choice([-1, 1]))
                extra += [[a, p], [a, -p]] if s % 2 else [[a, p], [a, p], [a, -2 * p]]
            order = rng.permutation(len(extra))
            stimulus[s][i] = np.concatenate([stimulus[s][i], np.array(extra)[order]]).astype(np.int64)
    return stimulus


@pytest.fixture(scope="session")
def duplicate_bench():
    axons = [duplicate_axons(c, 100 + i) for i, c in enumerate(CONFIGS)]
    return MeshBench(CONFIGS, name="mesh_inputs", axons=axons, count_toggles=False)


@pytest.fixture(scope="session")
def duplicate_runs(duplicate_bench, tmp_path_factory):
    cases = {i: MeshCase(zero_sum_stimulus(c, 20 + i), seed=5 + i, idle=0.2, stall=0.5)
             for i, c in enumerate(CONFIGS)}
    return cases, duplicate_bench.run(cases, work_dir=tmp_path_factory.mktemp("mesh-inputs"))


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.name for c in CONFIGS])
def test_duplicate_destinations_and_zero_sum_rows_bit_exact(duplicate_bench, duplicate_runs, index):
    config = CONFIGS[index]
    cases, runs = duplicate_runs
    run = runs[index]
    assert run.passed, f"{config.name}: {run.mismatch}\n{config.to_toml()}"
    # the run exercised what it is about: duplicated packets, and cancelling rows
    model = MeshModel(config, axons=duplicate_bench.axons[index])
    duplicated = cancelled = 0
    for external in cases[index].stimulus:
        inbox = [np.asarray(p).reshape(-1, 2) for p in model.pending]
        duplicated += sum(len(p) - len({tuple(e) for e in p.tolist()}) for p in inbox)
        for i, events in enumerate(external):
            both = np.concatenate([inbox[i], np.asarray(events).reshape(-1, 2)])
            for a in np.unique(both[:, 0]):
                rows = both[both[:, 0] == a, 1]
                cancelled += len(rows) > 1 and int(rows.sum()) == 0
        model.step(external)
    assert duplicated > 10 and cancelled > 10, (duplicated, cancelled)
    assert run.packets >= 2 * run.events_out > 0
