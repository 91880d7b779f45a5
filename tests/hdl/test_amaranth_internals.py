"""The private Amaranth API subtile uses, all in hdl/amaranth_internals.py, against the installed
Amaranth: an upgrade that changes it fails here, naming the module to adapt."""

import gc
import warnings

import amaranth
import pytest
from amaranth.hdl import Elaboratable, Fragment, MemoryInstance, Module, Signal, UnusedElaboratable
from amaranth.lib.memory import Memory

from subtile.hdl import amaranth_internals
from subtile.hdl.validation import unused_if_refused

UPGRADE = (f"Amaranth {amaranth.__version__} changed private API that subtile.hdl.amaranth_internals "
           "relies on; adapt that module (and only it)")


def _fragments(fragment):
    yield fragment
    for sub, _name, _src in fragment.subfragments:
        yield from _fragments(sub)


class _Part(Elaboratable):
    def __init__(self):
        self.a, self.b, self.c = Signal(3), Signal(5), Signal(2)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.a.eq(self.a + 1)
        with m.If(self.a == 2):
            m.d.sync += [self.b.eq(1), self.c.eq(self.b[:2])]
        m.submodules.ram = ram = Memory(shape=6, depth=4, init=[])
        m.submodules.rom = rom = Memory(shape=4, depth=8, init=range(8))
        ram.write_port(domain="sync")
        self.read = ram.read_port(domain="sync")
        rom.read_port(domain="comb")
        return m


def test_assigned_signals_of_assignments_and_switches():
    part = _Part()
    top = Fragment.get(part, None)
    try:
        assigned = [signal for statement in top.statements["sync"]
                    for signal in amaranth_internals.assigned_signals(statement)]
    except AttributeError as error:
        pytest.fail(f"{UPGRADE}: assigned_signals: {error}")
    assert {id(s) for s in assigned} == {id(part.a), id(part.b), id(part.c)}


def test_plain_copy_tells_a_copy_from_other_assignments():
    a, b, c = Signal(3), Signal(3), Signal(4)
    statements = [a.eq(b), a.eq(b + 1), a.eq(c[:3]), c.eq(b)]
    try:
        copies = [amaranth_internals.plain_copy(statement) for statement in statements]
    except AttributeError as error:
        pytest.fail(f"{UPGRADE}: plain_copy: {error}")
    assert copies[0] is not None and (id(copies[0][0]), id(copies[0][1])) == (id(a), id(b)), UPGRADE
    assert copies[1] is None and copies[2] is None, UPGRADE
    assert copies[3] is not None, UPGRADE + ": a copy into a wider signal is no longer a plain Assign"


def test_memory_ports_of_a_ram_and_a_rom():
    part = _Part()
    memories = [f for f in _fragments(Fragment.get(part, None)) if isinstance(f, MemoryInstance)]
    assert len(memories) == 2, UPGRADE + ": a lib.memory.Memory no longer elaborates to a MemoryInstance"
    try:
        ports = [amaranth_internals.memory_ports(memory) for memory in memories]
    except AttributeError as error:
        pytest.fail(f"{UPGRADE}: memory_ports: {error}")
    (ram_bits, ram_reads), (rom_bits, rom_reads) = sorted(ports, key=lambda p: -p[0])
    assert (ram_bits, rom_bits) == (4 * 6, 0)
    assert [(domain, len(data)) for domain, data in ram_reads] == [("sync", 6)]
    assert ram_reads[0][1] is part.read.data
    assert [(domain, len(data)) for domain, data in rom_reads] == [("comb", 4)]


class _Refusing(Elaboratable):
    def __init__(self, value, *, quiet):
        if quiet:
            with unused_if_refused(self):
                raise ValueError(f"value: {value}")
        raise ValueError(f"value: {value}")

    def elaborate(self, platform):
        return Module()


@pytest.mark.parametrize("quiet", [False, True])
def test_a_refused_component_warns_only_unless_silenced(quiet):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="value: 3"):
            _Refusing(3, quiet=quiet)
        gc.collect()
    unused = [w for w in caught if issubclass(w.category, UnusedElaboratable)]
    if quiet:
        assert not unused, f"{UPGRADE}: silence_unused no longer silences UnusedElaboratable"
    else:
        assert unused, "the control case: Amaranth warns about an unused elaboratable"
