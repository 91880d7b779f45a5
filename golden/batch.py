"""The golden tile and mesh with a batch axis: many independent copies stepped at once.

:class:`BatchTileModel` and :class:`BatchMeshModel` are :class:`~subtile.golden.tile.TileModel`
and :class:`~subtile.golden.mesh.MeshModel` for S samples side by side (state arrays with a
leading sample axis), bit-exact with them per sample (``tests/golden/test_batch.py`` compares
every output event). A step's input is given per address as the sum of its payloads and the
number of its events (accumulation is exact and order-independent, docs/architecture.md), so
the event phase is one matrix product per branch: weight codes and payload sums are integers far
below 2**53, so float64 products are exact. For evaluating thousands of inputs of one network
in seconds (``bench/network_batch.py``).
"""

from __future__ import annotations

import numpy as np

from subtile.errors import ConfigError
from subtile.golden.tile import TileModel, TileState, _activation_table, UNMAPPED_FORMAT
from subtile.spec.config import MeshConfig
from subtile.spec.contents import mesh_contents
from subtile.spec.fixed import Overflow, Rounding, resize, saturate, shift_right, wrap

__all__ = ["BatchTileModel", "BatchMeshModel", "dense_events"]


def dense_events(events_per_sample, samples: int, addresses: int) -> tuple[np.ndarray, np.ndarray]:
    """(payload sums, event counts), each (samples, addresses), from a list of (E, 2) arrays."""
    payload = np.zeros((samples, addresses), dtype=np.int64)
    count = np.zeros((samples, addresses), dtype=np.int64)
    for s, events in enumerate(events_per_sample):
        events = np.asarray(events, dtype=np.int64).reshape(-1, 2)
        np.add.at(payload[s], events[:, 0], events[:, 1])
        np.add.at(count[s], events[:, 0], 1)
    return payload, count


class BatchTileModel:
    """S copies of one tile (same memories), each with its own state.

    Parameters
    ----------
    config : TileConfig
    weights, table : optional
        As :class:`TileModel`.
    samples : int
        S, the batch size.
    """

    def __init__(self, config, weights=None, table=None, *, samples: int = 1):
        reference = TileModel(config, weights, table)          # validates and decodes the memories
        self.config, self.reference = config, reference
        cfg = config
        w, tab = reference.weights, reference.table
        rows = np.where(tab.valid, tab.rows, 0)
        per_address = np.where(tab.valid[:, None], w[rows], 0)                 # (A, N)
        self._branch_weights = [np.where((tab.branch == b)[:, None], per_address, 0).astype(np.float64)
                                for b in range(cfg.branches)]
        self._nonzero = (per_address != 0).astype(np.float64)
        self._ops = (per_address != 0).sum(axis=1).astype(np.float64)
        self._unmapped = (~tab.valid).astype(np.float64)
        self._branch_table = None if cfg.branch_spec is None else _activation_table(cfg.branch_spec)
        self._soma_table = _activation_table(cfg.soma_spec)
        self.reset(samples)

    def reset(self, samples: int | None = None) -> None:
        """Every copy to the reset state (as :meth:`TileModel.reset`)."""
        self.load(self.reference_reset_state(), samples)

    def reference_reset_state(self) -> TileState:
        self.reference.reset()
        return self.reference.state

    def load(self, state: TileState, samples: int | None = None) -> None:
        """Every copy to ``state`` (a :class:`TileState` of this tile)."""
        s = self.samples if samples is None else int(samples)
        if s < 1:
            raise ConfigError(f"samples: {s} is outside the allowed range 1..")
        self.samples = s
        self.acc = np.repeat(np.asarray(state.acc, dtype=np.int64).T[None], s, axis=0)     # (S, B, N)
        self.v = np.repeat(np.asarray(state.v, dtype=np.int64)[None], s, axis=0)
        self.y_sent = np.repeat(np.asarray(state.y_sent, dtype=np.int64)[None], s, axis=0)
        self.dirty = np.repeat(np.asarray(state.dirty, dtype=bool)[None], s, axis=0)
        self.unmapped = np.full(s, int(state.unmapped), dtype=np.int64)

    def state(self, sample: int) -> TileState:
        """Copy ``sample``'s state as a :class:`TileState`."""
        return TileState(self.acc[sample].T.copy(), self.v[sample].copy(), self.y_sent[sample].copy(),
                         self.dirty[sample].copy(), int(self.unmapped[sample]))

    def step(self, payload: np.ndarray | None, count: np.ndarray | None) -> dict:
        """One step: ``payload`` and ``count`` (S, A) as from :func:`dense_events` (None: no events).

        Returns a dict of arrays: ``emit`` (S, N) bool and ``payload`` (S, N) output payloads (where
        emitted), ``synaptic_ops``, ``events_in`` and ``updated`` (S,)."""
        cfg = self.config
        s = self.samples
        if payload is not None:
            counts = count.astype(np.float64)
            acc_format = cfg.accumulator_format
            sums = wrap(payload, acc_format).astype(np.float64)
            for b, weights in enumerate(self._branch_weights):
                increment = np.rint(sums @ weights).astype(np.int64)
                self.acc[:, b] = wrap(self.acc[:, b] + increment, acc_format)
            self.dirty |= (counts @ self._nonzero) > 0
            ops = np.rint(counts @ self._ops).astype(np.int64)
            events = count.sum(axis=1)
            self.unmapped = wrap(self.unmapped + np.rint(counts @ self._unmapped).astype(np.int64), UNMAPPED_FORMAT)
        else:
            ops = events = np.zeros(s, dtype=np.int64)
        emit, out = self._update()
        return {"emit": emit, "payload": out, "synaptic_ops": ops, "events_in": events,
                "updated": self.dirty_before.sum(axis=1)}

    def _update(self):
        cfg = self.config
        dendrite, membrane, payload = cfg.dendrite_format, cfg.membrane_format, cfg.payload_format
        ne, sat, floor, k = Rounding.NEAREST_EVEN, Overflow.SATURATE, Rounding.FLOOR, cfg.leak_shift
        dirty = self.dirty
        self.dirty_before = dirty.copy()
        a = resize(self.acc, cfg.accumulator_frac_bits, dendrite, ne, sat)               # (S, B, N)
        d = a if self._branch_table is None else self._branch_table[a - dendrite.min_code]
        u = resize(d.sum(axis=1), dendrite.frac_bits, membrane, ne, sat)
        v_new = self.v + shift_right(u - self.v, k, floor)
        y = self._soma_table[v_new - membrane.min_code]
        diff = y - self.y_sent
        emit = dirty & (diff != 0) & (np.abs(diff) >= cfg.delta)
        p_out = saturate(diff, payload)
        y_sent_new = np.where(emit, self.y_sent + p_out, self.y_sent)
        rest = y - y_sent_new
        still = (shift_right(u - v_new, k, floor) != 0) | ((rest != 0) & (np.abs(rest) >= cfg.delta))
        self.v = np.where(dirty, v_new, self.v)
        self.y_sent = np.where(dirty, y_sent_new, self.y_sent)
        self.dirty = np.where(dirty, still, False)
        return emit, np.where(emit, p_out, 0)


