"""How the digits workload's accuracy, events and energy depend on T (steps) and delta.

    python bench/digits_sweep.py [--steps 2,4,8,16] [--deltas 1,2,4,8] [--weight-bits 8]
                                 [--images N] [--golden-only] [--json out.json]

One row per (T, delta) at the given weight width: accuracy of the float model, of the golden
mesh and of the RTL mesh (with --golden-only: golden only, seconds instead of minutes), events,
synaptic operations, cycles and energy per inference (tiles, routers, interfaces) (``subtile digits`` for one point,
``subtile digits --sweep-bits`` for the weight width). T only changes the stimulus program, so
every T of one delta shares a Verilator build; each delta is a new tile configuration.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from subtile.cli.digits import format_digits_table
from subtile.workloads.digits import DigitsSpec
from subtile.workloads.digits_rtl import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="2,4,8,16")
    parser.add_argument("--deltas", default="1,2,4,8")
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--golden-only", action="store_true")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="subtile-digits-sweep-"))
    rows = []
    for delta in (int(d) for d in args.deltas.split(",")):
        for steps in (int(t) for t in args.steps.split(",")):
            spec = DigitsSpec(weight_bits=args.weight_bits, steps=steps, delta=delta)
            result = evaluate(spec, images=args.images, rtl=not args.golden_only,
                              work_dir=work_dir / f"d{delta}_t{steps}")
            rows.append(result.to_dict())
            print(format_digits_table(rows[-1:]).splitlines()[-1], flush=True)
    print(format_digits_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
