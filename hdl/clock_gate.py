"""Clock gating of register groups: gated clocks (``icg``), clock enables (``enable``) or none.

A *gated group* is a set of registers written in their own clock domain, with one enable
signal: the group's registers may only change in a cycle where the enable is high. Three
implementations of the same behaviour (docs/architecture.md, "Clock gating"):

``icg``
    One clock-gate cell per group (:data:`ICG_MODULE`: a latch transparent while the clock is
    low holding the enable, ANDed with the clock) drives a local clock domain. Amaranth cannot
    simulate the cell; :func:`icg_verilog` gives its behavioural Verilog model, to be appended to
    the generated Verilog (replace it with a PDK cell such as ``sky130_fd_sc_hd__dlclkp`` in an
    ASIC flow).
``enable``
    The groups' registers are clocked by the root domain through :class:`amaranth.hdl.EnableInserter`
    (hold multiplexers; FPGA friendly).
``none``
    The groups' registers are clocked by the root domain every cycle, with no enable: the
    elaboratable itself must then write ``Mux(enable, new, old)`` where holding matters.

In every mode the root reset forces each gate on, since a synchronous reset only reaches a
register whose clock runs.
"""

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, EnableInserter, Instance, ResetSignal, Signal, Value

from subtile.spec.config import GATING_MODES
from subtile.errors import ConfigError

__all__ = ["GATING_MODES", "ICG_MODULE", "ICG_VERILOG", "ICG_VERILOG_TEMPLATE", "icg_verilog", "ClockGate",
           "add_gated_submodule"]

#: Module name of the clock-gate cell instantiated in ``icg`` mode.
ICG_MODULE = "subtile_icg"

#: Behavioural model of a clock-gate cell (Verilog-2005), with the module and pin names as
#: fields: the enable is captured by a latch that is transparent while the clock is low, so the
#: gated clock only ever carries whole clock pulses.
ICG_VERILOG_TEMPLATE = """\
// Clock gate: latch transparent while {clock} is low holding {enable}, ANDed with {clock} (glitch free).
// Behavioural model for simulation; map it to a PDK cell (e.g. sky130_fd_sc_hd__dlclkp).
module {module} (
    input  wire {clock},
    input  wire {enable},
    output wire {gated}
);
    reg en_latched;
    /* verilator lint_off LATCH */
    always @({clock} or {enable})
        if (!{clock})
            en_latched = {enable};
    /* verilator lint_on LATCH */
    assign {gated} = {clock} & en_latched;
endmodule
"""


def icg_verilog(module: str = ICG_MODULE, *, pins: tuple[str, str, str] = ("CLK", "EN", "GCLK")) -> str:
    """The Verilog model of the ``icg`` clock-gate cell, or of a library cell of the same
    behaviour named ``module`` with pins ``(clock, enable, gated clock)``."""
    clock, enable, gated = pins
    return ICG_VERILOG_TEMPLATE.format(module=module, clock=clock, enable=enable, gated=gated)


#: The model of :data:`ICG_MODULE` (what :func:`icg_verilog` returns by default).
ICG_VERILOG = icg_verilog()


class ClockGate(Instance):
    """The clock-gate cell of one gated domain (an :class:`~amaranth.hdl.Instance` of
    :data:`ICG_MODULE`), which also says what it gates, for the design's structure
    (:func:`subtile.hdl.flops.clock_tree`).

    Members
    -------
    domain : str
        The gated domain whose clock it drives.
    source : str
        The domain whose clock it gates (the root domain, or a parent gated domain).
    enable : Value
        The enable as the design computes it (the cell's ``EN`` is it or the reset).
    """

    def __init__(self, domain: str, *, source: str, enable, reset, gclk):
        super().__init__(ICG_MODULE, i_CLK=ClockSignal(source), i_EN=Value.cast(enable) | reset, o_GCLK=gclk)
        self.domain, self.source, self.enable = domain, source, enable


def add_gated_submodule(m, name, elaboratable, enables, *, mode, domain="sync", sources=None):
    """Add ``elaboratable`` to ``m`` as submodule ``name`` with each of its domains gated.

    Gates may form a tree: a gate whose clock comes from another gated domain (``sources``)
    sees clock edges only while its parent is enabled, so an idle parent silences every gate
    below it (hierarchical clock gating). A child's enable must imply its parent's.

    Parameters
    ----------
    m : Module
        The parent module. In ``icg`` mode the gated domains (local to ``m``) and one clock-gate
        cell per domain (submodule ``icg_<domain>``) are added to it.
    name : str
        Submodule name of ``elaboratable``.
    elaboratable : Elaboratable
        Writes its registers in the domains named by ``enables`` (and may use ``domain``).
    enables : dict of str to Value
        Domain name to its one-bit enable. Names must not clash with other domains.
    mode : str
        ``"icg"``, ``"enable"`` or ``"none"``.
    domain : str
        The root (ungated) domain whose clock and reset the gated domains derive from.
    sources : dict of str to str, optional
        Gated domain to the gated domain (a key of ``enables``) its clock gate is fed from;
        default ``domain``. A parent domain may hold no registers at all.
    """
    if mode not in GATING_MODES:
        raise ConfigError(f"gating: {mode!r} is not one of {', '.join(GATING_MODES)}")
    if not enables:
        m.submodules[name] = elaboratable
        return
    sources = dict(sources or {})
    unknown = sorted(set(sources.values()) - set(enables))
    if unknown:
        raise ValueError(f"sources: {', '.join(unknown)} are not gated domains of {name}")
    reset = ResetSignal(domain)
    forced = {gated: Value.cast(enable) | reset for gated, enable in enables.items()}
    renames = {gated: domain for gated in enables}
    if mode == "none":
        m.submodules[name] = DomainRenamer(renames)(elaboratable)
    elif mode == "enable":
        m.submodules[name] = DomainRenamer(renames)(EnableInserter(forced)(elaboratable))
    else:
        for gated, enable in enables.items():
            m.domains += ClockDomain(gated, local=True)
            gclk = Signal(name=f"{gated}_gclk")
            m.submodules[f"icg_{gated}"] = ClockGate(gated, source=sources.get(gated, domain), enable=enable,
                                                     reset=reset, gclk=gclk)
            m.d.comb += [
                ClockSignal(gated).eq(gclk),
                ResetSignal(gated).eq(reset),
            ]
        m.submodules[name] = elaboratable
