"""The technology model of the energy estimate: per-toggle energies, capacitances, areas and leakage.

:class:`TechModel` turns the cells of a Liberty library (:mod:`subtile.tech.liberty`) into the figures
the toggle-based estimate multiplies counts by; without a library it falls back to published 45 nm
figures scaled by sky130's proportions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from subtile.errors import ConfigError
from subtile.tech.liberty import (DEFAULT_FLOP, DEFAULT_ICG, DEFAULT_LOGIC_CELLS, Cell, Pin,
                                  default_liberty_path, load_liberty, mean, output_energy, pin_self_energy)

__all__ = ["HOROWITZ_2014_PJ", "TechModel"]

# --------------------------------------------------------------------------------------------
# The technology model
# --------------------------------------------------------------------------------------------

# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V.
HOROWITZ_2014_PJ = {"add8": 0.03, "add32": 0.1, "mult8": 0.2, "mult32": 3.1}
_FALLBACK_VDD = 0.9
# A 32-bit ripple-carry adder = 32 full adders of 5 gates (2 XOR, 2 AND, 1 OR); random operands
# toggle about half of the gate outputs per addition: 80 gate-output toggles per 0.1 pJ.
_FALLBACK_GATES_PER_ADD32 = 32 * 5
_FALLBACK_TOGGLES_PER_GATE = 0.5
_FALLBACK_NET_PJ = HOROWITZ_2014_PJ["add32"] / (_FALLBACK_GATES_PER_ADD32
                                                * _FALLBACK_TOGGLES_PER_GATE)
# Everything else in the fallback is this net energy times the SKY130 proportions below,
# computed by TechModel.from_liberty() on the default library (energies relative to one logic-net
# toggle at fan-out 3; capacitances as C*V^2 relative to it). tests/power/test_tech.py checks they
# still match the shipped library.
_SKY130_PROPORTIONS = {
    "logic_internal": 0.196,
    "logic_input_internal": 0.0166,  # per driven input
    "flop_clock": 0.667,
    "flop_q_internal": 0.655,
    "flop_d_internal": 0.0790,
    "icg": 1.52,
    "icg_idle": 0.861,
    "icg_enable": 0.575,
    "logic_input_cv2": 0.858,  # 3 inputs
    "wire_cv2": 0.651,  # 3 fan-out branches
    "flop_clock_cv2": 0.195,
    "icg_clock_cv2": 0.451,
}
# Area: ideal (45/130)^2 shrink of the SKY130 cells (cross-check: Nangate 45 nm INV_X1 is
# 0.532 um^2, the shrunk sky130 inv_1 0.450 um^2).
_FALLBACK_AREA_SCALE = (45.0 / 130.0) ** 2
# SKY130 hd areas in um^2: dfxtp_1, dlclkp_1, and the mean of the six default logic cells.
_SKY130_AREAS = {"flop": 20.0192, "icg": 17.5168,
                 "logic": (3 * 3.7536 + 8.7584 + 5.0048 + 11.2608) / 6}


@dataclass(frozen=True)
class TechModel:
    """Per-event energies, capacitances, areas and leakage for toggle-based energy estimates.

    All energies are at the operating supply ``vdd`` (equal to ``vdd_nominal`` unless
    :meth:`scaled` was used) and are *internal* cell energies unless the name says otherwise; the
    methods add the 0.5*C*V^2 of the capacitance each toggle charges or discharges. Sources are
    for :meth:`from_liberty` on the default SKY130 library; every energy taken from an
    ``internal_power`` table is the mean of its rise and fall values at the reference point
    (0.1 ns input transition, 0.01 pF load; see the module docstring).

    How counts map onto these figures (one clock *cycle* at a pin = one 0->1 and one 1->0 toggle):

    - a flop whose clock runs in a cycle: ``2 * clock_pin_toggle_energy_pj()``;
    - an ICG in a cycle with its enable high: ``icg_enabled_cycle_energy_pj()`` plus the cycles
      of the flops behind it; with its enable low: ``icg_disabled_cycle_energy_pj()`` only;
    - a register bit whose stored value changes: ``register_bit_toggle_energy_pj()``;
    - a logic net that toggles: ``net_toggle_energy_pj()``;
    - leakage: ``leakage_energy_pj(...)`` for the cells and the cycle time.

    Attributes
    ----------
    source : str
        Where the numbers come from (Liberty name and file, or the fallback).
    vdd_nominal : float
        Characterisation supply in V: Liberty ``nom_voltage`` or the default operating
        conditions' ``voltage`` (SKY130 tt: 1.80 V).
    vdd : float
        Supply in V at which the energy fields hold.
    flop_cell, icg_cell : str
        The flip-flop (default ``sky130_fd_sc_hd__dfxtp_1``) and integrated clock gate (default
        ``sky130_fd_sc_hd__dlclkp_1``) the figures come from.
    logic_cells : tuple of str
        Combinational cells averaged for the logic figures (default inv, nand2, nor2, xor2,
        a21oi, mux2, drive strength 1).
    flop_clock_pin_cap_pf : float
        ``capacitance`` of the flop's clock pin (dfxtp_1 ``CLK``).
    flop_clock_energy_pj : float
        Internal energy per clock-pin toggle with Q unchanged: the ``internal_power`` of the
        flop's ``CLK`` pin (no related pin).
    flop_q_internal_energy_pj : float
        Internal energy per Q toggle: the ``Q`` pin's ``internal_power`` related to ``CLK``.
    flop_d_internal_energy_pj : float
        Internal energy per D toggle: the ``D`` pin's own ``internal_power``.
    flop_area_um2, flop_leakage_nw : float
        dfxtp_1 ``area`` and ``cell_leakage_power``.
    icg_clock_pin_cap_pf : float
        ``capacitance`` of the ICG's clock pin (dlclkp_1 ``CLK``).
    icg_energy_pj : float
        Internal energy per enabled gated-clock pulse (one cycle): the ``CLK`` pin's own energy
        for its rise and fall plus the ``GCLK`` arc (related to ``CLK``) for its rise and fall.
    icg_idle_energy_pj : float
        Internal energy per cycle with the enable low: the ``CLK`` pin's rise and fall only.
    icg_enable_energy_pj : float
        Internal energy per toggle of the enable pin (dlclkp_1 ``GATE``).
    icg_area_um2, icg_leakage_nw : float
        dlclkp_1 ``area`` and ``cell_leakage_power``.
    logic_input_cap_pf : float
        Mean ``capacitance`` over every input pin of the logic cells.
    logic_internal_energy_pj : float
        Mean over the logic cells of the internal energy per output toggle (arcs of each output
        averaged over related pins and ``when`` states).
    logic_input_internal_energy_pj : float
        Mean over every input pin of the logic cells of the pin's own ``internal_power`` per
        transition (no related pin): what each driven input spends when the net toggles.
    logic_area_um2 : float
        Mean ``area`` of the logic cells.
    leakage_per_cell_nw : float
        Mean ``cell_leakage_power`` of the logic cells.
    average_fanout : float
        Cell inputs driven by one net. Assumption: 3 (synthesised logic typically has a mean
        fan-out of 2 to 4); not read from any netlist.
    wire_cap_per_fanout_pf : float
        Wire capacitance added per fan-out. Assumption: 0.002 pF, about one more input pin per
        fan-out branch; a routed design may differ by 2x either way. (The library's own
        ``wire_load("Small")`` model gives only 0.0007 pF for a whole fan-out-3 net.)
    cell_areas, cell_leakages : dict of str to float
        ``area`` (um^2) and leakage (nW) of every cell of the library, for area reports.
    notes : tuple of str
        Caveats that reports should print with the numbers.
    """

    source: str
    vdd_nominal: float
    vdd: float
    flop_cell: str
    icg_cell: str
    logic_cells: tuple[str, ...]
    flop_clock_pin_cap_pf: float
    flop_clock_energy_pj: float
    flop_q_internal_energy_pj: float
    flop_d_internal_energy_pj: float
    flop_area_um2: float
    flop_leakage_nw: float
    icg_clock_pin_cap_pf: float
    icg_energy_pj: float
    icg_idle_energy_pj: float
    icg_enable_energy_pj: float
    icg_area_um2: float
    icg_leakage_nw: float
    logic_input_cap_pf: float
    logic_internal_energy_pj: float
    logic_input_internal_energy_pj: float
    logic_area_um2: float
    leakage_per_cell_nw: float
    average_fanout: float = 3.0
    wire_cap_per_fanout_pf: float = 0.002
    cell_areas: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)
    cell_leakages: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)
    notes: tuple[str, ...] = ()

    # Fields that are dynamic (internal) energies: scaled by (V/V0)^2 in scaled().
    _DYNAMIC = ("flop_clock_energy_pj", "flop_q_internal_energy_pj", "flop_d_internal_energy_pj",
                "icg_energy_pj", "icg_idle_energy_pj", "icg_enable_energy_pj",
                "logic_internal_energy_pj", "logic_input_internal_energy_pj")

    def __post_init__(self):
        _positive("vdd", self.vdd, "(0, 5] V", upper=5.0)
        _positive("vdd_nominal", self.vdd_nominal, "(0, 5] V", upper=5.0)
        _positive("average_fanout", self.average_fanout, "(0, 1000]", upper=1000.0)
        if not (math.isfinite(self.wire_cap_per_fanout_pf) and 0 <= self.wire_cap_per_fanout_pf
                <= 10):
            raise ConfigError("wire_cap_per_fanout_pf: must be in 0..10 pF, got "
                              f"{self.wire_cap_per_fanout_pf!r}")

    # ---- constructors ----------------------------------------------------------------------

    @classmethod
    def from_liberty(cls, path: str | os.PathLike | None = None, *, flop: str = DEFAULT_FLOP,
                     icg: str = DEFAULT_ICG, logic: Iterable[str] = DEFAULT_LOGIC_CELLS,
                     average_fanout: float = 3.0, wire_cap_per_fanout_pf: float = 0.002,
                     cache: bool = True) -> "TechModel":
        """Build the model from a Liberty file.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Liberty file (``lib``); default the SKY130 hd tt file in ``shared/tech``.
        flop : str
            A D flip-flop: a cell with an ``ff`` group, a ``clock : true`` pin and an output.
        icg : str
            An integrated clock gate: a cell with a clock pin and an output pin (normally
            ``clock_gating_integrated_cell``).
        logic : iterable of str
            Combinational cells to average for the logic-net figures.
        average_fanout, wire_cap_per_fanout_pf : float
            The two assumptions of the net model (see the class docstring).
        cache : bool
            Use the parsed-Liberty cache (see :func:`load_liberty`).

        Raises
        ------
        ConfigError
            Naming ``lib`` when the file is missing or not Liberty or lacks a named cell, and
            naming the cell parameter when a cell is not of the needed kind.
        """
        path = Path(path) if path is not None else default_liberty_path()
        lib = load_liberty(path, cache=cache)
        where = f"{path.name}"

        f_cell = lib.cell(flop, source=where, role="a D flip-flop", option="--flop")
        if f_cell.sequential != "ff":
            raise ConfigError(f"flop: cell {flop} in {where} is not a flip-flop (no ff group); "
                              "name a D flip-flop cell")
        f_clock = _one(f_cell, [p for p in f_cell.pins_with("input") if p.clock], "flop",
                       "clock : true input pin")
        f_out = _one(f_cell, f_cell.pins_with("output"), "flop", "output pin")
        f_data = [p for p in f_cell.pins_with("input") if not p.clock]
        f_d = f_cell.pins.get("D") or (f_data[0] if f_data else None)

        g_cell = lib.cell(icg, source=where, role="an integrated clock gate", option="--icg")
        g_clock = _one(g_cell, [p for p in g_cell.pins_with("input")
                                if p.clock or "clock_gate_clock_pin" in p.attributes],
                       "icg", "clock input pin")
        g_out = _one(g_cell, [p for p in g_cell.pins_with("output")
                              if "clock_gate_out_pin" in p.attributes]
                     or g_cell.pins_with("output"), "icg", "output pin")
        g_enable = [p for p in g_cell.pins_with("input")
                    if "clock_gate_enable_pin" in p.attributes]

        logic = tuple(logic)
        if not logic:
            raise ConfigError("logic: name at least one combinational cell")
        l_cells = [lib.cell(n, source=where, role="combinational cells", option="--logic")
                   for n in logic]
        inputs = [p.capacitance_pf for c in l_cells for p in c.pins_with("input")
                  if p.capacitance_pf is not None]
        if not inputs:
            raise ConfigError(f"logic: cells {', '.join(logic)} in {where} have no input pin "
                              "capacitance")
        l_internal = [mean([output_energy(c, p) for p in c.pins_with("output")])
                      for c in l_cells]
        l_input_internal = [pin_self_energy(c, p) for c in l_cells for p in c.pins_with("input")]

        g_clk_self = pin_self_energy(g_cell, g_clock)
        return cls(
            source=f"liberty {lib.name} ({path.name}, sha256 {lib.sha256[:12]})",
            vdd_nominal=lib.nom_voltage, vdd=lib.nom_voltage,
            flop_cell=flop, icg_cell=icg, logic_cells=logic,
            flop_clock_pin_cap_pf=_required(f_clock.capacitance_pf, "flop", flop, "clock pin cap"),
            flop_clock_energy_pj=pin_self_energy(f_cell, f_clock),
            flop_q_internal_energy_pj=output_energy(f_cell, f_out, related=f_clock.name),
            flop_d_internal_energy_pj=pin_self_energy(f_cell, f_d) if f_d else 0.0,
            flop_area_um2=_required(f_cell.area_um2, "flop", flop, "area"),
            flop_leakage_nw=f_cell.leakage_nw or 0.0,
            icg_clock_pin_cap_pf=_required(g_clock.capacitance_pf, "icg", icg, "clock pin cap"),
            icg_energy_pj=2 * g_clk_self + 2 * output_energy(g_cell, g_out, related=g_clock.name),
            icg_idle_energy_pj=2 * g_clk_self,
            icg_enable_energy_pj=pin_self_energy(g_cell, g_enable[0]) if g_enable else 0.0,
            icg_area_um2=_required(g_cell.area_um2, "icg", icg, "area"),
            icg_leakage_nw=g_cell.leakage_nw or 0.0,
            logic_input_cap_pf=mean(inputs),
            logic_internal_energy_pj=mean(l_internal),
            logic_input_internal_energy_pj=mean(l_input_internal),
            logic_area_um2=mean([c.area_um2 or 0.0 for c in l_cells]),
            leakage_per_cell_nw=mean([c.leakage_nw or 0.0 for c in l_cells]),
            average_fanout=average_fanout, wire_cap_per_fanout_pf=wire_cap_per_fanout_pf,
            cell_areas={n: c.area_um2 for n, c in lib.cells.items() if c.area_um2 is not None},
            cell_leakages={n: c.leakage_nw for n, c in lib.cells.items()
                           if c.leakage_nw is not None},
            notes=("internal energies: mean of rise/fall internal_power at 0.1 ns input "
                   "transition, 0.01 pF load",
                   f"net load: fan-out {average_fanout:g} x (input pin + "
                   f"{wire_cap_per_fanout_pf:g} pF wire), an assumption"),
        )

    @classmethod
    def fallback(cls, *, average_fanout: float = 3.0) -> "TechModel":
        """Order-of-magnitude model without a Liberty file: Horowitz, ISSCC 2014, 45 nm, 0.9 V.

        Horowitz ("Computing's energy problem (and what we can do about it)", ISSCC 2014)
        tabulates 45 nm energies at 0.9 V: 8-bit add 0.03 pJ, 32-bit add 0.1 pJ, 8-bit multiply
        0.2 pJ, 32-bit multiply 3.1 pJ. Assumption: a 32-bit ripple-carry adder is 32 full adders
        of 5 gates, and random operands toggle half of the 160 gate outputs, so one logic-net
        toggle (at fan-out 3, load and internal together) costs 0.1 pJ / 80 = 1.25 fJ. (Cross
        checks: the 8-bit adder gives 1.5 fJ; the 32-bit multiplier's 3.1 pJ is 2,480 such
        toggles, about 0.4 per gate of a 32x32 array of ~6,000 gates.)

        Everything else is that net energy times the proportions of the SKY130 model (flop clock,
        register bit, ICG, and the split of the net energy into internal energy and load): the
        relative costs of cells change far less between nodes than their absolute ones. Areas
        are the SKY130 areas shrunk by (45/130)^2. Horowitz gives no leakage, so leakage is 0:
        use a Liberty file for leakage and for the minimum-energy point.

        Parameters
        ----------
        average_fanout : float
            Kept for the net formula; the per-fan-out capacitances are derived at fan-out 3.
        """
        e = _FALLBACK_NET_PJ
        p = _SKY130_PROPORTIONS
        v2 = _FALLBACK_VDD ** 2
        # The proportions describe a fan-out-3 net; per-fan-out caps divide by 3.
        return cls(
            source="fallback: Horowitz ISSCC 2014 (45 nm, 0.9 V) with SKY130 proportions",
            vdd_nominal=_FALLBACK_VDD, vdd=_FALLBACK_VDD,
            flop_cell="(fallback flop)", icg_cell="(fallback ICG)", logic_cells=("(fallback)",),
            flop_clock_pin_cap_pf=p["flop_clock_cv2"] * e / v2,
            flop_clock_energy_pj=p["flop_clock"] * e,
            flop_q_internal_energy_pj=p["flop_q_internal"] * e,
            flop_d_internal_energy_pj=p["flop_d_internal"] * e,
            flop_area_um2=_SKY130_AREAS["flop"] * _FALLBACK_AREA_SCALE,
            flop_leakage_nw=0.0,
            icg_clock_pin_cap_pf=p["icg_clock_cv2"] * e / v2,
            icg_energy_pj=p["icg"] * e,
            icg_idle_energy_pj=p["icg_idle"] * e,
            icg_enable_energy_pj=p["icg_enable"] * e,
            icg_area_um2=_SKY130_AREAS["icg"] * _FALLBACK_AREA_SCALE,
            icg_leakage_nw=0.0,
            logic_input_cap_pf=p["logic_input_cv2"] * e / v2 / 3.0,
            logic_internal_energy_pj=p["logic_internal"] * e,
            logic_input_internal_energy_pj=p["logic_input_internal"] * e,
            logic_area_um2=_SKY130_AREAS["logic"] * _FALLBACK_AREA_SCALE,
            leakage_per_cell_nw=0.0,
            average_fanout=average_fanout,
            wire_cap_per_fanout_pf=p["wire_cv2"] * e / v2 / 3.0,
            notes=("fallback: no Liberty; dynamic energies from Horowitz ISSCC 2014 (45 nm, "
                   "0.9 V), about +-2x",
                   "fallback: leakage not modelled (0 nW); areas are SKY130 shrunk by (45/130)^2"),
        )

    # ---- derived energies --------------------------------------------------------------------

    def net_load_cap_pf(self, fanout: float | None = None) -> float:
        """Capacitance a logic net switches: ``fanout * (logic_input_cap_pf + wire)``, in pF."""
        fanout = self.average_fanout if fanout is None else fanout
        _positive("fanout", fanout, "(0, 1000]", upper=1000.0)
        return fanout * (self.logic_input_cap_pf + self.wire_cap_per_fanout_pf)

    def net_toggle_energy_pj(self, fanout: float | None = None) -> float:
        """Energy per toggle of a logic net, in pJ.

        ``0.5 * C_load * vdd**2 + logic_internal_energy_pj
        + fanout * logic_input_internal_energy_pj`` with
        ``C_load = fanout * (logic_input_cap_pf + wire_cap_per_fanout_pf)``: the supply delivers
        ``C_load * vdd**2`` per 0->1 toggle and nothing per 1->0, 0.5 per toggle on average; the
        driving cell spends its internal energy on each toggle, and so does each driven input.

        Parameters
        ----------
        fanout : float, optional
            Inputs on the net; default ``average_fanout``.
        """
        fanout = self.average_fanout if fanout is None else fanout
        return (0.5 * self.net_load_cap_pf(fanout) * self.vdd ** 2 + self.logic_internal_energy_pj
                + fanout * self.logic_input_internal_energy_pj)

    @property
    def flop_data_energy_pj(self) -> float:
        """Energy per data toggle of a flop's output at the average fan-out, in pJ."""
        return self.register_bit_toggle_energy_pj()

    def register_bit_toggle_energy_pj(self, fanout: float | None = None) -> float:
        """Energy per change of a stored bit (its Q toggles), clock excluded, in pJ.

        ``flop_d_internal_energy_pj + flop_q_internal_energy_pj + 0.5 * C_load * vdd**2``: the
        new value reached D once (its input-pin energy), the CLK->Q arc switched Q, and Q drives
        a net of ``fanout`` inputs (see :meth:`net_load_cap_pf`). The clock pin's energy in that
        cycle is counted by the clock terms, whether or not the data changed.

        Parameters
        ----------
        fanout : float, optional
            Inputs driven by Q; default ``average_fanout``.
        """
        return (self.flop_d_internal_energy_pj + self.flop_q_internal_energy_pj
                + 0.5 * self.net_load_cap_pf(fanout) * self.vdd ** 2)

    def clock_pin_toggle_energy_pj(self) -> float:
        """Energy per toggle of one flop's clock pin, in pJ.

        ``flop_clock_energy_pj + 0.5 * flop_clock_pin_cap_pf * vdd**2``: the flop's internal
        clock energy plus charging its clock pin (paid by the clock driver). A clock cycle is two
        toggles: see :meth:`flop_clock_cycle_energy_pj`. Clock-tree wires and buffers are not
        included.
        """
        return self.flop_clock_energy_pj + 0.5 * self.flop_clock_pin_cap_pf * self.vdd ** 2

    def flop_clock_cycle_energy_pj(self) -> float:
        """Energy per clock cycle (rise and fall) at one flop's clock pin, in pJ."""
        return 2.0 * self.clock_pin_toggle_energy_pj()

    def icg_enabled_cycle_energy_pj(self) -> float:
        """Energy of one ICG in a cycle with its enable high, in pJ.

        ``icg_energy_pj + icg_clock_pin_cap_pf * vdd**2`` (two toggles of its clock pin, 0.5*C*V^2
        each). The gated clock's load, the clock pins of the flops behind it, is counted by their
        own :meth:`flop_clock_cycle_energy_pj`.
        """
        return self.icg_energy_pj + self.icg_clock_pin_cap_pf * self.vdd ** 2

    def icg_disabled_cycle_energy_pj(self) -> float:
        """Energy of one ICG in a cycle with its enable low: its clock pin still toggles, in pJ."""
        return self.icg_idle_energy_pj + self.icg_clock_pin_cap_pf * self.vdd ** 2

    def leakage_power_nw(self, *, flops: float = 0, icgs: float = 0,
                         logic_cells: float = 0) -> float:
        """Leakage power of a cell count, in nW (at ``vdd_nominal``; see :meth:`scaled`)."""
        return (flops * self.flop_leakage_nw + icgs * self.icg_leakage_nw
                + logic_cells * self.leakage_per_cell_nw)

    def leakage_energy_pj(self, cycle_time_s: float, *, cycles: float = 1, flops: float = 0,
                          icgs: float = 0, logic_cells: float = 0) -> float:
        """Leakage energy of a cell count over ``cycles`` cycles of ``cycle_time_s``, in pJ.

        ``P_leak * cycles * cycle_time_s``; 1 nW for 1 s is 1e3 pJ.
        """
        if not (math.isfinite(cycle_time_s) and cycle_time_s > 0):
            raise ConfigError(f"cycle_time_s: must be > 0 s, got {cycle_time_s!r}")
        power = self.leakage_power_nw(flops=flops, icgs=icgs, logic_cells=logic_cells)
        return power * cycles * cycle_time_s * 1e3

    def scaled(self, vdd: float) -> "TechModel":
        """Return the model at another supply: dynamic energies times ``(vdd / self.vdd)**2``.

        Internal energies scale with V^2 (their charge also scales with V, to first order); the
        0.5*C*V^2 terms follow because the methods use the new ``vdd``. Capacitances, areas and
        leakage powers are unchanged: leakage against voltage is the job of
        :class:`subtile.power.voltage.VoltageModel`, and delay does not enter per-toggle energies.

        Parameters
        ----------
        vdd : float
            New supply in V, in (0, 5].
        """
        _positive("vdd", vdd, "(0, 5] V", upper=5.0)
        factor = (vdd / self.vdd) ** 2
        return replace(self, vdd=vdd, **{n: getattr(self, n) * factor for n in self._DYNAMIC})

    # ---- lookup and serialisation -----------------------------------------------------------

    def cell_area(self, name: str) -> float:
        """Return a library cell's area in um^2 (ConfigError naming ``cell`` if unknown)."""
        try:
            return self.cell_areas[name]
        except KeyError:
            raise ConfigError(f"cell: {name} has no area in {self.source}") from None

    def cell_leakage_nw(self, name: str) -> float:
        """Return a library cell's leakage power in nW (ConfigError naming ``cell`` if unknown)."""
        try:
            return self.cell_leakages[name]
        except KeyError:
            raise ConfigError(f"cell: {name} has no leakage in {self.source}") from None

    def to_dict(self, *, cells: bool = False) -> dict:
        """Return a JSON-ready dict: the fields, plus ``derived`` energies at ``vdd``.

        Parameters
        ----------
        cells : bool
            Include the per-cell ``cell_areas`` and ``cell_leakages`` tables (hundreds of entries
            for a full library); off by default.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("cell_areas", "cell_leakages")}
        out["logic_cells"] = list(self.logic_cells)
        out["notes"] = list(self.notes)
        if cells:
            out["cell_areas"] = dict(self.cell_areas)
            out["cell_leakages"] = dict(self.cell_leakages)
        out["derived"] = {
            "net_load_cap_pf": self.net_load_cap_pf(),
            "net_toggle_energy_pj": self.net_toggle_energy_pj(),
            "register_bit_toggle_energy_pj": self.register_bit_toggle_energy_pj(),
            "clock_pin_toggle_energy_pj": self.clock_pin_toggle_energy_pj(),
            "flop_clock_cycle_energy_pj": self.flop_clock_cycle_energy_pj(),
            "icg_enabled_cycle_energy_pj": self.icg_enabled_cycle_energy_pj(),
            "icg_disabled_cycle_energy_pj": self.icg_disabled_cycle_energy_pj(),
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "TechModel":
        """Rebuild a model from :meth:`to_dict` output (``derived`` is recomputed, not read)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names - {"derived"}
        if unknown:
            raise ConfigError(f"tech: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(names))}")
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["logic_cells"] = tuple(kwargs.get("logic_cells", ()))
        kwargs["notes"] = tuple(kwargs.get("notes", ()))
        try:
            return cls(**kwargs)
        except TypeError as error:
            raise ConfigError(f"tech: {error}") from None



def _positive(name: str, value: float, allowed: str, *, upper: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and 0 < value <= upper):
        raise ConfigError(f"{name}: must be in {allowed}, got {value!r}")


def _one(cell: Cell, pins: list[Pin], parameter: str, what: str) -> Pin:
    if not pins:
        raise ConfigError(f"{parameter}: cell {cell.name} has no {what}; name another cell")
    return pins[0]


def _required(value: float | None, parameter: str, cell: str, what: str) -> float:
    if value is None:
        raise ConfigError(f"{parameter}: cell {cell} has no {what} in the Liberty; "
                          "name another cell")
    return value
