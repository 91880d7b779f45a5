"""``subtile sweep``: a design-space sweep into a resumable SQLite database."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import subtile.progress as progress
from subtile.cli.options import EXIT_FAIL, EXIT_OK, check_writable, int_arg, path_arg
from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError


def register(commands):
    sweep = commands.add_parser("sweep", help="bit-width / design-space sweep: energy, area, accuracy per point "
                                "into a resumable SQLite database")
    sweep.add_argument("sweep", type=path_arg("sweep", "text"), help="sweep TOML (see subtile.explore.sweep)")
    sweep.add_argument("-j", "--jobs", type=int_arg("jobs"), default=1, help="local worker processes")
    sweep.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                       help="run the points on this Dask distributed scheduler (pip install subtile[cluster])")
    sweep.add_argument("--db", type=path_arg("db", "db"), default=None,
                       help="results database (default: <sweep file name>.sqlite in the current folder); "
                       "a killed sweep started again resumes from it")
    sweep.add_argument("--work-dir", type=path_arg("work-dir", "dir"), default=None,
                       help="folder for builds and runs (default: next to the db)")
    sweep.add_argument("--export", action="append", type=path_arg("export", "out", suffixes=(".csv", ".parquet")),
                       metavar="FILE.csv|FILE.parquet",
                       help="also write the sweep's points as CSV or Parquet (repeatable)")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="run the points stored as failed again (a resumed sweep skips them otherwise)")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no progress lines")
    sweep.set_defaults(handler=run)


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Refuse an unusable ``--scheduler`` before anything runs: Dask missing, an address that is
    not ``tcp://HOST:PORT``, nothing listening there, or no Dask scheduler answering within
    ``timeout`` seconds (a port that accepts connections may be anything)."""
    import socket
    from urllib.parse import urlsplit
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ToolchainError("scheduler: needs Dask distributed, which is not installed "
                             "(pip install 'subtile[cluster]')") from None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ConfigError(f"scheduler: {address!r} is not tcp://HOST:PORT")
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"scheduler: cannot reach {address} ({reason})") from None
    import logging
    from distributed import Client
    quiet = logging.getLogger("distributed")
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        Client(address, timeout=timeout).close()
    except BaseException as error:     # noqa: BLE001 - any failure of the handshake is a bad address
        if isinstance(error, KeyboardInterrupt):
            raise
        reason = (str(error).splitlines() or [""])[0][:120] or type(error).__name__
        raise ConfigError(f"scheduler: no Dask scheduler answers at {address} ({reason})") from None
    finally:
        quiet.setLevel(level)


def die_with_parent_in_forks() -> None:
    """Make every process forked from here on (the sweep's pool workers) end when this process
    dies, even by SIGKILL, instead of running on for hours with parent 1 (Linux: the parent-death
    signal; elsewhere nothing)."""
    global _ARMED
    if _ARMED or not sys.platform.startswith("linux"):
        return
    _ARMED = True
    os.register_at_fork(before=_remember_parent, after_in_child=_set_parent_death_signal)


_ARMED = False
_PARENT: int | None = None


def _remember_parent() -> None:
    global _PARENT
    _PARENT = os.getpid()


def _set_parent_death_signal() -> None:
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != _PARENT:                      # the parent died before the signal was armed
        os._exit(1)


def run(args) -> int:
    from subtile.explore.sweep import export_table, load_sweep, run_sweep, sweep_records
    from subtile.store import ResultStore
    if any(Path(target).suffix.lower() == ".parquet" for target in args.export or ()):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ToolchainError("export: Parquet needs pyarrow, which is not installed "
                                 "(pip install 'subtile[cluster]'; or export .csv)") from None
    spec = load_sweep(args.sweep)
    if not 1 <= args.jobs <= 256:
        raise ConfigError(f"jobs: {args.jobs} is outside the allowed range 1..256")
    if args.scheduler:
        if args.jobs != 1:
            raise ConfigError("jobs: -j runs local workers; with --scheduler the cluster's workers run the points")
        check_scheduler(args.scheduler)
    db = Path(args.db) if args.db else Path.cwd() / f"{Path(args.sweep).stem}.sqlite"
    work_dir = Path(args.work_dir) if args.work_dir else db.parent / f"{db.stem}-work"
    check_writable("db", db.parent, db)
    check_writable("work-dir", work_dir, work_dir)
    retried = 0
    if args.retry_failed and db.exists():
        with ResultStore(db, run=spec.name) as store:
            retried = store.forget_failed()
    if not args.quiet:
        print(f"database: {db}; work folder: {work_dir}"
              + (f"; {retried} failed point(s) to run again" if args.retry_failed else ""), file=sys.stderr)
    if args.jobs > 1:
        die_with_parent_in_forks()
    progress.set_reporter(None)        # the sweep's bar is its progress; the points' builds would clutter it
    summary = run_sweep(spec, db=db, work_dir=work_dir, jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.quiet)
    for target in args.export or ():
        export_table(sweep_records(db, spec.name), target)
    print(json.dumps(summary, indent=2))
    if summary["failed"]:
        print(f"subtile: {summary['failed']} of {summary['points']} points failed (errors in {db}); "
              f"rerun with --retry-failed to run them again", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK
