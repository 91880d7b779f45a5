"""The mesh golden model: tiles exchanging events through axon tables, one global time step.

The network is modelled by its contract, not its timing (docs/architecture.md, "Event routers
and the mesh"): every event a tile emits in step t is delivered, once per destination of its
neuron's axon-table entry, to the destination tile before that tile's tick of step t + 1, and
applied in step t + 1 together with that step's external input events. Accumulation in a tile
is exact and order-independent (wrap-around sums), so the order in which packets arrive does
not change any result: the hardware must match this model bit for bit, per step and per tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subtile.spec.config import MeshConfig
from subtile.errors import ConfigError
from subtile.golden.tile import StepResult, TileModel, random_stimulus
from subtile.spec.contents import AxonTable, coverage_axons, initial_axons, mesh_contents

__all__ = ["AxonTable", "initial_axons", "coverage_axons", "MeshModel", "MeshStepResult", "random_mesh_stimulus"]


@dataclass(frozen=True, eq=False)
class MeshStepResult:
    """What one global time step did.

    Attributes
    ----------
    tiles : list of StepResult
        Per tile, its step (output events in ascending neuron order, state, counts).
    external_out : list of ndarray, shape (K, 2)
        Per external output port (``config.outputs`` order): the output events of its tile.
    packets : int
        Packets the step's output events put into the network (one per destination).
    delivered : ndarray of int64
        Per tile, packets its router delivers to it from this step's output events.
    """

    tiles: list
    external_out: list
    packets: int
    delivered: np.ndarray


class MeshModel:
    """The bit-exact mesh.

    Parameters
    ----------
    config : MeshConfig
    contents : list of (weights, table), optional
        Per tile; default ``golden.tile.initial_contents`` of each tile's config.
    axons : AxonTable, optional
        Default :func:`initial_axons`.
    """

    def __init__(self, config: MeshConfig, contents=None, axons=None):
        if not isinstance(config, MeshConfig):
            raise ConfigError(f"config: expected a MeshConfig, got {type(config).__name__}")
        self.config = config
        contents, self.axons = mesh_contents(config, contents, axons)
        self.tiles = [TileModel(config.tile_config(i), weights=w, table=t)
                      for i, (w, t) in enumerate(contents)]
        self.reset()

    def reset(self) -> None:
        for tile in self.tiles:
            tile.reset()
        self.pending = [np.zeros((0, 2), dtype=np.int64) for _ in self.tiles]

    def route(self, results: list[StepResult]) -> tuple[list[np.ndarray], np.ndarray]:
        """Events for each tile from the output events of ``results`` (one step of all tiles)."""
        inbox = [[] for _ in self.tiles]
        for i, result in enumerate(results):
            table = self.axons.destinations[i]
            for neuron, payload in result.events_out:
                for target, address in table[int(neuron)]:
                    inbox[target].append((address, int(payload)))
        routed = [np.array(events, dtype=np.int64).reshape(-1, 2) for events in inbox]
        return routed, np.array([len(events) for events in inbox], dtype=np.int64)

    def step(self, external=None) -> MeshStepResult:
        """One global step: each tile applies the events routed from the previous step plus
        ``external[i]`` (an (E, 2) array of (address, payload) for tile i; None for none), then
        updates; its output events are routed for the next step."""
        count = len(self.tiles)
        if external is None:
            external = [None] * count
        if len(external) != count:
            raise ConfigError(f"external: {len(external)} tiles, expected {count}")
        results = []
        for i, tile in enumerate(self.tiles):
            extra = np.asarray([] if external[i] is None else external[i], dtype=np.int64).reshape(-1, 2)
            results.append(tile.step(np.concatenate([self.pending[i], extra])))
        self.pending, delivered = self.route(results)
        outputs = [results[self.config.index(x, y)].events_out for x, y in self.config.outputs]
        return MeshStepResult(results, outputs, int(delivered.sum()), delivered)

    def run(self, steps) -> list[MeshStepResult]:
        return [self.step(external) for external in steps]


def random_mesh_stimulus(config: MeshConfig, steps: int, activity: float, seed: int) -> list[list[np.ndarray]]:
    """External input: per step, per tile, seeded sigma-delta events (``golden.tile.random_stimulus``
    with seed ``seed + tile index``)."""
    per_tile = [random_stimulus(config.tile_config(i), steps, activity, seed + i) for i in range(config.count)]
    return [[per_tile[i][s] for i in range(config.count)] for s in range(steps)]
