"""Switching-energy estimate of a tile or mesh run from toggles counted inside the simulation.

Inputs: the toggle and clock-pulse counters of a :class:`subtile.sim.tile_bench.TileRun` (see
:class:`subtile.hdl.tile.TileProbes`) or of a :class:`subtile.sim.mesh_bench.MeshRun` (every tile,
router and network interface), the flip-flop budgets (:class:`subtile.hdl.tile.RegisterBudget`,
:func:`subtile.hdl.mesh.network_flops`) and a :class:`subtile.power.tech_model.TechModel`. A design is
a list of :class:`Block` s (one for a tile; tiles, routers and interfaces for a mesh), all
accounted the same way. What is modelled and what is not, with every constant's source:
docs/energy-model.md.

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

from subtile.spec.config import MeshConfig, TileConfig
from subtile.errors import ConfigError
from subtile.hdl.tile import GATED_UNITS, PROBE_UNITS, RegisterBudget
from subtile.power.tech_model import TechModel
from subtile.power.voltage import VoltageModel, energy_delay_distance, energy_delay_product, energy_delay_sum

__all__ = ["EnergyReport", "Calibration", "Block", "estimate", "estimate_blocks", "tile_block", "mesh_blocks", "GATE_LEVEL_GROUPS", "DEFAULT_CALIBRATION",
           "ROUTER_GATE_LEVEL_GROUPS", "DEFAULT_ROUTER_CALIBRATION", "LOGIC_CELLS_PER_FLOP"]

#: Assumed combinational cells per flip-flop for the leakage estimate (an estimate, reported as
#: such; a datapath-heavy block synthesized to sky130 typically has a few cells per flop).
LOGIC_CELLS_PER_FLOP = 4


#: The gate-level group of each counted unit of the tile (:data:`~subtile.hdl.tile.PROBE_UNITS`,
#: every one in exactly one group), in the groups' order, and the gate-level units (netlist cell
#: prefixes, power/gate_level.py) each group is compared with. The logic inside a unit
#: (multipliers, activation functions, muxes) has no RTL counterpart but the unit-boundary nets
#: it drives, so it goes with the group of the nets it feeds.
_DATA_GROUPS = {
    "synapse": (("synapse",), ("synapse",)),
    "accumulators + MAC": (("accumulators", "mac"), ("accumulators", "tile_logic")),
    "neuron_state": (("neuron_state",), ("neuron_state",)),
    "neuron_update (lanes)": (("neuron_update", "branch_activation", "soma_activation", "encoder"),
                              ("neuron_update",)),
    "output, inputs, enables": (("output",), ("inputs", "clock_gates")),
}
if sorted(u for units, _gate in _DATA_GROUPS.values() for u in units) != sorted(PROBE_UNITS):
    raise AssertionError("power.energy._DATA_GROUPS must hold every unit of hdl.tile.PROBE_UNITS exactly once")

#: Groups of RTL energy terms as the gate-level cross-check compares them (power/gate_level.py):
#: (label, RTL terms ``data.<unit>``/``clock.<unit>``, gate-level units): the data groups, then
#: one per clock unit of the tile (the root and each gated unit of
#: :class:`~subtile.hdl.tile.RegisterBudget`). A calibration scales each group's RTL terms by
#: gate-level over RTL energy.
GATE_LEVEL_GROUPS = (
    *((label, tuple(f"data.{unit}" for unit in units), gate) for label, (units, gate) in _DATA_GROUPS.items()),
    *((f"clock.{unit}", (f"clock.{unit}",), (f"clock.{unit}",)) for unit in ("root", *GATED_UNITS)),
)


#: The calibration shipped with subtile: sky130 HD tt 1.8 V, from the gate-level cross-check
#: of the default tile (see the file's ``source``).
DEFAULT_CALIBRATION = Path(__file__).with_name("calibration") / "sky130_fd_sc_hd_tt.json"

#: Groups of a router's RTL terms as its gate-level calibration compares them
#: (power/router_gate_level.py): the data units of :data:`~subtile.hdl.router.ROUTER_UNITS`
#: (the logic in front of a unit's registers or nets goes with it; the gate enables with the
#: control that computes them; the nets the router's input ports drive with the links), the
#: arbiters with the crossbar and links (the RTL counts an arbiter only by its last-grant
#: register, which hardly toggles under steady traffic, while its request and grant logic works
#: for every packet, as the links do), then one per clock unit (the root and each of
#: :data:`~subtile.hdl.router.ROUTER_GATES`).
ROUTER_GATE_LEVEL_GROUPS = (
    ("fifo storage", ("data.fifo",), ("fifo",)),
    ("fifo control", ("data.fifo_control",), ("fifo_control",)),
    ("arbiter + crossbar, links", ("data.arbiter", "data.links"), ("arbiter", "links", "inputs")),
    ("counters", ("data.counters",), ("counters",)),
    *((f"clock.{unit}", (f"clock.{unit}",), (f"clock.{unit}",))
      for unit in ("root", "router", "fifo", "fifo_head", "fifo_word", "arbiter", "packets_high", "stalls",
                   "stalls_high")),
)

#: The router calibration shipped with subtile (sky130 HD tt 1.8 V, one router of
#: examples/mesh.toml; see the file's ``source``), applied to every router of a calibrated mesh
#: estimate.
DEFAULT_ROUTER_CALIBRATION = Path(__file__).with_name("calibration") / "sky130_fd_sc_hd_tt_router.json"


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
    router_factors: dict = field(default_factory=dict)
    router_source: str = ""

    @classmethod
    def load(cls, path=None) -> "Calibration":
        """Read a calibration JSON (``{"factors": {...}, "source": ...}``, optionally with
        ``router_factors``; default: the shipped one, with the shipped router calibration
        :data:`DEFAULT_ROUTER_CALIBRATION` when it exists)."""
        default = not path
        path = Path(path) if path else DEFAULT_CALIBRATION
        factors, source, data = cls._factors(path, "factors", GATE_LEVEL_GROUPS)
        router, router_source = {}, ""
        if "router_factors" in data:
            router, _source, _data = cls._factors(path, "router_factors", ROUTER_GATE_LEVEL_GROUPS)
            router_source = source
        elif default and DEFAULT_ROUTER_CALIBRATION.exists():
            router, router_source, _data = cls._factors(DEFAULT_ROUTER_CALIBRATION, "factors", ROUTER_GATE_LEVEL_GROUPS)
        return cls(factors, source, router, router_source)

    @staticmethod
    def _factors(path: Path, key: str, groups) -> tuple[dict, str, dict]:
        try:
            data = json.loads(path.read_text())
            factors = {str(k): float(v) for k, v in data[key].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"calibration: {path} is not a calibration file ({error})") from None
        labels = {label for label, _rtl, _gate in groups}
        unknown = sorted(set(factors) - labels)
        if unknown or any(not 0 < f < 1e4 for f in factors.values()):
            raise ConfigError(f"calibration: {path}: {key} must be in (0, 1e4) for the groups "
                              f"{', '.join(sorted(labels))}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        return factors, str(data.get("source", path)), data

    @classmethod
    def for_liberty(cls, lib=None) -> "Calibration | None":
        """The shipped calibration when ``lib`` is the default Liberty (``None``), else ``None``
        (factors measured with one library do not carry to another)."""
        return cls.load() if lib is None and DEFAULT_CALIBRATION.exists() else None

    def term_factors(self) -> dict[str, float]:
        """Factor per RTL term (``data.<unit>``, ``clock.<unit>``)."""
        return {term: self.factors.get(label, 1.0) for label, terms, _gate in GATE_LEVEL_GROUPS for term in terms}

    def router_term_factors(self) -> dict[str, float]:
        """Factor per RTL term of a router; empty without a router calibration."""
        if not self.router_factors:
            return {}
        return {term: self.router_factors.get(label, 1.0) for label, terms, _gate in ROUTER_GATE_LEVEL_GROUPS
                for term in terms}


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
    # A mesh: per block (tile_<x>_<y>, router_<x>_<y>, interface_<x>_<y>) its kind, flops,
    # toggles, energy and per-unit data and clock energy; the blocks the calibration does not
    # cover; the packets the network carried (external input events and the tiles' packets).
    blocks: dict[str, dict] = field(default_factory=dict)
    uncalibrated_blocks: list[str] = field(default_factory=list)
    packets: int | None = None
    hops: int | None = None             # router traversals of those packets (each ends in a forward)

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
            **(self._mesh_dict() if self.blocks else {}),
        }

    def _mesh_dict(self) -> dict:
        """The per-block view of a mesh: each block, the sums per kind of block and per kind and
        unit (e.g. ``router.data.fifo``: every router's FIFO energy), and per packet."""
        by_kind, by_unit = {}, {}
        for part in self.blocks.values():
            by_kind[part["kind"]] = by_kind.get(part["kind"], 0.0) + part["energy_pj"]
            for group in ("data", "clock"):
                for unit, pj in part[f"{group}_pj"].items():
                    key = f"{part['kind']}.{group}.{unit}"
                    by_unit[key] = by_unit.get(key, 0.0) + pj
            by_unit[f"{part['kind']}.leakage"] = by_unit.get(f"{part['kind']}.leakage", 0.0) + part["leakage_pj"]
        network = by_kind.get("router", 0.0) + by_kind.get("interface", 0.0)
        leakage = {kind: by_unit.get(f"{kind}.leakage", 0.0) for kind in ("tile", "router", "interface")}
        return {"blocks": self.blocks, "energy_by_kind_pj": by_kind, "breakdown_by_unit_pj": by_unit,
                "packets": self.packets, "hops": self.hops,
                "network_energy_per_packet_pj": network / self.packets if self.packets else None,
                "network_energy_per_hop_pj": network / self.hops if self.hops else None,
                "minimum_energy_network_per_hop_pj": (
                    self._at_minimum(network, leakage["router"] + leakage["interface"]) / self.hops
                    if self.hops and self.minimum_energy else None),
                "minimum_energy_tiles_per_synaptic_op_pj": (
                    self._at_minimum(by_kind.get("tile", 0.0), leakage["tile"]) / self.synaptic_ops
                    if self.synaptic_ops and self.minimum_energy else None),
                "uncalibrated_blocks": self.uncalibrated_blocks}

    def _at_minimum(self, energy_pj: float, leakage_pj: float) -> float:
        """A part's energy (``energy_pj``, of which ``leakage_pj`` leakage, at the tech's Vdd)
        at the minimum-energy point: its dynamic and leakage parts scaled as the whole run's."""
        point, steps = self.minimum_energy, self.steps
        dynamic_scale = point["dynamic_pj"] * steps / self.dynamic_pj if self.dynamic_pj else 0.0
        leakage_scale = point["leakage_pj"] * steps / self.leakage_pj if self.leakage_pj else 0.0
        return (energy_pj - leakage_pj) * dynamic_scale + leakage_pj * leakage_scale

    def voltage_sweep(self, vdd_values, voltage: VoltageModel, *, delay_weight: float = 0.0) -> list[dict]:
        """Energy per time step and its delay at each supply of ``vdd_values`` (V).

        Dynamic energy scales with V^2, the step's duration with the gate delay and leakage
        with the EKV model (:class:`~subtile.power.voltage.VoltageModel`). Each row also has the
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


@dataclass
class Block:
    """One accounting block of a design: counted toggles per unit and its clock tree.

    A tile is one block (units of :data:`~subtile.hdl.tile.PROBE_UNITS`, clock tree of
    :class:`~subtile.hdl.tile.RegisterBudget`); in a mesh each tile, each router and each tile's
    network interface is one. The same accounting (:meth:`energy`) serves them all.

    Members
    -------
    name, kind : str
        E.g. ``tile_0_1``, ``tile``; ``router_1_0``, ``router``.
    toggles : dict of str to int
        Bit flips per unit over the run.
    register_units : tuple of str
        Units whose toggles are register bits (the others are nets).
    clocks : dict of str to (int or None, int)
        Per clock unit: number of clock gates (None: flops on the root clock, clocked every
        cycle; 0: a unit this configuration does not have) and flops behind each gate (all of
        them for the root).
    parent : dict of str to str or None
        Per gated clock unit, the unit whose gated clock feeds its gates (None: the root clock);
        a parent of k gates feeds ``gates / k`` of them each.
    pulses : dict of str to int
        Enabled cycles per gated clock unit (summed over its gates), counted in the simulation.
    gating : str
        ``icg``, ``enable`` or ``none`` (how gated units are clocked).
    factors : dict of str to float
        Calibration factor per term (``data.<unit>``, ``clock.<unit>``); empty: uncalibrated.
    """

    name: str
    kind: str
    toggles: dict
    register_units: tuple
    clocks: dict
    parent: dict = field(default_factory=dict)
    pulses: dict = field(default_factory=dict)
    gating: str = "none"
    factors: dict = field(default_factory=dict)

    @property
    def flops(self) -> int:
        return sum((1 if gates is None else gates) * flops for gates, flops in self.clocks.values())

    @property
    def icgs(self) -> int:
        return sum(gates or 0 for gates, _flops in self.clocks.values()) if self.gating == "icg" else 0

    def energy(self, cycles: int, tech: TechModel) -> dict:
        """``data_pj`` and ``clock_pj`` per unit (calibrated when ``factors`` are given),
        ``clocked`` flop-cycles per clock unit and the ``uncalibrated`` dynamic sum."""
        data_pj = {unit: count * (tech.register_bit_toggle_energy_pj() if unit in self.register_units
                                  else tech.net_toggle_energy_pj())
                   for unit, count in self.toggles.items()}
        clock_cycle = tech.flop_clock_cycle_energy_pj()
        clock_pj, clocked = {}, {}
        for unit, (gates, flops) in self.clocks.items():
            if gates == 0:                  # a unit this configuration does not have
                clock_pj[unit], clocked[unit] = 0.0, 0
            elif gates is not None and self.gating == "icg":
                enabled = self.pulses[unit]
                # A gate's clock pin sees the cycles its parent passes (the root clock: every
                # cycle). A parent unit of several gates feeds as many of the unit's gates each.
                parent = self.parent.get(unit)
                fed = cycles * gates if parent is None else self.pulses[parent] * gates / self.clocks[parent][0]
                clock_pj[unit] = (enabled * flops * clock_cycle
                                  + enabled * tech.icg_enabled_cycle_energy_pj()
                                  + (fed - enabled) * tech.icg_disabled_cycle_energy_pj())
                clocked[unit] = enabled * flops
            else:
                clocked[unit] = cycles * (1 if gates is None else gates) * flops
                clock_pj[unit] = clocked[unit] * clock_cycle
        uncalibrated = sum(data_pj.values()) + sum(clock_pj.values())
        if self.factors:
            data_pj = {unit: pj * self.factors.get(f"data.{unit}", 1.0) for unit, pj in data_pj.items()}
            clock_pj = {unit: pj * self.factors.get(f"clock.{unit}", 1.0) for unit, pj in clock_pj.items()}
        return {"data_pj": data_pj, "clock_pj": clock_pj, "clocked": clocked, "uncalibrated": uncalibrated}


def tile_block(config: TileConfig, toggles: dict, pulses: dict, *, name: str = "tile",
               calibration: Calibration | None = None) -> Block:
    """The :class:`Block` of a tile from its counters (``TileRun.toggles``, ``TileRun.pulses``)."""
    missing = [u for u in PROBE_UNITS if u not in toggles] + [u for u in GATED_UNITS if u not in pulses]
    if missing:
        raise ValueError(f"run: no toggle counters for {', '.join(missing)} of {name} "
                         "(run it through TileBench or MeshBench with count_toggles)")
    budget = RegisterBudget(config)
    return Block(name=name, kind="tile", toggles={unit: toggles[unit] for unit in PROBE_UNITS},
                 register_units=budget.register_units,
                 clocks={"root": (None, budget.root_flops), **budget.gated},
                 parent=dict(budget.parent), pulses={unit: pulses[unit] for unit in GATED_UNITS},
                 gating=config.gating, factors=calibration.term_factors() if calibration else {})


def mesh_blocks(config: MeshConfig, run, *, calibration: Calibration | None = None) -> list[Block]:
    """The blocks of a mesh run (a MeshRun with toggle counters): per tile position its tile
    (with the tile calibration), its router (with the calibration's router factors, when it has
    them: power/router_gate_level.py) and its network interface (their gate trees from
    :func:`subtile.hdl.mesh.network_clocks`, in the network's gating mode; the interfaces have no
    gate-level calibration: docs/energy-model.md, "Mesh")."""
    from subtile.hdl.mesh import INTERFACE_GATES, INTERFACE_UNITS, InterfaceProbes, network_clocks
    from subtile.hdl.router import ROUTER_GATES, ROUTER_UNITS, RouterProbes
    trees = network_clocks(config)
    blocks = []
    for i in range(config.count):
        x, y = config.position(i)
        blocks.append(tile_block(config.tile_config(i), run.toggles.get(f"tile_{x}_{y}", {}),
                                 run.pulses.get(f"tile_{x}_{y}", {}), name=f"tile_{x}_{y}", calibration=calibration))
        for kind, units, gates, registers in (
                ("router", ROUTER_UNITS, ROUTER_GATES, RouterProbes.register_units),
                ("interface", INTERFACE_UNITS, INTERFACE_GATES, InterfaceProbes.register_units)):
            name = f"{kind}_{x}_{y}"
            counted, pulses = run.toggles.get(name, {}), run.pulses.get(name, {})
            if any(unit not in counted for unit in units) or any(unit not in pulses for unit in gates):
                raise ValueError(f"run: no toggle counters for {name} (run it through MeshBench with count_toggles)")
            tree = trees[kind][i]
            factors = calibration.router_term_factors() if calibration is not None and kind == "router" else {}
            blocks.append(Block(name=name, kind=kind, toggles={unit: counted[unit] for unit in units},
                                register_units=registers, clocks=tree["clocks"], parent=tree["parent"],
                                pulses={unit: pulses[unit] for unit in gates}, gating=config.network_gating,
                                factors=factors))
    return blocks


def estimate(config: TileConfig | MeshConfig, run, tech: TechModel, *, voltage: VoltageModel | None = None,
             calibration: Calibration | None = None) -> EnergyReport:
    """Energy of ``run`` (a TileRun of a tile ``config``, or a MeshRun of a mesh ``config``, with
    toggle counters) at the tech's Vdd, and the minimum-energy point of the voltage model for one
    time step. With ``calibration``, each group of a tile's terms is scaled by its gate-level
    factor (the uncalibrated total is kept too), a mesh's routers by the calibration's router
    factors when it has them; blocks without factors (the network interfaces) keep the
    structural estimate (listed in ``EnergyReport.uncalibrated_blocks``).
    A mesh's ``gating`` is its network's (``MeshConfig.network_gating``)."""
    if isinstance(config, MeshConfig):
        blocks = mesh_blocks(config, run, calibration=calibration)
        modes = {config.tile_config(i).gating for i in range(config.count)}
        gating = modes.pop() if len(modes) == 1 else "mixed"
    else:
        blocks = [tile_block(config, run.toggles, run.pulses, calibration=calibration)]
        gating = config.gating
    # Packets the network carried: the external input events and those the tiles sent; each
    # router a packet passes forwards it once (to a neighbour or its tile).
    packets = run.events_in + run.packets if isinstance(config, MeshConfig) else None
    routers = getattr(run, "routers", None) if isinstance(config, MeshConfig) else None
    hops = sum(sum(router.forwarded) for router in routers) if routers else None
    return estimate_blocks(blocks, run, tech, gating=gating, voltage=voltage, calibration=calibration,
                           prefix=isinstance(config, MeshConfig), packets=packets, hops=hops)


def estimate_blocks(blocks: list[Block], run, tech: TechModel, *, gating: str, voltage: VoltageModel | None = None,
                    calibration: Calibration | None = None, prefix: bool = True,
                    packets: int | None = None, hops: int | None = None) -> EnergyReport:
    """Energy of ``run`` (``steps``, ``cycles``, ``synaptic_ops``, ``events_in``) split into
    ``blocks``; the report's terms are named ``<block>.<unit>`` (or ``<unit>`` without
    ``prefix``, for a single block). ``packets``: those the network carried, for the energy
    per packet; ``hops``: their router traversals, for the energy per packet-hop."""
    cycles = run.cycles
    voltage = voltage or VoltageModel(vdd_nominal=tech.vdd)
    cycle_time = float(voltage.cycle_time_s(voltage.vdd_nominal))
    data_pj, clock_pj, data_toggles, clock_toggles, parts = {}, {}, {}, {}, {}
    uncalibrated = 0.0
    leakage_nw = leakage_pj = 0.0
    for block in blocks:
        name = (lambda unit, block=block: f"{block.name}.{unit}") if prefix else (lambda unit: unit)
        energy = block.energy(cycles, tech)
        logic_cells = LOGIC_CELLS_PER_FLOP * block.flops
        block_leakage_nw = tech.leakage_power_nw(flops=block.flops, icgs=block.icgs, logic_cells=logic_cells)
        block_leakage_pj = tech.leakage_energy_pj(cycle_time, cycles=cycles, flops=block.flops, icgs=block.icgs,
                                                  logic_cells=logic_cells)
        leakage_nw += block_leakage_nw
        leakage_pj += block_leakage_pj
        uncalibrated += energy["uncalibrated"]
        data_pj.update({name(u): v for u, v in energy["data_pj"].items()})
        clock_pj.update({name(u): v for u, v in energy["clock_pj"].items()})
        data_toggles.update({name(u): v for u, v in block.toggles.items()})
        clock_toggles.update({name(u): 2 * v for u, v in energy["clocked"].items()})
        dynamic = sum(energy["data_pj"].values()) + sum(energy["clock_pj"].values())
        parts[block.name] = {
            "kind": block.kind, "flops": block.flops, "clock_gates": block.icgs,
            "calibrated": bool(block.factors),
            "data_toggles": sum(block.toggles.values()),
            "clock_toggles": 2 * sum(energy["clocked"].values()),
            "energy_pj": dynamic + block_leakage_pj, "leakage_pj": block_leakage_pj,
            "data_pj": energy["data_pj"], "clock_pj": energy["clock_pj"]}
    report = EnergyReport(
        gating=gating, steps=run.steps, cycles=cycles, synaptic_ops=run.synaptic_ops,
        events_in=run.events_in, data_toggles=sum(data_toggles.values()),
        clock_toggles=sum(clock_toggles.values()), data_pj=data_pj, clock_pj=clock_pj, leakage_pj=leakage_pj,
        leakage_nw=leakage_nw, data_toggles_by_unit=data_toggles, clock_toggles_by_unit=clock_toggles,
        uncalibrated_dynamic_pj=uncalibrated if calibration is not None else None,
        calibration=calibration.source if calibration else None,
        blocks=parts if prefix else {},
        uncalibrated_blocks=[b.name for b in blocks if not b.factors] if calibration is not None and prefix else [],
        packets=packets, hops=hops)
    if run.steps:
        best = voltage.minimum_energy_point(report.dynamic_pj / run.steps, leakage_nw, cycles / run.steps)
        report.minimum_energy = {"vdd": best.vdd, "energy_per_step_pj": best.total_pj,
                                 "dynamic_pj": best.dynamic_pj, "leakage_pj": best.leakage_pj,
                                 "step_time_s": best.delay_s, "frequency_hz": best.frequency_hz,
                                 "at_bound": best.at_bound}
    return report
