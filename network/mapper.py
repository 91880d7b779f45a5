"""The mapper: a quantized network onto tiles and a mesh.

For each layer (in order):

* **fan-in**: the layer's inputs plus one held bias input (if it has biases) are the tile's input
  addresses (input i is address i, the bias is address ``inputs``). Each tile maps only the
  addresses with a non-zero weight code for one of its neurons (sparse layers, such as unrolled
  convolutions, need only their real fan-in). A plain layer (one identity branch) spreads it over
  ``ceil(fan_in / S)`` identity branches of S synapses (the sum of identity branches is the
  layer's sum, each branch sum rounded to the dendrite format first: up to B/2 LSB more rounding
  than one branch); a dendritic layer keeps its branches. The fan-in must fit ``B * S`` synapses;
* **width**: a layer with more outputs than ``neurons`` is split over several tiles of (nearly)
  equal width, each holding the layer's whole synapse table;
* **axon tables**: every neuron of a layer multicasts each output event to every tile of the next
  layer that maps it (at the address of its output index), so ``max_destinations`` is the most
  such tiles of any neuron (at most 16);
* **placement**: tiles in layer order along a snake over the mesh rows, so consecutive tiles (a
  layer and the next) are neighbours; the mesh size is the smallest near-square that holds them,
  or the one given. Unused positions get a one-neuron tile with nothing mapped.

The first layer's tiles take the external input ports; the last layer's tiles are the external
outputs. Everything that does not fit is refused with one line naming the layer and the limit,
before any tool runs.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.golden.tile import TileModel
from subtile.network.quantize import QuantizedNetwork, bias_level
from subtile.spec.config import VERILOG_KEYWORDS, MeshConfig, TileConfig
from subtile.spec.contents import AxonTable, SynapseTable

__all__ = ["MapOptions", "TilePart", "MappedNetwork", "map_network", "load_mapping", "snake"]

MAX_NEURONS, MAX_BRANCHES, MAX_SYNAPSES, MAX_ADDRESSES, MAX_DESTINATIONS = 256, 16, 64, 65536, 16


def _ident(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or "net"
    if name[0].isdigit() or name.lower() in VERILOG_KEYWORDS:
        name = "n_" + name
    return name[:40]


def _check(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"{name}: {value!r} is outside the allowed range {lo}..{hi}")
    return int(value)


@dataclass(frozen=True)
class MapOptions:
    """Limits of the tiles the mapper may use, and the mesh.

    Parameters
    ----------
    neurons : int
        Most neurons per tile (1..256); wider layers are split.
    branches, synapses : int
        Most branches per neuron (1..16) and synapses per branch (1..64): fan-in <= B * S.
    lanes : int
        Most update lanes per tile (the largest divisor of N up to this is used).
    mesh : (width, height), optional
        The mesh; default the smallest near-square holding every tile.
    fifo_depth : int
        Router FIFO depth.
    gating : str
        The tiles' clock gating.
    """

    neurons: int = 64
    branches: int = MAX_BRANCHES
    synapses: int = MAX_SYNAPSES
    lanes: int = 8
    mesh: tuple | None = None
    fifo_depth: int = 4
    gating: str = "icg"

    def __post_init__(self):
        _check("neurons", self.neurons, 1, MAX_NEURONS)
        _check("branches", self.branches, 1, MAX_BRANCHES)
        _check("synapses", self.synapses, 1, MAX_SYNAPSES)
        _check("lanes", self.lanes, 1, MAX_NEURONS)
        _check("fifo-depth", self.fifo_depth, 2, 1024)
        if self.mesh is not None:
            if len(self.mesh) != 2:
                raise ConfigError(f"mesh: expected WIDTHxHEIGHT, got {self.mesh!r}")
            _check("mesh width", self.mesh[0], 1, 16)
            _check("mesh height", self.mesh[1], 1, 16)


@dataclass(frozen=True)
class TilePart:
    """One tile of a layer: mesh tile index, layer index, and its outputs ``offset .. offset + count - 1``."""

    tile: int
    layer: int
    offset: int
    count: int


def snake(count: int, width: int) -> list[tuple[int, int]]:
    """Positions 0..count-1 along the rows, every other row reversed: consecutive ones are neighbours."""
    out = []
    for k in range(count):
        y, x = divmod(k, width)
        out.append((x if y % 2 == 0 else width - 1 - x, y))
    return out


def _mesh_size(tiles: int, given) -> tuple[int, int]:
    if given is not None:
        width, height = map(int, given)
        if width * height < tiles:
            raise ConfigError(f"mesh: {width} x {height} = {width * height} tiles, the network needs {tiles}")
        return width, height
    if tiles <= 4:
        return tiles, 1
    width = math.ceil(math.sqrt(tiles))
    height = math.ceil(tiles / width)
    if width > 16 or height > 16:
        raise ConfigError(f"mesh: the network needs {tiles} tiles, more than 16 x 16; raise --neurons")
    return width, height


def _layout(ql, options: MapOptions, used: np.ndarray, where: str) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(B, S, branch, slot) of one tile: ``used`` are the addresses it maps (inputs with a non-zero
    weight for one of its neurons, then the bias), ascending."""
    layer = ql.layer
    fan_in = len(used)
    if fan_in == 0:
        return 1, 1, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if layer.branches == 1 and layer.branch_activation.is_identity:
        branches = math.ceil(fan_in / options.synapses)
        if branches > options.branches:
            raise ConfigError(f"{where}: fan-in {fan_in} exceeds branches x synapses = {options.branches} x "
                              f"{options.synapses} = {options.branches * options.synapses}; set --branches/--synapses "
                              f"or split the layer")
        synapses = math.ceil(fan_in / branches)
        branch, slot = np.divmod(np.arange(fan_in), synapses)
        return branches, synapses, branch, slot
    full = np.concatenate([layer.branch, [0]]).astype(np.int64)         # the bias is in branch 0
    branch = full[used]
    if layer.branches > options.branches:
        raise ConfigError(f"{where}: {layer.branches} dendritic branches exceed branches = {options.branches}")
    slot = np.zeros(fan_in, dtype=np.int64)
    counts = np.zeros(layer.branches, dtype=np.int64)
    for a, b in enumerate(branch):
        slot[a] = counts[b]
        counts[b] += 1
    synapses = int(counts.max())
    if synapses > options.synapses:
        b = int(counts.argmax())
        raise ConfigError(f"{where}: branch {b} has {synapses} inputs, more than synapses = {options.synapses}")
    return layer.branches, synapses, branch, slot


@dataclass
class MappedNetwork:
    """A network on a mesh: the configuration and every memory's contents.

    Attributes
    ----------
    config : MeshConfig
    contents : list of (weights, SynapseTable)
        Per mesh tile.
    axons : AxonTable
    parts : list of list of TilePart
        Per layer, its tiles.
    bias_events : list of ndarray, shape (E, 2)
        Per mesh tile, the (address, level) event that sets its held bias input (empty without).
    notes : list of str
    """

    config: MeshConfig
    contents: list
    axons: AxonTable
    parts: list
    bias_events: list
    inputs: int
    notes: list = field(default_factory=list)

    @property
    def input_tiles(self) -> list[int]:
        return [p.tile for p in self.parts[0]]

    def input_mask(self, tile: int) -> np.ndarray:
        """1 for the network inputs that first-layer ``tile`` maps, else 0 (shape (inputs,))."""
        return self.contents[tile][1].valid[:self.inputs].astype(np.int64)

    @property
    def output_parts(self) -> list[TilePart]:
        return self.parts[-1]

    @property
    def outputs(self) -> int:
        return sum(p.count for p in self.parts[-1])

    def report(self) -> dict:
        cfg = self.config
        layers = []
        for index, parts in enumerate(self.parts):
            tiles = [cfg.tile_config(p.tile) for p in parts]
            layers.append({"layer": index, "tiles": [list(cfg.position(p.tile)) for p in parts],
                           "neurons": [t.neurons for t in tiles], "branches": tiles[0].branches,
                           "synapses": tiles[0].synapses, "addresses": tiles[0].addresses,
                           "weight_format": str(tiles[0].weight_format), "leak_shift": tiles[0].leak_shift})
        hops = [abs(ax - bx) + abs(ay - by)
                for i, tile in enumerate(self.axons.destinations) for n in tile for t, _ in n
                for (ax, ay), (bx, by) in [(cfg.position(i), cfg.position(t))]]
        return {"mesh": [cfg.width, cfg.height], "tiles_used": sum(len(p) for p in self.parts),
                "max_destinations": cfg.max_destinations, "layers": layers,
                "mean_hops": float(np.mean(hops)) if hops else 0.0, "max_hops": max(hops, default=0)}

    def write(self, directory: str | Path) -> list[Path]:
        """``mesh.toml`` (the MeshConfig), ``contents.npz`` (per tile ``weights_<i>`` and packed
        ``table_<i>`` words; the axon tables as ``axons`` rows (tile, neuron, destination tile,
        address); the bias events as ``bias_<i>``) and ``mapping.json`` (layers and tiles)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, (weights, table) in enumerate(self.contents):
            arrays[f"weights_{i}"] = weights
            arrays[f"table_{i}"] = table.encode()
            arrays[f"bias_{i}"] = self.bias_events[i]
        arrays["axons"] = np.array([(i, n, t, a) for i, tile in enumerate(self.axons.destinations)
                                    for n, dests in enumerate(tile) for t, a in dests], dtype=np.int64).reshape(-1, 4)
        paths = [directory / "mesh.toml", directory / "contents.npz", directory / "mapping.json"]
        paths[0].write_text(self.config.to_toml())
        np.savez(paths[1], **arrays)
        paths[2].write_text(json.dumps({"inputs": self.inputs, **self.report(),
                                        "parts": [[p.__dict__ for p in parts] for parts in self.parts],
                                        "notes": self.notes}, indent=1))
        return paths


def load_contents(path: str | Path, config: MeshConfig) -> tuple[list, AxonTable, list]:
    """The per-tile ``(weights, table)``, the axon tables and the bias events of a
    ``contents.npz`` that :meth:`MappedNetwork.write` wrote for the mesh ``config``; a file that
    is not one, or was written for another mesh, is refused in one line naming ``contents``."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array")
    except (OSError, ValueError) as error:
        reason = "not a NumPy .npz archive" if "pickle" in str(error) else str(error)
        raise ConfigError(f"contents: {path} is not a readable .npz ({reason})") from None
    with data:
        keys = [f"{kind}_{i}" for i in range(config.count) for kind in ("weights", "table", "bias")] + ["axons"]
        missing = [key for key in keys if key not in data.files]
        if missing:
            raise ConfigError(f"contents: {path} has no {missing[0]} for the {config.count} tiles of mesh "
                              f"{config.name!r} (expected the contents.npz that `subtile run --write-mapping` "
                              f"wrote for this mesh.toml)")
        try:
            contents = []
            for i in range(config.count):
                tile = config.tile_config(i)
                weights, table = data[f"weights_{i}"], SynapseTable.decode(data[f"table_{i}"], tile)
                try:
                    TileModel(tile, weights, table)     # the golden model's checks of shape and codes
                except ConfigError as error:
                    raise ConfigError(f"tile {i}: {error}") from None
                contents.append((weights, table))
            bias = [data[f"bias_{i}"].reshape(-1, 2) for i in range(config.count)]
            axon_rows = data["axons"].reshape(-1, 4)
            dests = [[[] for _ in range(config.tile_config(i).neurons)] for i in range(config.count)]
            for i, n, t, a in axon_rows:
                if not (0 <= i < config.count and 0 <= n < config.tile_config(int(i)).neurons):
                    raise ConfigError(f"axons: row ({i}, {n}, {t}, {a}) names no neuron of mesh {config.name!r}")
                dests[int(i)][int(n)].append((int(t), int(a)))
            axons = AxonTable.build(config, dests)
        except ConfigError as error:
            message = str(error)
            raise ConfigError(message if message.startswith("contents:")
                              else f"contents: {path}: {message}") from None
    return contents, axons, bias


