"""``subtile mutate``: mutation testing of the tile's verification."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import subtile.progress as progress
from subtile.cli import options
from subtile.errors import ConfigError
from subtile.cli.options import (EXIT_FAIL, EXIT_OK, add_config_option, add_json_option, check_range, emit_json,
                                 any_config, float_arg, int_arg, path_arg)


def register(commands):
    from subtile.mutate.operators import CLASSIC, OPERATOR_NAMES
    mutate = commands.add_parser("mutate", help="mutation testing: inject single faults into the tile RTL (or a "
                                 "mesh's routers, fan-outs, network interfaces and glue), report how many the "
                                 "regression catches")
    add_config_option(mutate, "any")
    mutate.add_argument("-n", type=int_arg("n"), default=50, help="number of mutants (default %(default)s)")
    mutate.add_argument("--seed", type=int_arg("seed"), default=1, help="picks the mutants and the stimulus")
    mutate.add_argument("--steps", type=int_arg("steps"), default=24, help="time steps per regression case")
    mutate.add_argument("--harnesses", type=int_arg("harnesses"), default=4,
                        help="regression cases run side by side per mutant (1..4; a mesh runs its four "
                        "cases this many at a time on one build)")
    mutate.add_argument("--db", type=path_arg("db", "db"), default=None,
                        help="results database (default WORK_DIR/mutants.db); "
                        "a killed run started again resumes from it")
    mutate.add_argument("--work-dir", type=path_arg("work-dir", "dir"), default=None,
                        help="folder for the build, runs and mutation.txt/.json (default: a new temporary "
                        "folder, kept for the report)")
    mutate.add_argument("--min-score", type=float_arg("min-score"), default=None,
                        help="exit 1 when the fraction of mutants killed (analysed equivalent ones left "
                             "out) is below this")
    mutate.add_argument("--equivalent", type=path_arg("equivalent", "text"), default=None, metavar="TOML",
                        help="analysed surviving mutants to leave out of the score "
                             "(docs/mutation-equivalents.toml for the default tile)")
    mutate.add_argument("--operators", default=",".join(OPERATOR_NAMES), metavar="LIST",
                        help=f"mutation operators, comma-separated (default: all of {','.join(OPERATOR_NAMES)}; "
                        f"the first runs' were {','.join(CLASSIC)})")
    mutate.add_argument("-q", "--quiet", action="store_true", help="no line per mutant, no progress lines")
    add_json_option(mutate, "the report")
    mutate.set_defaults(handler=run)


def run(args):
    from subtile.mutate.equivalents import load_equivalents
    from subtile.mutate.report import format_report
    from subtile.mutate.run import run_mutation_testing
    from subtile.mutate.sites import check_count
    from subtile.mutate.operators import check_operators
    config = any_config(args)
    try:
        operators = check_operators(args.operators)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    equivalents = load_equivalents(args.equivalent) if args.equivalent else []
    check_count(args.n)
    check_range("steps", args.steps, 2, 10_000)
    check_range("harnesses", args.harnesses, 1, 4)
    if args.db:
        from subtile.store import ResultStore
        ResultStore(args.db, run="-").close()     # a bad database is refused before any tool runs
    options.check_simulator()
    work_dir = options.work_dir(args, "mutate", keep=True)      # it holds mutation.txt/.json
    work_dir.mkdir(parents=True, exist_ok=True)
    # One line per mutant, on stderr like all progress (stdout holds the report: --json - stays JSON);
    # the per-mutant simulations' own progress lines would only repeat them.
    log = (lambda *a, **k: None) if args.quiet else (lambda text: print(text, flush=True, file=sys.stderr))
    lines = progress.set_reporter(None)
    if lines is not None:
        progress.set_reporter(lambda line: None if line.startswith("simulation of") else lines(line))
    report = run_mutation_testing(config, count=args.n, seed=args.seed, steps=args.steps, work_dir=work_dir,
                                  db=Path(args.db) if args.db else None, harnesses=args.harnesses, log=log,
                                  equivalents=equivalents, operators=operators)
    text = format_report(report)
    report["reproduce"] = (f"subtile mutate --config {args.config or '(default tile)'} -n {args.n} "
                           f"--seed {args.seed} --steps {args.steps} --operators {','.join(operators)}")
    (work_dir / "mutation.json").write_text(json.dumps(report, indent=2) + "\n")
    (work_dir / "mutation.txt").write_text(text + "\n")
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(text)
        print(f"report: {work_dir / 'mutation.txt'} and {work_dir / 'mutation.json'}")
    if args.min_score is not None and (report["score_without_equivalent"] or 0) < args.min_score:
        return EXIT_FAIL
    return EXIT_OK
