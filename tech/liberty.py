"""A small Liberty reader: the standard cells whose figures the energy model and synthesis use.

The project counts toggles of registers, logic nets and clock pins elsewhere; this module turns a
standard-cell Liberty file into cells with per-event energies (:class:`subtile.power.tech_model.TechModel`
multiplies counts by them). The default
library is SkyWater SKY130 ``sky130_fd_sc_hd`` at tt / 25 C / 1.80 V, found in ``shared/tech``
(see :func:`shared_dir`). The formulas and every constant are also in
``docs/energy-model.md``.

Liberty reader
--------------
Not a general Liberty grammar: a regular-expression tokenizer and a group/attribute parser that
keeps only what the energy model reads (library units and nominal voltage, and per cell ``area``,
leakage, ``ff``/``latch``/clock-gating markers and pins with ``direction``, ``capacitance``,
``clock`` and ``internal_power``). Everything else (``timing``, ``receiver_capacitance``, wire-load
tables, ...) is skipped by jumping to the matching brace, which keeps the 12.8 MB SKY130 file at
about a second. The parsed result is cached as JSON keyed by the SHA-256 of the file (see
:func:`cache_dir`).

Representative value of an ``internal_power`` table
----------------------------------------------------
Each ``rise_power`` / ``fall_power`` table is reduced to one number: the table linearly
interpolated (clamped to the table's range, never extrapolated) at the reference operating point
``input transition = 0.1 ns`` (:data:`REFERENCE_TRANSITION_NS`) and ``output load = 0.01 pF``
(:data:`REFERENCE_LOAD_PF`, about a fan-out of 3 of sky130 hd inputs plus wire). One-dimensional
tables (input-pin power) only use the transition. Values are converted to pJ with the library's
units: Liberty internal energy is in ``capacitive_load_unit * voltage_unit**2``.

The energy per *transition* of an arc is the mean of its rise and fall values. That mean matters
for SKY130: its tables carry about +0.5*C*V^2 in ``rise_power`` and -0.5*C*V^2 in
``fall_power``, C being the load plus the cell's own output capacitance (inv_1 at 0.18 pF: rise
+0.298 pJ, fall -0.294 pJ), so one of them alone is dominated by the load; the mean cancels that
split and leaves the cell's own energy. The load's 0.5*C*V^2 per toggle is then added once,
explicitly, by :class:`TechModel`.

When arcs name a ``related_pg_pin`` (ASAP7 characterises each rail separately), only arcs of the
primary power pin are used: energy is what the supply delivers, and the ground-rail arcs describe
the same events. Arcs that differ only in ``when`` are averaged (states taken as equally likely).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from subtile.cache import cache_root
from subtile.errors import ConfigError

__all__ = [
    "DEFAULT_FLOP",
    "DEFAULT_ICG",
    "DEFAULT_LIBERTY_NAME",
    "DEFAULT_LOGIC_CELLS",
    "REFERENCE_LOAD_PF",
    "REFERENCE_TRANSITION_NS",
    "Cell",
    "Library",
    "Pin",
    "PowerArc",
    "cache_dir",
    "default_liberty_path",
    "load_liberty",
    "parse_liberty",
    "mean",
    "output_energy",
    "pin_self_energy",
    "rail_arcs",
    "shared_dir",
]

DEFAULT_LIBERTY_NAME = "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"
DEFAULT_FLOP = "sky130_fd_sc_hd__dfxtp_1"
DEFAULT_ICG = "sky130_fd_sc_hd__dlclkp_1"
DEFAULT_LOGIC_CELLS = tuple(f"sky130_fd_sc_hd__{name}_1"
                            for name in ("inv", "nand2", "nor2", "xor2", "a21oi", "mux2"))

REFERENCE_TRANSITION_NS = 0.1
REFERENCE_LOAD_PF = 0.01

# Bump whenever the parsed structure or the reference point changes: old cache files are then
# re-parsed instead of being trusted.
_CACHE_FORMAT = f"subtile-liberty-1/{REFERENCE_TRANSITION_NS}ns/{REFERENCE_LOAD_PF}pF"

# Groups the reader descends into; any other group is skipped whole.
_KEPT_GROUPS = frozenset({
    "library", "cell", "pin", "pg_pin", "internal_power", "rise_power", "fall_power", "power",
    "leakage_power", "ff", "latch", "operating_conditions", "power_lut_template",
    "lu_table_template",
})

# Comments first (they may hold any character), then: quoted strings (kept with their quotes, so
# that a quoted "{" is not a brace), punctuation, and bare words. Whitespace and the backslash of
# line continuations match nothing and are skipped by findall.
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}();:,]|[^\s{}();:,"\\]+')
_UNIT = re.compile(r"^\s*([0-9.eE+-]*)\s*([A-Za-z]+)\s*$")

_TIME_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_CAP_PF = {"f": 1e12, "mf": 1e9, "uf": 1e6, "nf": 1e3, "pf": 1.0, "ff": 1e-3}
_POWER_NW = {"w": 1e9, "mw": 1e6, "uw": 1e3, "nw": 1.0, "pw": 1e-3, "fw": 1e-6}
_VOLT_V = {"v": 1.0, "mv": 1e-3, "kv": 1e3}


# --------------------------------------------------------------------------------------------
# Where the data and the cache live
# --------------------------------------------------------------------------------------------

def shared_dir() -> Path:
    """Return the project's ``shared`` folder (the one holding ``tech/``).

    Looked up in this order: ``$SUBTILE_SHARED``; then a ``shared/tech`` folder beside the
    repository root or one of its parents (the repository root is the parent of the ``sim``
    folder of this editable install; CI checks the repository out with ``shared`` beside it).

    Returns
    -------
    pathlib.Path
        The ``shared`` folder.

    Raises
    ------
    ConfigError
        When no such folder exists; the message says how to point at one.
    """
    env = os.environ.get("SUBTILE_SHARED")
    if env:
        path = Path(env).expanduser()
        if not (path / "tech").is_dir():
            raise ConfigError(f"SUBTILE_SHARED: {path} has no tech/ folder; "
                              f"set it to the folder that holds tech/{DEFAULT_LIBERTY_NAME}")
        return path
    root = Path(__file__).resolve().parents[1]
    for base in (root, *root.parents):
        if (base / "shared" / "tech").is_dir():
            return base / "shared"
    raise ConfigError(f"lib: no shared/tech folder found beside {root} or its parents; "
                      f"set SUBTILE_SHARED to the folder holding tech/{DEFAULT_LIBERTY_NAME} "
                      "or pass --lib with a Liberty file")


def default_liberty_path() -> Path:
    """Return the path of the default SKY130 Liberty file in ``shared/tech``."""
    return shared_dir() / "tech" / DEFAULT_LIBERTY_NAME


def unpacked_liberty(path: Path, folder: Path) -> Path:
    """The Liberty file ``path`` as a plain file in ``folder``: Yosys's ``dfflibmap`` and ``abc``
    cannot read gzip, and the WebAssembly Yosys only sees its working folder. Decompressed when
    gzipped (by content), else copied; named as ``path`` without ``.gz``; written atomically and
    reused when already there."""
    path, folder = Path(path), Path(folder)
    target = folder / (path.name[:-3] if path.name.endswith(".gz") else path.name)
    if not target.exists():
        raw = path.read_bytes()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        os.replace(tmp, target)
    return target


def cache_dir() -> Path:
    """Return the folder for parsed-Liberty JSON files.

    ``<cache root>/tech`` (:func:`subtile.cache.cache_root`: ``$SUBTILE_CACHE``, else
    ``$XDG_CACHE_HOME/subtile``, else ``~/.cache/subtile``). The folder is created on first
    write, not here.
    """
    return cache_root() / "tech"


# --------------------------------------------------------------------------------------------
# Parsed library
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PowerArc:
    """One ``internal_power`` group reduced to two numbers.

    Attributes
    ----------
    related_pin : str or None
        The ``related_pin`` (for output pins: the input whose change makes this output toggle);
        None for an input pin's own power, counted whenever that pin toggles.
    when : str or None
        The state condition, as written in the Liberty.
    pg_pin : str or None
        The ``related_pg_pin``, when the library characterises rails separately.
    rise_pj, fall_pj : float or None
        Energy per rising / falling transition in pJ at the reference operating point (see the
        module docstring); None when the group has no such table.
    """

    related_pin: str | None
    when: str | None
    pg_pin: str | None
    rise_pj: float | None
    fall_pj: float | None

    @property
    def transition_pj(self) -> float:
        """Energy per transition: the mean of rise and fall (the one present if only one is)."""
        values = [v for v in (self.rise_pj, self.fall_pj) if v is not None]
        return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class Pin:
    """A cell pin: ``direction``, ``capacitance`` in pF, the ``clock`` flag and power arcs."""

    name: str
    direction: str | None
    capacitance_pf: float | None
    clock: bool
    power: tuple[PowerArc, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """A library cell.

    Attributes
    ----------
    name : str
    area_um2 : float or None
        ``area``; Liberty declares no area unit, and standard-cell libraries use um^2.
    leakage_nw : float or None
        ``cell_leakage_power``; when absent (ASAP7), the mean of the unconditional
        ``leakage_power`` values of the power rail, else of all conditional ones.
    sequential : str or None
        ``"ff"`` or ``"latch"`` when the cell has such a group.
    clock_gating : str or None
        ``clock_gating_integrated_cell`` (e.g. ``"latch_posedge"``) for integrated clock gates.
    primary_power : tuple of str
        Names of the ``pg_pin`` groups of type ``primary_power``.
    pins : dict of str to Pin
    """

    name: str
    area_um2: float | None
    leakage_nw: float | None
    sequential: str | None
    clock_gating: str | None
    primary_power: tuple[str, ...]
    pins: Mapping[str, Pin]

    def pins_with(self, direction: str) -> list[Pin]:
        """Return the pins of one direction (``input``, ``output``, ...), in file order."""
        return [p for p in self.pins.values() if p.direction == direction]


@dataclass(frozen=True)
class Library:
    """The parts of a Liberty library that the energy model uses, in pJ, pF, nW, V, um^2.

    Attributes
    ----------
    name : str
        The ``library (...)`` name.
    nom_voltage : float
        ``nom_voltage``, else the voltage of ``default_operating_conditions``, else of the only
        ``operating_conditions`` group, in V.
    units : dict
        The declared units as written (``time_unit``, ``capacitive_load_unit``,
        ``leakage_power_unit``, ``voltage_unit``) and their factors to s, pF, nW, V.
    cells : dict of str to Cell
    sha256 : str
        SHA-256 of the file as read (gzip or plain): the cache key.
    """

    name: str
    nom_voltage: float
    units: Mapping[str, object]
    cells: Mapping[str, Cell]
    sha256: str = ""

    def cell(self, name: str, *, source: object = "the library", role: str = "that cell",
             option: str = "") -> Cell:
        """Return a cell, or raise :class:`ConfigError` naming ``lib`` when it is missing.

        Parameters
        ----------
        name : str
            Cell name.
        source : object
            Where the library came from, for the message.
        role : str
            What the cell is needed for, e.g. ``"a D flip-flop"``, for the message.
        option : str
            The option that names such a cell, e.g. ``"--flop"``, for the message.
        """
        try:
            return self.cells[name]
        except KeyError:
            other = f", or name one with {option}" if option else ""
            raise ConfigError(f"lib: cell {name} not found in {source}: pass --lib with a Liberty "
                              f"that has {role}{other}") from None

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (the cache format)."""
        return {"format": _CACHE_FORMAT, "name": self.name, "nom_voltage": self.nom_voltage,
                "units": dict(self.units), "sha256": self.sha256,
                "cells": {name: _cell_to_dict(c) for name, c in self.cells.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Library":
        """Rebuild a library from :meth:`to_dict` output."""
        cells = {}
        for name, c in data["cells"].items():
            pins = {pn: Pin(name=pn, direction=p["direction"], capacitance_pf=p["capacitance_pf"],
                            clock=p["clock"], power=tuple(PowerArc(**a) for a in p["power"]),
                            attributes=dict(p.get("attributes", {})))
                    for pn, p in c["pins"].items()}
            cells[name] = Cell(name=name, area_um2=c["area_um2"], leakage_nw=c["leakage_nw"],
                               sequential=c["sequential"], clock_gating=c["clock_gating"],
                               primary_power=tuple(c["primary_power"]), pins=pins)
        return cls(name=data["name"], nom_voltage=data["nom_voltage"], units=dict(data["units"]),
                   cells=cells, sha256=data.get("sha256", ""))


def _cell_to_dict(cell: Cell) -> dict:
    return {"area_um2": cell.area_um2, "leakage_nw": cell.leakage_nw,
            "sequential": cell.sequential, "clock_gating": cell.clock_gating,
            "primary_power": list(cell.primary_power),
            "pins": {n: {"direction": p.direction, "capacitance_pf": p.capacitance_pf,
                         "clock": p.clock, "attributes": dict(p.attributes),
                         "power": [asdict(a) for a in p.power]}
                     for n, p in cell.pins.items()}}


# --------------------------------------------------------------------------------------------
# Tokenizer and group/attribute parser
# --------------------------------------------------------------------------------------------

class _Group:
    """A parsed group: ``name (args) { simple attributes; complex attributes; subgroups }``."""

    __slots__ = ("name", "args", "attrs", "complex", "groups")

    def __init__(self, name: str, args: list[str]):
        self.name = name
        self.args = args
        self.attrs: dict[str, str] = {}
        self.complex: dict[str, list[str]] = {}
        self.groups: list[_Group] = []

    def sub(self, name: str) -> list["_Group"]:
        return [g for g in self.groups if g.name == name]


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == '"' else token


class _Parser:
    def __init__(self, text: str, source: object):
        self.source = source
        self.tokens = _TOKEN.findall(_COMMENT.sub(" ", text))
        # Matching closing brace of every opening brace, so that skipped groups cost one jump.
        self.close: dict[int, int] = {}
        stack = []
        for i, tok in enumerate(self.tokens):
            if tok == "{":
                stack.append(i)
            elif tok == "}":
                if not stack:
                    self._fail(i, "unbalanced '}'")
                self.close[stack.pop()] = i
        if stack:
            self._fail(stack[-1], "unclosed '{'")

    def _fail(self, i: int, what: str):
        near = " ".join(self.tokens[max(0, i - 3):i + 3])[:80]
        raise ConfigError(f"lib: {self.source} is not a readable Liberty file ({what} near "
                          f"{near!r}): pass --lib with a Liberty (.lib or .lib.gz) file")

    def library(self) -> _Group:
        t = self.tokens
        if len(t) < 4 or t[0] != "library" or t[1] != "(":
            raise ConfigError(f"lib: {self.source} is not a Liberty file (it does not start "
                              "with 'library (...) {'): pass --lib with a Liberty "
                              "(.lib or .lib.gz) file")
        try:
            end = t.index(")", 2)
            args = [_unquote(x) for x in t[2:end] if x != ","]
            if t[end + 1] != "{":
                self._fail(end + 1, "expected '{'")
            group, _ = self._group("library", args, end + 1)
        except ConfigError:
            raise
        except (IndexError, ValueError):
            self._fail(len(t) - 1, "unexpected end of file")
        return group

    def _group(self, name: str, args: list[str], i: int) -> tuple[_Group, int]:
        """Parse the group whose '{' is at ``i``; return it and the index after its '}'."""
        t = self.tokens
        group = _Group(name, args)
        end = self.close[i]
        i += 1
        while i < end:
            key = t[i]
            nxt = t[i + 1]
            if nxt == ":":
                # Simple attribute; the ';' is optional (ASAP7 has "area : 0.0729" without it).
                group.attrs[key] = _unquote(t[i + 2])
                i += 3
                if t[i] == ";":
                    i += 1
            elif nxt == "(":
                j = t.index(")", i + 2)
                vals = [_unquote(x) for x in t[i + 2:j] if x != ","]
                i = j + 1
                if t[i] == "{":
                    if key in _KEPT_GROUPS:
                        child, i = self._group(key, vals, i)
                        group.groups.append(child)
                    else:
                        i = self.close[i] + 1
                else:
                    group.complex[key] = vals
                    if t[i] == ";":
                        i += 1
            elif key == ";":
                i += 1
            else:
                self._fail(i, f"unexpected {key!r}")
        return group, end + 1


# --------------------------------------------------------------------------------------------
# From the syntax tree to a Library
# --------------------------------------------------------------------------------------------

def _unit(value: str | None, table: dict[str, float], attr: str, source: object) -> float:
    match = _UNIT.match(value or "")
    suffix = match.group(2).lower() if match else ""
    if not match or suffix not in table:
        raise ConfigError(f"lib: {source} has {attr} {value!r}; expected a number and one of "
                          f"{', '.join(table)}, e.g. '1{next(iter(table))}'")
    return float(match.group(1) or 1.0) * table[suffix]


def _floats(args: Iterable[str]) -> list[float]:
    out = []
    for arg in args:
        out.extend(float(x) for x in arg.replace(",", " ").split())
    return out


def _axis_target(variable: str, slew: float, load: float) -> float | None:
    if "transition" in variable:
        return slew
    if "capacitance" in variable:
        return load
    return None


def _table_value(table: _Group, templates: Mapping[str, _Group], slew: float,
                 load: float) -> float:
    """Reduce a power table to its value at (slew, load), in library units."""
    values = _floats(table.complex.get("values", []))
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    template = templates.get(table.args[0]) if table.args else None
    axes = []
    for k in (1, 2, 3):
        index = table.complex.get(f"index_{k}") or (template.complex.get(f"index_{k}")
                                                   if template else None)
        variable = (template.attrs.get(f"variable_{k}", "") if template else "")
        if index is None:
            break
        axes.append((np.asarray(_floats(index)), _axis_target(variable, slew, load)))
    sizes = [len(a) for a, _ in axes]
    if not axes or math.prod(sizes) != len(values):
        # Unknown layout: the mean is still a fair single number for it.
        return float(np.mean(values))
    grid = np.asarray(values).reshape(sizes)
    # Interpolate the last axis first, so each step removes one dimension.
    for index, target in reversed(axes):
        order = np.argsort(index)
        index = index[order]
        grid = np.take(grid, order, axis=-1)
        if target is None:
            grid = grid.mean(axis=-1)
        else:
            x = min(max(target, index[0]), index[-1])
            grid = np.apply_along_axis(lambda row: np.interp(x, index, row), -1, grid)
    return float(grid)


def _build_library(root: _Group, source: object, sha: str) -> Library:
    attrs = root.attrs
    time_s = _unit(attrs.get("time_unit", "1ns"), _TIME_S, "time_unit", source)
    volt_v = _unit(attrs.get("voltage_unit", "1V"), _VOLT_V, "voltage_unit", source)
    leak_nw = _unit(attrs.get("leakage_power_unit", "1nW"), _POWER_NW, "leakage_power_unit",
                    source)
    cap_args = root.complex.get("capacitive_load_unit", ["1", "pf"])
    cap_pf = _unit("".join(cap_args), _CAP_PF, "capacitive_load_unit", source)
    energy_pj = cap_pf * volt_v ** 2  # Liberty internal energy is in cap_unit * voltage_unit^2.

    if "nom_voltage" in attrs:
        nominal = float(attrs["nom_voltage"]) * volt_v
    else:
        conditions = {g.args[0] if g.args else "": g for g in root.sub("operating_conditions")}
        chosen = conditions.get(attrs.get("default_operating_conditions", ""))
        if chosen is None and len(conditions) == 1:
            chosen = next(iter(conditions.values()))
        if chosen is None or "voltage" not in chosen.attrs:
            raise ConfigError(f"lib: {source} gives no nominal voltage (no nom_voltage and no "
                              "default operating_conditions voltage): pass --lib with a complete "
                              "Liberty")
        nominal = float(chosen.attrs["voltage"]) * volt_v

    templates = {g.args[0]: g for g in root.groups
                 if g.name in ("power_lut_template", "lu_table_template") and g.args}
    # Reference point in the library's own units.
    slew = REFERENCE_TRANSITION_NS * 1e-9 / time_s
    load = REFERENCE_LOAD_PF / cap_pf

    def power_value(group: _Group, kind: str) -> float | None:
        tables = group.sub(kind) or group.sub("power")
        if not tables:
            return None
        return _table_value(tables[0], templates, slew, load) * energy_pj

    cells = {}
    for cg in root.sub("cell"):
        if not cg.args:
            continue
        name = cg.args[0]
        pins = {}
        for pg in cg.sub("pin"):
            arcs = tuple(PowerArc(related_pin=ip.attrs.get("related_pin"),
                                  when=ip.attrs.get("when"),
                                  pg_pin=ip.attrs.get("related_pg_pin"),
                                  rise_pj=power_value(ip, "rise_power"),
                                  fall_pj=power_value(ip, "fall_power"))
                         for ip in pg.sub("internal_power"))
            cap = pg.attrs.get("capacitance")
            cap = float(cap) * cap_pf if cap is not None else None
            keep = {k: v for k, v in pg.attrs.items() if k.startswith("clock_gate_")
                    or k in ("function", "state_function")}
            for pin_name in pg.args:  # "pin (A, B)" declares several pins at once.
                pins[pin_name] = Pin(name=pin_name, direction=pg.attrs.get("direction"),
                                     capacitance_pf=cap,
                                     clock=pg.attrs.get("clock", "false").lower() == "true",
                                     power=arcs, attributes=keep)
        primary = tuple(g.args[0] for g in cg.sub("pg_pin")
                        if g.args and g.attrs.get("pg_type") == "primary_power")
        leakage = cg.attrs.get("cell_leakage_power")
        if leakage is not None:
            leakage_nw = float(leakage) * leak_nw
        else:
            groups = cg.sub("leakage_power")
            rails = [g for g in groups if g.attrs.get("related_pg_pin") in primary] or groups
            plain = [g for g in rails if "when" not in g.attrs] or rails
            vals = [float(g.attrs["value"]) for g in plain if "value" in g.attrs]
            leakage_nw = sum(vals) / len(vals) * leak_nw if vals else None
        area = cg.attrs.get("area")
        sequential = "ff" if cg.sub("ff") else "latch" if cg.sub("latch") else None
        cells[name] = Cell(name=name, area_um2=float(area) if area is not None else None,
                           leakage_nw=leakage_nw, sequential=sequential,
                           clock_gating=cg.attrs.get("clock_gating_integrated_cell"),
                           primary_power=primary, pins=pins)
    units = {"time_unit": attrs.get("time_unit"), "voltage_unit": attrs.get("voltage_unit"),
             "leakage_power_unit": attrs.get("leakage_power_unit"),
             "capacitive_load_unit": ",".join(cap_args), "time_s": time_s, "voltage_v": volt_v,
             "leakage_nw": leak_nw, "capacitance_pf": cap_pf, "energy_pj": energy_pj}
    return Library(name=root.args[0] if root.args else "", nom_voltage=nominal, units=units,
                   cells=cells, sha256=sha)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"lib: {path} does not exist: pass --lib with a Liberty "
                          "(.lib or .lib.gz) file") from None
    except OSError as error:
        raise ConfigError(f"lib: cannot read {path} ({error.strerror}): pass --lib with a "
                          "readable Liberty (.lib or .lib.gz) file") from None


def _decode(raw: bytes, path: Path) -> str:
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ConfigError(f"lib: {path} is a damaged gzip file ({error}): pass --lib with a "
                              "Liberty (.lib or .lib.gz) file") from None
    # Liberty is ASCII; latin-1 never fails, so stray bytes in comments cannot stop the parse.
    return raw.decode("latin-1")


def parse_liberty(path: str | os.PathLike) -> Library:
    """Parse a Liberty file (plain or gzip), without the cache.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.lib`` or ``.lib.gz`` file; gzip is recognised by its magic bytes.

    Returns
    -------
    Library

    Raises
    ------
    ConfigError
        Naming ``lib``: the file is missing, unreadable, or not Liberty.
    """
    path = Path(path)
    raw = _read_bytes(path)
    return _parse(raw, path, hashlib.sha256(raw).hexdigest())


def _parse(raw: bytes, path: Path, sha: str) -> Library:
    try:
        return _build_library(_Parser(_decode(raw, path), path).library(), path, sha)
    except ConfigError:
        raise
    except (ValueError, IndexError, KeyError) as error:
        # A number that is not a number, a table of the wrong size: one line, not a traceback.
        raise ConfigError(f"lib: {path} has a malformed value ({error}): pass --lib with a "
                          "valid Liberty (.lib or .lib.gz) file") from None


def load_liberty(path: str | os.PathLike | None = None, *, cache: bool = True) -> Library:
    """Parse a Liberty file through the JSON cache.

    The cache file is ``cache_dir() / "<sha256 of the file>.json"``, written atomically (a
    temporary file in the same folder, then ``os.replace``), so concurrent test workers never read
    half a file. A cache file of another format version is ignored and rewritten; a cache folder
    that cannot be written only costs the re-parse next time.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The Liberty file; default :func:`default_liberty_path`.
    cache : bool
        Read and write the cache (default True).

    Returns
    -------
    Library
    """
    path = Path(path) if path is not None else default_liberty_path()
    raw = _read_bytes(path)
    sha = hashlib.sha256(raw).hexdigest()
    target = cache_dir() / f"{sha}.json"
    if cache:
        try:
            data = json.loads(target.read_text())
            if data.get("format") == _CACHE_FORMAT:
                return Library.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no cache yet, or a damaged one: parse again
    library = _parse(raw, path, sha)
    if cache:
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{sha[:12]}.", suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                json.dump(library.to_dict(), handle, separators=(",", ":"))
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache holds public data
            os.replace(tmp, target)
            tmp = None
        except OSError:
            pass  # a read-only cache folder is not an error
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
    return library


# --------------------------------------------------------------------------------------------
# Energies per cell event
# --------------------------------------------------------------------------------------------

def rail_arcs(cell: Cell, arcs: Iterable[PowerArc]) -> list[PowerArc]:
    arcs = list(arcs)
    if not any(a.pg_pin for a in arcs):
        return arcs
    rails = set(cell.primary_power) or {"VDD", "VPWR"}
    return [a for a in arcs if a.pg_pin in rails]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def pin_self_energy(cell: Cell, pin: Pin) -> float:
    """Internal energy per transition of an input pin itself (arcs without related_pin)."""
    return mean([a.transition_pj for a in rail_arcs(cell, pin.power) if a.related_pin is None])


def output_energy(cell: Cell, pin: Pin, related: str | None = None) -> float:
    """Internal energy per output transition: arcs grouped by related pin, ``when`` averaged."""
    by_related: dict[str, list[float]] = {}
    for arc in rail_arcs(cell, pin.power):
        if arc.related_pin is None:
            continue
        names = arc.related_pin.split()
        if related is not None and related not in names:
            continue
        by_related.setdefault(arc.related_pin, []).append(arc.transition_pj)
    return mean([mean(v) for v in by_related.values()])
