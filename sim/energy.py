"""Switching-energy estimate of a tile run from toggles counted inside the simulation.

Inputs: the toggle and clock-pulse counters of a :class:`subtile.sim.tile.TileRun` (see
:class:`subtile.hdl.tile.TileProbes`), the tile's flip-flop budget
(:class:`subtile.hdl.tile.RegisterBudget`) and a :class:`subtile.sim.tech.TechModel`. What is
modelled and what is not, with every constant's source: docs/energy-model.md.

* Data: each counted bit flip of a register costs ``register_bit_toggle_energy_pj`` (flop
  internal energy plus the fan-out load); of a unit-boundary net, ``net_toggle_energy_pj``.
* Clock: flip-flops on the root clock see every cycle. Behind clock gates (``icg``) a flop
  sees only the gate's enabled cycles, and each gate costs its enabled or disabled-cycle energy
  in every cycle its own clock input toggles: every cycle for a gate on the root clock, only
  the parent's enabled cycles for a gate fed from another gate (hierarchical gating); with
  ``enable`` and ``none`` every gated flop is clocked every cycle.
* Leakage: flip-flops, clock gates and an estimated count of logic cells
  (:data:`LOGIC_CELLS_PER_FLOP` per flip-flop until synthesis gives the real count), for the
  run's duration at the voltage model's nominal clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import TileConfig
from ..errors import ConfigError
from ..hdl.tile import GATED_UNITS, PROBE_UNITS, RegisterBudget, TileProbes
from .tech import TechModel
from .voltage import VoltageModel, energy_delay_distance, energy_delay_product, energy_delay_sum

__all__ = ["EnergyReport", "Calibration", "estimate", "GATE_LEVEL_GROUPS", "DEFAULT_CALIBRATION",
           "LOGIC_CELLS_PER_FLOP"]

#: Assumed combinational cells per flip-flop for the leakage estimate (an estimate, reported as
#: such; a datapath-heavy block synthesized to sky130 typically has a few cells per flop).
LOGIC_CELLS_PER_FLOP = 4


#: Groups of RTL energy terms as the gate-level cross-check compares them (sim/gate_level.py):
#: (label, RTL terms ``data.<unit>``/``clock.<unit>``, gate-level units). The logic inside a
#: unit (multipliers, activation functions, muxes) has no RTL counterpart but the unit-boundary
#: nets it drives; a calibration scales each group's RTL terms by gate-level over RTL energy.
GATE_LEVEL_GROUPS = (
    ("synapse", ("data.synapse",), ("synapse",)),
    ("accumulators + MAC", ("data.accumulators", "data.mac"), ("accumulators", "tile_logic")),
    ("neuron_state", ("data.neuron_state",), ("neuron_state",)),
    ("neuron_update (lanes)", ("data.neuron_update", "data.branch_activation", "data.soma_activation",
                               "data.encoder"), ("neuron_update",)),
    ("output, inputs, enables", ("data.output",), ("inputs", "clock_gates")),
    ("clock.root", ("clock.root",), ("clock.root",)),
    *((f"clock.{unit}", (f"clock.{unit}",), (f"clock.{unit}",)) for unit in GATED_UNITS),
)

#: The calibration shipped with subtile: sky130 HD tt 1.8 V, from the gate-level cross-check
#: of the default tile (see the file's ``source``).
DEFAULT_CALIBRATION = Path(__file__).with_name("calibration") / "sky130_fd_sc_hd_tt.json"


@dataclass(frozen=True)
class Calibration:
    """Per-group factors (gate-level over RTL energy, :data:`GATE_LEVEL_GROUPS`) that bring the
    RTL estimate to the gate-level one, with where they come from.

    Members
    -------
    factors : dict of str to float
        Group label to factor; groups not named keep factor 1.
    source : str
        The command (and run) that measured them.
    """

    factors: dict
    source: str = ""

    @classmethod
    def load(cls, path=None) -> "Calibration":
        """Read a calibration JSON (``{"factors": {...}, "source": ...}``; default: the shipped one)."""
        path = Path(path) if path else DEFAULT_CALIBRATION
        try:
            data = json.loads(path.read_text())
            factors = {str(k): float(v) for k, v in data["factors"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"calibration: {path} is not a calibration file ({error})") from None
        labels = {label for label, _rtl, _gate in GATE_LEVEL_GROUPS}
        unknown = sorted(set(factors) - labels)
        if unknown or any(not 0 < f < 1e4 for f in factors.values()):
            raise ConfigError(f"calibration: {path}: factors must be in (0, 1e4) for the groups "
                              f"{', '.join(sorted(labels))}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        return cls(factors, str(data.get("source", path)))

    @classmethod
    def for_liberty(cls, lib=None) -> "Calibration | None":
        """The shipped calibration when ``lib`` is the default Liberty (``None``), else ``None``
        (factors measured with one library do not carry to another)."""
        return cls.load() if lib is None and DEFAULT_CALIBRATION.exists() else None

    def term_factors(self) -> dict[str, float]:
        """Factor per RTL term (``data.<unit>``, ``clock.<unit>``)."""
        return {term: self.factors.get(label, 1.0) for label, terms, _gate in GATE_LEVEL_GROUPS for term in terms}


@dataclass
class EnergyReport:
    """Energy of one run, in pJ, split by unit and kind."""

    gating: str
    steps: int
    cycles: int
    synaptic_ops: int
    events_in: int
    data_toggles: int
    clock_toggles: int                  # clock-pin toggles of flip-flops (two per clocked cycle)
    data_pj: dict[str, float]
    clock_pj: dict[str, float]
    leakage_pj: float
    leakage_nw: float = 0.0             # leakage power at the tech's Vdd (for voltage scaling)
    data_toggles_by_unit: dict[str, int] = field(default_factory=dict)
    clock_toggles_by_unit: dict[str, int] = field(default_factory=dict)   # flop clock-pin toggles
    uncalibrated_dynamic_pj: float | None = None     # before the calibration, when one was applied
    calibration: str | None = None                   # its source
    minimum_energy: dict = field(default_factory=dict)

    @property
    def total_pj(self) -> float:
        return sum(self.data_pj.values()) + sum(self.clock_pj.values()) + self.leakage_pj

    @property
    def dynamic_pj(self) -> float:
        return sum(self.data_pj.values()) + sum(self.clock_pj.values())

    def to_dict(self) -> dict:
        return {
            "gating": self.gating, "steps": self.steps, "cycles": self.cycles,
            "events_in": self.events_in, "synaptic_ops": self.synaptic_ops,
            "data_toggles": self.data_toggles, "clock_toggles": self.clock_toggles,
            "data_toggles_by_unit": self.data_toggles_by_unit,
            "clock_toggles_by_unit": self.clock_toggles_by_unit,
            "energy_pj": self.total_pj,
            "energy_per_step_pj": self.total_pj / self.steps if self.steps else None,
            "energy_per_synaptic_op_pj": self.total_pj / self.synaptic_ops if self.synaptic_ops else None,
            "breakdown_pj": {**{f"data.{k}": v for k, v in self.data_pj.items()},
                             **{f"clock.{k}": v for k, v in self.clock_pj.items()},
                             "leakage": self.leakage_pj},
            "minimum_energy_point": self.minimum_energy,
            "calibration": self.calibration,
            "uncalibrated_energy_per_step_pj": (
                (self.uncalibrated_dynamic_pj + self.leakage_pj) / self.steps
                if self.steps and self.uncalibrated_dynamic_pj is not None else None),
        }

    def voltage_sweep(self, vdd_values, voltage: VoltageModel, *, delay_weight: float = 0.0) -> list[dict]:
        """Energy per time step and its delay at each supply of ``vdd_values`` (V).

        Dynamic energy scales with V^2, the step's duration with the gate delay and leakage
        with the EKV model (:class:`~subtile.sim.voltage.VoltageModel`). Each row also has the
        energy-delay product (pJ*s), the energy-delay sum ``E + delay_weight * D`` (pJ, with
        ``delay_weight`` in pJ/s) and the energy-delay distance normalised to the nominal supply.
        """
        if not self.steps:
            raise ValueError("voltage_sweep: the run has no time step")
        cycles = self.cycles / self.steps
        sweep = voltage.sweep(vdd_values, self.dynamic_pj / self.steps, self.leakage_nw, cycles)
        nominal = voltage.energy_per_operation(voltage.vdd_nominal, self.dynamic_pj / self.steps,
                                               self.leakage_nw, cycles)
        edp = energy_delay_product(sweep.total_pj, sweep.delay_s)
        eds = energy_delay_sum(sweep.total_pj, sweep.delay_s, delay_weight)
        edd = energy_delay_distance(sweep.total_pj, sweep.delay_s, nominal.total_pj, nominal.delay_s)
        return [{"vdd": float(v), "energy_per_step_pj": float(e), "dynamic_pj": float(d),
                 "leakage_pj": float(lk), "step_time_s": float(t), "max_frequency_hz": float(f),
                 "edp_pj_s": float(p), "eds_pj": float(es), "edd": float(dd)}
                for v, e, d, lk, t, f, p, es, dd in zip(
                    sweep.vdd, sweep.total_pj, sweep.dynamic_pj, sweep.leakage_pj, sweep.delay_s,
                    sweep.frequency_hz, np.atleast_1d(edp), np.atleast_1d(eds), np.atleast_1d(edd))]


def estimate(config: TileConfig, run, tech: TechModel, *, voltage: VoltageModel | None = None,
             calibration: Calibration | None = None) -> EnergyReport:
    """Energy of ``run`` (a TileRun of ``config`` with toggle counters) at the tech's Vdd, and
    the minimum-energy point of the voltage model for one time step. With ``calibration``, each
    group of terms is scaled by its gate-level factor (the uncalibrated total is kept too)."""
    budget = RegisterBudget(config)
    missing = [u for u in PROBE_UNITS if u not in run.toggles] + [u for u in GATED_UNITS if u not in run.pulses]
    if missing:
        raise ValueError(f"run: no toggle counters for {', '.join(missing)} (run it through TileBench)")
    cycles = run.cycles
    data_pj = {unit: run.toggles[unit] * (tech.register_bit_toggle_energy_pj()
                                          if unit in TileProbes.register_units else tech.net_toggle_energy_pj())
               for unit in PROBE_UNITS}

    clock_cycle = tech.flop_clock_cycle_energy_pj()
    clock_pj = {"root": cycles * budget.root_flops * clock_cycle}
    clocked = {"root": cycles * budget.root_flops}           # flop-cycles per clock unit
    gates = budget.gates
    for unit, (count, flops) in budget.gated.items():
        if count == 0:                  # a unit this configuration does not have
            clock_pj[unit] = 0.0
            clocked[unit] = 0
        elif config.gating == "icg":
            enabled = run.pulses[unit]
            # A gate's clock pin sees the cycles its parent passes (the root clock: every cycle).
            parent = budget.parent[unit]
            fed = cycles if parent is None else run.pulses[parent]
            clock_pj[unit] = (enabled * flops * clock_cycle
                              + enabled * tech.icg_enabled_cycle_energy_pj()
                              + (fed * count - enabled) * tech.icg_disabled_cycle_energy_pj())
            clocked[unit] = enabled * flops
        else:
            clock_pj[unit] = cycles * count * flops * clock_cycle
            clocked[unit] = cycles * count * flops

    uncalibrated = None
    if calibration is not None:
        uncalibrated = sum(data_pj.values()) + sum(clock_pj.values())
        factors = calibration.term_factors()
        data_pj = {unit: pj * factors.get(f"data.{unit}", 1.0) for unit, pj in data_pj.items()}
        clock_pj = {unit: pj * factors.get(f"clock.{unit}", 1.0) for unit, pj in clock_pj.items()}

    voltage = voltage or VoltageModel(vdd_nominal=tech.vdd)
    flops = budget.root_flops + budget.gated_flops
    icgs = gates if config.gating == "icg" else 0
    logic_cells = LOGIC_CELLS_PER_FLOP * flops
    leakage_nw = tech.leakage_power_nw(flops=flops, icgs=icgs, logic_cells=logic_cells)
    cycle_time = float(voltage.cycle_time_s(voltage.vdd_nominal))
    leakage_pj = tech.leakage_energy_pj(cycle_time, cycles=cycles, flops=flops, icgs=icgs,
                                        logic_cells=logic_cells)

    report = EnergyReport(
        gating=config.gating, steps=run.steps, cycles=cycles, synaptic_ops=run.synaptic_ops,
        events_in=run.events_in, data_toggles=sum(run.toggles.values()),
        clock_toggles=2 * sum(clocked.values()), data_pj=data_pj, clock_pj=clock_pj, leakage_pj=leakage_pj,
        leakage_nw=leakage_nw, data_toggles_by_unit=dict(run.toggles),
        clock_toggles_by_unit={unit: 2 * count for unit, count in clocked.items()},
        uncalibrated_dynamic_pj=uncalibrated, calibration=calibration.source if calibration else None)
    if run.steps:
        best = voltage.minimum_energy_point(report.dynamic_pj / run.steps, leakage_nw, cycles / run.steps)
        report.minimum_energy = {"vdd": best.vdd, "energy_per_step_pj": best.total_pj,
                                 "dynamic_pj": best.dynamic_pj, "leakage_pj": best.leakage_pj,
                                 "step_time_s": best.delay_s, "frequency_hz": best.frequency_hz,
                                 "at_bound": best.at_bound}
    return report
