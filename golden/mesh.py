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
        self._axon_arrays()
        self.reset()

    def _axon_arrays(self) -> None:
        """The axon tables as flat arrays for :meth:`route`: neuron n of tile i is global neuron
        ``g = _neuron_base[i] + n``; its entries are the ``_fanout[g]`` rows of ``_targets`` and
        ``_addresses`` from row ``_first[g]``."""
        per_neuron = [neuron for tile in self.axons.destinations for neuron in tile]
        counts = [len(tile) for tile in self.axons.destinations]
        self._neuron_base = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._fanout = np.array([len(d) for d in per_neuron], dtype=np.int64)
        self._first = np.concatenate([[0], np.cumsum(self._fanout)[:-1]]).astype(np.int64)
        flat = np.array([entry for d in per_neuron for entry in d], dtype=np.int64).reshape(-1, 2)
        self._targets, self._addresses = flat[:, 0].copy(), flat[:, 1].copy()

    def reset(self) -> None:
        for tile in self.tiles:
            tile.reset()
        self.pending = [np.zeros((0, 2), dtype=np.int64) for _ in self.tiles]

    def route(self, results: list[StepResult]) -> tuple[list[np.ndarray], np.ndarray]:
        """Events for each tile from the output events of ``results`` (one step of all tiles):
        per tile, in the order of source tile, output event and axon-table entry."""
        count = len(self.tiles)
        emitted = [np.asarray(r.events_out, dtype=np.int64).reshape(-1, 2) for r in results]
        neurons = np.concatenate([events[:, 0] + base for events, base in zip(emitted, self._neuron_base)])
        payloads = np.concatenate([events[:, 1] for events in emitted])
        fanout = self._fanout[neurons]
        # Entry k of event e is row first[e] + k of the flat tables.
        ends = np.cumsum(fanout)
        entries = np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(self._first[neurons] - (ends - fanout), fanout)
        targets, addresses = self._targets[entries], self._addresses[entries]
        order = np.argsort(targets, kind="stable")
        delivered = np.bincount(targets, minlength=count).astype(np.int64)
        events = np.stack([addresses[order], np.repeat(payloads, fanout)[order]], axis=1)
        return np.split(events, np.cumsum(delivered)[:-1]), delivered

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