class BatchMeshModel:
    """S copies of one mesh (same memories and axon tables), stepped together.

    Parameters
    ----------
    config : MeshConfig
    contents, axons : optional
        As :class:`~subtile.golden.mesh.MeshModel`.
    samples : int
    """

    def __init__(self, config: MeshConfig, contents=None, axons=None, *, samples: int = 1):
        if not isinstance(config, MeshConfig):
            raise ConfigError(f"config: expected a MeshConfig, got {type(config).__name__}")
        self.config = config
        contents, self.axons = mesh_contents(config, contents, axons)
        self.tiles = [BatchTileModel(config.tile_config(i), w, t, samples=samples) for i, (w, t) in enumerate(contents)]
        # Routes: per (source tile, destination tile), the source neurons and destination addresses.
        self._routes = []
        for i, table in enumerate(self.axons.destinations):
            pairs = {}
            for n, dests in enumerate(table):
                for t, a in dests:
                    pairs.setdefault(t, []).append((n, a))
            for t, items in sorted(pairs.items()):
                items = np.array(items, dtype=np.int64)
                self._routes.append((i, t, items[:, 0], items[:, 1]))
        self.samples = samples
        self._clear_pending()

    def _clear_pending(self):
        self.pending = [None] * len(self.tiles)

    def reset(self, samples: int | None = None) -> None:
        for tile in self.tiles:
            tile.reset(samples)
        self.samples = self.tiles[0].samples
        self._clear_pending()

    def load(self, states, samples: int | None = None) -> None:
        """Every copy to the per-tile ``states`` (TileState list, e.g. a MeshModel's), nothing in flight."""
        for tile, state in zip(self.tiles, states):
            tile.load(state, samples)
        self.samples = self.tiles[0].samples
        self._clear_pending()

    def step(self, external=None) -> dict:
        """One global step; ``external[i]`` is None or (payload, count) arrays (S, A_i) for tile i.

        Returns ``tiles``: per tile the dict of :meth:`BatchTileModel.step`, and ``packets`` (S,)."""
        external = [None] * len(self.tiles) if external is None else external
        if len(external) != len(self.tiles):
            raise ConfigError(f"external: {len(external)} tiles, expected {len(self.tiles)}")
        results = []
        for i, tile in enumerate(self.tiles):
            inputs = [x for x in (self.pending[i], external[i]) if x is not None]
            if not inputs:
                results.append(tile.step(None, None))
                continue
            payload = sum(x[0] for x in inputs)
            count = sum(x[1] for x in inputs)
            results.append(tile.step(payload, count))
        pending = [None] * len(self.tiles)
        packets = np.zeros(self.samples, dtype=np.int64)
        for i, t, neurons, addresses in self._routes:
            emit = results[i]["emit"][:, neurons]
            if not emit.any():
                continue
            if pending[t] is None:
                shape = (self.samples, self.tiles[t].config.addresses)
                pending[t] = (np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64))
            np.add.at(pending[t][0], (slice(None), addresses), results[i]["payload"][:, neurons])
            np.add.at(pending[t][1], (slice(None), addresses), emit.astype(np.int64))
            packets += emit.sum(axis=1)
        self.pending = pending
        return {"tiles": results, "packets": packets}
