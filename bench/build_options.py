"""What Verilator's build options change on this machine: cold build time against simulation speed.

    python bench/build_options.py [--design tile64] [--variants default,Os,inline,threads2]
                                  [--steps 200] [--activity 0.1] [--seed 1] [--json out.json]

``--design``: ``tile<N>`` (the default tile with N neurons and N private lanes, as in
bench/scale.py) or ``mesh<W>x<H>`` (examples/mesh.toml at W x H, as in bench/scale.py). Its bench
(the harness ``subtile sim`` builds, with the toggle counters) is built once per variant from
nothing (a fresh cache folder, ccache off) and runs the same seeded stimulus, checked bit-exact
against the golden model. The variants:

* ``default``: the flow's build (Verilator's defaults, the C++ at ``-O1``:
  ``subtile.toolchain.verilator.MODEL_MAKE_VARIABLES``);
* ``inline``: ``--inline-mult 0``, every module inlined (a tile's lanes are one module, which
  Verilator otherwise keeps as a module of its own once it is instantiated many times);
* ``Os``, ``O0``, ``O2``: the C++ at that level (make variable ``OPT_FAST``; ``-Os`` is
  verilated.mk's own default);
* ``threads2``: Verilator's multithreaded model on 2 threads (``--threads 2``).

Printed per variant: the cold build, the simulation's cycles/s (its run inside the simulator),
and build plus simulation of this run. Progress on stderr; the table, then the JSON (also
written to ``--json``) on stdout.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time

from benchlib import check_paths, emit_json, fail, json_option
from scale import mesh_config

#: name -> (Verilator arguments, make variables)
VARIANTS = {
    "default": ([], ""),
    "inline": (["--inline-mult", "0"], ""),
    "Os": ([], "OPT_FAST=-Os"),
    "O0": ([], "OPT_FAST=-O0"),
    "O2": ([], "OPT_FAST=-O2"),
    "threads2": (["--threads", "2"], ""),
}


def parse_design(text: str):
    from subtile.spec.config import TileConfig
    if match := re.fullmatch(r"tile(\d+)", text):
        n = int(match[1])
        if 1 <= n <= 256:
            return TileConfig(name=f"tile{n}", neurons=n, lanes=n)
    elif match := re.fullmatch(r"mesh(\d+)x(\d+)", text):
        width, height = int(match[1]), int(match[2])
        if 1 <= width <= 16 and 1 <= height <= 16:
            return mesh_config(width, height)
    fail(f"design: {text!r} is not allowed (allowed: tile<N> with N 1..256, or mesh<W>x<H> with 1..16 each)")


def run_variant(config, name: str, args) -> dict:
    from subtile.spec.config import MeshConfig
    from subtile.toolchain.verilator import overlay_environ
    build_args, make_variables = VARIANTS[name]
    makeflags = f"{os.environ.get('MAKEFLAGS', '')} {make_variables}".strip()
    with tempfile.TemporaryDirectory(prefix=f"build_options_{name}_") as folder, overlay_environ(
            {"SUBTILE_CACHE": os.path.join(folder, "cache"), "OBJCACHE": "", "MAKEFLAGS": makeflags}):
        start = time.monotonic()
        if isinstance(config, MeshConfig):
            from subtile.golden.mesh import random_mesh_stimulus
            from subtile.sim.mesh_bench import MeshBench, MeshCase
            bench = MeshBench([config], name=f"{config.name}_options", build_args=build_args)
            case = MeshCase(random_mesh_stimulus(config, args.steps, args.activity, args.seed), seed=args.seed)
        else:
            from subtile.golden.tile import random_stimulus
            from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
            bench = TileBench([config], name=f"{config.name}_options", build_args=build_args)
            case = TileCase([StepStimulus(events) for events in
                             random_stimulus(config, args.steps, args.activity, args.seed)], seed=args.seed)
        run = bench.run({0: case}, work_dir=os.path.join(folder, "run"))[0]
        total = time.monotonic() - start
    if not run.passed:
        fail(f"variant {name}: the run differs from the golden model: {run.mismatch}")
    return {"variant": name, "build_args": build_args, "make": make_variables, "cycles": run.cycles,
            "build_s": round(run.build.seconds, 1), "run_s": round(run.run_seconds, 3),
            "sim_cycles_per_s": round(run.cycles / run.run_seconds) if run.run_seconds else None,
            "total_s": round(total, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--design", default="tile64", help="tile<N> or mesh<W>x<H> (default tile64)")
    parser.add_argument("--variants", default="default,Os,inline,threads2",
                        help=f"comma-separated, of {', '.join(VARIANTS)} (default default,Os,inline,threads2)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--activity", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    json_option(parser)
    args = parser.parse_args(argv)
    check_paths(args)
    config = parse_design(args.design)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for name in variants:
        if name not in VARIANTS:
            fail(f"variants: {name!r} is not one of {', '.join(VARIANTS)}")
    if not variants:
        fail(f"variants: empty (allowed: a comma-separated list of {', '.join(VARIANTS)})")
    if not 1 <= args.steps <= 100_000:
        fail(f"steps: {args.steps} is outside the allowed range 1..100000")
    if not 0.0 <= args.activity <= 1.0:
        fail(f"activity: {args.activity} is outside the allowed range 0..1")
    rows = []
    for name in variants:
        print(f"build_options.py: {args.design}, variant {name}: cold build and {args.steps} steps...",
              file=sys.stderr, flush=True)
        rows.append(run_variant(config, name, args))
        print(f"build_options.py: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"{args.design}, {args.steps} steps at activity {args.activity:g} (cold builds, ccache off)")
    print(f"{'variant':<10} {'build s':>8} {'sim cycles/s':>13} {'build + run s':>14}")
    for row in rows:
        print(f"{row['variant']:<10} {row['build_s']:>8.1f} {row['sim_cycles_per_s']:>13,} {row['total_s']:>14.1f}")
    emit_json({"design": args.design, "steps": args.steps, "activity": args.activity, "seed": args.seed,
               "variants": rows}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
