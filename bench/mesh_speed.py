"""Simulation throughput of a mesh under the project's flow, and the hotspot soak figures.

    python bench/mesh_speed.py [--config examples/mesh.toml] [--steps 2000] [--activity 0.2]
                               [--hotspot 100000] [--no-toggles] [--json out.json]

Mesh: seeded random external input through the mesh harness (stimulus preloaded, Python
wakes once per run), scored bit-exact against golden.mesh.MeshModel. Printed rates are over
the program's run inside the simulator (``run``) and with the simulator's start-up (``total``);
"delivered" counts the events the routers hand to tiles (external inputs plus packets).
Also the golden model's own rate on the same stimulus. The mesh harness counts toggles of every
tile, router and interface (for ``subtile energy``); ``--no-toggles`` builds it without the
counters (the plain simulation).

Hotspot (with --hotspot N): every tile of 2x2, 3x3 and 4x4 router meshes injects in every
cycle towards one tile, at least N packets per mesh, checked in simulation; prints packets,
cycles, drain cycles and maximum FIFO occupancy.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from subtile.spec.config import load_config
from subtile.golden.mesh import MeshModel, random_mesh_stimulus
from subtile.sim.hotspot import HotspotBench, HotspotCase
from subtile.sim.mesh_bench import MeshBench, MeshCase


def mesh_speed(config, steps, activity, seed, work_dir, count_toggles=True):
    stimulus = random_mesh_stimulus(config, steps, activity, seed)
    bench = MeshBench([config], name=f"{config.name}_speed", stimulus_depth=1 << 17, response_depth=1 << 16,
                      count_toggles=count_toggles)
    run = bench.run({0: MeshCase(stimulus, seed=seed)}, work_dir=work_dir)[0]
    if not run.passed:
        raise SystemExit(f"FAIL: {run.mismatch}")
    start = time.perf_counter()
    MeshModel(config).run(stimulus)
    golden_seconds = time.perf_counter() - start
    delivered = run.events_in + run.packets
    return {"mesh": f"{config.width}x{config.height}", "steps": steps, "activity": activity,
            "toggle_counters": count_toggles,
            "cycles": run.cycles, "events_in": run.events_in, "packets": run.packets, "delivered": delivered,
            "tile_events_in": run.tile_events_in, "events_out": run.events_out,
            "run_seconds": round(run.run_seconds, 3), "total_seconds": round(run.seconds, 3),
            "run_cycles_per_second": round(run.cycles / run.run_seconds),
            "run_delivered_per_second": round(delivered / run.run_seconds),
            "total_cycles_per_second": round(run.cycles / run.seconds),
            "total_delivered_per_second": round(delivered / run.seconds),
            "golden_seconds": round(golden_seconds, 3),
            "golden_delivered_per_second": round(delivered / golden_seconds),
            "max_fifo_occupancy": max(max(r.max_level) for r in run.routers),
            "stall_cycles": sum(sum(r.stalls) for r in run.routers)}


def hotspot(packets, work_dir):
    shapes = [(2, 2), (3, 3), (4, 4)]
    bench = HotspotBench(shapes, fifo_depth=4, name="hotspot_bench")
    rows = []
    for stall in (0.0, 0.5):
        cases = {i: HotspotCase(-(-packets // (w * h)), (w // 2, h // 2), stall=stall, seed=i + 1)
                 for i, (w, h) in enumerate(shapes)}
        for result in bench.run(cases, work_dir=work_dir / f"hotspot-{stall}").values():
            row = result.to_dict()
            row["stall"] = stall
            rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(Path(__file__).parent.parent / "examples" / "mesh.toml"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--activity", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hotspot", type=int, default=0, help="packets per mesh for the hotspot soak (0: skip)")
    parser.add_argument("--no-toggles", action="store_true", help="build the mesh harness without toggle counters")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="subtile-mesh-speed-"))
    report = {"mesh": mesh_speed(load_config(args.config), args.steps, args.activity, args.seed, work_dir / "mesh",
                                 count_toggles=not args.no_toggles)}
    m = report["mesh"]
    print(f"mesh {m['mesh']}: {m['steps']} steps, {m['cycles']} cycles, {m['events_in']} external events, "
          f"{m['packets']} packets, {m['delivered']} delivered, bit-exact")
    print(f"  run:    {m['run_cycles_per_second']} cycles/s, {m['run_delivered_per_second']} delivered events/s "
          f"({m['run_seconds']} s)")
    print(f"  total:  {m['total_cycles_per_second']} cycles/s, {m['total_delivered_per_second']} delivered events/s "
          f"({m['total_seconds']} s, simulator start-up included)")
    print(f"  golden: {m['golden_delivered_per_second']} delivered events/s ({m['golden_seconds']} s)")
    print(f"  max FIFO occupancy {m['max_fifo_occupancy']}, {m['stall_cycles']} stall cycles")
    if args.hotspot:
        report["hotspot"] = hotspot(args.hotspot, work_dir)
        print("hotspot  stall  packets  received  lost/dup/reordered  stray  cycles  drain  capacity  max FIFO")
        for r in report["hotspot"]:
            print(f"{r['mesh']:>7}  {r['stall']:5.1f}  {r['packets']:7d}  {r['received']:8d}  {r['errors']:18d}  "
                  f"{r['stray']:5d}  {r['cycles']:6d}  {r['drain_cycles']:5d}  {r['buffer_capacity']:8d}  "
                  f"{r['max_fifo_occupancy']:8d}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
