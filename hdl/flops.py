"""Flip-flops of an elaborated design, counted from its Amaranth fragments (for the energy model).

The tile's flop budget is written out per clock gate (:class:`subtile.hdl.tile.RegisterBudget`);
the network's (routers, output FIFOs, fan-outs) is counted per clock domain from the design
itself (:func:`subtile.hdl.mesh.network_clocks`), which keeps it right when the design changes.
"""

from amaranth.hdl import Fragment, Shape

__all__ = ["count_flops", "count_flops_by_domain"]


def count_flops(elaboratable) -> int:
    """Flip-flops of ``elaboratable``: every bit assigned in a clocked domain, plus every bit of
    its writable memories (a small memory is built from flip-flops: Yosys maps the FIFO storage
    of the mesh to them; a memory without write port is a ROM, built from logic) and of their
    synchronous read ports' output registers.

    Elaborates the design again (without a platform); the objects are not changed.
    """
    return sum(count_flops_by_domain(elaboratable).values())


def count_flops_by_domain(elaboratable) -> dict[str, int]:
    """The flip-flops of :func:`count_flops`, per clock domain (as named inside ``elaboratable``:
    a domain renamed by a :class:`~amaranth.hdl.DomainRenamer` within it counts under its new
    name). A memory counts under its write port's domain (its read registers under theirs)."""
    # Private Amaranth 0.5 names (the project pins amaranth < 0.6): a memory elaborates to a
    # MemoryInstance fragment, and a statement lists the signals it assigns.
    from amaranth.hdl._mem import MemoryInstance

    counts: dict[str, int] = {}

    def add(domain, bits):
        counts[domain] = counts.get(domain, 0) + bits

    def walk(fragment):
        if isinstance(fragment, MemoryInstance):
            width = Shape.cast(fragment._data.shape).width
            if fragment._write_ports:
                add(fragment._write_ports[0]._domain, fragment._data.depth * width)
            for port in fragment._read_ports:
                if port._domain != "comb":
                    add(port._domain, width)
        for domain, statements in fragment.statements.items():
            if domain == "comb":
                continue
            assigned = {}
            for statement in statements:
                for signal in statement._lhs_signals():
                    assigned[id(signal)] = signal
            add(domain, sum(len(signal) for signal in assigned.values()))
        for sub, _name, _src in fragment.subfragments:
            walk(sub)

    walk(Fragment.get(elaboratable, None))
    return counts
