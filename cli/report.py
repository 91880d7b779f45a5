"""``subtile report``: the HTML report of a sweep database."""

from __future__ import annotations

import json

from subtile.cli.options import EXIT_OK, check_range, float_arg, int_arg, path_arg


def register(commands):
    report = commands.add_parser("report", help="HTML report of a sweep database: Pareto fronts, rankings, table")
    report.add_argument("db", type=path_arg("db", "file"), help="results database written by subtile sweep")
    report.add_argument("-o", "--output-dir", required=True, type=path_arg("output-dir", "dir"),
                        help="folder for index.html, plots, CSV/Parquet")
    report.add_argument("--run", default=None, help="sweep name in the database (default: all)")
    report.add_argument("--area", default=None,
                        help="area metric column (default: sky130 um^2, else generic cells)")
    report.add_argument("--breakdown", type=int_arg("breakdown"), default=4,
                        help="points with an energy breakdown plot (the best by EDP)")
    report.add_argument("--points", default=None, metavar="KEY,KEY",
                        help="key prefixes of the points to show in the energy breakdown instead")
    report.add_argument("--tolerance", type=float_arg("tolerance"), default=1.0,
                        help="recommend the cheapest design within this many accuracy points of the float model "
                             "(output LSB RMS for the random workload); 0..100, default %(default)s")
    report.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path
    from subtile.cli.options import check_writable
    from subtile.explore.report import write_report
    check_range("tolerance", args.tolerance, 0.0, 100.0)
    check_writable("output-dir", Path(args.output_dir), args.output_dir)
    summary = write_report(args.db, args.output_dir, run=args.run, area=args.area, breakdown=args.breakdown,
                           points=args.points.split(",") if args.points else None, tolerance=args.tolerance)
    print(json.dumps(summary, indent=2))
    return EXIT_OK
