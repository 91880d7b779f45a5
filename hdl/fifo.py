"""A FIFO whose every register group has its own clock gate (docs/architecture.md, "Clock gating
of the network").

Cycle for cycle the behaviour of :class:`amaranth.lib.fifo.SyncFIFOBuffered` (``depth - 1``
words in storage and a head register, one word in and one out per cycle; the tests compare them),
with the storage words, the head register and the control registers in separate domains: a
write clocks only the word it fills and the control, the move of a word into the empty head
register clocks only the head and the control, a read only the control.
"""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.errors import ConfigError
from subtile.hdl.clock_gate import GATING_MODES, add_gated_submodule
from subtile.hdl.validation import unused_if_refused

__all__ = ["GatedFIFO"]


class GatedFIFO(wiring.Component):
    """A synchronous FIFO of ``depth`` words of ``width`` bits with gated storage.

    The FIFO's own domain (``sync``; its parent gates it with :attr:`control_enable`) holds the
    write and read pointers, the storage occupancy and the head-valid flag. Gates fed from it:
    ``head`` (the head register ``r_data``, enabled by :attr:`head_enable`: a word moves from
    storage into the empty or emptied head) and ``word_<k>`` (storage word k, enabled by
    ``word_enables[k]``: a write to word k). Storage and head have no reset, as memory.

    Parameters
    ----------
    width : int
        Bits per word, 1..4096.
    depth : int
        Words, 2..1024 (``depth - 1`` in storage, one in the head register).
    gating : str
        ``icg``, ``enable`` or ``none``: how the head and word gates are built
        (:func:`subtile.hdl.clock_gate.add_gated_submodule`).

    Members
    -------
    w_data : In(width)
    w_en : In(1)
    w_rdy : Out(1)
        A write is taken in a cycle with ``w_en`` and ``w_rdy`` (storage not full).
    r_data : Out(width)
        The head word, valid while ``r_rdy``; it holds its last value after a read.
    r_en : In(1)
    r_rdy : Out(1)
    level : Out(range(depth + 1))
        Words held.

    Attributes
    ----------
    control_enable : Signal
        High in every cycle any register of the FIFO may change (write, read, or a head refill);
        the parent gates the FIFO's domain with it.
    head_enable : Signal
    word_enables : list of Signal
    pointers : tuple of Signal
        The write and read pointers of the inner words (``produce``, ``consume``): with the
        level, what the FIFO's control switches (toggle probes; a FIFO streaming at a steady
        level moves its pointers but not its level).
    """

    def __init__(self, *, width: int, depth: int, gating: str = "none"):
        with unused_if_refused(self):
            for name, value, lo, hi in (("width", width, 1, 4096), ("depth", depth, 2, 1024)):
                if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                    raise ConfigError(f"{name}: {value!r} is outside the allowed range {lo}..{hi}")
            if gating not in GATING_MODES:
                raise ConfigError(f"gating: {gating!r} is not one of {', '.join(GATING_MODES)}")
        self.width, self.depth, self.gating = width, depth, gating
        self.control_enable = Signal(name="fifo_en")
        self.head_enable = Signal(name="head_en")
        self.word_enables = [Signal(name=f"word_{k}_en") for k in range(depth - 1)]
        inner = depth - 1
        self.pointers = (Signal(range(inner), name="produce"), Signal(range(inner), name="consume"))
        super().__init__({
            "w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
            "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1
        storage = Module()
        words = [Signal(self.width, name=f"word_{k}", reset_less=True) for k in range(inner)]
        produce, consume = self.pointers
        stored = Signal(range(inner + 1), name="stored")
        do_write, do_read = Signal(name="do_write"), Signal(name="do_inner_read")
        step = lambda pointer: Mux(pointer == inner - 1, 0, pointer + 1)
        m.d.comb += [
            self.w_rdy.eq(stored != inner),
            do_write.eq(self.w_en & self.w_rdy),
            do_read.eq((stored != 0) & (~self.r_rdy | self.r_en)),
            self.level.eq(stored + self.r_rdy),
            self.control_enable.eq(do_write | (self.r_en & self.r_rdy) | (~self.r_rdy & (stored != 0))),
            self.head_enable.eq(do_read),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(step(produce))
        with m.If(do_read):
            m.d.sync += consume.eq(step(consume))
        with m.If(do_write & ~do_read):
            m.d.sync += stored.eq(stored + 1)
        with m.If(do_read & ~do_write):
            m.d.sync += stored.eq(stored - 1)
        with m.If(do_read):
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        head = Signal(self.width, name="head", reset_less=True)
        m.d.comb += self.r_data.eq(head)
        with storage.If(do_read):
            # Padded to every value of the pointer (a complete case statement).
            padded = words + [words[-1]] * ((1 << len(consume)) - inner)
            storage.d.head += head.eq(Array(padded)[consume] if inner > 1 else words[0])
        for k, word in enumerate(words):
            # A comparison with 0 as a reduction (a multi-bit ``!x`` is a lint width warning).
            at = ~produce.any() if k == 0 else produce == k
            m.d.comb += self.word_enables[k].eq(do_write & at if inner > 1 else do_write)
            with storage.If(self.word_enables[k]):
                storage.d[f"word_{k}"] += word.eq(self.w_data)
        enables = {"head": self.head_enable, **{f"word_{k}": e for k, e in enumerate(self.word_enables)}}
        add_gated_submodule(m, "storage", storage, enables, mode=self.gating)
        return m
