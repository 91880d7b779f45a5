"""Read SAIF 2.0 switching-activity files, and write them re-scoped for power tools.

SAIF (Switching Activity Interchange Format, IEEE 1801 annex) holds, per net bit, the time spent
at 0, 1, X, Z (``T0``, ``T1``, ``TX``, ``TZ``, ``TB``), the number of transitions ``TC`` and of
glitches ``IG``, over ``DURATION`` units of ``TIMESCALE``, in a tree of ``INSTANCE`` scopes::

    (SAIFILE (SAIFVERSION "2.0") (DIRECTION "backward") (DIVIDER / ) (TIMESCALE 1ps)
     (DURATION 10055000)
     (INSTANCE top (NET (count\\[0\\] (T0 5055000) (T1 5000000) (TX 0) (TC 1000)) ...)
       (INSTANCE sub ...)))

What Verilator 5.48 writes (``--trace-saif``, see :func:`subtile.toolchain.runner.build`): two root
instances, ``$rootio`` (the top module's ports) and the top module itself (named after the
module); ``(TIMESCALE 1ps)`` without a space; names escaped with ``\\`` before ``[`` and ``]``;
every bit of every traced signal, including Yosys-internal nets named ``$...``; ``TC`` counts
value changes between trace dumps (one dump per simulation time step), starting from Verilator's
all-zero power-up state, like its toggle coverage.

Power tools read one root instance and match the scope the user names, e.g. OpenSTA's
``read_saif -scope tb/dut`` or PrimeTime PX's ``read_saif -strip_path tb/dut``, against nested
``INSTANCE`` names. :func:`write_saif` picks the design's subtree (e.g. the tile inside the
simulation harness) and nests it under that scope; :func:`export_saif` does both steps on a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from subtile.errors import ConfigError

__all__ = ["SaifInstance", "Saif", "read_saif", "parse_saif", "write_saif", "export_saif",
           "split_bit", "STATES"]

#: The per-net records of SAIF 2.0, in the order written.
STATES = ("T0", "T1", "TX", "TZ", "TB", "TC", "IG")

_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|[()]|(?:\\.|[^\s()"\\])+', re.S)
_ESCAPED = re.compile(r"\\(.)")
_BIT = re.compile(r"^(?P<name>.*)\[(?P<bit>\d+)\]$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIMESCALE = re.compile(r"^(?P<number>1|10|100)\s*(?P<unit>[munpf]?s)$")


def _unescape(token: str) -> str:
    return _ESCAPED.sub(r"\1", token)


def _escape(name: str) -> str:
    """Escape every character that is not a letter, digit or ``_`` (``count[0]`` -> ``count\\[0\\]``)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "\\" + ch for ch in name)


def split_bit(name: str) -> tuple[str, int | None]:
    """``"count[3]"`` -> ``("count", 3)``; ``"clk"`` -> ``("clk", None)``."""
    match = _BIT.match(name)
    return (match["name"], int(match["bit"])) if match else (name, None)


@dataclass
class SaifInstance:
    """One ``INSTANCE`` scope.

    Members
    -------
    name : str
        The instance name (unescaped).
    module : str or None
        The optional module (design) name of ``(INSTANCE "module" name ...)``.
    nets : dict of str to dict of str to int
        Per net bit (unescaped name, e.g. ``count[0]``): its records (``T0``, ``TC``, ...).
    ports : dict of str to dict of str to int
        The same for ``PORT`` entries.
    children : dict of str to SaifInstance
    """

    name: str
    module: str | None = None
    nets: dict[str, dict[str, int]] = field(default_factory=dict)
    ports: dict[str, dict[str, int]] = field(default_factory=dict)
    children: dict[str, "SaifInstance"] = field(default_factory=dict)

    def walk(self, prefix: str = "", separator: str = ".") -> Iterator[tuple[str, "SaifInstance"]]:
        """Yield ``(path, instance)`` for this instance and every one below it."""
        path = f"{prefix}{separator}{self.name}" if prefix else self.name
        yield path, self
        for child in self.children.values():
            yield from child.walk(path, separator)


