"""How the flow scales with the design: generate, cold build, warm start, simulation, memory.

    python bench/scale.py [--tiles 16,64,256] [--meshes 2x2,4x4,8x8] [--steps 200] [--mesh-steps 50]
                          [--activity 0.1] [--quick] [--cache DIR] [--json out.json]

For each design it runs ``subtile sim`` twice as a user would, each in its own process:

* cold: an empty cache folder (``SUBTILE_CACHE``) and ccache off (``OBJCACHE=``), so the Verilog is
  generated and Verilator compiles the bench from nothing;
* warm: the same command again, so every cache the flow has is hit.

Printed per design: ``generate`` (the "generating the Verilog" phase of the cold run), ``cold
build`` (its Verilator build phase), ``warm start`` (wall time of the warm run from process start
until the simulation starts: what a rerun costs before simulating), ``warm total``, ``sim
cycles/s`` (the warm run's cycles over its run inside the simulator), and the peak resident memory
of the cold run's Python process (generation) and of the whole cold run (the compiler included).
Then the growth exponent of each figure against N (tiles) and against the tile count (meshes):
the slope of log(figure) over log(size), a least-squares fit over the sizes measured.

Tiles are the default tile with N neurons and N private lanes (``lanes = N``); meshes are the
example mesh (examples/mesh.toml, 8-neuron tiles) at W x H. ``--quick``: tile 16 and mesh 2x2
(unless picked), 20 steps. ``--cache DIR`` uses DIR as the cache folder instead of a fresh one
(a cold run there is then only cold for designs DIR has not seen). Progress on stderr; the table
and then the JSON (also written to ``--json``) on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import check_paths, emit_json, fail, json_option

REPO = Path(__file__).resolve().parent.parent
MESH_EXAMPLE = REPO / "examples" / "mesh.toml"

# The child: `subtile sim`, then its own peak RSS (generation and golden model; not its
# subprocesses) written as JSON to the file named by SUBTILE_SCALE_RSS.
CHILD = (
    "import json, os, resource, sys\n"
    "from subtile.cli.main import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    with open(os.environ['SUBTILE_SCALE_RSS'], 'w') as f:\n"
    "        json.dump({'self_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, f)\n"
    "sys.exit(code)\n"
)

_GENERATE = re.compile(r"generating the Verilog of \S+: done in ([\d.]+) s")
_BUILD = re.compile(r"Verilator build of \S+: done in ([\d.]+) s")
_SIM_START = re.compile(r"^simulation of \S+\.\.\.$")


def parse_sizes(text: str, parameter: str, mesh: bool) -> list:
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            if mesh:
                width, height = (int(v) for v in item.lower().split("x"))
                if not (1 <= width <= 16 and 1 <= height <= 16):
                    raise ValueError
                sizes.append((width, height))
            else:
                n = int(item)
                if not 1 <= n <= 256:
                    raise ValueError
                sizes.append(n)
        except ValueError:
            fail(f"{parameter}: {item!r} is not allowed (allowed: a comma-separated list of "
                 + ("WxH with 1..16 each, e.g. 2x2,4x4" if mesh else "neuron counts 1..256, e.g. 16,64") + ")")
    return sizes


def tile_config_text(n: int) -> str:
    from subtile.spec.config import TileConfig
    return TileConfig(name=f"tile{n}", neurons=n, lanes=n).to_toml()


def mesh_config(width: int, height: int):
    """The example mesh at ``width`` x ``height``: one input at (0, 0), one output at the far corner."""
    from subtile.spec.config import load_config
    base = load_config(MESH_EXAMPLE)
    return base.replace(name=f"mesh{width}x{height}", width=width, height=height,
                        inputs=((0, 0),), outputs=((width - 1, height - 1),))


def mesh_config_text(width: int, height: int) -> str:
    return mesh_config(width, height).to_toml()


def run_child(argv: list[str], env: dict, label: str) -> dict:
    """Run ``subtile`` with ``argv`` in a child; time its progress lines as they arrive."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        rss_file = handle.name
    env = {**env, "SUBTILE_SCALE_RSS": rss_file}
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", CHILD, *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    result = {"generate_s": None, "build_s": None, "start_s": None, "stderr": []}

    def read_stderr():
        for line in child.stderr:
            line = line.rstrip("\n")
            now = time.monotonic() - start
            result["stderr"].append(line)
            print(f"  [{label} {now:6.1f} s] {line}", file=sys.stderr, flush=True)
            if (match := _GENERATE.search(line)) and result["generate_s"] is None:
                result["generate_s"] = float(match[1])
            elif match := _BUILD.search(line):
                result["build_s"] = float(match[1])
            elif _SIM_START.match(line) and result["start_s"] is None:
                result["start_s"] = now

    reader = threading.Thread(target=read_stderr)
    reader.start()
    stdout = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    result["wall_s"] = time.monotonic() - start
    result["peak_rss_mb"] = usage.ru_maxrss / 1024          # the child and everything it waited for
    try:
        result["python_rss_mb"] = json.loads(Path(rss_file).read_text())["self_kb"] / 1024
    except (OSError, ValueError, KeyError):
        result["python_rss_mb"] = None
    Path(rss_file).unlink(missing_ok=True)
    if child.returncode != 0:
        tail = "\n".join(result["stderr"][-10:])
        raise RuntimeError(f"{label}: subtile {' '.join(argv)} exited with {child.returncode}:\n{tail}\n{stdout[-2000:]}")
    return result