def load_mapping(directory: str | Path) -> MappedNetwork:
    """Read back what :meth:`MappedNetwork.write` wrote."""
    from subtile.spec.config import load_config
    directory = Path(directory)
    config = load_config(directory / "mesh.toml")
    meta = json.loads((directory / "mapping.json").read_text())
    contents, axons, bias = load_contents(directory / "contents.npz", config)
    parts = [[TilePart(**p) for p in layer] for layer in meta["parts"]]
    return MappedNetwork(config, contents, axons, parts, bias, meta["inputs"], meta["notes"])


def map_network(q: QuantizedNetwork, options: MapOptions | None = None) -> MappedNetwork:
    """Map ``q`` onto a mesh (see the module notes); refusals are one-line ConfigErrors."""
    options = options or MapOptions()
    name = _ident(q.graph.name)
    splits, layouts, used = [], [], []
    for ql in q.layers:
        layer = ql.layer
        where = f"layer {layer.name}"
        if layer.inputs + (ql.bias is not None) > MAX_ADDRESSES:
            raise ConfigError(f"{where}: {layer.inputs + 1} input addresses exceed the tile's {MAX_ADDRESSES}")
        count = math.ceil(layer.outputs / options.neurons)
        sizes = [len(c) for c in np.array_split(np.arange(layer.outputs), count)]
        codes = ql.weight if ql.bias is None else np.vstack([ql.weight, ql.bias[None, :]])
        layer_used, layer_layouts, offset = [], [], 0
        for size in sizes:
            # Sparse: a tile maps only the inputs with a non-zero weight for one of its neurons.
            # Row i of the codes is address i (the bias row is address ``inputs``).
            addresses = np.flatnonzero((codes[:, offset:offset + size] != 0).any(axis=1))
            layer_used.append(addresses)
            layer_layouts.append(_layout(ql, options, addresses, where))
            offset += size
        splits.append(sizes)
        used.append(layer_used)
        layouts.append(layer_layouts)
    targets = []            # per layer l < last: per input address of layer l + 1, the tiles mapping it
    for index in range(len(q.layers) - 1):
        nxt = q.layers[index + 1].layer
        per_address = [[] for _ in range(nxt.inputs)]
        for k, addresses in enumerate(used[index + 1]):
            for a in addresses:
                if a < nxt.inputs:
                    per_address[int(a)].append(k)
        widest = max((len(t) for t in per_address), default=0)
        if widest > MAX_DESTINATIONS:
            raise ConfigError(f"layer {q.layers[index].name}: its outputs feed {widest} tiles of layer "
                              f"{q.layers[index + 1].name}, more than max_destinations = {MAX_DESTINATIONS}; raise --neurons")
        targets.append(per_address)
    tiles_used = sum(len(s) for s in splits)
    width, height = _mesh_size(tiles_used, options.mesh)
    positions = snake(tiles_used, width)
    index_of = [y * width + x for x, y in positions]
    parts, configs, k = [], {}, 0
    for li, (ql, sizes) in enumerate(zip(q.layers, splits)):
        layer_parts, offset = [], 0
        for pi, size in enumerate(sizes):
            branches, synapses, _, _ = layouts[li][pi]
            lanes = max(d for d in range(1, min(options.lanes, size) + 1) if size % d == 0)
            tile = index_of[k]
            configs[tile] = TileConfig(
                name=f"{name}_t{tile}_{_ident(ql.name)}"[:60], neurons=size, branches=branches, synapses=synapses,
                addresses=ql.layer.inputs + (ql.bias is not None), weight_format=ql.weight_format,
                payload_format=q.payload_format, dendrite_format=ql.dendrite_format,
                membrane_format=ql.membrane_format, branch_activation=ql.layer.branch_activation,
                soma_activation=ql.layer.activation, leak_shift=ql.leak_shift, delta=q.delta, lanes=lanes,
                gating=options.gating)
            layer_parts.append(TilePart(tile, li, offset, size))
            offset += size
            k += 1
        parts.append(layer_parts)
    filler = TileConfig(name=f"{name}_unused", neurons=1, branches=1, synapses=1, addresses=1, lanes=1,
                        payload_format=q.payload_format, gating=options.gating)
    count = width * height
    tiles = tuple(configs.get(i, filler) for i in range(count))
    level = bias_level(q.payload_format)
    contents = [None] * count
    bias_events = [np.zeros((0, 2), dtype=np.int64) for _ in range(count)]
    dests = [[() for _ in range(t.neurons)] for t in tiles]
    for li, (ql, layer_parts) in enumerate(zip(q.layers, parts)):
        codes = ql.weight if ql.bias is None else np.vstack([ql.weight, ql.bias[None, :]])
        for pi, part in enumerate(layer_parts):
            _, synapses, branch, slot = layouts[li][pi]
            addresses = used[li][pi]
            cfg = tiles[part.tile]
            weights = np.zeros((cfg.rows, cfg.neurons), dtype=np.int64)
            weights[branch * synapses + slot] = codes[addresses, part.offset:part.offset + part.count]
            valid = np.zeros(cfg.addresses, dtype=bool)
            full_branch = np.zeros(cfg.addresses, dtype=np.int64)
            full_slot = np.zeros(cfg.addresses, dtype=np.int64)
            valid[addresses], full_branch[addresses], full_slot[addresses] = True, branch, slot
            contents[part.tile] = (weights, SynapseTable(valid, full_branch, full_slot, cfg))
            if ql.bias is not None and valid[ql.layer.inputs]:
                bias_events[part.tile] = np.array([[ql.layer.inputs, level]], dtype=np.int64)
            if li + 1 < len(parts):
                dests[part.tile] = [tuple((parts[li + 1][t].tile, part.offset + n) for t in targets[li][part.offset + n])
                                    for n in range(part.count)]
    for i in range(count):
        if contents[i] is None:
            contents[i] = (np.zeros((tiles[i].rows, tiles[i].neurons), dtype=np.int64), SynapseTable.empty(tiles[i]))
    destinations = max((len(d) for tile in dests for d in tile), default=0)
    config = MeshConfig(name=name, width=width, height=height, tile=tiles[index_of[0]], tiles=tiles,
                        fifo_depth=options.fifo_depth, max_destinations=destinations,
                        inputs=tuple(positions[:len(parts[0])]),
                        outputs=tuple(positions[tiles_used - len(parts[-1]):tiles_used]))
    axons = AxonTable.build(config, dests)
    notes = []
    for li, ql in enumerate(q.layers):
        fans = [len(u) for u in used[li]]
        full = ql.layer.inputs + (ql.bias is not None)
        shape = ", ".join(f"{b} x {s}" for b, s, _, _ in layouts[li])
        notes.append(f"{ql.name}: {len(fans)} tile(s), fan-in {'/'.join(map(str, fans))} of {full} "
                     f"(branches x synapses {shape})")
    return MappedNetwork(config, contents, axons, parts, bias_events, q.graph.inputs, notes)