@dataclass
class Saif:
    """A SAIF file.

    Members
    -------
    header : dict of str to str
        ``SAIFVERSION``, ``DIRECTION``, ``DESIGN``, ``DATE``, ``VENDOR``, ``PROGRAM_NAME``,
        ``VERSION`` (those present).
    divider : str
        The hierarchy divider (``/`` or ``.``).
    timescale : str
        E.g. ``"1 ps"``.
    duration : int
        Length of the recorded window, in timescale units.
    instances : list of SaifInstance
        The root instances.
    """

    header: dict[str, str] = field(default_factory=dict)
    divider: str = "/"
    timescale: str = "1 ns"
    duration: int = 0
    instances: list[SaifInstance] = field(default_factory=list)

    def find(self, path: str) -> SaifInstance:
        """The instance at ``path`` (names joined by ``/`` or ``.``, from a root instance).

        Raises
        ------
        KeyError
            Naming the first part that does not exist.
        """
        parts = [part for part in re.split(r"[/.]", path) if part]
        if not parts:
            raise KeyError("instance path: empty")
        roots = {instance.name: instance for instance in self.instances}
        if parts[0] not in roots:
            raise KeyError(f"instance path {path!r}: no root instance {parts[0]!r} "
                           f"(roots: {', '.join(roots)})")
        instance = roots[parts[0]]
        for part in parts[1:]:
            if part not in instance.children:
                raise KeyError(f"instance path {path!r}: {instance.name!r} has no instance {part!r}")
            instance = instance.children[part]
        return instance

    def design_root(self) -> SaifInstance:
        """The root instance of the design: the only root other than Verilator's ``$rootio``."""
        roots = [instance for instance in self.instances if instance.name != "$rootio"]
        if len(roots) != 1:
            raise ValueError(f"SAIF has {len(roots)} design root instances; name one")
        return roots[0]

    def toggles(self, instance: str | None = None) -> dict[str, dict[int | None, int]]:
        """Transition counts (``TC``) per hierarchical net and bit.

        Parameters
        ----------
        instance : str or None
            Only below this instance path (see :meth:`find`); None: every root but ``$rootio``.

        Returns
        -------
        dict of str to dict of (int or None) to int
            ``{"<instance path>.<net>": {bit: TC}}`` with dot-separated paths from the root
            (the same keys as :func:`subtile.power.coverage.read_toggle_coverage` for Verilator's
            files); the bit is None for a one-bit net (also a ``[0:0]`` vector).
        """
        if instance is None:
            starts = [(root, "") for root in self.instances if root.name != "$rootio"]
        else:
            parts = [part for part in re.split(r"[/.]", instance) if part]
            starts = [(self.find(instance), ".".join(parts[:-1]))]
        result: dict[str, dict[int | None, int]] = {}
        for start, prefix in starts:
            for path, scope in start.walk(prefix):
                for name, records in scope.nets.items():
                    net, bit = split_bit(name)
                    result.setdefault(f"{path}.{net}", {})[bit] = records.get("TC", 0)
        return {net: _scalar_bits(bits) for net, bits in result.items()}


def _scalar_bits(bits: dict):
    """A one-bit net is keyed None, whether written ``x`` or ``x[0]`` (Verilator writes a
    ``[0:0]`` vector without index in SAIF, with ``[0]`` in coverage)."""
    return {None: next(iter(bits.values()))} if len(bits) == 1 else bits


def _tokens(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text) if not token.startswith(("//", "/*"))]


def parse_saif(text: str) -> Saif:
    """Parse SAIF text (see :func:`read_saif`)."""
    tokens = _tokens(text)
    count = len(tokens)
    position = 0

    def fail(message: str):
        raise ValueError(f"SAIF: {message} (token {position} of {count})")

    def expect(token: str) -> None:
        nonlocal position
        if position >= count or tokens[position] != token:
            fail(f"expected {token!r}, got {tokens[position] if position < count else 'end of file'!r}")
        position += 1

    def entries(target: dict[str, dict[str, int]]) -> None:
        # (name (T0 n) (T1 n) ...) ... up to the closing parenthesis; the hot loop of a big file.
        nonlocal position
        states = STATES
        while tokens[position] == "(":
            name = _unescape(tokens[position + 1]) if "\\" in tokens[position + 1] else tokens[position + 1]
            position += 2
            values = {}
            while tokens[position] == "(":
                state, number, close = tokens[position + 1:position + 4]
                if state not in states or close != ")":
                    fail(f"unknown record {state!r} of {name!r}" if state not in states
                         else f"expected ')' after {state} {number}")
                values[state] = int(number)
                position += 4
            expect(")")
            target[name] = values

    def instance() -> SaifInstance:
        nonlocal position
        first = tokens[position]
        position += 1
        module = None
        if first.startswith('"'):
            module, first = _unescape(first[1:-1]), tokens[position]
            position += 1
        scope = SaifInstance(_unescape(first), module)
        while tokens[position] == "(":
            kind = tokens[position + 1]
            position += 2
            if kind == "NET":
                entries(scope.nets)
            elif kind == "PORT":
                entries(scope.ports)
            elif kind == "INSTANCE":
                child = instance()
                scope.children[child.name] = child
                continue
            else:
                fail(f"unexpected {kind!r} in instance {scope.name!r}")
            expect(")")
        expect(")")
        return scope

    saif = Saif()
    try:
        expect("(")
        expect("SAIFILE")
        while tokens[position] == "(":
            keyword = tokens[position + 1]
            position += 2
            if keyword == "INSTANCE":
                saif.instances.append(instance())
                continue
            values = []
            while tokens[position] != ")":
                values.append(tokens[position])
                position += 1
            position += 1
            if keyword == "DIVIDER":
                saif.divider = values[0] if values else "/"
            elif keyword == "TIMESCALE":
                saif.timescale = _normal_timescale(" ".join(values))
            elif keyword == "DURATION":
                saif.duration = int(values[0])
            else:
                saif.header[keyword] = " ".join(value.strip('"') for value in values)
        expect(")")
    except IndexError:
        raise ValueError("SAIF: unexpected end of file") from None
    return saif