def measure(name: str, config_text: str, steps: int, activity: float, cache: Path, work: Path) -> dict:
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(config_text)
    env = {**os.environ, "SUBTILE_CACHE": str(cache), "OBJCACHE": ""}
    runs = {}
    for phase in ("cold", "warm"):
        report = folder / f"{phase}.json"
        argv = ["sim", "--config", str(config), "--steps", str(steps), "--activity", str(activity),
                "--work-dir", str(folder / phase), "--json", str(report)]
        runs[phase] = run_child(argv, env, f"{name} {phase}")
        runs[phase]["report"] = json.loads(report.read_text())
    cold, warm = runs["cold"], runs["warm"]
    sim = warm["report"]
    run_seconds = sim.get("run_seconds") or 0
    return {
        "design": name, "steps": steps, "activity": activity,
        "cycles": sim["cycles"], "events_in": sim["events_in"], "events_out": sim["events_out"],
        "generate_s": cold["generate_s"], "cold_build_s": cold["build_s"],
        "cold_build_reused": sim_cached(cold), "cold_total_s": round(cold["wall_s"], 2),
        "warm_start_s": None if warm["start_s"] is None else round(warm["start_s"], 2),
        "warm_total_s": round(warm["wall_s"], 2), "warm_simulation_s": sim["simulation_seconds"],
        "warm_build_reused": sim_cached(warm),
        "sim_cycles_per_s": round(sim["cycles"] / run_seconds) if run_seconds else None,
        "python_peak_rss_mb": None if cold["python_rss_mb"] is None else round(cold["python_rss_mb"]),
        "peak_rss_mb": round(max(cold["peak_rss_mb"], warm["peak_rss_mb"])),
    }


def sim_cached(run: dict) -> bool:
    return bool(run["report"].get("build_cached"))


def exponent(sizes: list[float], values: list) -> float | None:
    """Least-squares slope of log(value) over log(size); None with fewer than two points."""
    points = [(math.log(s), math.log(v)) for s, v in zip(sizes, values) if v]
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return round(sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points), 2)


FIGURES = [("generate_s", "generate s"), ("cold_build_s", "cold build s"), ("warm_start_s", "warm start s"),
           ("warm_total_s", "warm total s"), ("sim_cycles_per_s", "sim cycles/s"),
           ("python_peak_rss_mb", "Python peak MB"), ("peak_rss_mb", "peak RSS MB")]


