"""The only place subtile reaches into Amaranth's private API (``amaranth >= 0.5.10, < 0.6``).

Two things have no public form in Amaranth 0.5:

* which signals a statement assigns (``Statement._lhs_signals()``), whether it is a plain
  assignment of one signal to another (``_ast.Assign``, not exported), and the storage and read
  ports of an elaborated memory (``MemoryInstance._data``, ``_read_ports``, ``_write_ports``, as
  they are after any ``DomainRenamer``), needed to count the flip-flops of an elaborated design
  (:mod:`subtile.hdl.flops`);
* marking a half-built elaboratable as deliberately unused (``_MustUse__silence``), so that a
  constructor that refuses its arguments does not add a "created but never used" warning to the
  user's one-line error (:mod:`subtile.hdl.validation`).

``tests/hdl/test_amaranth_internals.py`` checks both against the installed Amaranth and fails
with a message naming this module when an upgrade changes them.
"""

from amaranth.hdl import MemoryInstance, Shape, Signal, Value
from amaranth.hdl._ast import Assign

__all__ = ["assigned_signals", "plain_copy", "memory_ports", "silence_unused"]


def assigned_signals(statement) -> list[Signal]:
    """The signals ``statement`` (an assignment, or a switch of them) assigns."""
    return list(statement._lhs_signals())


def plain_copy(statement) -> tuple[Signal, Signal] | None:
    """``(lhs, rhs)`` if ``statement`` is ``lhs.eq(rhs)`` of two whole signals, else ``None``."""
    if isinstance(statement, Assign) and isinstance(statement.lhs, Signal) and isinstance(statement.rhs, Signal):
        return statement.lhs, statement.rhs
    return None


def memory_ports(fragment: MemoryInstance) -> tuple[int, list[tuple[str, Value]]]:
    """``(storage, reads)`` of an elaborated memory: its storage bits if it has a write port (else
    0: a ROM), and per read port its domain (``"comb"`` for an asynchronous one) and data."""
    data = fragment._data
    storage = data.depth * Shape.cast(data.shape).width if fragment._write_ports else 0
    return storage, [(port._domain, port._data) for port in fragment._read_ports]


def memory_write_domain(fragment: MemoryInstance) -> str | None:
    """The clock domain of an elaborated memory's first write port (``None`` for a ROM)."""
    return fragment._write_ports[0]._domain if fragment._write_ports else None


def silence_unused(elaboratable) -> None:
    """Mark ``elaboratable`` as deliberately unused: no ``UnusedElaboratable`` warning for it."""
    elaboratable._MustUse__silence = True
