"""The memories' contents: synapse tables, weight rows and axon tables, and their seeded defaults.

Both models load these: the golden model runs on them and the hardware embeds them as memory
initialisation. :func:`initial_contents` and :func:`initial_axons` are the only definition of the
defaults a configuration's seeds draw; the draw order is part of the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subtile.errors import ConfigError
from subtile.spec.config import MeshConfig, TileConfig
from subtile.spec.fixed import FixedFormat

__all__ = ["SynapseTable", "initial_contents", "AxonTable", "initial_axons", "coverage_axons", "mesh_contents",
           "AXON_KINDS"]


# -- validation helpers ------------------------------------------------------------------------
def _check_index(name: str, value, lo: int, hi: int) -> int:
    """An integer parameter in lo..hi, or a one-line ConfigError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")
    return int(value)


def _integer_array(name: str, values, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An int64 copy of ``values``; refuses non-integer data and (if given) another shape."""
    array = np.asarray(values)
    if array.size == 0 and shape is None:
        return np.zeros(array.shape, dtype=np.int64)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"{name}: expected integer codes, got dtype {array.dtype}")
    if shape is not None and array.shape != shape:
        raise ConfigError(f"{name}: shape {array.shape} is not the expected {shape}")
    return array.astype(np.int64, copy=True)


def _check_codes(name: str, codes: np.ndarray, fmt: FixedFormat, what: str) -> None:
    bad = np.flatnonzero(~fmt.contains(codes).ravel())
    if bad.size:
        raise ConfigError(f"{name}: {what} {int(codes.ravel()[bad[0]])} at index {int(bad[0])} is outside "
                          f"the allowed range {fmt.min_code}..{fmt.max_code} ({fmt})")


def _table_layout(config: TileConfig) -> tuple[int, int, int]:
    """What a synapse table's size and word layout depend on."""
    return config.addresses, config.branches, config.synapses


# -- memories ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SynapseTable:
    """The synapse table ``table[a] = (valid, b, s)``, one entry per input address.

    Parameters
    ----------
    valid : ndarray of bool, shape (A,)
    branch, slot : ndarray of int64, shape (A,)
        Branch index b and slot index s of each address; the weight row is ``b * S + s``.
        Entries with ``valid`` false are ignored by the tile; :func:`initial_contents` leaves
        them 0, and :meth:`decode` keeps whatever fields the word holds so that
        ``decode(words).encode() == words``.
    config : TileConfig
        Gives the field widths of the packed word.
    """

    valid: np.ndarray
    branch: np.ndarray
    slot: np.ndarray
    config: TileConfig

    def __post_init__(self):
        cfg, shape = self.config, (self.config.addresses,)
        valid = np.asarray(self.valid)
        if valid.dtype != np.bool_ or valid.shape != shape:
            raise ConfigError(f"table.valid: expected a bool array of shape {shape}, "
                              f"got {valid.dtype} {valid.shape}")
        object.__setattr__(self, "valid", valid.copy())
        for name, count, width in (("branch", cfg.branches, cfg.branch_index_width),
                                   ("slot", cfg.synapses, cfg.slot_index_width)):
            values = _integer_array(f"table.{name}", getattr(self, name), shape)
            # Mapped entries must name a real branch/slot; unmapped ones only have to fit the word.
            hi = np.where(valid, count - 1, (1 << width) - 1)
            bad = np.flatnonzero((values < 0) | (values > hi))
            if bad.size:
                a = int(bad[0])
                raise ConfigError(f"table.{name}: {int(values[a])} at address {a} is outside the "
                                  f"allowed range 0..{int(hi[a])}")
            object.__setattr__(self, name, values)

    @classmethod
    def empty(cls, config: TileConfig) -> "SynapseTable":
        """A table with every address unmapped."""
        zeros = np.zeros(config.addresses, dtype=np.int64)
        return cls(np.zeros(config.addresses, dtype=bool), zeros, zeros, config)

    @property
    def rows(self) -> np.ndarray:
        """Weight-memory row ``b * S + s`` of each address (meaningful where valid)."""
        return self.branch * self.config.synapses + self.slot

    def encode(self) -> np.ndarray:
        """Packed table words (int64, shape (A,)): bit 0 valid, then the branch index in
        ``branch_index_width`` bits, then the slot index in ``slot_index_width`` bits."""
        return (self.valid.astype(np.int64)
                | (self.branch << 1)
                | (self.slot << (1 + self.config.branch_index_width)))

    @classmethod
    def decode(cls, words, config: TileConfig) -> "SynapseTable":
        """Unpack words written by :meth:`encode` (or through the programming port)."""
        words = _integer_array("words", words, (config.addresses,))
        hi = (1 << config.table_entry_width) - 1
        bad = np.flatnonzero((words < 0) | (words > hi))
        if bad.size:
            raise ConfigError(f"words: {int(words[bad[0]])} at address {int(bad[0])} is outside the "
                              f"allowed range 0..{hi} ({config.table_entry_width}-bit table entries)")
        bw = config.branch_index_width
        return cls((words & 1).astype(bool), (words >> 1) & ((1 << bw) - 1),
                   words >> (1 + bw), config)

    def copy(self) -> "SynapseTable":
        return SynapseTable(self.valid, self.branch, self.slot, self.config)


def initial_contents(config: TileConfig) -> tuple[np.ndarray, SynapseTable]:
    """The memories' initial contents, drawn from ``config.seed``.

    The hardware embeds these arrays as memory initialisation, so this function is their only
    definition; the draw order below is part of the contract.

    Returns
    -------
    weights : ndarray of int64, shape (rows, N)
        ``weights[row][n]`` in weight-format codes; each is non-zero with probability
        ``weight_density`` (zero draws of the value are replaced by 1, so density is exact in
        expectation).
    table : SynapseTable
        ``min(round(table_fill * A), rows)`` random addresses mapped to distinct random
        (branch, slot) pairs; the other entries are invalid with zero fields.
    """
    rng = np.random.default_rng(config.seed)
    rows, neurons, wf = config.rows, config.neurons, config.weight_format
    nonzero = rng.random((rows, neurons)) < config.weight_density
    values = rng.integers(wf.min_code, wf.max_code + 1, size=(rows, neurons))
    values[values == 0] = 1
    weights = np.where(nonzero, values, 0).astype(np.int64)

    addresses_count = config.addresses
    mapped = min(round(config.table_fill * addresses_count), rows)
    addresses = rng.permutation(addresses_count)[:mapped]
    slots = rng.permutation(rows)[:mapped]
    valid = np.zeros(addresses_count, dtype=bool)
    branch = np.zeros(addresses_count, dtype=np.int64)
    slot = np.zeros(addresses_count, dtype=np.int64)
    valid[addresses] = True
    branch[addresses], slot[addresses] = np.divmod(slots, config.synapses)
    return weights, SynapseTable(valid, branch, slot, config)


@dataclass(frozen=True)
class AxonTable:
    """Output (axon) tables of all tiles: ``destinations[i][n]`` is the tuple of
    ``(tile index, input address)`` that neuron n of tile i sends each output event to. A neuron
    with no destination sends nothing into the network; k destinations mean k packets."""

    destinations: tuple

    @classmethod
    def build(cls, config: MeshConfig, destinations) -> "AxonTable":
        """Validated against ``config``: tile and address ranges and ``max_destinations``."""
        destinations = tuple(tuple(tuple((int(t), int(a)) for t, a in neuron) for neuron in tile)
                             for tile in destinations)
        if len(destinations) != config.count:
            raise ConfigError(f"axons: {len(destinations)} tiles, expected {config.count}")
        for i, tile in enumerate(destinations):
            neurons = config.tile_config(i).neurons
            if len(tile) != neurons:
                raise ConfigError(f"axons[{i}]: {len(tile)} neurons, expected {neurons}")
            for n, neuron in enumerate(tile):
                if len(neuron) > config.max_destinations:
                    raise ConfigError(f"axons[{i}][{n}]: {len(neuron)} destinations, more than "
                                      f"max_destinations = {config.max_destinations}")
                for t, a in neuron:
                    if not 0 <= t < config.count:
                        raise ConfigError(f"axons[{i}][{n}]: tile {t} is outside the allowed range "
                                          f"0..{config.count - 1}")
                    limit = config.tile_config(t).addresses
                    if not 0 <= a < limit:
                        raise ConfigError(f"axons[{i}][{n}]: address {a} is outside the allowed range "
                                          f"0..{limit - 1} of tile {t}")
        return cls(destinations)

    def fanout(self, tile: int) -> np.ndarray:
        """Destinations per neuron of ``tile``."""
        return np.array([len(d) for d in self.destinations[tile]], dtype=np.int64)


def initial_axons(config: MeshConfig) -> AxonTable:
    """The axon tables drawn from ``config.axon_seed`` (the hardware embeds exactly these).

    For every tile (index order) and neuron, each of ``max_destinations`` entries is used with
    probability ``axon_fill``; a used entry names a uniformly drawn tile (itself included) and a
    uniformly drawn input address of that tile.
    """
    rng = np.random.default_rng(config.axon_seed)
    tiles = []
    for i in range(config.count):
        neurons = []
        for _ in range(config.tile_config(i).neurons):
            used = rng.random(config.max_destinations) < config.axon_fill
            targets = rng.integers(0, config.count, size=config.max_destinations)
            picks = rng.random(config.max_destinations)
            neurons.append(tuple((int(t), int(p * config.tile_config(int(t)).addresses))
                                 for t, p, u in zip(targets, picks, used) if u))
        tiles.append(tuple(neurons))
    return AxonTable.build(config, tiles)


#: The destination lists a fan-out must handle (:func:`coverage_axons`).
AXON_KINDS = ("empty", "full", "duplicate", "single")


def coverage_axons(config: MeshConfig) -> AxonTable:
    """The seeded axon tables (:func:`initial_axons`) with the first four neurons of every tile
    given the destination lists a fan-out must handle (:data:`AXON_KINDS`): none (the event is
    consumed at once), ``max_destinations`` distinct ones, one (tile, address) repeated
    ``max_destinations`` times (each copy is a packet; the tile applies it that often), and a
    single one. Neuron n < 4 of tile i gets kind ``(n + i) % 4``, so that a mesh of tiles with
    fewer than four neurons still has every kind somewhere. Seeded tables rarely draw the
    empty, duplicate or full lists, and their faults stay unseen without them.
    """
    base = initial_axons(config)
    most = config.max_destinations
    tiles = []
    for i, tile in enumerate(base.destinations):
        neurons = list(tile)
        for n in range(min(4, len(neurons))):
            targets = [(i + 1 + k) % config.count for k in range(most)]
            entries = [(t, (n + 3 * k) % config.tile_config(t).addresses) for k, t in enumerate(targets)]
            kind = AXON_KINDS[(n + i) % 4]
            neurons[n] = {"empty": [], "full": entries, "duplicate": entries[:1] * most,
                          "single": entries[:1]}[kind]
        tiles.append(neurons)
    return AxonTable.build(config, tiles)


def mesh_contents(config: MeshConfig, contents=None, axons=None) -> tuple[list, AxonTable]:
    """A mesh's per-tile ``(weights, table)`` and its axon tables: the given ones, or for each one
    left ``None`` the seeded defaults (:func:`initial_contents` per tile, :func:`initial_axons`)."""
    if contents is None:
        contents = [initial_contents(config.tile_config(i)) for i in range(config.count)]
    return list(contents), initial_axons(config) if axons is None else axons
