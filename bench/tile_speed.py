"""Simulation speed of a tile: plain Verilator C++ harness vs the cocotb flow vs the golden model.

Prints cycles/s and events/s of each, and their ratios, measured in one run on the same
seeded stimulus (so all three do the same work), plus JSON with --json.

    python bench/tile_speed.py [--config tile.toml] [--steps 2000] [--activity 0.3] [--json out.json]

(a) plain: the tile's Verilog compiled by Verilator with a small C++ main that drives the
    streams from a stimulus file (no VPI, no --public-flat-rw): the speed ceiling.
(b) cocotb: the project's flow (HarnessArray + tb_tile): stimulus preloaded into the harness,
    Python wakes once per step (with state readback) or once per run (without). Rates are
    over the program's run inside the simulator; the ratio with the simulator's start-up
    (about half a second) included is printed too.
(c) golden: golden.tile.TileModel stepping the same stimulus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from subtile.spec.config import TileConfig, load_config
from subtile.gen.tile import generate_tile
from subtile.golden.tile import TileModel, random_stimulus
from subtile.toolchain import runner
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.toolchain.verilator import verilator_environment

MAIN_CPP = r"""
// Plain Verilator harness: drive the tile's streams from a stimulus file, count cycles.
// (Verilator escapes "__" in port names as "___05F".)
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <vector>
#include "Vtile.h"
#include "verilated.h"

static Vtile* top;
static uint64_t cycles = 0;
static void step_clock() { top->clk = 0; top->eval(); top->clk = 1; top->eval(); ++cycles; }

int main(int argc, char** argv) {
    // stimulus file: int64 words; >= 0: an event word (address | payload << ADDRESS_BITS); -1: tick
    FILE* f = fopen(argv[1], "rb");
    std::vector<int64_t> words;
    int64_t w;
    while (fread(&w, sizeof w, 1, f) == 1) words.push_back(w);
    fclose(f);
    top = new Vtile;
    top->rst = 1; step_clock(); step_clock(); top->rst = 0; cycles = 0;
    top->events_out___05Fready = 1;
    uint64_t outputs = 0, events = 0;
    auto start = std::chrono::steady_clock::now();
    for (int64_t word : words) {
        if (word >= 0) {
            top->events_in___05Fvalid = 1; top->events_in___05Fpayload = word;
            top->eval();
            while (!top->events_in___05Fready) { step_clock(); }
            step_clock(); ++events;
            top->events_in___05Fvalid = 0;
        } else {
            top->tick = 1; top->eval();
            while (!top->tick_ready) { step_clock(); top->eval(); }
            step_clock(); top->tick = 0;
            while (true) {
                top->eval();
                bool done = top->done;
                if (top->events_out___05Fvalid) ++outputs;
                step_clock();
                if (done) break;
            }
        }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    printf("{\"cycles\": %llu, \"events_in\": %llu, \"events_out\": %llu, \"seconds\": %.6f}\n",
           (unsigned long long)cycles, (unsigned long long)events, (unsigned long long)outputs, seconds);
    delete top;
    return 0;
}
"""


def build_plain(config: TileConfig, work: Path) -> Path:
    """Compile the tile with the plain C++ main (cached by the Verilog and main's hash)."""
    design = generate_tile(config.replace(name="tile"))
    key = hashlib.sha256((design.sha256 + MAIN_CPP).encode()).hexdigest()[:16]
    folder = runner.cache_root() / "plain" / key
    binary = folder / "Vtile"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        verilog = design.write(folder)
        (folder / "main.cpp").write_text(MAIN_CPP)
        with verilator_environment():
            subprocess.run(["verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal", "-Wno-WIDTHEXPAND",
                            "-Wno-WIDTHTRUNC", "--top-module", "tile", "-j", "2", "-Mdir", str(folder / "obj"),
                            "-o", str(binary), str(verilog), str(folder / "main.cpp")],
                           check=True, capture_output=True, text=True)
    return binary


def plain_words(config: TileConfig, stimulus) -> np.ndarray:
    words = []
    for events in stimulus:
        for address, payload in events:
            payload_bits = int(payload) & ((1 << config.payload_format.width) - 1)
            words.append(int(address) | (payload_bits << config.address_width))
        words.append(-1)
    return np.array(words, dtype=np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--activity", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else TileConfig()
    stimulus = random_stimulus(config, args.steps, args.activity, args.seed)
    events = sum(len(e) for e in stimulus)
    work = Path(tempfile.mkdtemp(prefix="subtile-bench-"))
    results = {"config": config.to_dict(), "steps": args.steps, "activity": args.activity, "events_in": events}

    # (a) plain Verilator
    binary = build_plain(config, work)
    stim_file = work / "stimulus.bin"
    plain_words(config, stimulus).tofile(stim_file)
    plain = json.loads(subprocess.run([str(binary), str(stim_file)], check=True, capture_output=True,
                                      text=True).stdout.strip().splitlines()[-1])
    results["plain"] = {"cycles_per_second": plain["cycles"] / plain["seconds"],
                        "events_per_second": plain["events_in"] / plain["seconds"], **plain}

    # (b) the cocotb flow, without and with per-step state readback
    bench = TileBench([config], name="speed_bench", stimulus_depth=1 << 17, response_depth=1 << 17)
    steps = [StepStimulus(e) for e in stimulus]
    for label, read_state in (("cocotb", False), ("cocotb_state", True)):
        run = bench.run({0: TileCase(steps, seed=args.seed, read_state=read_state)}, work_dir=work / label)[0]
        if not run.passed:
            sys.exit(f"{label}: RTL and golden model disagree: {run.mismatch}")
        # seconds: the whole simulator process (start-up included); run_seconds: the program only
        results[label] = {"cycles": run.cycles, "seconds": run.seconds, "run_seconds": run.run_seconds,
                          "cycles_per_second": run.cycles / run.run_seconds,
                          "events_per_second": events / run.run_seconds,
                          "cycles_per_second_with_startup": run.cycles / run.seconds}

    # (c) golden model
    model = TileModel(config)
    start = time.perf_counter()
    model.run(stimulus)
    seconds = time.perf_counter() - start
    results["golden"] = {"seconds": seconds, "events_per_second": events / seconds}

    plain_cps = results["plain"]["cycles_per_second"]
    results["ratios"] = {
        "cocotb_vs_plain": results["cocotb"]["cycles_per_second"] / plain_cps,
        "cocotb_with_startup_vs_plain": results["cocotb"]["cycles_per_second_with_startup"] / plain_cps,
        "cocotb_state_vs_plain": results["cocotb_state"]["cycles_per_second"] / plain_cps,
        "golden_vs_cocotb_events": results["golden"]["events_per_second"] / results["cocotb"]["events_per_second"],
        "golden_vs_plain_events": results["golden"]["events_per_second"] / results["plain"]["events_per_second"],
    }
    print(f"tile {config.neurons}x{config.branches}x{config.synapses}, {args.steps} steps, "
          f"activity {args.activity}: {events} input events, {plain['cycles']} cycles")
    for label in ("plain", "cocotb", "cocotb_state"):
        r = results[label]
        print(f"  {label:13s} {r['cycles_per_second']:>12,.0f} cycles/s {r['events_per_second']:>12,.0f} events/s")
    print(f"  {'golden':13s} {'':>12s} {'':9s} {results['golden']['events_per_second']:>12,.0f} events/s")
    for name, value in results["ratios"].items():
        print(f"  {name:26s} {value:8.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
