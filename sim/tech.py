"""Technology figures for energy estimates: a small Liberty reader and :class:`TechModel`.

The project counts toggles of registers, logic nets and clock pins elsewhere; this module turns a
standard-cell Liberty file into the per-event energies those counts are multiplied by. The default
library is SkyWater SKY130 ``sky130_fd_sc_hd`` at tt / 25 C / 1.80 V, found in ``shared/tech``
(see :func:`shared_dir`). Without any Liberty, :meth:`TechModel.fallback` gives order-of-magnitude
figures from Horowitz, ISSCC 2014. The formulas and every constant are also in
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
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError

__all__ = [
    "DEFAULT_FLOP",
    "DEFAULT_ICG",
    "DEFAULT_LIBERTY_NAME",
    "DEFAULT_LOGIC_CELLS",
    "HOROWITZ_2014_PJ",
    "REFERENCE_LOAD_PF",
    "REFERENCE_TRANSITION_NS",
    "Cell",
    "Library",
    "Pin",
    "PowerArc",
    "TechModel",
    "cache_dir",
    "default_liberty_path",
    "load_liberty",
    "parse_liberty",
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


def cache_dir() -> Path:
    """Return the folder for parsed-Liberty JSON files.

    ``$SUBTILE_CACHE/tech`` when ``SUBTILE_CACHE`` is set, else ``$XDG_CACHE_HOME/subtile/tech``,
    else ``~/.cache/subtile/tech``. The folder is created on first write, not here.
    """
    env = os.environ.get("SUBTILE_CACHE")
    if env:
        return Path(env).expanduser() / "tech"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "subtile" / "tech"


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

def _rail_arcs(cell: Cell, arcs: Iterable[PowerArc]) -> list[PowerArc]:
    arcs = list(arcs)
    if not any(a.pg_pin for a in arcs):
        return arcs
    rails = set(cell.primary_power) or {"VDD", "VPWR"}
    return [a for a in arcs if a.pg_pin in rails]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _pin_self_energy(cell: Cell, pin: Pin) -> float:
    """Internal energy per transition of an input pin itself (arcs without related_pin)."""
    return _mean([a.transition_pj for a in _rail_arcs(cell, pin.power) if a.related_pin is None])


def _output_energy(cell: Cell, pin: Pin, related: str | None = None) -> float:
    """Internal energy per output transition: arcs grouped by related pin, ``when`` averaged."""
    by_related: dict[str, list[float]] = {}
    for arc in _rail_arcs(cell, pin.power):
        if arc.related_pin is None:
            continue
        names = arc.related_pin.split()
        if related is not None and related not in names:
            continue
        by_related.setdefault(arc.related_pin, []).append(arc.transition_pj)
    return _mean([_mean(v) for v in by_related.values()])


# --------------------------------------------------------------------------------------------
# The technology model
# --------------------------------------------------------------------------------------------

# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V.
HOROWITZ_2014_PJ = {"add8": 0.03, "add32": 0.1, "mult8": 0.2, "mult32": 3.1}
_FALLBACK_VDD = 0.9
# A 32-bit ripple-carry adder = 32 full adders of 5 gates (2 XOR, 2 AND, 1 OR); random operands
# toggle about half of the gate outputs per addition: 80 gate-output toggles per 0.1 pJ.
_FALLBACK_GATES_PER_ADD32 = 32 * 5
_FALLBACK_TOGGLES_PER_GATE = 0.5
_FALLBACK_NET_PJ = HOROWITZ_2014_PJ["add32"] / (_FALLBACK_GATES_PER_ADD32
                                                * _FALLBACK_TOGGLES_PER_GATE)
# Everything else in the fallback is this net energy times the SKY130 proportions below,
# computed by TechModel.from_liberty() on the default library (energies relative to one logic-net
# toggle at fan-out 3; capacitances as C*V^2 relative to it). tests/test_tech.py checks they
# still match the shipped library.
_SKY130_PROPORTIONS = {
    "logic_internal": 0.196,
    "logic_input_internal": 0.0166,  # per driven input
    "flop_clock": 0.667,
    "flop_q_internal": 0.655,
    "flop_d_internal": 0.0790,
    "icg": 1.52,
    "icg_idle": 0.861,
    "icg_enable": 0.575,
    "logic_input_cv2": 0.858,  # 3 inputs
    "wire_cv2": 0.651,  # 3 fan-out branches
    "flop_clock_cv2": 0.195,
    "icg_clock_cv2": 0.451,
}
# Area: ideal (45/130)^2 shrink of the SKY130 cells (cross-check: Nangate 45 nm INV_X1 is
# 0.532 um^2, the shrunk sky130 inv_1 0.450 um^2).
_FALLBACK_AREA_SCALE = (45.0 / 130.0) ** 2
# SKY130 hd areas in um^2: dfxtp_1, dlclkp_1, and the mean of the six default logic cells.
_SKY130_AREAS = {"flop": 20.0192, "icg": 17.5168,
                 "logic": (3 * 3.7536 + 8.7584 + 5.0048 + 11.2608) / 6}


@dataclass(frozen=True)
class TechModel:
    """Per-event energies, capacitances, areas and leakage for toggle-based energy estimates.

    All energies are at the operating supply ``vdd`` (equal to ``vdd_nominal`` unless
    :meth:`scaled` was used) and are *internal* cell energies unless the name says otherwise; the
    methods add the 0.5*C*V^2 of the capacitance each toggle charges or discharges. Sources are
    for :meth:`from_liberty` on the default SKY130 library; every energy taken from an
    ``internal_power`` table is the mean of its rise and fall values at the reference point
    (0.1 ns input transition, 0.01 pF load; see the module docstring).

    How counts map onto these figures (one clock *cycle* at a pin = one 0->1 and one 1->0 toggle):

    - a flop whose clock runs in a cycle: ``2 * clock_pin_toggle_energy_pj()``;
    - an ICG in a cycle with its enable high: ``icg_enabled_cycle_energy_pj()`` plus the cycles
      of the flops behind it; with its enable low: ``icg_disabled_cycle_energy_pj()`` only;
    - a register bit whose stored value changes: ``register_bit_toggle_energy_pj()``;
    - a logic net that toggles: ``net_toggle_energy_pj()``;
    - leakage: ``leakage_energy_pj(...)`` for the cells and the cycle time.

    Attributes
    ----------
    source : str
        Where the numbers come from (Liberty name and file, or the fallback).
    vdd_nominal : float
        Characterisation supply in V: Liberty ``nom_voltage`` or the default operating
        conditions' ``voltage`` (SKY130 tt: 1.80 V).
    vdd : float
        Supply in V at which the energy fields hold.
    flop_cell, icg_cell : str
        The flip-flop (default ``sky130_fd_sc_hd__dfxtp_1``) and integrated clock gate (default
        ``sky130_fd_sc_hd__dlclkp_1``) the figures come from.
    logic_cells : tuple of str
        Combinational cells averaged for the logic figures (default inv, nand2, nor2, xor2,
        a21oi, mux2, drive strength 1).
    flop_clock_pin_cap_pf : float
        ``capacitance`` of the flop's clock pin (dfxtp_1 ``CLK``).
    flop_clock_energy_pj : float
        Internal energy per clock-pin toggle with Q unchanged: the ``internal_power`` of the
        flop's ``CLK`` pin (no related pin).
    flop_q_internal_energy_pj : float
        Internal energy per Q toggle: the ``Q`` pin's ``internal_power`` related to ``CLK``.
    flop_d_internal_energy_pj : float
        Internal energy per D toggle: the ``D`` pin's own ``internal_power``.
    flop_area_um2, flop_leakage_nw : float
        dfxtp_1 ``area`` and ``cell_leakage_power``.
    icg_clock_pin_cap_pf : float
        ``capacitance`` of the ICG's clock pin (dlclkp_1 ``CLK``).
    icg_energy_pj : float
        Internal energy per enabled gated-clock pulse (one cycle): the ``CLK`` pin's own energy
        for its rise and fall plus the ``GCLK`` arc (related to ``CLK``) for its rise and fall.
    icg_idle_energy_pj : float
        Internal energy per cycle with the enable low: the ``CLK`` pin's rise and fall only.
    icg_enable_energy_pj : float
        Internal energy per toggle of the enable pin (dlclkp_1 ``GATE``).
    icg_area_um2, icg_leakage_nw : float
        dlclkp_1 ``area`` and ``cell_leakage_power``.
    logic_input_cap_pf : float
        Mean ``capacitance`` over every input pin of the logic cells.
    logic_internal_energy_pj : float
        Mean over the logic cells of the internal energy per output toggle (arcs of each output
        averaged over related pins and ``when`` states).
    logic_input_internal_energy_pj : float
        Mean over every input pin of the logic cells of the pin's own ``internal_power`` per
        transition (no related pin): what each driven input spends when the net toggles.
    logic_area_um2 : float
        Mean ``area`` of the logic cells.
    leakage_per_cell_nw : float
        Mean ``cell_leakage_power`` of the logic cells.
    average_fanout : float
        Cell inputs driven by one net. Assumption: 3 (synthesised logic typically has a mean
        fan-out of 2 to 4); not read from any netlist.
    wire_cap_per_fanout_pf : float
        Wire capacitance added per fan-out. Assumption: 0.002 pF, about one more input pin per
        fan-out branch; a routed design may differ by 2x either way. (The library's own
        ``wire_load("Small")`` model gives only 0.0007 pF for a whole fan-out-3 net.)
    cell_areas, cell_leakages : dict of str to float
        ``area`` (um^2) and leakage (nW) of every cell of the library, for area reports.
    notes : tuple of str
        Caveats that reports should print with the numbers.
    """

    source: str
    vdd_nominal: float
    vdd: float
    flop_cell: str
    icg_cell: str
    logic_cells: tuple[str, ...]
    flop_clock_pin_cap_pf: float
    flop_clock_energy_pj: float
    flop_q_internal_energy_pj: float
    flop_d_internal_energy_pj: float
    flop_area_um2: float
    flop_leakage_nw: float
    icg_clock_pin_cap_pf: float
    icg_energy_pj: float
    icg_idle_energy_pj: float
    icg_enable_energy_pj: float
    icg_area_um2: float
    icg_leakage_nw: float
    logic_input_cap_pf: float
    logic_internal_energy_pj: float
    logic_input_internal_energy_pj: float
    logic_area_um2: float
    leakage_per_cell_nw: float
    average_fanout: float = 3.0
    wire_cap_per_fanout_pf: float = 0.002
    cell_areas: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)
    cell_leakages: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)
    notes: tuple[str, ...] = ()

    # Fields that are dynamic (internal) energies: scaled by (V/V0)^2 in scaled().
    _DYNAMIC = ("flop_clock_energy_pj", "flop_q_internal_energy_pj", "flop_d_internal_energy_pj",
                "icg_energy_pj", "icg_idle_energy_pj", "icg_enable_energy_pj",
                "logic_internal_energy_pj", "logic_input_internal_energy_pj")

    def __post_init__(self):
        _positive("vdd", self.vdd, "(0, 5] V", upper=5.0)
        _positive("vdd_nominal", self.vdd_nominal, "(0, 5] V", upper=5.0)
        _positive("average_fanout", self.average_fanout, "(0, 1000]", upper=1000.0)
        if not (math.isfinite(self.wire_cap_per_fanout_pf) and 0 <= self.wire_cap_per_fanout_pf
                <= 10):
            raise ConfigError("wire_cap_per_fanout_pf: must be in 0..10 pF, got "
                              f"{self.wire_cap_per_fanout_pf!r}")

    # ---- constructors ----------------------------------------------------------------------

    @classmethod
    def from_liberty(cls, path: str | os.PathLike | None = None, *, flop: str = DEFAULT_FLOP,
                     icg: str = DEFAULT_ICG, logic: Iterable[str] = DEFAULT_LOGIC_CELLS,
                     average_fanout: float = 3.0, wire_cap_per_fanout_pf: float = 0.002,
                     cache: bool = True) -> "TechModel":
        """Build the model from a Liberty file.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Liberty file (``lib``); default the SKY130 hd tt file in ``shared/tech``.
        flop : str
            A D flip-flop: a cell with an ``ff`` group, a ``clock : true`` pin and an output.
        icg : str
            An integrated clock gate: a cell with a clock pin and an output pin (normally
            ``clock_gating_integrated_cell``).
        logic : iterable of str
            Combinational cells to average for the logic-net figures.
        average_fanout, wire_cap_per_fanout_pf : float
            The two assumptions of the net model (see the class docstring).
        cache : bool
            Use the parsed-Liberty cache (see :func:`load_liberty`).

        Raises
        ------
        ConfigError
            Naming ``lib`` when the file is missing or not Liberty or lacks a named cell, and
            naming the cell parameter when a cell is not of the needed kind.
        """
        path = Path(path) if path is not None else default_liberty_path()
        lib = load_liberty(path, cache=cache)
        where = f"{path.name}"

        f_cell = lib.cell(flop, source=where, role="a D flip-flop", option="--flop")
        if f_cell.sequential != "ff":
            raise ConfigError(f"flop: cell {flop} in {where} is not a flip-flop (no ff group); "
                              "name a D flip-flop cell")
        f_clock = _one(f_cell, [p for p in f_cell.pins_with("input") if p.clock], "flop",
                       "clock : true input pin")
        f_out = _one(f_cell, f_cell.pins_with("output"), "flop", "output pin")
        f_data = [p for p in f_cell.pins_with("input") if not p.clock]
        f_d = f_cell.pins.get("D") or (f_data[0] if f_data else None)

        g_cell = lib.cell(icg, source=where, role="an integrated clock gate", option="--icg")
        g_clock = _one(g_cell, [p for p in g_cell.pins_with("input")
                                if p.clock or "clock_gate_clock_pin" in p.attributes],
                       "icg", "clock input pin")
        g_out = _one(g_cell, [p for p in g_cell.pins_with("output")
                              if "clock_gate_out_pin" in p.attributes]
                     or g_cell.pins_with("output"), "icg", "output pin")
        g_enable = [p for p in g_cell.pins_with("input")
                    if "clock_gate_enable_pin" in p.attributes]

        logic = tuple(logic)
        if not logic:
            raise ConfigError("logic: name at least one combinational cell")
        l_cells = [lib.cell(n, source=where, role="combinational cells", option="--logic")
                   for n in logic]
        inputs = [p.capacitance_pf for c in l_cells for p in c.pins_with("input")
                  if p.capacitance_pf is not None]
        if not inputs:
            raise ConfigError(f"logic: cells {', '.join(logic)} in {where} have no input pin "
                              "capacitance")
        l_internal = [_mean([_output_energy(c, p) for p in c.pins_with("output")])
                      for c in l_cells]
        l_input_internal = [_pin_self_energy(c, p) for c in l_cells for p in c.pins_with("input")]

        g_clk_self = _pin_self_energy(g_cell, g_clock)
        return cls(
            source=f"liberty {lib.name} ({path.name}, sha256 {lib.sha256[:12]})",
            vdd_nominal=lib.nom_voltage, vdd=lib.nom_voltage,
            flop_cell=flop, icg_cell=icg, logic_cells=logic,
            flop_clock_pin_cap_pf=_required(f_clock.capacitance_pf, "flop", flop, "clock pin cap"),
            flop_clock_energy_pj=_pin_self_energy(f_cell, f_clock),
            flop_q_internal_energy_pj=_output_energy(f_cell, f_out, related=f_clock.name),
            flop_d_internal_energy_pj=_pin_self_energy(f_cell, f_d) if f_d else 0.0,
            flop_area_um2=_required(f_cell.area_um2, "flop", flop, "area"),
            flop_leakage_nw=f_cell.leakage_nw or 0.0,
            icg_clock_pin_cap_pf=_required(g_clock.capacitance_pf, "icg", icg, "clock pin cap"),
            icg_energy_pj=2 * g_clk_self + 2 * _output_energy(g_cell, g_out, related=g_clock.name),
            icg_idle_energy_pj=2 * g_clk_self,
            icg_enable_energy_pj=_pin_self_energy(g_cell, g_enable[0]) if g_enable else 0.0,
            icg_area_um2=_required(g_cell.area_um2, "icg", icg, "area"),
            icg_leakage_nw=g_cell.leakage_nw or 0.0,
            logic_input_cap_pf=_mean(inputs),
            logic_internal_energy_pj=_mean(l_internal),
            logic_input_internal_energy_pj=_mean(l_input_internal),
            logic_area_um2=_mean([c.area_um2 or 0.0 for c in l_cells]),
            leakage_per_cell_nw=_mean([c.leakage_nw or 0.0 for c in l_cells]),
            average_fanout=average_fanout, wire_cap_per_fanout_pf=wire_cap_per_fanout_pf,
            cell_areas={n: c.area_um2 for n, c in lib.cells.items() if c.area_um2 is not None},
            cell_leakages={n: c.leakage_nw for n, c in lib.cells.items()
                           if c.leakage_nw is not None},
            notes=("internal energies: mean of rise/fall internal_power at 0.1 ns input "
                   "transition, 0.01 pF load",
                   f"net load: fan-out {average_fanout:g} x (input pin + "
                   f"{wire_cap_per_fanout_pf:g} pF wire), an assumption"),
        )

    @classmethod
    def fallback(cls, *, average_fanout: float = 3.0) -> "TechModel":
        """Order-of-magnitude model without a Liberty file: Horowitz, ISSCC 2014, 45 nm, 0.9 V.

        Horowitz ("Computing's energy problem (and what we can do about it)", ISSCC 2014)
        tabulates 45 nm energies at 0.9 V: 8-bit add 0.03 pJ, 32-bit add 0.1 pJ, 8-bit multiply
        0.2 pJ, 32-bit multiply 3.1 pJ. Assumption: a 32-bit ripple-carry adder is 32 full adders
        of 5 gates, and random operands toggle half of the 160 gate outputs, so one logic-net
        toggle (at fan-out 3, load and internal together) costs 0.1 pJ / 80 = 1.25 fJ. (Cross
        checks: the 8-bit adder gives 1.5 fJ; the 32-bit multiplier's 3.1 pJ is 2,480 such
        toggles, about 0.4 per gate of a 32x32 array of ~6,000 gates.)

        Everything else is that net energy times the proportions of the SKY130 model (flop clock,
        register bit, ICG, and the split of the net energy into internal energy and load): the
        relative costs of cells change far less between nodes than their absolute ones. Areas
        are the SKY130 areas shrunk by (45/130)^2. Horowitz gives no leakage, so leakage is 0:
        use a Liberty file for leakage and for the minimum-energy point.

        Parameters
        ----------
        average_fanout : float
            Kept for the net formula; the per-fan-out capacitances are derived at fan-out 3.
        """
        e = _FALLBACK_NET_PJ
        p = _SKY130_PROPORTIONS
        v2 = _FALLBACK_VDD ** 2
        # The proportions describe a fan-out-3 net; per-fan-out caps divide by 3.
        return cls(
            source="fallback: Horowitz ISSCC 2014 (45 nm, 0.9 V) with SKY130 proportions",
            vdd_nominal=_FALLBACK_VDD, vdd=_FALLBACK_VDD,
            flop_cell="(fallback flop)", icg_cell="(fallback ICG)", logic_cells=("(fallback)",),
            flop_clock_pin_cap_pf=p["flop_clock_cv2"] * e / v2,
            flop_clock_energy_pj=p["flop_clock"] * e,
            flop_q_internal_energy_pj=p["flop_q_internal"] * e,
            flop_d_internal_energy_pj=p["flop_d_internal"] * e,
            flop_area_um2=_SKY130_AREAS["flop"] * _FALLBACK_AREA_SCALE,
            flop_leakage_nw=0.0,
            icg_clock_pin_cap_pf=p["icg_clock_cv2"] * e / v2,
            icg_energy_pj=p["icg"] * e,
            icg_idle_energy_pj=p["icg_idle"] * e,
            icg_enable_energy_pj=p["icg_enable"] * e,
            icg_area_um2=_SKY130_AREAS["icg"] * _FALLBACK_AREA_SCALE,
            icg_leakage_nw=0.0,
            logic_input_cap_pf=p["logic_input_cv2"] * e / v2 / 3.0,
            logic_internal_energy_pj=p["logic_internal"] * e,
            logic_input_internal_energy_pj=p["logic_input_internal"] * e,
            logic_area_um2=_SKY130_AREAS["logic"] * _FALLBACK_AREA_SCALE,
            leakage_per_cell_nw=0.0,
            average_fanout=average_fanout,
            wire_cap_per_fanout_pf=p["wire_cv2"] * e / v2 / 3.0,
            notes=("fallback: no Liberty; dynamic energies from Horowitz ISSCC 2014 (45 nm, "
                   "0.9 V), about +-2x",
                   "fallback: leakage not modelled (0 nW); areas are SKY130 shrunk by (45/130)^2"),
        )

    # ---- derived energies --------------------------------------------------------------------

    def net_load_cap_pf(self, fanout: float | None = None) -> float:
        """Capacitance a logic net switches: ``fanout * (logic_input_cap_pf + wire)``, in pF."""
        fanout = self.average_fanout if fanout is None else fanout
        _positive("fanout", fanout, "(0, 1000]", upper=1000.0)
        return fanout * (self.logic_input_cap_pf + self.wire_cap_per_fanout_pf)

    def net_toggle_energy_pj(self, fanout: float | None = None) -> float:
        """Energy per toggle of a logic net, in pJ.

        ``0.5 * C_load * vdd**2 + logic_internal_energy_pj
        + fanout * logic_input_internal_energy_pj`` with
        ``C_load = fanout * (logic_input_cap_pf + wire_cap_per_fanout_pf)``: the supply delivers
        ``C_load * vdd**2`` per 0->1 toggle and nothing per 1->0, 0.5 per toggle on average; the
        driving cell spends its internal energy on each toggle, and so does each driven input.

        Parameters
        ----------
        fanout : float, optional
            Inputs on the net; default ``average_fanout``.
        """
        fanout = self.average_fanout if fanout is None else fanout
        return (0.5 * self.net_load_cap_pf(fanout) * self.vdd ** 2 + self.logic_internal_energy_pj
                + fanout * self.logic_input_internal_energy_pj)

    @property
    def flop_data_energy_pj(self) -> float:
        """Energy per data toggle of a flop's output at the average fan-out, in pJ."""
        return self.register_bit_toggle_energy_pj()

    def register_bit_toggle_energy_pj(self, fanout: float | None = None) -> float:
        """Energy per change of a stored bit (its Q toggles), clock excluded, in pJ.

        ``flop_d_internal_energy_pj + flop_q_internal_energy_pj + 0.5 * C_load * vdd**2``: the
        new value reached D once (its input-pin energy), the CLK->Q arc switched Q, and Q drives
        a net of ``fanout`` inputs (see :meth:`net_load_cap_pf`). The clock pin's energy in that
        cycle is counted by the clock terms, whether or not the data changed.

        Parameters
        ----------
        fanout : float, optional
            Inputs driven by Q; default ``average_fanout``.
        """
        return (self.flop_d_internal_energy_pj + self.flop_q_internal_energy_pj
                + 0.5 * self.net_load_cap_pf(fanout) * self.vdd ** 2)

    def clock_pin_toggle_energy_pj(self) -> float:
        """Energy per toggle of one flop's clock pin, in pJ.

        ``flop_clock_energy_pj + 0.5 * flop_clock_pin_cap_pf * vdd**2``: the flop's internal
        clock energy plus charging its clock pin (paid by the clock driver). A clock cycle is two
        toggles: see :meth:`flop_clock_cycle_energy_pj`. Clock-tree wires and buffers are not
        included.
        """
        return self.flop_clock_energy_pj + 0.5 * self.flop_clock_pin_cap_pf * self.vdd ** 2

    def flop_clock_cycle_energy_pj(self) -> float:
        """Energy per clock cycle (rise and fall) at one flop's clock pin, in pJ."""
        return 2.0 * self.clock_pin_toggle_energy_pj()

    def icg_enabled_cycle_energy_pj(self) -> float:
        """Energy of one ICG in a cycle with its enable high, in pJ.

        ``icg_energy_pj + icg_clock_pin_cap_pf * vdd**2`` (two toggles of its clock pin, 0.5*C*V^2
        each). The gated clock's load, the clock pins of the flops behind it, is counted by their
        own :meth:`flop_clock_cycle_energy_pj`.
        """
        return self.icg_energy_pj + self.icg_clock_pin_cap_pf * self.vdd ** 2

    def icg_disabled_cycle_energy_pj(self) -> float:
        """Energy of one ICG in a cycle with its enable low: its clock pin still toggles, in pJ."""
        return self.icg_idle_energy_pj + self.icg_clock_pin_cap_pf * self.vdd ** 2

    def leakage_power_nw(self, *, flops: float = 0, icgs: float = 0,
                         logic_cells: float = 0) -> float:
        """Leakage power of a cell count, in nW (at ``vdd_nominal``; see :meth:`scaled`)."""
        return (flops * self.flop_leakage_nw + icgs * self.icg_leakage_nw
                + logic_cells * self.leakage_per_cell_nw)

    def leakage_energy_pj(self, cycle_time_s: float, *, cycles: float = 1, flops: float = 0,
                          icgs: float = 0, logic_cells: float = 0) -> float:
        """Leakage energy of a cell count over ``cycles`` cycles of ``cycle_time_s``, in pJ.

        ``P_leak * cycles * cycle_time_s``; 1 nW for 1 s is 1e3 pJ.
        """
        if not (math.isfinite(cycle_time_s) and cycle_time_s > 0):
            raise ConfigError(f"cycle_time_s: must be > 0 s, got {cycle_time_s!r}")
        power = self.leakage_power_nw(flops=flops, icgs=icgs, logic_cells=logic_cells)
        return power * cycles * cycle_time_s * 1e3

    def scaled(self, vdd: float) -> "TechModel":
        """Return the model at another supply: dynamic energies times ``(vdd / self.vdd)**2``.

        Internal energies scale with V^2 (their charge also scales with V, to first order); the
        0.5*C*V^2 terms follow because the methods use the new ``vdd``. Capacitances, areas and
        leakage powers are unchanged: leakage against voltage is the job of
        :class:`subtile.sim.voltage.VoltageModel`, and delay does not enter per-toggle energies.

        Parameters
        ----------
        vdd : float
            New supply in V, in (0, 5].
        """
        _positive("vdd", vdd, "(0, 5] V", upper=5.0)
        factor = (vdd / self.vdd) ** 2
        return replace(self, vdd=vdd, **{n: getattr(self, n) * factor for n in self._DYNAMIC})

    # ---- lookup and serialisation -----------------------------------------------------------

    def cell_area(self, name: str) -> float:
        """Return a library cell's area in um^2 (ConfigError naming ``cell`` if unknown)."""
        try:
            return self.cell_areas[name]
        except KeyError:
            raise ConfigError(f"cell: {name} has no area in {self.source}") from None

    def cell_leakage_nw(self, name: str) -> float:
        """Return a library cell's leakage power in nW (ConfigError naming ``cell`` if unknown)."""
        try:
            return self.cell_leakages[name]
        except KeyError:
            raise ConfigError(f"cell: {name} has no leakage in {self.source}") from None

    def to_dict(self, *, cells: bool = False) -> dict:
        """Return a JSON-ready dict: the fields, plus ``derived`` energies at ``vdd``.

        Parameters
        ----------
        cells : bool
            Include the per-cell ``cell_areas`` and ``cell_leakages`` tables (hundreds of entries
            for a full library); off by default.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("cell_areas", "cell_leakages")}
        out["logic_cells"] = list(self.logic_cells)
        out["notes"] = list(self.notes)
        if cells:
            out["cell_areas"] = dict(self.cell_areas)
            out["cell_leakages"] = dict(self.cell_leakages)
        out["derived"] = {
            "net_load_cap_pf": self.net_load_cap_pf(),
            "net_toggle_energy_pj": self.net_toggle_energy_pj(),
            "register_bit_toggle_energy_pj": self.register_bit_toggle_energy_pj(),
            "clock_pin_toggle_energy_pj": self.clock_pin_toggle_energy_pj(),
            "flop_clock_cycle_energy_pj": self.flop_clock_cycle_energy_pj(),
            "icg_enabled_cycle_energy_pj": self.icg_enabled_cycle_energy_pj(),
            "icg_disabled_cycle_energy_pj": self.icg_disabled_cycle_energy_pj(),
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "TechModel":
        """Rebuild a model from :meth:`to_dict` output (``derived`` is recomputed, not read)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names - {"derived"}
        if unknown:
            raise ConfigError(f"tech: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(names))}")
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["logic_cells"] = tuple(kwargs.get("logic_cells", ()))
        kwargs["notes"] = tuple(kwargs.get("notes", ()))
        try:
            return cls(**kwargs)
        except TypeError as error:
            raise ConfigError(f"tech: {error}") from None



def _positive(name: str, value: float, allowed: str, *, upper: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and 0 < value <= upper):
        raise ConfigError(f"{name}: must be in {allowed}, got {value!r}")


def _one(cell: Cell, pins: list[Pin], parameter: str, what: str) -> Pin:
    if not pins:
        raise ConfigError(f"{parameter}: cell {cell.name} has no {what}; name another cell")
    return pins[0]


def _required(value: float | None, parameter: str, cell: str, what: str) -> float:
    if value is None:
        raise ConfigError(f"{parameter}: cell {cell} has no {what} in the Liberty; "
                          "name another cell")
    return value
