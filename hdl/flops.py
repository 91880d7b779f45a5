"""Flip-flops of an elaborated design, counted from its Amaranth fragments (for the energy model).

The tile's flop budget is written out per clock gate (:class:`subtile.hdl.tile.RegisterBudget`);
the blocks of the network (routers, output FIFOs, fan-outs) all sit on the root clock, so one
number per block is enough, and counting it from the design itself keeps it right when the
design changes.
"""

from amaranth.hdl import Fragment, Shape

__all__ = ["count_flops"]


def count_flops(elaboratable) -> int:
    """Flip-flops of ``elaboratable``: every bit assigned in a clocked domain, plus every bit of
    its writable memories (a small memory is built from flip-flops: Yosys maps the FIFO storage
    of the mesh to them; a memory without write port is a ROM, built from logic) and of their
    synchronous read ports' output registers.

    Elaborates the design again (without a platform); the objects are not changed.
    """
    # Private Amaranth 0.5 names (the project pins amaranth < 0.6): a memory elaborates to a
    # MemoryInstance fragment, and a statement lists the signals it assigns.
    from amaranth.hdl._mem import MemoryInstance

    def walk(fragment) -> int:
        bits = 0
        if isinstance(fragment, MemoryInstance):
            width = Shape.cast(fragment._data.shape).width
            if fragment._write_ports:
                bits += fragment._data.depth * width
            bits += width * sum(1 for port in fragment._read_ports if port._domain != "comb")
        for domain, statements in fragment.statements.items():
            if domain == "comb":
                continue
            assigned = {}
            for statement in statements:
                for signal in statement._lhs_signals():
                    assigned[id(signal)] = signal
            bits += sum(len(signal) for signal in assigned.values())
        return bits + sum(walk(sub) for sub, _name, _src in fragment.subfragments)

    return walk(Fragment.get(elaboratable, None))
