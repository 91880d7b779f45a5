"""What counting toggles costs: the same seeded run of a tile in four capture modes.

    python bench/toggle_overhead.py [--config tile.toml] [--steps 2000] [--activity 0.3]
                                    [--repeats 3] [--json out.json]

Modes (one Verilator build each, cocotb flow, no state readback):

plain     the tile harness without toggle counters (``TileBench(count_toggles=False)``)
fast      the in-simulation counters (the default, ``TileRun.toggles``)
coverage  fast + Verilator ``--coverage-toggle`` of every net (``coverage.dat``)
saif      fast + ``--trace-saif`` of every net (a SAIF file)

The modes run interleaved, ``--repeats`` times each (the machine may be shared); the median
is reported. ``program s`` is the time from start to the end of the program inside the
simulator (``TileRun.run_seconds``), ``wall s`` the whole simulator run (start-up, and writing
the coverage or SAIF file, included). Ratios are times relative to plain (lower is better;
the goal for ``fast`` is at most 1.5): of the medians, and the median of the ratios within each
round (steadier when other work shares the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from subtile.spec.config import TileConfig, load_config
from subtile.golden.tile import random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase, encode_stimulus

MODES = {
    "plain": {"count_toggles": False},
    "fast": {},
    "coverage": {"coverage": True},
    "saif": {"saif": True},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="tile TOML (default: the default tile)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--activity", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES))
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else TileConfig()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    for mode in modes:
        if mode not in MODES:
            print(f"--modes: {mode!r} is not one of {', '.join(MODES)}", file=sys.stderr)
            return 2

    stimulus = [StepStimulus(np.asarray(events))
                for events in random_stimulus(config, args.steps, args.activity, args.seed)]
    words = len(encode_stimulus(config, stimulus))
    depth = 1 << max(words - 1, 1).bit_length()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="toggle_overhead_"))
    case = TileCase(stimulus, seed=args.seed, read_state=False)

    benches = {}
    for mode in modes:
        bench = TileBench([config], name=f"overhead_{mode}", stimulus_depth=depth, response_depth=depth,
                          **MODES[mode])
        built = bench.build(work / mode)
        print(f"build {mode}: {'reused' if built.cached else 'built'} in {built.seconds:.1f} s", flush=True)
        benches[mode] = bench

    samples = {mode: [] for mode in modes}
    reference = None
    for repeat in range(args.repeats):
        for mode in modes:          # interleaved: load changes hit every mode alike
            run = benches[mode].run({0: case}, work_dir=work / mode)[0]
            if not run.passed:
                print(f"{mode}: mismatch with the golden model: {run.mismatch}", file=sys.stderr)
                return 1
            if run.toggles:
                reference = reference or run.toggles
                if run.toggles != reference:
                    print(f"{mode}: toggle counts differ from the other modes", file=sys.stderr)
                    return 1
            samples[mode].append({"cycles": run.cycles, "program_s": run.run_seconds, "wall_s": run.seconds})
            print(f"  repeat {repeat + 1} {mode}: {run.cycles / run.run_seconds:,.0f} cycles/s "
                  f"({run.run_seconds:.2f} s program, {run.seconds:.2f} s wall)", flush=True)

    rows = {}
    for mode in modes:
        program = statistics.median(s["program_s"] for s in samples[mode])
        wall = statistics.median(s["wall_s"] for s in samples[mode])
        cycles = samples[mode][0]["cycles"]
        rows[mode] = {"cycles": cycles, "program_s": round(program, 4), "wall_s": round(wall, 4),
                      "cycles_per_s": round(cycles / program), "samples": samples[mode]}
    base = rows.get("plain")
    if base:
        # The ratio within each round (the modes ran back to back, under the same load), then
        # the median over rounds: steadier than the ratio of medians on a shared machine.
        for mode, row in rows.items():
            row["ratio_per_round"] = round(statistics.median(
                s["program_s"] / p["program_s"] for s, p in zip(samples[mode], samples["plain"])), 3)
    print(f"\n{config.name}: {args.steps} steps, activity {args.activity}, seed {args.seed}, "
          f"median of {args.repeats}")
    print(f"{'mode':<10}{'cycles/s':>12}{'program s':>11}{'wall s':>9}{'x plain':>9}"
          f"{'x plain, per round':>20}{'x plain wall':>14}")
    for mode, row in rows.items():
        if base:
            row["ratio"] = round(row["program_s"] / base["program_s"], 3)
            row["ratio_wall"] = round(row["wall_s"] / base["wall_s"], 3)
        print(f"{mode:<10}{row['cycles_per_s']:>12,}{row['program_s']:>11.2f}{row['wall_s']:>9.2f}"
              f"{row.get('ratio', float('nan')):>9.2f}{row.get('ratio_per_round', float('nan')):>20.2f}"
              f"{row.get('ratio_wall', float('nan')):>14.2f}")
    if args.json:
        args.json.write_text(json.dumps({"config": config.to_dict(), "steps": args.steps,
                                         "activity": args.activity, "seed": args.seed,
                                         "repeats": args.repeats, "modes": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
