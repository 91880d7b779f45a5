"""Build Verilator (or Icarus) simulations with cocotb, reuse them by content hash, run and lint them.

A build lives in ``<cache root>/verilator/<toplevel>-<key[:16]>``, where the key hashes
everything that changes the simulator binary: the Verilog text (without Amaranth's ``src``
attributes, which hold absolute paths), the toplevel, the Verilator arguments, waves on or off,
and the Verilator and cocotb versions. A build is reused only once it holds its completion marker,
written after a successful build. Processes that build the same key at the same time (pytest-xdist
workers) serialize on a ``flock`` lock file beside the build folder: the first builds, the others
wait and then reuse its result. ``flock`` makes this POSIX only, like cocotb's Verilator support.

``simulator="icarus"`` builds and runs with Icarus Verilog (``iverilog -g2012`` through cocotb's
runner, cached the same way under ``<cache root>/icarus``): far slower, without coverage, SAIF or
selective VPI visibility, but the simulator many cocotb users start with.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cocotb
import cocotb_tools.config
import cocotb_tools.runner
from cocotb_tools.check_results import get_results

import subtile.progress as progress
from subtile.cache import cache_root, verilog_digest
from subtile.toolchain.verilator import (
    ToolchainError,
    check_toolchain,
    model_makeflags,
    overlay_environ,
    verilator_environment,
    verilator_executable,
    verilator_version,
)

__all__ = [
    "Build",
    "BuildError",
    "SimulationError",
    "TestRun",
    "build",
    "build_key",
    "cache_root",
    "lint",
    "run",
    "verilog_digest",
    "SIMULATORS",
    "icarus_version",
]

#: The simulators :func:`build` and :func:`run` know.
SIMULATORS = ("verilator", "icarus")
#: Icarus needs a timescale for cocotb's clocks (the generated Verilog declares none).
ICARUS_TIMESCALE = ("1ns", "1ps")

#: Verilator arguments put before the caller's ``build_args``. Amaranth's Verilog trips the
#: WIDTHEXPAND/WIDTHTRUNC lint warnings, and any other warning should not stop a simulation build
#: either (:func:`lint` is the place to see them).
DEFAULT_BUILD_ARGS: tuple[str, ...] = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC")

#: Coverage kinds of :func:`build` and the Verilator option of each. The simulator writes the
#: counts to ``coverage.dat`` when it ends (read toggle points with :mod:`subtile.power.coverage`).
COVERAGE_KINDS: dict[str, str] = {"toggle": "--coverage-toggle", "line": "--coverage-line",
                                  "user": "--coverage-user", "all": "--coverage"}

_MARKER = ".subtile-complete.json"
_LOG_TAIL_LINES = 40

# Amaranth (through Yosys) writes `(* src = "/abs/path/file.py:12" *)` before declarations and
# inside expressions. The string may hold escaped quotes.


class BuildError(RuntimeError):
    """A Verilator build failed.

    Parameters
    ----------
    message : str
        What failed, with the end of the build log.
    log : Path or None
        The full build log.
    """

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


class SimulationError(RuntimeError):
    """A simulation ended abnormally: it crashed or wrote no test results."""


_ICARUS_VERSION: list[str] = []


def icarus_version() -> str:
    """What ``iverilog -V`` prints first, e.g. ``"Icarus Verilog version 11.0 (stable) ()"``.

    Raises
    ------
    ToolchainError
        If ``iverilog`` or ``vvp`` is not on PATH.
    """
    if not _ICARUS_VERSION:
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                raise ToolchainError(f"{tool} not found on PATH: install Icarus Verilog "
                                     "(Debian/Ubuntu: apt-get install iverilog)")
        result = subprocess.run(["iverilog", "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, check=False)
        _ICARUS_VERSION.append(result.stdout.splitlines()[0].strip() if result.stdout else "unknown")
    return _ICARUS_VERSION[0]


def _check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator: {simulator!r} is not one of {', '.join(SIMULATORS)}")


@dataclass
class Build:
    """A finished Verilator build, ready for :func:`run`.

    Attributes
    ----------
    directory : Path
        The build folder, holding the simulator executable named after ``toplevel``.
    toplevel : str
        The HDL toplevel module.
    key : str
        SHA-256 hex digest of the build inputs (see :func:`build_key`).
    cached : bool
        True when an earlier build was reused.
    seconds : float
        Wall time spent in the :func:`build` call that returned this.
    coverage : str or None
        The Verilator coverage kind built in (see :data:`COVERAGE_KINDS`), or None.
    saif : bool
        Built with SAIF tracing (:func:`run` then writes a SAIF file when asked).
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    """

    directory: Path
    toplevel: str
    key: str
    cached: bool
    seconds: float
    coverage: str | None = None
    saif: bool = False
    simulator: str = "verilator"


def _read_source(path: Path) -> str:
    # Hand-written Verilog may hold Latin-1 comments: keep every byte without failing on them.
    return path.read_text(encoding="utf-8", errors="surrogateescape")


def _manifest(
    sources: Sequence[Path], toplevel: str, build_args: Sequence[str], waves: bool,
    public: Sequence[str] | None = None, simulator: str = "verilator",
    public_read: Sequence[str] = (),
) -> dict[str, object]:
    """Everything that goes into a build key, as JSON-serializable data."""
    if simulator == "icarus":
        return {"simulator": "icarus", "icarus": icarus_version(), "toplevel": toplevel,
                "sources": [[path.suffix, verilog_digest(_read_source(path))] for path in sources],
                "build_args": list(build_args), "waves": waves, "timescale": list(ICARUS_TIMESCALE),
                "cocotb": cocotb.__version__, "cocotb_libs": str(cocotb_tools.config.libs_dir)}
    manifest = {
        "public": None if public is None else list(public),
        # The suffix is kept because cocotb picks the source language from it.
        "sources": [[path.suffix, verilog_digest(_read_source(path))] for path in sources],
        "toplevel": toplevel,
        "build_args": list(build_args),
        "waves": waves,
        "verilator": verilator_version(),
        "makeflags": model_makeflags(),
        "cocotb": cocotb.__version__,
        # The executable links cocotb's VPI library by absolute rpath: a build made by another
        # installation of the same cocotb version would break once that installation is removed.
        "cocotb_libs": str(cocotb_tools.config.libs_dir),
    }
    if public_read:  # only when given, so that the keys of builds without it stay as they were
        manifest["public_read"] = list(public_read)
    return manifest


def _key(manifest: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _verilator_args(build_args: Sequence[str], waves: bool, coverage: str | None,
                    saif: bool, simulator: str = "verilator") -> tuple[list[str], bool]:
    """The simulator arguments and the waves setting of a build with these options."""
    _check_simulator(simulator)
    if simulator == "icarus":
        for name, value in (("coverage", coverage), ("saif", saif)):
            if value:
                raise ValueError(f"{name}: Verilator only (not available with simulator='icarus')")
        return list(build_args), waves
    if coverage is not None and coverage not in COVERAGE_KINDS:
        raise ValueError(f"coverage: {coverage!r} is not one of {', '.join(COVERAGE_KINDS)}")
    args = [*DEFAULT_BUILD_ARGS, *build_args]
    if coverage is not None:
        args.append(COVERAGE_KINDS[coverage])
    if saif:
        # cocotb's runner turns tracing on with `--trace` when waves is set; `--trace-saif`
        # after it picks the SAIF writer.
        waves = True
        args.append("--trace-saif")
    return args, waves


def build_key(
    sources: Sequence[Path], toplevel: str, *, build_args: Sequence[str] = (), waves: bool = False,
    coverage: str | None = None, saif: bool = False, simulator: str = "verilator",
) -> str:
    """Return the cache key that :func:`build` would use.

    Parameters
    ----------
    sources : Sequence of Path
        Verilog files, in the order given to Verilator.
    toplevel : str
        The HDL toplevel module.
    build_args : Sequence of str
        Extra Verilator arguments (after :data:`DEFAULT_BUILD_ARGS`).
    waves : bool
        Whether the build records waves.
    coverage, saif
        As for :func:`build`.

    Returns
    -------
    str
        SHA-256 hex digest over the ``src``-stripped digest of each source, the toplevel, the
        Verilator arguments, ``waves``, the Verilator and cocotb versions and cocotb's library
        folder.

    Raises
    ------
    ToolchainError
        If Verilator is missing (its version is part of the key).
    """
    paths = [Path(source) for source in sources]
    args, waves = _verilator_args(build_args, waves, coverage, saif, simulator)
    return _key(_manifest(paths, toplevel, args, waves, simulator=simulator))


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for a ``with`` block."""
    # The lock file is never deleted: a process waiting on a deleted file would hold a lock on an
    # inode nobody else can see, and a third process could then build alongside it.
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable_cpus() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def _make_jobs(jobs: int) -> Iterator[None]:
    """Make cocotb's Verilator build run ``make -j jobs`` for a ``with`` block."""
    # cocotb runs `make -j min(MAX_PARALLEL_BUILD_JOBS, multiprocessing.cpu_count())`, its
    # documented knob being the module constant (default 4). cpu_count() counts every core of the
    # host, also in a container pinned to fewer, so the constant is set to the usable count.
    saved = cocotb_tools.runner.MAX_PARALLEL_BUILD_JOBS
    cocotb_tools.runner.MAX_PARALLEL_BUILD_JOBS = jobs
    try:
        yield
    finally:
        cocotb_tools.runner.MAX_PARALLEL_BUILD_JOBS = saved


