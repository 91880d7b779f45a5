"""Tile configuration: a validated, immutable description of one neuromorphic tile.

Loadable from TOML (the only configuration language: no eval, no pickle). Every invalid value
or combination raises :class:`~subtile.errors.ConfigError` with one line naming the parameter
and the allowed range. The behaviour the fields select is specified in docs/architecture.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from subtile.errors import ConfigError
from subtile.spec.activation import FUNCTIONS, IMPLEMENTATIONS, ActivationSpec
from subtile.spec.fixed import FixedFormat, FormatError, signed_width

__all__ = ["ActivationChoice", "TileConfig", "MeshConfig", "GATING_MODES", "load_config", "index_bits"]

GATING_MODES = ("icg", "enable", "none")
IDENTITY = "identity"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")   # fullmatch: "$" would accept a trailing newline
#: Reserved words of Verilog-2005 and SystemVerilog (IEEE 1800-2017, Annex B): a module of one of
#: these names cannot be written, so a name that is one is refused up front.
VERILOG_KEYWORDS = frozenset("""
    accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before
    begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class
    clocking cmos config const constraint context continue cover covergroup coverpoint cross deassign
    default defparam design disable dist do edge else end endcase endchecker endclass endclocking
    endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
    endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export
    extends extern final first_match for force foreach forever fork forkjoin function generate genvar
    global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir include
    initial inout input inside instance int integer interconnect interface intersect join join_any
    join_none large let liblist library local localparam logic longint macromodule matches medium
    modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or
    output package packed parameter pmos posedge primitive priority program property protected pull0
    pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence
    rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran rtranif0
    rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence shortint
    shortreal showcancelled signed small soft solve specify specparam static string strong strong0
    strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this
    throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type
    typedef union unique unique0 unsigned until until_with untyped use uwire var vectored virtual void
    wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split())


def _check_name(label: str, name) -> None:
    """A name that becomes a module and file name: an identifier that is not a reserved word."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{label}: {name!r} is not an identifier "
                          "(allowed: a letter or _, then letters, digits or _)")
    if name in VERILOG_KEYWORDS:
        raise ConfigError(f"{label}: {name!r} is a Verilog/SystemVerilog keyword and cannot name a module "
                          "(allowed: an identifier that is not a keyword, e.g. tile)")


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")
    return value


def _format(name, value, lo_width, hi_width, *, signed=True):
    try:
        fmt = FixedFormat.parse(value, name=name)
    except FormatError as error:
        raise ConfigError(str(error)) from None
    if fmt.signed != signed:
        raise ConfigError(f"{name}: {fmt} must be {'signed (fixed<W,I>)' if signed else 'unsigned'}")
    if not lo_width <= fmt.width <= hi_width:
        raise ConfigError(f"{name}: width {fmt.width} is outside the allowed range {lo_width}..{hi_width}")
    return fmt


@dataclass(frozen=True)
class ActivationChoice:
    """An activation of the tile: ``identity`` or a smooth-activation unit.

    Formats are not given here: the tile derives them (see :class:`TileConfig`).
    """

    function: str = IDENTITY
    impl: str = "interp"
    segments: int | None = None
    beta: float = 1.0
    guard_bits: int = 4

    @classmethod
    def parse(cls, value, *, name: str) -> "ActivationChoice":
        if isinstance(value, ActivationChoice):
            return value
        if isinstance(value, str):
            value = {"function": value}
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a function name or a table, got {value!r}")
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(f.name for f in fields(cls))}")
        choice = cls(**value)
        allowed = (IDENTITY, *FUNCTIONS)
        if choice.function not in allowed:
            raise ConfigError(f"{name}.function: {choice.function!r} is not one of {', '.join(allowed)}")
        if choice.impl not in IMPLEMENTATIONS:
            raise ConfigError(f"{name}.impl: {choice.impl!r} is not one of {', '.join(IMPLEMENTATIONS)}")
        return choice

    @property
    def is_identity(self) -> bool:
        return self.function == IDENTITY

    def spec(self, input_format: FixedFormat, output_format: FixedFormat, *, name: str) -> ActivationSpec | None:
        """The unit's spec for the derived formats (None for identity)."""
        if self.is_identity:
            return None
        try:
            return ActivationSpec(self.function, self.impl, input_format, output_format,
                                  segments=self.segments, beta=self.beta, guard_bits=self.guard_bits)
        except FormatError as error:
            raise ConfigError(f"{name}.{error}") from None


