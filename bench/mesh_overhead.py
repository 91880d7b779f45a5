"""What a mesh run costs in Python around the simulator, without building or simulating.

    python bench/mesh_overhead.py [--size 8x8] [--steps 50] [--activity 0.1] [--seed 1] [--json out.json]

The mesh is the example mesh (examples/mesh.toml, 8-neuron tiles) at W x H, made as
bench/scale.py makes it. Timed, each once, in this process: the random stimulus
(``golden.mesh.random_mesh_stimulus``), its encoding into the harness program
(``sim.mesh_bench.encode_mesh_stimulus``), the golden mesh model over it (``MeshBench.expect``,
which ``MeshBench.run`` overlaps with the simulator) and the energy estimate of ``subtile sim``
(``cli.sim.energy_estimate``: the clock trees of every tile, router and interface). The energy
estimate runs on placeholder counters (every toggle and pulse count 1): its cost depends on the
design, not on the counts. CPU time is printed next to wall time, since the machine may be
shared. Progress on stderr; the table, then the JSON (also written to ``--json``), on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

from benchlib import check_paths, emit_json, json_option
from scale import mesh_config, parse_sizes     # the same mesh as bench/scale.py


def timed(label: str, figures: dict, call):
    print(f"mesh_overhead.py: {label}...", file=sys.stderr, flush=True)
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    figures[label] = {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}
    return result


def placeholder_run(config, steps: int):
    """A MeshRun stand-in with every counter the energy estimate reads set to 1."""
    from subtile.hdl.mesh import INTERFACE_GATES, INTERFACE_UNITS
    from subtile.hdl.router import ROUTER_GATES, ROUTER_UNITS
    from subtile.hdl.tile import GATED_UNITS, PROBE_UNITS
    from subtile.sim.mesh_bench import RouterCounters
    toggles, pulses = {}, {}
    for i in range(config.count):
        x, y = config.position(i)
        for kind, units, gates in (("tile", PROBE_UNITS, GATED_UNITS), ("router", ROUTER_UNITS, ROUTER_GATES),
                                   ("interface", INTERFACE_UNITS, INTERFACE_GATES)):
            toggles[f"{kind}_{x}_{y}"] = dict.fromkeys(units, 1)
            pulses[f"{kind}_{x}_{y}"] = dict.fromkeys(gates, 1)
    routers = [RouterCounters(*config.position(i), [1] * 5, [1] * 5, [1] * 5) for i in range(config.count)]
    return SimpleNamespace(toggles=toggles, pulses=pulses, cycles=steps, steps=steps, synaptic_ops=1, events_in=1,
                           packets=1, routers=routers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="8x8", help="mesh size WxH (1..16 each; default %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="time steps (1..100000; default %(default)s)")
    parser.add_argument("--activity", type=float, default=0.1, help="input activity (0..1, default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="stimulus seed (default %(default)s)")
    json_option(parser)
    args = parser.parse_args(argv)
    check_paths(args)
    sizes = parse_sizes(args.size, "size", mesh=True)
    if len(sizes) != 1:
        print("mesh_overhead.py: error: size: give one WxH, e.g. 8x8", file=sys.stderr)
        return 2
    if not 1 <= args.steps <= 100_000:
        print(f"mesh_overhead.py: error: steps: {args.steps} is outside the allowed range 1..100000", file=sys.stderr)
        return 2
    if not 0.0 <= args.activity <= 1.0:
        print(f"mesh_overhead.py: error: activity: {args.activity} is outside the allowed range 0..1", file=sys.stderr)
        return 2
    from subtile.cli.sim import energy_estimate, energy_tech
    from subtile.golden.mesh import random_mesh_stimulus
    from subtile.sim.mesh_bench import MeshBench, MeshCase, encode_mesh_stimulus
    (width, height), = sizes
    config = mesh_config(width, height)
    figures: dict = {}
    stimulus = timed("stimulus", figures, lambda: random_mesh_stimulus(config, args.steps, args.activity, args.seed))
    program, events = timed("encode", figures, lambda: encode_mesh_stimulus(config, stimulus, seed=args.seed))
    bench = MeshBench([config])
    timed("golden", figures, lambda: bench.expect(0, MeshCase(stimulus, seed=args.seed)))
    technology = timed("technology", figures, lambda: energy_tech(None))
    timed("energy", figures, lambda: energy_estimate(config, placeholder_run(config, args.steps), technology))
    result = {"design": f"mesh{width}x{height}", "steps": args.steps, "activity": args.activity, "seed": args.seed,
              "program_words": len(program), "events": events, "technology": technology[1], "figures": figures}
    print(f"{result['design']}, {args.steps} steps at activity {args.activity:g} ({events} events, "
          f"{len(program)} program words)")
    for label, figure in figures.items():
        print(f"  {label:<11} {figure['wall_s']:8.2f} s wall  {figure['cpu_s']:8.2f} s CPU")
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
