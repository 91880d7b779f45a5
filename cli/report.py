"""``subtile report``: the HTML report of a sweep database."""

from __future__ import annotations

import json

from subtile.cli.options import EXIT_OK, int_arg, path_arg


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
    report.set_defaults(handler=run)


def run(args) -> int:
    from subtile.explore.report import write_report
    summary = write_report(args.db, args.output_dir, run=args.run, area=args.area, breakdown=args.breakdown,
                           points=args.points.split(",") if args.points else None)
    print(json.dumps(summary, indent=2))
    return EXIT_OK
