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


class _Counter(Elaboratable):
    """Counts in domain ``domain`` (None: a combinational part using no domain)."""

    def __init__(self, domain):
        self.domain, self.count = domain, Signal(4)

    def elaborate(self, platform):
        m = Module()
        if self.domain is None:
            m.d.comb += self.count.eq(3)
        else:
            m.d[self.domain] += self.count.eq(self.count + 1)
        return m


class _Gated(Elaboratable):
    """Local domains ``a`` and ``b`` (clocked from sync), used by the first part and by the parent
    itself; the middle and last parts use none."""

    def __init__(self, scoped):
        self.scoped = scoped
        self.parts = [_Counter("a"), _Counter(None), _Counter(None)]
        self.own = Signal(4)

    def elaborate(self, platform):
        from amaranth.hdl import ClockDomain, ClockSignal, ResetSignal
        m = Module()
        for name in ("a", "b"):
            m.domains += ClockDomain(name, local=True)
            m.d.comb += [ClockSignal(name).eq(ClockSignal("sync")), ResetSignal(name).eq(ResetSignal("sync"))]
        m.d.b += self.own.eq(self.own + self.parts[0].count + self.parts[1].count)
        for i, part in enumerate(self.parts):
            m.submodules[f"part_{i}"] = part
        fragment = Fragment.get(m, platform)
        return amaranth_internals.scope_local_domains(fragment) if self.scoped else fragment


def test_scoped_local_domains_reach_only_their_users_and_change_no_verilog():
    from amaranth.back import verilog
    design = _Gated(scoped=True)
    top = Fragment.get(design, None)
    top.prepare()
    domains = [set(sub.domains) for sub, _name, _src in top.subfragments]
    assert domains[0] >= {"a", "sync"} and "b" not in domains[0], UPGRADE
    assert "a" not in domains[1] and "b" not in domains[1], "the unused local domains were propagated"
    assert domains[2] >= {"a", "b"}, "the last subfragment needs every domain (DomainLowerer)"
    plain, scoped = _Gated(scoped=False), _Gated(scoped=True)
    plain, scoped = (verilog.convert(d, name="top", ports=[d.own, *(p.count for p in d.parts)], emit_src=False)
                     for d in (plain, scoped))
    assert "top.part_0" in scoped and scoped == plain