def _log_tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(no build log: {error})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


class _SelectiveVerilator(cocotb_tools.runner.Verilator):
    """cocotb's Verilator runner without its blanket ``--public-flat-rw``.

    Making every signal visible to VPI costs about 4x in simulation speed; builds that name the
    signals their testbench touches (``public=``) expose only those, through a control file.
    """

    def _build_command(self):
        commands = super()._build_command()
        commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
        return commands


def public_control_file(patterns: Sequence[str], read: Sequence[str] = ()) -> str:
    """A Verilator control file making signals matching ``patterns`` (globs over signal names,
    in every module) readable and writable through VPI, and those matching ``read`` readable only.

    A writable signal may change between any two evaluations, so Verilator must recompute all
    logic that depends on it outside its scheduled order; a read-only one keeps the model as
    fast as without VPI (for the tile's state registers, ~4x: issue 19)."""
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "*" -var "{pattern}"' for pattern in patterns]
    lines += [f'public_flat_rd -module "*" -var "{pattern}"' for pattern in read]
    return "\n".join(lines) + "\n"


def build(
    sources: Sequence[Path],
    toplevel: str,
    *,
    build_args: Sequence[str] = (),
    waves: bool = False,
    public: Sequence[str] | None = None,
    public_read: Sequence[str] = (),
    coverage: str | None = None,
    saif: bool = False,
    simulator: str = "verilator",
) -> Build:
    """Build a cocotb Verilator (or Icarus) simulation, or reuse an identical earlier build.

    Parameters
    ----------
    sources : Sequence of Path
        Verilog files, in the order given to Verilator. ``include`` files are not part of the key.
    toplevel : str
        The HDL toplevel module.
    build_args : Sequence of str
        Extra Verilator arguments, after :data:`DEFAULT_BUILD_ARGS`.
    waves : bool
        Build with waveform tracing (needed for ``waves=True`` in :func:`run`).
    public : sequence of str or None
        Glob patterns of the signal names the testbench reads or writes; only those are made
        visible to VPI (several times faster). None keeps cocotb's default: every signal.
    public_read : sequence of str
        Glob patterns of signals the testbench only reads (state registers): visible, read-only,
        which costs no speed (``public`` must be given too).
    coverage : str or None
        Build in Verilator coverage of this kind (a key of :data:`COVERAGE_KINDS`, e.g.
        ``"toggle"``: per-bit 0->1 and 1->0 counts of every signal); :func:`run` then writes
        ``coverage.dat``.
    saif : bool
        Build with SAIF tracing (``--trace-saif``, implies ``waves``); ``run(saif=PATH)`` writes
        the SAIF file.
    simulator : str
        ``"verilator"`` (default) or ``"icarus"`` (``iverilog -g2012``; ``build_args`` go to
        iverilog; ``public``, ``coverage`` and ``saif`` are Verilator only).

    Returns
    -------
    Build
        The build; ``cached`` tells whether it was reused.

    Raises
    ------
    ValueError
        If ``sources`` is empty or ``coverage`` is not a known kind.
    ToolchainError
        If Verilator, make or a C++ compiler is missing.
    BuildError
        If Verilator or the C++ compile fails; the message ends with the end of the build log.
    """
    start = time.monotonic()
    paths = [Path(source).resolve() for source in sources]
    if not paths:
        raise ValueError("build() needs at least one Verilog source")
    args, waves = _verilator_args(build_args, waves, coverage, saif, simulator)
    if simulator == "icarus" and (public is not None or public_read):
        raise ValueError("public: Verilator only (Icarus makes every signal visible)")
    if public_read and public is None:
        raise ValueError("public_read: needs public (without it every signal is visible anyway)")
    manifest = _manifest(paths, toplevel, args, waves, public, simulator, public_read)
    key = _key(manifest)
    directory = cache_root() / simulator / f"{toplevel}-{key[:16]}"
    marker = directory / _MARKER

    def result(cached: bool) -> Build:
        return Build(directory, toplevel, key, cached, time.monotonic() - start, coverage=coverage,
                     saif=saif, simulator=simulator)

    # The marker is only ever written, atomically, after a successful build, so it can be checked
    # without the lock.
    if marker.is_file():
        return result(cached=True)
    if simulator == "verilator":
        check_toolchain()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(directory.with_name(directory.name + ".lock")):
        # Another process may have finished the same build while this one waited for the lock.
        if marker.is_file():
            return result(cached=True)
        # A folder without marker is the remains of a failed or interrupted build: Verilator's
        # makefiles could trust its stale or truncated files, so start clean.
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir()
        log = directory / "build.log"
        extra = {}
        if simulator == "icarus":
            runner = cocotb_tools.runner.get_runner("icarus")
            extra["timescale"] = ICARUS_TIMESCALE
        elif public is None:
            runner = cocotb_tools.runner.get_runner("verilator")
        else:
            runner = _SelectiveVerilator()
            control = directory / "public.vlt"
            control.write_text(public_control_file(public, public_read))
            paths = [control, *paths]
        size = sum(p.stat().st_size for p in paths)
        progress.report(f"Verilator build of {toplevel} ({size / 1e6:.2f} MB of Verilog; "
                        f"{_estimate_text(size)}; reused on later runs)...")
        with verilator_environment(), _make_jobs(_usable_cpus()):
            try:
                runner.build(
                    sources=paths,
                    hdl_toplevel=toplevel,
                    build_dir=directory,
                    build_args=args,
                    waves=waves,
                    always=True,
                    log_file=log,
                    **extra,
                )
            except (RuntimeError, SystemExit) as error:
                raise BuildError(
                    f"{'Icarus' if simulator == 'icarus' else 'Verilator'} build of {toplevel} failed ({error}); "
                    f"last lines of {log}:\n{_log_tail(log)}",
                    log=log,
                ) from error
        seconds = time.monotonic() - start
        progress.report(f"Verilator build of {toplevel}: done in {seconds:.1f} s")
        record = {"key": key, "seconds": round(seconds, 3), "verilog_bytes": size, **manifest}
        staging = marker.with_suffix(".tmp")
        staging.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(staging, marker)
    return result(cached=False)