def table(rows: list[dict], growth: dict) -> str:
    header = ["design", "steps", "cycles", *(label for _, label in FIGURES)]
    lines = [header]
    for row in rows:
        lines.append([row["design"], str(row["steps"]), str(row["cycles"]),
                      *("-" if row[key] is None else f"{row[key]:g}" for key, _ in FIGURES)])
    for kind, exponents in growth.items():
        lines.append([f"exponent vs {kind}", "", "",
                      *("-" if exponents.get(key) is None else f"{exponents[key]:g}" for key, _ in FIGURES)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(line, widths))) for line in lines)


def main(argv=None) -> int:
    from subtile.cli.options import path_arg
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default=None, help="tile sizes N (default 16,64,256; --quick: 16)")
    parser.add_argument("--meshes", default=None, help="mesh sizes WxH (default 2x2,4x4,8x8; --quick: 2x2)")
    parser.add_argument("--steps", type=int, default=None, help="time steps of a tile run (default 200; --quick 20)")
    parser.add_argument("--mesh-steps", type=int, default=None, help="time steps of a mesh run (default 50; --quick 20)")
    parser.add_argument("--activity", type=float, default=0.1, help="input activity (0..1, default 0.1)")
    parser.add_argument("--quick", action="store_true", help="tile 16 and mesh 2x2, 20 steps")
    parser.add_argument("--cache", type=path_arg("cache", "dir"), default=None, help="cache folder to use (default: a fresh one, all runs cold)")
    json_option(parser)
    args = parser.parse_args(argv)
    check_paths(args)
    tiles = parse_sizes(args.tiles if args.tiles is not None else ("16" if args.quick else "16,64,256"),
                        "tiles", mesh=False)
    meshes = parse_sizes(args.meshes if args.meshes is not None else ("2x2" if args.quick else "2x2,4x4,8x8"),
                         "meshes", mesh=True)
    steps = args.steps if args.steps is not None else (20 if args.quick else 200)
    mesh_steps = args.mesh_steps if args.mesh_steps is not None else (20 if args.quick else 50)
    for name, value in (("steps", steps), ("mesh-steps", mesh_steps)):
        if not 1 <= value <= 100_000:
            fail(f"{name}: {value} is outside the allowed range 1..100000")
    if not 0.0 <= args.activity <= 1.0:
        fail(f"activity: {args.activity} is outside the allowed range 0..1")
    if not tiles and not meshes:
        fail("tiles, meshes: nothing to measure (give at least one size)")
    with tempfile.TemporaryDirectory(prefix="subtile-scale-") as temporary:
        temporary = Path(temporary)
        cache = Path(args.cache).resolve() if args.cache else temporary / "cache"
        rows = []
        designs = [(f"tile{n}", tile_config_text(n), steps) for n in tiles]
        designs += [(f"mesh{w}x{h}", mesh_config_text(w, h), mesh_steps) for w, h in meshes]
        for name, text, design_steps in designs:
            rows.append(measure(name, text, design_steps, args.activity, cache, temporary))
            print(f"scale.py: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)   # survives a cut-short run
    growth = {}
    for kind, chosen, size in (("N", [r for r in rows if r["design"].startswith("tile")],
                                lambda r: int(r["design"][4:])),
                               ("tiles", [r for r in rows if r["design"].startswith("mesh")],
                                lambda r: math.prod(map(int, r["design"][4:].split("x"))))):
        if len(chosen) >= 2:
            growth[kind] = {key: exponent([size(r) for r in chosen], [r[key] for r in chosen]) for key, _ in FIGURES}
    load = os.getloadavg()
    result = {"designs": rows, "growth_exponents": growth, "cores": len(os.sched_getaffinity(0)),
              "load_average": [round(v, 2) for v in load]}
    print(table(rows, growth))
    print(f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {result['cores']} cores at the end)")
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
