"""The only place subtile reaches into Amaranth's private API (``amaranth >= 0.5.10, < 0.6``).

Three things have no public form in Amaranth 0.5:

* which signals a statement assigns (``Statement._lhs_signals()``), whether it is a plain
  assignment of one signal to another (``_ast.Assign``, not exported), and the storage and read
  ports of an elaborated memory (``MemoryInstance._data``, ``_read_ports``, ``_write_ports``, as
  they are after any ``DomainRenamer``), needed to count the flip-flops of an elaborated design
  (:mod:`subtile.hdl.flops`);
* marking a half-built elaboratable as deliberately unused (``_MustUse__silence``), so that a
  constructor that refuses its arguments does not add a "created but never used" warning to the
  user's one-line error (:mod:`subtile.hdl.validation`);
* scoping local clock domains to the subfragments that use them (``Fragment._propagate_domains_down``,
  :func:`scope_local_domains`): Amaranth copies every domain of a fragment into every fragment
  below it, which for a tile with one gated domain per accumulator, neuron and lane operand
  (2,570 at 256 neurons and lanes) into every lane, branch, activation table and clock gate
  (6,000 fragments) cost most of the generation time and memory.

``tests/hdl/test_amaranth_internals.py`` checks all three against the installed Amaranth and fails
with a message naming this module when an upgrade changes them.
"""

from amaranth.hdl import Fragment, MemoryInstance, Shape, Signal, Value
from amaranth.hdl._ast import Assign
from amaranth.hdl._xfrm import DomainCollector

__all__ = ["assigned_signals", "plain_copy", "memory_ports", "silence_unused", "scope_local_domains"]


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


class _ScopedDomainsFragment(Fragment):
    """A fragment whose local domains reach only the subfragments that use them (see
    :func:`scope_local_domains`)."""

    def _propagate_domains_down(self, hierarchy=("top",)):
        _propagate_scoped(self, hierarchy)


def _propagate_scoped(fragment, hierarchy):
    """``Fragment._propagate_domains_down`` of Amaranth 0.5, except that a local domain is added
    to a subfragment only if the subfragment's tree uses it (a domain nothing below refers to
    changes nothing there: lowering and the netlist only look up the domains a fragment uses),
    or if it is the last subfragment: Amaranth's ``DomainLowerer`` lowers a fragment's own
    statements with the domains of the last fragment it visited below it. Applied to the whole
    tree below ``fragment``."""
    local = [name for name, domain in fragment.domains.items() if domain.local]
    last = len(fragment.subfragments) - 1
    for i, (subfragment, name, _src_loc) in enumerate(fragment.subfragments):
        hier_name = f"<unnamed #{i}>" if name is None else name
        used = ()
        if local and i < last:
            collector = DomainCollector()
            collector(subfragment)
            used = collector.used_domains
        for domain_name, domain in fragment.domains.items():
            if domain_name in subfragment.domains:
                assert subfragment.domains[domain_name] is domain
            elif not domain.local or i == last or domain_name in used:
                subfragment.add_domains(domain)
                if domain_name in fragment.domains_propagated_up:
                    _used_in, defined_in = fragment.domains_propagated_up[domain_name]
                    subfragment.domains_propagated_up[domain_name] = hierarchy + (hier_name,), defined_in
        _propagate_scoped(subfragment, hierarchy + (hier_name,))


def scope_local_domains(fragment: Fragment) -> Fragment:
    """``fragment`` (an elaborated :class:`~amaranth.hdl.Module`), made to propagate its local
    clock domains, and those of every fragment below it, only into the subfragments that use
    them; the design and its Verilog are the same (tests/gen compare them), its preparation
    linear instead of quadratic in the number of gated domains."""
    if type(fragment) is not Fragment:
        raise TypeError(f"fragment: expected a plain Fragment, got {type(fragment).__name__}")
    fragment.__class__ = _ScopedDomainsFragment      # the same object: only the propagation differs
    return fragment
