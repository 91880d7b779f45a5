"""Flip-flops of an elaborated design per clock domain, and its clock-gate tree, read from its
Amaranth fragments: the one source of the flop counts of the energy model, for the tile
(:class:`subtile.hdl.tile.RegisterBudget`, per gated unit) and for the network blocks of a mesh
(:func:`subtile.hdl.mesh.network_clocks`, per gated domain).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from amaranth.hdl import Fragment, MemoryInstance, Signal, Value

from subtile.hdl.amaranth_internals import assigned_signals, memory_ports, memory_write_domain, plain_copy
from subtile.hdl.clock_gate import ClockGate

__all__ = ["ClockTree", "clock_tree", "count_flops", "count_flops_by_domain"]


@dataclass
class ClockTree:
    """What an elaborated design clocks.

    Members
    -------
    flops : dict of str to int
        Per clock domain, its flip-flops: every bit assigned in that domain, plus the output
        registers of the synchronous read ports of memories in it.
    memory_bits : int
        Bits of the writable memories (a memory without write port is a ROM, built from logic).
    memory_domains : dict of str to int
        The same bits per clock domain of the memory's write port.
    gates : dict of str to ClockGate
        Per gated domain, its clock-gate cell (:class:`subtile.hdl.clock_gate.ClockGate`: source
        domain and enable); empty unless the design gates clocks with cells (``icg``).
    registers : set of int
        ``id()`` of every signal assigned in a clocked domain or driven by a synchronous memory
        read port (flip-flop outputs).
    copies : dict of int to Signal
        ``id()`` of every signal whose only combinational assignment is a plain copy of another
        signal (``port.eq(register)``, as a component drives an output port), to that signal.
    """

    flops: dict = field(default_factory=dict)
    memory_bits: int = 0
    memory_domains: dict = field(default_factory=dict)
    gates: dict = field(default_factory=dict)
    registers: set = field(default_factory=set)
    copies: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Flip-flops of the design with its writable memories built from flip-flops."""
        return sum(self.flops.values()) + self.memory_bits


    def is_register(self, value) -> bool:
        """Whether ``value`` is a flip-flop output, directly or through plain copies (a port
        of a part that drives it from one of its registers)."""
        value, seen = Value.cast(value), set()
        while isinstance(value, Signal) and id(value) not in self.registers and id(value) in self.copies:
            if id(value) in seen:
                return False
            seen.add(id(value))
            value = self.copies[id(value)]
        return isinstance(value, Signal) and id(value) in self.registers


class _EachLaneOnce:
    """The platform :func:`clock_tree` elaborates on. A neuron lane is combinational (its
    activations have latency 0): the first lane of each distinct lane hardware is elaborated and
    checked to clock nothing, the others are left out, since elaborating all of them again was
    most of the time a tile's clock structure took (256 lanes: ~9 s of ~10 s)."""

    def __init__(self, top):
        self.top = top
        self.checked = set()

    def get_neuron_lane(self, lane):
        from subtile.hdl.amaranth_internals import silence_unused
        if lane is self.top:
            return lane.elaborate(None)
        key = lane.config.hardware()
        if key not in self.checked:
            tree = clock_tree(lane)
            if tree.flops or tree.memory_bits or tree.gates:
                raise AssertionError(f"a neuron lane clocks {tree.flops}, {tree.memory_bits} memory bits, "
                                     f"gates {sorted(tree.gates)}: clock_tree must walk every lane")
            self.checked.add(key)
        for part in (lane, *lane.parts):
            silence_unused(part)
        return Fragment()


def clock_tree(elaboratable) -> ClockTree:
    """The :class:`ClockTree` of ``elaboratable``, elaborated again (the objects are not
    changed; of a tile's neuron lanes, which clock nothing, one per distinct lane)."""
    tree = ClockTree()
    flops = defaultdict(int)
    copies, copied = {}, set()           # plain copies; signals also assigned otherwise

    def walk(fragment):
        if isinstance(fragment, ClockGate):
            tree.gates[fragment.domain] = fragment
        if isinstance(fragment, MemoryInstance):
            storage, reads = memory_ports(fragment)
            tree.memory_bits += storage
            if storage:
                domain = memory_write_domain(fragment)
                tree.memory_domains[domain] = tree.memory_domains.get(domain, 0) + storage
            for domain, data in reads:
                if domain != "comb":
                    flops[domain] += len(data)
                    tree.registers.update(id(signal) for signal in _signals(data))
        for domain, statements in fragment.statements.items():
            if domain == "comb":
                for statement in statements:
                    copy = plain_copy(statement)
                    if copy:
                        copies[id(copy[0])] = copy[1]
                    else:
                        for signal in assigned_signals(statement):
                            copied.add(id(signal))
                continue
            assigned = {}
            for statement in statements:
                for signal in assigned_signals(statement):
                    assigned[id(signal)] = signal
            flops[domain] += sum(len(signal) for signal in assigned.values())
            tree.registers.update(assigned)  # (the ids)
        for sub, _name, _src in fragment.subfragments:
            walk(sub)

    walk(Fragment.get(elaboratable, _EachLaneOnce(elaboratable)))
    tree.flops = dict(flops)
    tree.copies = {key: source for key, source in copies.items() if key not in copied}
    return tree


def _signals(value):
    value = Value.cast(value)
    return [value] if isinstance(value, Signal) else []


def count_flops(elaboratable) -> int:
    """Flip-flops of ``elaboratable`` with its writable memories built from flip-flops (Yosys
    maps the FIFO storage of the mesh to them): :attr:`ClockTree.total`."""
    return clock_tree(elaboratable).total


def count_flops_by_domain(elaboratable) -> dict[str, int]:
    """The flip-flops of :func:`count_flops`, per clock domain (as named inside ``elaboratable``):
    :attr:`ClockTree.flops`, with each writable memory's storage under its write port's domain."""
    tree = clock_tree(elaboratable)
    counts = dict(tree.flops)
    for domain, bits in tree.memory_domains.items():
        counts[domain] = counts.get(domain, 0) + bits
    return counts
