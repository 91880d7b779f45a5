"""``subtile sweep``: a design-space sweep into a resumable SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

from subtile.cli.options import EXIT_OK, int_arg
from subtile.errors import ConfigError


def register(commands):
    sweep = commands.add_parser("sweep", help="bit-width / design-space sweep: energy, area, accuracy per point "
                                "into a resumable SQLite database")
    sweep.add_argument("sweep", help="sweep TOML (see subtile.explore.sweep)")
    sweep.add_argument("-j", "--jobs", type=int_arg("jobs"), default=1, help="local worker processes")
    sweep.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                       help="run the points on this Dask distributed scheduler (pip install subtile[cluster])")
    sweep.add_argument("--db", default=None, help="results database (default: the sweep file with .sqlite); "
                       "a killed sweep started again resumes from it")
    sweep.add_argument("--work-dir", default=None, help="folder for builds and runs (default: next to the db)")
    sweep.add_argument("--export", action="append", metavar="FILE.csv|FILE.parquet",
                       help="also write the sweep's points as CSV or Parquet (repeatable)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=run)


def run(args) -> int:
    from subtile.explore.sweep import export_table, load_sweep, run_sweep, sweep_records
    spec = load_sweep(args.sweep)
    if args.jobs < 1:
        raise ConfigError(f"jobs: {args.jobs} is outside the allowed range 1..256")
    db = Path(args.db) if args.db else Path(args.sweep).with_suffix(".sqlite")
    work_dir = Path(args.work_dir) if args.work_dir else db.parent / f"{db.stem}-work"
    summary = run_sweep(spec, db=db, work_dir=work_dir, jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.quiet)
    for target in args.export or ():
        export_table(sweep_records(db, spec.name), target)
    print(json.dumps(summary, indent=2))
    return EXIT_OK
