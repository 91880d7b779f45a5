"""Export a tile (``subtile export``), build its RTL and run test_tile.py with cocotb.

    python examples/cocotb/run.py                          # Verilator, examples/tile4.toml
    python examples/cocotb/run.py --simulator icarus --config examples/tiny.toml

Builds are cached by content (``$SUBTILE_CACHE``, default ``~/.cache/subtile``). Exit code 0 when
every test passed, 1 when one failed, 2 for bad arguments.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from subtile.toolchain import runner

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default="verilator", help="verilator or icarus")
    parser.add_argument("--config", default=str(HERE.parent / "tile4.toml"), help="tile TOML")
    parser.add_argument("--work", default="build/cocotb-example", help="export and run folder")
    parser.add_argument("--seed", type=int, default=1, help="cocotb random seed")
    args = parser.parse_args(argv)
    if args.simulator not in runner.SIMULATORS:
        print(f"error: --simulator: {args.simulator!r} is not one of {', '.join(runner.SIMULATORS)}", file=sys.stderr)
        return 2
    if not Path(args.config).is_file():
        print(f"error: --config: no file {args.config}", file=sys.stderr)
        return 2
    work = Path(args.work).resolve()
    rtl = work / "rtl"
    # 1. The RTL, exactly as a user gets it (folder with Verilog, FuseSoC core, manifest.json).
    export = subprocess.run([sys.executable, "-m", "subtile", "export", "--config", args.config, "--output-dir", str(rtl)])
    if export.returncode:
        return export.returncode
    manifest = json.loads((rtl / "manifest.json").read_text())
    # 2. Build (cached) and run the user's test module on the chosen simulator.
    build = runner.build([rtl / name for name in manifest["verilog"]], manifest["top"], simulator=args.simulator)
    run = runner.run(build, "test_tile", test_dir=work / args.simulator, seed=args.seed,
                     extra_env={"SUBTILE_MANIFEST": str(rtl / "manifest.json"), "PYTHONPATH": str(HERE)})
    print(f"{args.simulator}: {run.tests} tests, {run.failed} failed, {run.seconds:.1f} s "
          f"(build {'cached' if build.cached else f'{build.seconds:.1f} s'})")
    for line in run.failure_messages():
        print(line)
    return 1 if run.failed or not run.tests else 0


if __name__ == "__main__":
    sys.exit(main())
