"""Verilator regression of the exported SystemVerilog layer with its assertions on (``--assert``).

:func:`build` compiles the struct wrapper of an export (``subtile export --sv``) with its
checker and a small self-driving testbench (:func:`testbench_sv`) into one Verilator binary;
:func:`run` runs it in one of :data:`MODES`:

``good``
    Seeded random input events with idle cycles, ticks, random output backpressure; every
    protocol and invariant assertion must hold, and output events must flow (else the run
    fails with ``$fatal``).
``broken_valid``
    As ``good``, but after the second tick the testbench raises ``events_in`` valid while the
    tile is updating (not ready) and drops it a cycle later: the stream protocol is broken and
    ``a_valid_held`` must fire.
``broken_payload``
    The same, but the payload changes while stalled: ``a_payload_stable`` must fire.

Builds are cached like the cocotb ones (``<cache root>/sva/<top>-<hash>``).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from subtile.gen.sv import testbench_sv
from subtile.toolchain.runner import cache_root
from subtile.toolchain.verilator import verilator_environment, verilator_executable

__all__ = ["MODES", "testbench_sv", "build", "run", "CheckedRun"]

MODES = ("good", "broken_valid", "broken_payload")


def _sources(export_dir: Path, top: str) -> list[Path]:
    export_dir = Path(export_dir)
    rtl = [export_dir / line for line in (export_dir / f"{top}.f").read_text().split()]
    sv = [export_dir / "sv" / name for name in
          (f"{top}_pkg.sv", "subtile_stream_check.sv", f"{top}_checks.sv", f"{top}_sv.sv")]
    missing = [str(path) for path in sv if not path.exists()]
    if missing:
        raise FileNotFoundError(f"no SystemVerilog layer in {export_dir} (export with --sv): {missing[0]}")
    return [export_dir / f"{top}.vlt", *rtl, *sv]


def build(export_dir, top: str) -> Path:
    """Compile the export's SV wrapper, checker and :func:`testbench_sv` with ``--assert``;
    returns the binary (reused when the sources are unchanged)."""
    sources = _sources(Path(export_dir), top)
    tb = testbench_sv(top)
    digest = hashlib.sha256(tb.encode())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    directory = cache_root() / "sva" / f"{top}-{digest.hexdigest()[:16]}"
    binary = directory / "Vtb"
    if binary.exists():
        return binary
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tb.sv").write_text(tb)
    with verilator_environment():
        command = [str(verilator_executable()), "--binary", "--assert", "--timing", "-Wno-fatal",
                   "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-CFLAGS", "-std=c++20 -fcoroutines",
                   "--top-module", "tb", "--Mdir", str(directory / "obj"), "-o", str(binary),
                   *map(str, sources), str(directory / "tb.sv")]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    (directory / "build.log").write_text(result.stdout)
    if result.returncode != 0 or not binary.exists():
        raise RuntimeError(f"Verilator build of the assertion bench failed; log {directory / 'build.log'}:\n"
                           + "\n".join(result.stdout.splitlines()[-20:]))
    return binary


@dataclass
class CheckedRun:
    """Exit code and output of one run; ``passed`` when it finished with PASS and no assertion."""

    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and "PASS" in self.output and "Assertion failed" not in self.output

    def failed_assertions(self) -> list[str]:
        return [line for line in self.output.splitlines() if "Assertion failed" in line or "%Error" in line]


def run(binary: Path, mode: str = "good", *, steps: int = 20, seed: int = 1) -> CheckedRun:
    """Run the bench in ``mode`` (one of :data:`MODES`)."""
    result = subprocess.run([str(binary), f"+mode={MODES.index(mode)}", f"+steps={steps}", f"+seed={seed}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                            cwd=binary.parent, timeout=300)
    return CheckedRun(result.returncode, result.stdout)
