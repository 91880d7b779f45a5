"""Cycles/s of the cocotb kit (Python per event) next to the fast harness, on the same run.

    python bench/kit_speed.py [--config examples/tile4.toml] [--steps 200] [--activity 0.3]
                              [--simulators verilator,icarus] [--json out.json]

The same seeded stimulus (``golden.tile.random_stimulus``) goes through
(a) the fast harness (``sim/tile_bench.py``: stimulus streamed from a file, Python wakes once
    per run), and
(b) the kit (``subtile.kit.TileDriver``: one Python call per input event, per output event and
    per step), with the golden scoreboard checking outputs and state after every step, and
    without any checking;
on each simulator. Both flows run without idle cycles or backpressure. Rates are over the run
inside the simulator (start-up and build excluded); each flow counts its own cycles (reset
excluded), which differ slightly (the kit's tick handshake). Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.gen.export import export_tile
from subtile.golden.tile import random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.spec.config import TileConfig, load_config
from subtile.toolchain import runner

HERE = Path(__file__).resolve().parent


def _fail(message: str) -> int:
    print(f"kit_speed: error: {message}", file=sys.stderr)
    return 2


def harness_rate(config, stimulus, simulator, work: Path) -> dict:
    words = sum(len(s) for s in stimulus) + len(stimulus) + 1
    depth = 1 << max(14, words.bit_length(), (config.neurons * len(stimulus)).bit_length())
    bench = TileBench([config], name=f"{config.name}_speed", simulator=simulator, count_toggles=False,
                      stimulus_depth=depth, response_depth=depth)
    run = bench.run({0: TileCase([StepStimulus(e) for e in stimulus], read_state=False)}, work_dir=work)[0]
    if not run.passed:
        raise AssertionError(f"fast harness on {simulator}: {run.mismatch}")
    return {"cycles": run.cycles, "seconds": run.run_seconds, "events_out": run.events_out}


def kit_rate(export: Path, stimulus_file: Path, simulator, work: Path, *, scoreboard: bool) -> dict:
    manifest = json.loads((export / "manifest.json").read_text())
    build = runner.build([export / name for name in manifest["verilog"]], manifest["top"], simulator=simulator)
    plan, out = work / "plan.json", work / "kit.json"
    work.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"stimulus": str(stimulus_file), "scoreboard": scoreboard, "check_state": scoreboard}))
    run = runner.run(build, "kit_speed_tb", test_dir=work, seed=1,
                     extra_env={"SUBTILE_MANIFEST": str(export / "manifest.json"), "PYTHONPATH": str(HERE),
                                "KIT_SPEED_PLAN": str(plan), "KIT_SPEED_OUT": str(out)})
    run.raise_for_failures()
    return json.loads(out.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE.parent / "examples/tile4.toml"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--activity", type=float, default=0.3)
    parser.add_argument("--simulators", default="verilator,icarus")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    simulators = args.simulators.split(",")
    if any(s not in runner.SIMULATORS for s in simulators):
        return _fail(f"simulators: {args.simulators!r}: each must be one of {', '.join(runner.SIMULATORS)}")
    if not 1 <= args.steps <= 100_000:
        return _fail(f"steps: {args.steps} is outside 1..100000")
    if not 0.0 < args.activity <= 1.0:
        return _fail(f"activity: {args.activity} is outside (0, 1]")
    try:
        config = load_config(args.config)
    except ConfigError as error:
        return _fail(str(error))
    if not isinstance(config, TileConfig):
        return _fail(f"config: {args.config} is a mesh; this bench runs one tile")
    stimulus = random_stimulus(config, args.steps, args.activity, 1)
    events_in = sum(len(s) for s in stimulus)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kit_speed_") as tmp:
        tmp = Path(tmp)
        export = tmp / "export"
        export_tile(config, export)
        stimulus_file = tmp / "stimulus.npz"
        steps = np.empty(len(stimulus), dtype=object)
        steps[:] = [np.asarray(s, dtype=np.int64).reshape(-1, 2) for s in stimulus]
        np.savez(stimulus_file, steps=steps)
        for simulator in simulators:
            for flow, measure in (("fast harness, whole run per Python wake-up",
                                   lambda: harness_rate(config, stimulus, simulator, tmp / f"h_{simulator}")),
                                  ("kit + golden scoreboard (outputs and state every step)",
                                   lambda: kit_rate(export, stimulus_file, simulator, tmp / f"k_{simulator}", scoreboard=True)),
                                  ("kit, no checking", lambda: kit_rate(export, stimulus_file, simulator,
                                                                       tmp / f"n_{simulator}", scoreboard=False))):
                print(f"[kit_speed] {simulator}: {flow} ...", file=sys.stderr, flush=True)
                result = measure()
                rows.append({"simulator": simulator, "flow": flow, **{k: result[k] for k in ("cycles", "seconds", "events_out")},
                             "cycles_per_second": round(result["cycles"] / result["seconds"]),
                             "events_per_second": round(events_in / result["seconds"])})
    print(f"{config.name}: {config.neurons} neurons, {args.steps} steps, activity {args.activity}: "
          f"{events_in} input events, {rows[0]['events_out']} output events")
    print("| simulator | flow | cycles | seconds | cycles/s | input events/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['simulator']} | {row['flow']} | {row['cycles']:,} | {row['seconds']:.2f} | "
              f"{row['cycles_per_second']:,} | {row['events_per_second']:,} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": config.name, "steps": args.steps, "events_in": events_in,
                                               "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