def _normal_timescale(text: str) -> str:
    match = _TIMESCALE.match(text.strip())
    if match is None:
        raise ValueError(f"SAIF: TIMESCALE {text!r} is not 1, 10 or 100 of s, ms, us, ns, ps or fs")
    return f"{match['number']} {match['unit']}"


def read_saif(path: Path | str) -> Saif:
    """Read a SAIF 2.0 file.

    Raises
    ------
    ValueError
        If the file is not well-formed SAIF.
    """
    return parse_saif(Path(path).read_text(encoding="utf-8", errors="surrogateescape"))


def _plain(name: str) -> bool:
    return bool(_IDENTIFIER.match(split_bit(name)[0]))


def write_saif(saif: Saif, path: Path | str, *, instance: str | None = None,
               scope: str | Sequence[str] = "tb/dut", internal_nets: bool = False) -> Path:
    """Write the subtree of one instance under a user-named scope, for power tools.

    Parameters
    ----------
    saif : Saif
        The activity, e.g. from :func:`read_saif` of a Verilator run.
    path : Path or str
        The file to write.
    instance : str or None
        The instance whose nets the power tool should see at ``scope`` (e.g. the tile inside
        the harness, ``"tile_bench/h0/tile"``); None: the design root (:meth:`Saif.design_root`).
    scope : str or sequence of str
        Where the power tool finds the design, e.g. ``"tb/dut"`` for OpenSTA's
        ``read_saif -scope tb/dut`` or PrimeTime PX's ``read_saif -strip_path tb/dut``. The
        last part renames the instance; the others become enclosing instances.
    internal_nets : bool
        Keep nets whose names are not plain identifiers (Yosys-internal ``$...`` nets, which never
        appear in a synthesized netlist and which OpenSTA's SAIF reader cannot parse).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        If ``scope`` is empty or one of its parts is not a plain identifier (a ValueError).
    KeyError
        If ``instance`` does not exist.
    """
    parts = [part for part in (re.split(r"[/.]", scope) if isinstance(scope, str) else scope) if part]
    if not parts:
        raise ConfigError("scope: empty; name the design's instance path, e.g. tb/dut")
    for part in parts:
        if not _IDENTIFIER.match(part):
            raise ConfigError(f"scope: {part!r} is not an identifier (allowed: a letter or _, then "
                             "letters, digits or _; parts separated by /)")
    root = saif.find(instance) if instance is not None else saif.design_root()
    lines = ["(SAIFILE", '(SAIFVERSION "2.0")', '(DIRECTION "backward")']
    lines += [f'({key} "{saif.header[key]}")' for key in ("DESIGN", "DATE", "VENDOR", "PROGRAM_NAME", "VERSION")
              if key in saif.header]
    lines += ["(DIVIDER / )", f"(TIMESCALE {saif.timescale})", f"(DURATION {saif.duration})"]

    def entry(name: str, values: dict[str, int]) -> str:
        fields = " ".join(f"({state} {values[state]})" for state in STATES if state in values)
        return f"({_escape(name)} {fields})"

    def emit(scope_instance: SaifInstance, name: str, depth: int) -> None:
        indent = " " * depth
        lines.append(f"{indent}(INSTANCE {_escape(name)}")
        for kind, table in (("PORT", scope_instance.ports), ("NET", scope_instance.nets)):
            kept = [(n, v) for n, v in table.items() if internal_nets or _plain(n)]
            if kept:
                lines.append(f"{indent} ({kind}")
                lines.extend(f"{indent}  {entry(n, v)}" for n, v in kept)
                lines.append(f"{indent} )")
        for child in scope_instance.children.values():
            if internal_nets or _IDENTIFIER.match(child.name):
                emit(child, child.name, depth + 1)
        lines.append(f"{indent})")

    # Enclosing scopes hold nothing but the next one.
    for depth, part in enumerate(parts[:-1]):
        lines.append(f"{' ' * depth}(INSTANCE {part}")
    emit(root, parts[-1], len(parts) - 1)
    lines += [f"{' ' * depth})" for depth in reversed(range(len(parts) - 1))]
    lines.append(")")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def export_saif(source: Path | str, path: Path | str, *, instance: str | None = None,
                scope: str | Sequence[str] = "tb/dut", internal_nets: bool = False) -> Path:
    """Read a SAIF file (e.g. Verilator's) and write it re-scoped; see :func:`write_saif`."""
    return write_saif(read_saif(source), path, instance=instance, scope=scope,
                      internal_nets=internal_nets)