def build_estimate(size: int) -> float | None:
    """Seconds a cold build of ``size`` bytes of Verilog is expected to take: the median rate
    of this machine's earlier uncached builds (their markers), or ``None`` without any."""
    rates = []
    for marker in (cache_root() / "verilator").glob(f"*/{_MARKER}"):
        try:
            record = json.loads(marker.read_text())
            if record.get("verilog_bytes"):
                rates.append(record["seconds"] / record["verilog_bytes"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not rates:
        return None
    rates.sort()
    return rates[len(rates) // 2] * size


def _estimate_text(size: int) -> str:
    estimate = build_estimate(size)
    if estimate is None:   # the default tile (0.9 MB with its bench) took ~40 s cold on 2 cores
        return f"first build on this machine, roughly {5 + 40 * size / 1e6:.0f} s on 2 cores"
    return f"about {estimate:.0f} s from earlier builds here"


@dataclass
class TestRun:
    """The outcome of one :func:`run`.

    Attributes
    ----------
    results_xml : Path
        The JUnit XML results written by cocotb.
    tests : int
        Number of tests that ran.
    failed : int
        Number of tests that failed or raised an error.
    seconds : float
        Wall time of the run, simulator start-up included.
    log : Path or None
        The simulator's output, when it was captured (``quiet=True``).
    coverage : Path or None
        The coverage file written, for a build with coverage.
    saif : Path or None
        The SAIF file written, when one was asked for.
    """

    # The class name starts with "Test": keep pytest from trying to collect it.
    __test__ = False

    results_xml: Path
    tests: int
    failed: int
    seconds: float
    log: Path | None = None
    coverage: Path | None = None
    saif: Path | None = None

    def failure_messages(self) -> list[str]:
        """Return one ``"<module>.<test>: <type>: <message>"`` line per failed test.

        Returns
        -------
        list of str
            Read from the ``failure`` and ``error`` elements of :attr:`results_xml`.
        """
        messages = []
        for testcase in ElementTree.parse(self.results_xml).getroot().iter("testcase"):
            for outcome in (*testcase.findall("failure"), *testcase.findall("error")):
                name = f"{testcase.get('classname')}.{testcase.get('name')}"
                kind = outcome.get("type") or outcome.tag
                message = outcome.get("message") or (outcome.text or "").strip()
                messages.append(f"{name}: {kind}: {message}")
        return messages

    def raise_for_failures(self) -> None:
        """Raise if a test failed or no test ran.

        Raises
        ------
        AssertionError
            Quoting the failure messages, or saying that no test ran (a ``testcase`` filter or
            ``test_module`` that matches nothing would otherwise pass silently).
        """
        if self.tests == 0:
            raise AssertionError(f"no cocotb test ran (results in {self.results_xml})")
        if self.failed:
            details = textwrap.indent("\n".join(self.failure_messages()), "  ")
            raise AssertionError(
                f"{self.failed} of {self.tests} cocotb tests failed "
                f"(results in {self.results_xml}"
                + (f", log in {self.log}" if self.log else "") + f"):\n{details}"
            )


def _file_name_part(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)


@contextlib.contextmanager
def _sys_path_prepended(entries: Sequence[str]) -> Iterator[None]:
    """Put entries in front of ``sys.path`` for a ``with`` block."""
    saved = list(sys.path)
    sys.path[:0] = entries
    try:
        yield
    finally:
        sys.path[:] = saved


def run(
    build: Build,
    test_module: str,
    *,
    test_dir: Path,
    extra_env: Mapping[str, str] = {},
    seed: int | None = None,
    testcase: str | None = None,
    waves: bool = False,
    quiet: bool = True,
    plusargs: Sequence[str] = (),
    coverage_file: Path | None = None,
    saif: Path | None = None,
) -> TestRun:
    """Run cocotb tests against a build.

    Parameters
    ----------
    build : Build
        From :func:`build`, possibly made by another process.
    test_module : str
        Importable name of the Python module with the cocotb tests (comma-separated for several).
    test_dir : Path
        Working folder of the simulator: waves and the results XML are written there. Give each
        concurrent run its own.
    extra_env : Mapping of str to str
        Environment variables for the simulation. They take precedence over ``os.environ``
        (cocotb's runner alone would let the process environment win). ``PYTHONPATH`` entries are
        honoured too: cocotb builds the simulator's ``PYTHONPATH`` from ``sys.path``, so they are
        put in front of ``sys.path`` for the call.
    seed : int or None
        cocotb random seed; None lets cocotb pick one.
    testcase : str or None
        Regular expression that selects tests by name; None runs all tests of the module.
    waves : bool
        Record waves (the build must have been made with ``waves=True``).
    quiet : bool
        Send the simulator's output to ``<test_dir>/<module>.log`` instead of the terminal
        (errors name the log).
    plusargs : sequence of str
        Simulator plusargs (``+name=value``), e.g. the files of simulation-only buffers.
    coverage_file : Path or None
        Where a build with coverage writes its counts, per instance (not merged over the
        instances of a module); default ``<test_dir>/coverage.dat``.
    saif : Path or None
        Write a SAIF file of the whole run there (the build must have ``saif=True``).

    Returns
    -------
    TestRun
        Counts of tests and failures; call :meth:`TestRun.raise_for_failures` to assert success.

    Raises
    ------
    ValueError
        If ``saif`` or ``coverage_file`` is given for a build without SAIF tracing or coverage.
    ToolchainError
        If Verilator is missing.
    SimulationError
        If the simulator wrote no results or exited with an error although no test failed.
    """
    start = time.monotonic()
    test_dir = Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    test_args: list[str] = []
    if saif is not None:
        if not build.saif:
            raise ValueError("saif: the build has no SAIF tracing (build it with saif=True)")
        saif = Path(saif).resolve()
        saif.unlink(missing_ok=True)
        waves = True
        test_args += ["--trace-file", str(saif)]
    if coverage_file is not None and build.coverage is None:
        raise ValueError("coverage_file: the build has no coverage (build it with coverage=...)")
    if build.coverage is not None:
        coverage_file = Path(coverage_file or test_dir / "coverage.dat").resolve()
        coverage_file.unlink(missing_ok=True)
        plusargs = [*plusargs, f"+verilator+coverage+file+{coverage_file}"]
        # Without it Verilator merges the points of all instances of one module (hierarchy
        # "top.tc_*"); the counts are wanted per instance.
        test_args.append("--coverage-per-instance")
    name = _file_name_part(test_module) + (f"-{_file_name_part(testcase)}" if testcase else "")
    results_xml = test_dir / f"{name}.results.xml"
    log_file = test_dir / f"{name}.log" if quiet else None
    # cocotb's runner lays os.environ over extra_env and over the variables it derives from seed
    # and test_filter, so a variable exported in the shell would win. Putting them in os.environ
    # for the call as well makes the arguments win.
    env = dict(extra_env)
    python_path = env.pop("PYTHONPATH", "")
    if seed is not None:
        env["COCOTB_RANDOM_SEED"] = str(seed)
    if testcase is not None:
        env["COCOTB_TEST_FILTER"] = testcase
    runner = cocotb_tools.runner.get_runner(build.simulator)
    exit_code: int | str | None = 0
    progress.report(f"simulation of {build.toplevel}...")
    with (
        verilator_environment(),
        overlay_environ(env),
        _sys_path_prepended([entry for entry in python_path.split(os.pathsep) if entry]),
    ):
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=build.toplevel,
                # Without it a runner that did not build the design fails with AttributeError.
                hdl_toplevel_lang="verilog",
                build_dir=build.directory,
                test_dir=test_dir,
                extra_env=env,
                seed=seed,
                test_filter=testcase,
                waves=waves,
                results_xml=str(results_xml),
                log_file=log_file,
                plusargs=list(plusargs),
                test_args=test_args,
            )
        except SystemExit as stop:
            # cocotb's runner calls sys.exit() when the simulator fails and, under pytest, when a
            # test fails; the results file says which.
            exit_code = stop.code
    seconds = time.monotonic() - start
    progress.report(f"simulation of {build.toplevel}: done in {seconds:.1f} s")
    if not results_xml.is_file():
        raise SimulationError(
            f"simulation of {build.toplevel} with {test_module} wrote no results to {results_xml} "
            f"(simulator exit code {exit_code}): look for a Python error in the simulator output, "
            "such as a test module that cannot be imported"
            + (f"; log: {log_file}" if log_file else "")
        )
    tests, failed = get_results(results_xml)
    if exit_code not in (0, None) and failed == 0:
        raise SimulationError(
            f"simulation of {build.toplevel} with {test_module} exited with code {exit_code} "
            f"although no test failed (results in {results_xml}); see the simulator output"
            + (f" in {log_file}" if log_file else "")
        )
    for path, what in ((coverage_file, "coverage"), (saif, "SAIF")):
        if path is not None and not path.is_file():
            raise SimulationError(f"simulation of {build.toplevel} wrote no {what} file {path}"
                                  + (f"; log: {log_file}" if log_file else ""))
    return TestRun(results_xml=results_xml, tests=tests, failed=failed, seconds=seconds,
                   log=log_file, coverage=coverage_file, saif=saif)


def lint(
    sources: Sequence[Path], toplevel: str, *, flags: Sequence[str] = ("-Wall",)
) -> list[str]:
    """Run ``verilator --lint-only`` and return its warnings and errors.

    Parameters
    ----------
    sources : Sequence of Path
        Verilog files.
    toplevel : str
        The HDL toplevel module.
    flags : Sequence of str
        Verilator lint options.

    Returns
    -------
    list of str
        The ``%Warning...`` and ``%Error...`` lines (without the source excerpts below each and
        the final "Exiting due to ..." line); empty when the design is clean.

    Raises
    ------
    ToolchainError
        If Verilator is missing, or fails without saying why.
    """
    with verilator_environment():
        executable = verilator_executable()
        result = subprocess.run(
            [
                str(executable),
                "--lint-only",
                *flags,
                "--top-module",
                toplevel,
                *(str(Path(source)) for source in sources),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    diagnostics = [
        line
        for line in result.stdout.splitlines()
        if line.startswith(("%Warning", "%Error")) and not line.startswith("%Error: Exiting due to")
    ]
    if result.returncode != 0 and not diagnostics:
        raise ToolchainError(
            f"{executable} --lint-only failed with exit code {result.returncode} and no "
            f"diagnostics:\n{result.stdout.strip()}"
        )
    return diagnostics