@dataclass(frozen=True)
class TileConfig:
    """One tile. Field meanings, ranges and the behaviour: docs/architecture.md.

    Parameters
    ----------
    name : str
        Module name of the generated top, ``[A-Za-z_][A-Za-z0-9_]*``.
    neurons, branches, synapses, addresses : int
        N (1..256), B per neuron (1..16), S per branch (1..64), A input addresses (1..65536).
    weight_format : fixed<W,I>
        Signed, 2..16 bits.
    payload_format : fixed<W,I>
        Signed, 2..16 bits: event payloads, input levels and the soma output.
    dendrite_format : fixed<W,I>
        Signed, 2..16 bits: input and output of the branch activation.
    membrane_format : fixed<W,I>
        Signed, 2..16 bits: branch sum u and membrane v; input of the soma activation.
    branch_activation, soma_activation : ActivationChoice
        ``identity`` (branch only) or a smooth activation.
    leak_shift : int
        k, 0..15: v <- v + ((u - v) >> k).
    delta : int
        Event threshold in payload LSBs, 0..2**(W_payload) - 1.
    lanes : int or None
        L parallel neuron-update units; divides N. Default (``None``): N, one private lane per neuron.
    gating : str
        ``icg``, ``enable`` or ``none``.
    seed, weight_density, table_fill : int, float, float
        Initial weights and synapse table are drawn from ``seed``: each weight is non-zero with
        probability ``weight_density`` (0..1), and ``table_fill`` (0..1) of the addresses are mapped
        (each to a distinct (branch, slot)).
    """

    name: str = "tile"
    neurons: int = 16
    branches: int = 4
    synapses: int = 16
    addresses: int = 64
    weight_format: FixedFormat = FixedFormat(8, 2)
    payload_format: FixedFormat = FixedFormat(8, 2)
    dendrite_format: FixedFormat = FixedFormat(12, 5)
    membrane_format: FixedFormat = FixedFormat(12, 5)
    branch_activation: ActivationChoice = ActivationChoice("tanh")
    soma_activation: ActivationChoice = ActivationChoice("tanh")
    leak_shift: int = 2
    delta: int = 2
    lanes: int | None = None
    gating: str = "icg"
    seed: int = 1
    weight_density: float = 0.5
    table_fill: float = 0.9

    def __post_init__(self):
        _check_name("name", self.name)
        _int("neurons", self.neurons, 1, 256)
        _int("branches", self.branches, 1, 16)
        _int("synapses", self.synapses, 1, 64)
        _int("addresses", self.addresses, 1, 65536)
        for fname in ("weight_format", "payload_format", "dendrite_format", "membrane_format"):
            object.__setattr__(self, fname, _format(fname, getattr(self, fname), 2, 16))
        object.__setattr__(self, "branch_activation",
                           ActivationChoice.parse(self.branch_activation, name="branch_activation"))
        object.__setattr__(self, "soma_activation",
                           ActivationChoice.parse(self.soma_activation, name="soma_activation"))
        if self.soma_activation.is_identity:
            raise ConfigError(f"soma_activation.function: 'identity' is not allowed for the soma; "
                              f"use one of {', '.join(FUNCTIONS)}")
        _int("leak_shift", self.leak_shift, 0, 15)
        _int("delta", self.delta, 0, (1 << self.payload_format.width) - 1)
        if self.lanes is None:              # the default follows neurons: one private lane each
            object.__setattr__(self, "lanes", self.neurons)
        _int("lanes", self.lanes, 1, self.neurons)
        if self.neurons % self.lanes:
            divisors = [d for d in range(1, self.neurons + 1) if self.neurons % d == 0]
            raise ConfigError(f"lanes: {self.lanes} does not divide neurons={self.neurons}; "
                              f"allowed: {', '.join(map(str, divisors))}")
        if self.gating not in GATING_MODES:
            raise ConfigError(f"gating: {self.gating!r} is not one of {', '.join(GATING_MODES)}")
        _int("seed", self.seed, 0, 2**32 - 1)
        for fname in ("weight_density", "table_fill"):
            value = getattr(self, fname)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"{fname}: {value!r} is outside the allowed range 0..1")
        # Resolve derived formats now, so that a bad combination fails here.
        self.accumulator_format
        self.branch_spec
        self.soma_spec

    # -- derived quantities (the contract of docs/architecture.md) ------------------------------
    @property
    def branch_spec(self) -> ActivationSpec | None:
        return self.branch_activation.spec(self.dendrite_format, self.dendrite_format,
                                           name="branch_activation")

    @property
    def soma_spec(self) -> ActivationSpec:
        return self.soma_activation.spec(self.membrane_format, self.payload_format,
                                         name="soma_activation")

    @property
    def rows(self) -> int:
        """Rows of the weight memory: one per (branch, slot), row = b * S + s."""
        return self.branches * self.synapses

    @property
    def accumulator_frac_bits(self) -> int:
        return self.weight_format.frac_bits + self.payload_format.frac_bits

    @property
    def _product_range(self) -> tuple[int, int]:
        w, p = self.weight_format, self.payload_format
        products = [w.min_code * p.min_code, w.min_code * p.max_code,
                    w.max_code * p.min_code, w.max_code * p.max_code]
        return min(products), max(products)

    @property
    def product_width(self) -> int:
        """Bits of one product w * p of a weight and a payload code (signed)."""
        return signed_width(*self._product_range)

    @property
    def accumulator_width(self) -> int:
        """Bits of acc[n][b]: it holds sum over S slots of w * level with |level| within the
        payload format, so it can never overflow (and wrap-around sums stay exact)."""
        lo, hi = self._product_range
        return signed_width(self.synapses * lo, self.synapses * hi)

    @property
    def accumulator_format(self) -> FixedFormat:
        width = self.accumulator_width
        if width > 32:
            raise ConfigError(f"accumulator: {width} bits needed, more than 32; narrow weight_format, "
                              "payload_format or synapses")
        return FixedFormat(width, width - self.accumulator_frac_bits)

    # -- port and memory widths (shared by hdl, the testbench and the golden encoders) -------------
    @property
    def address_width(self) -> int:
        return index_bits(self.addresses)

    @property
    def neuron_width(self) -> int:
        return index_bits(self.neurons)

    @property
    def branch_index_width(self) -> int:
        return index_bits(self.branches)

    @property
    def slot_index_width(self) -> int:
        return index_bits(self.synapses)

    @property
    def table_entry_width(self) -> int:
        """Synapse-table word: bit 0 valid, then the branch index, then the slot index."""
        return 1 + self.branch_index_width + self.slot_index_width

    @property
    def row_width(self) -> int:
        """Programming-port row: a table address or a weight-memory row."""
        return max(self.address_width, index_bits(self.rows))

    @property
    def prog_data_width(self) -> int:
        return max(self.table_entry_width, self.weight_format.width)

    @property
    def groups(self) -> int:
        """Neuron groups updated one after another, L neurons each."""
        return self.neurons // self.lanes

    @property
    def private_lanes(self) -> bool:
        """One update lane per neuron (L = N): each lane keeps its own neuron's operands."""
        return self.lanes == self.neurons

    # -- serialization ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, FixedFormat):
                value = str(value)
            elif isinstance(value, ActivationChoice):
                value = {k: v for k, v in asdict(value).items() if v is not None}
            out[f.name] = value
        return out

    def to_toml(self) -> str:
        lines = ["[tile]"]
        tables = []
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                body = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
                tables.append(f"{key} = {{ {body} }}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines + tables) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> "TileConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"tile: expected a table, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"tile: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as error:          # e.g. a table where a number belongs
            raise ConfigError(f"tile: {error}") from None

    def replace(self, **changes) -> "TileConfig":
        return replace(self, **changes)

    def hardware(self) -> "TileConfig":
        """This configuration with the fields that draw only the memories' initial contents
        (``seed``, ``weight_density``, ``table_fill``) at their defaults: configurations equal
        under it have the same registers and logic (the tiles of a mesh: tile i has seed + i)."""
        return replace(self, **{field.name: field.default for field in fields(self)
                                if field.name in ("seed", "weight_density", "table_fill")})


def index_bits(count: int) -> int:
    """Index bits for ``count`` items (at least 1, so no port is zero bits wide)."""
    return max(1, (count - 1).bit_length())


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_toml(path: str | Path, parameter: str) -> dict:
    """The TOML file ``path`` as a dict; a missing file or bad TOML is a ConfigError naming
    ``parameter``. TOML is subtile's only configuration language."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{parameter}: {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{parameter}: {path} is not valid TOML: {error}") from None


def load_config(path: str | Path) -> "TileConfig | MeshConfig":
    """Read a config from TOML: a tile (keys at top level or under ``[tile]``), or a mesh when
    the file has a ``[mesh]`` table (see :class:`MeshConfig`)."""
    data = read_toml(path, "config")
    if "mesh" in data:
        return MeshConfig.from_dict(data)
    return TileConfig.from_dict(data.get("tile", data))


def random_config(rng, *, max_neurons: int = 32, max_branches: int = 4, max_synapses: int = 8,
                  max_addresses: int = 64, max_lanes: int = 8, **fixed) -> TileConfig:
    """A random valid tile configuration (for regressions, fuzzing and sweeps).

    Sizes stay below the ``max_*`` limits; ``fixed`` pins fields. Direct-table (``lut``)
    activations are drawn only for inputs up to 8 bits, since their table has 2**W rows.
    Combinations that fail validation (an accumulator over 32 bits) are redrawn.
    """
    from subtile.spec.activation import FUNCTIONS

    def fmt(lo, hi):
        width = int(rng.integers(lo, hi + 1))
        return f"fixed<{width},{int(rng.integers(1, max(2, width - 1)))}>"

    def activation(input_format, allow_identity):
        functions = ([IDENTITY] if allow_identity else []) + sorted(FUNCTIONS)
        small = FixedFormat.parse(input_format).width <= 8
        return {"function": str(rng.choice(functions)),
                "impl": str(rng.choice(IMPLEMENTATIONS)) if small else "interp",
                "beta": float(rng.choice([1.0, 1.702]))}

    while True:
        neurons = int(rng.integers(1, max_neurons + 1))
        lanes = int(rng.choice([d for d in range(1, min(neurons, max_lanes) + 1) if neurons % d == 0]))
        dendrite, membrane = fmt(4, 12), fmt(4, 12)
        values = dict(
            neurons=neurons, lanes=lanes, branches=int(rng.integers(1, max_branches + 1)),
            synapses=int(rng.integers(1, max_synapses + 1)), addresses=int(rng.integers(1, max_addresses + 1)),
            weight_format=fmt(2, 10), payload_format=fmt(3, 10), dendrite_format=dendrite,
            membrane_format=membrane, branch_activation=activation(dendrite, True),
            soma_activation=activation(membrane, False),
            leak_shift=int(rng.choice([0, 1, 2, 3, 7, 15])), gating=str(rng.choice(GATING_MODES)),
            delta=int(rng.choice([0, 1, 2, 5])), seed=int(rng.integers(0, 2**31)),
            weight_density=float(rng.choice([0.2, 0.5, 0.9])), table_fill=float(rng.choice([0.5, 0.9, 1.0])))
        values.update(fixed)
        try:
            return TileConfig(**values)
        except ConfigError:
            continue


# -- the mesh ------------------------------------------------------------------------------------
def _coordinates(name, value, width, height) -> tuple[tuple[int, int], ...]:
    """A list of distinct (x, y) tile coordinates inside the mesh."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name}: expected a list of [x, y] pairs, got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ConfigError(f"{name}: expected [x, y] pairs, got {item!r}")
        x = _int(f"{name}.x", item[0], 0, width - 1)
        y = _int(f"{name}.y", item[1], 0, height - 1)
        if (x, y) in out:
            raise ConfigError(f"{name}: tile [{x}, {y}] is listed twice")
        out.append((x, y))
    return tuple(out)


@dataclass(frozen=True)
class MeshConfig:
    """A ``width`` x ``height`` mesh of tiles joined by event routers (docs/architecture.md,
    "Event routers and the mesh").

    Parameters
    ----------
    name : str
        Module name of the generated top.
    width, height : int
        Tiles along x (east) and y (south), 1..16 each; tile index ``i = y * width + x``.
    tile : TileConfig
        The tile, shared by every position unless ``tiles`` is given. Shared, tile i gets seed
        ``tile.seed + i``, so the tiles hold different weights.
    tiles : tuple of TileConfig
        Empty, or one config per tile in index order. All tiles share one payload format (a
        packet's payload is applied unchanged at its destination).
    fifo_depth : int
        Packets per router input FIFO, 2..1024.
    max_destinations : int
        Destinations per neuron in the axon (output) tables, 0..16.
    axon_seed : int
        Seed of the axon tables (``golden.mesh.initial_axons``).
    axon_fill : float
        Probability (0..1) that each of a neuron's ``max_destinations`` entries is used.
    inputs : tuple of (x, y)
        Tiles whose router takes an external input port (at least one).
    outputs : tuple of (x, y)
        Tiles whose output events also leave the mesh on an external output port (may be empty).
    """

    name: str = "mesh"
    width: int = 2
    height: int = 2
    tile: TileConfig = TileConfig()
    tiles: tuple = ()
    fifo_depth: int = 4
    max_destinations: int = 2
    axon_seed: int = 1
    axon_fill: float = 0.75
    inputs: tuple = ((0, 0),)
    outputs: tuple | None = None

    def __post_init__(self):
        _check_name("mesh.name", self.name)
        _int("mesh.width", self.width, 1, 16)
        _int("mesh.height", self.height, 1, 16)
        count = self.width * self.height
        if isinstance(self.tile, dict):
            object.__setattr__(self, "tile", TileConfig.from_dict(self.tile))
        if not isinstance(self.tile, TileConfig):
            raise ConfigError(f"tile: expected a table, got {self.tile!r}")
        tiles = tuple(TileConfig.from_dict(t) if isinstance(t, dict) else t for t in self.tiles)
        if tiles and len(tiles) != count:
            raise ConfigError(f"tiles: {len(tiles)} given, expected none (shared [tile]) or "
                              f"width x height = {count}")
        if any(not isinstance(t, TileConfig) for t in tiles):
            raise ConfigError("tiles: expected a list of tile tables")
        object.__setattr__(self, "tiles", tiles)
        formats = {str(self.tile_config(i).payload_format) for i in range(count)}
        if len(formats) > 1:
            raise ConfigError(f"tiles.payload_format: all tiles must share one payload format, "
                              f"got {', '.join(sorted(formats))}")
        _int("mesh.fifo_depth", self.fifo_depth, 2, 1024)
        _int("mesh.max_destinations", self.max_destinations, 0, 16)
        _int("mesh.axon_seed", self.axon_seed, 0, 2**32 - 1)
        if isinstance(self.axon_fill, bool) or not isinstance(self.axon_fill, (int, float)) \
                or not 0 <= self.axon_fill <= 1:
            raise ConfigError(f"mesh.axon_fill: {self.axon_fill!r} is outside the allowed range 0..1")
        inputs = _coordinates("mesh.inputs", self.inputs, self.width, self.height)
        if not inputs:
            raise ConfigError("mesh.inputs: at least one input tile is needed")
        object.__setattr__(self, "inputs", inputs)
        outputs = ((self.width - 1, self.height - 1),) if self.outputs is None else self.outputs
        object.__setattr__(self, "outputs", _coordinates("mesh.outputs", outputs, self.width, self.height))

    # -- derived -------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Number of tiles."""
        return self.width * self.height

    def index(self, x: int, y: int) -> int:
        return y * self.width + x

    def position(self, index: int) -> tuple[int, int]:
        return index % self.width, index // self.width

    def tile_config(self, index: int) -> TileConfig:
        """The configuration of tile ``index`` (see ``tile``)."""
        if self.tiles:
            return self.tiles[index]
        return self.tile.replace(seed=(self.tile.seed + index) % 2**32)

    @property
    def payload_format(self):
        return self.tile_config(0).payload_format

    @property
    def address_width(self) -> int:
        """Address bits of a packet: the widest tile's."""
        return max(self.tile_config(i).address_width for i in range(self.count))

    @property
    def neuron_width(self) -> int:
        return max(self.tile_config(i).neuron_width for i in range(self.count))

    @property
    def network_gating(self) -> str:
        """The clock gating of the routers and network interfaces: the tiles' mode, or with
        tiles in different modes the first of ``icg``, ``enable``, ``none`` any tile uses."""
        modes = {self.tile_config(i).gating for i in range(self.count)}
        return next(mode for mode in GATING_MODES if mode in modes)

    # -- serialization ---------------------------------------------------------------------------
    def to_toml(self) -> str:
        lines = ["[mesh]"]
        for key in ("name", "width", "height", "fifo_depth", "max_destinations", "axon_seed", "axon_fill"):
            lines.append(f"{key} = {_toml_value(getattr(self, key))}")
        for key in ("inputs", "outputs"):
            pairs = ", ".join(f"[{x}, {y}]" for x, y in getattr(self, key))
            lines.append(f"{key} = [{pairs}]")
        text = "\n".join(lines) + "\n\n" + self.tile.to_toml()
        for tile in self.tiles:
            text += "\n" + tile.to_toml().replace("[tile]", "[[tiles]]", 1)
        return text

    @classmethod
    def from_dict(cls, data: dict) -> "MeshConfig":
        """From the TOML tables: ``[mesh]``, optional ``[tile]`` and optional ``[[tiles]]``."""
        if not isinstance(data, dict):
            raise ConfigError(f"config: expected a table, got {data!r}")
        unknown = set(data) - {"mesh", "tile", "tiles"}
        if unknown:
            raise ConfigError(f"config: unknown table(s) {', '.join(sorted(unknown))} next to [mesh]; "
                              "allowed: mesh, tile, tiles")
        mesh = data["mesh"]
        if not isinstance(mesh, dict):
            raise ConfigError(f"mesh: expected a table, got {mesh!r}")
        known = {f.name for f in fields(cls)} - {"tile", "tiles"}
        unknown = set(mesh) - known
        if unknown:
            raise ConfigError(f"mesh: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(known))}")
        tiles = data.get("tiles", [])
        if not isinstance(tiles, list):
            raise ConfigError("tiles: expected an array of tables ([[tiles]])")
        try:
            return cls(**mesh, tile=TileConfig.from_dict(data.get("tile", {})),
                       tiles=tuple(TileConfig.from_dict(t) for t in tiles))
        except TypeError as error:
            raise ConfigError(f"mesh: {error}") from None

    def replace(self, **changes) -> "MeshConfig":
        return replace(self, **changes)
