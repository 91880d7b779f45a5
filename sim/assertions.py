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

from .runner import cache_root
from .toolchain import verilator_environment, verilator_executable

__all__ = ["MODES", "testbench_sv", "build", "run", "CheckedRun"]

MODES = ("good", "broken_valid", "broken_payload")


def testbench_sv(top: str) -> str:
    """A testbench module ``tb`` driving ``<top>_sv`` from the clock's falling edge."""
    return f"""\
// Self-driving testbench of {top}_sv (subtile.sim.assertions). +mode=0 good, 1 valid dropped
// while stalled, 2 payload changed while stalled; +steps=N; +seed=S.
module tb;
    import {top}_pkg::*;
    logic clk = 1'b0, rst = 1'b1;
    always #5 clk = ~clk;
    logic events_in__valid = 1'b0, events_in__ready;
    event_in_t events_in__payload = '0;
    logic events_out__valid, events_out__ready = 1'b0;
    event_out_t events_out__payload;
    prog_t prog__payload = '0;
    logic prog__valid = 1'b0, prog__ready;
    logic tick = 1'b0, tick_ready, done;
    logic [31:0] unmapped;
    {top}_sv dut (.*);

    int mode = 0, steps = 20, seed = 1, sent = 0, received = 0, dummy;
    always @(negedge clk) events_out__ready = ($urandom % 4) != 0;     // 25 % backpressure
    always @(posedge clk) if (!rst && events_out__valid && events_out__ready) received <= received + 1;

    task automatic wait_ready(ref logic ready);
        #1;
        while (!ready) begin @(negedge clk); #1; end
    endtask

    initial begin
        void'($value$plusargs("mode=%d", mode));
        void'($value$plusargs("steps=%d", steps));
        void'($value$plusargs("seed=%d", seed));
        dummy = $urandom(seed);
        repeat (4) @(negedge clk);
        rst = 1'b0;
        for (int step = 0; step < steps; step++) begin
            for (int i = $urandom_range(8, 1); i > 0; i--) begin
                if ($urandom % 3 == 0) @(negedge clk);                  // an idle cycle
                events_in__valid = 1'b1;
                events_in__payload = event_in_t'($urandom);
                wait_ready(events_in__ready);
                @(negedge clk);                                         // taken at the rising edge
                events_in__valid = 1'b0;
                sent++;
            end
            tick = 1'b1;
            wait_ready(tick_ready);
            @(negedge clk);
            tick = 1'b0;
            if (step == 1 && mode == 1) begin                           // valid without ready, dropped
                events_in__valid = 1'b1;
                @(negedge clk);
                events_in__valid = 1'b0;
            end
            if (step == 1 && mode == 2) begin                           // payload changes while stalled
                events_in__valid = 1'b1;
                events_in__payload = '0;
                @(negedge clk);
                events_in__payload = '1;
                @(negedge clk);
                events_in__valid = 1'b0;
            end
            while (!done) @(negedge clk);
        end
        repeat (2) @(negedge clk);
        if (received == 0) $fatal(1, "no output events: the run checked nothing");
        $display("PASS %0d steps, %0d events in, %0d events out, unmapped %0d", steps, sent, received, unmapped);
        $finish;
    end
endmodule
"""


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
