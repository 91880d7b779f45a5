"""Tile RTL against the golden model under Verilator: stimulus encoding, runs, scoreboard.

One Verilator build per set of tile configurations (the stimulus reaches the harness as a file
named by a plusarg, so new stimulus never rebuilds). :func:`simulate` runs a program of time steps, then compares every
output event and, after every step, the architectural state with :class:`golden.tile.TileModel`,
and reports the first divergence.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from subtile.spec.config import TileConfig
from subtile.spec.fixed import wrap
from subtile.sim.tile_harness import generate_bench
from subtile.golden.tile import SynapseTable, TileModel
from subtile.toolchain import runner
from subtile.sim.tile_harness import (StimulusKind, event_body_layout, prog_body_layout, response_layout,
                           response_plusarg, stimulus_layout, stimulus_plusarg)

__all__ = ["StepStimulus", "TileCase", "TileBench", "TileRun", "simulate", "encode_stimulus",
           "decode_responses", "state_signals"]

TB_MODULE = "subtile.sim.tb_tile"
#: What tb_tile drives and reads through VPI: the clock and reset and the harness ports at the
#: top (h<i>_<port>).
PUBLIC_SIGNALS = ("clk", "rst", "h*_*")
#: What it only reads: the architectural state (docs/architecture.md). Read-only, so that
#: Verilator keeps scheduling the logic behind it as without VPI. Nothing else is public.
READ_SIGNALS = ("acc_*", "v_*", "y_sent_*", "dirty_*", "unmapped")


@dataclass
class StepStimulus:
    """What happens in one time step: programming writes, then input events, then the tick.

    ``events`` is an (E, 2) integer array of (address, payload code); ``writes`` a list of
    (target, row, neuron, data) with target 0 = synapse table word, 1 = weight.
    """

    events: np.ndarray
    writes: Sequence[tuple[int, int, int, int]] = ()


def _pack(layout, **fields) -> int:
    word = 0
    for name, value in fields.items():
        member = layout[name]
        width = member.shape.width if hasattr(member.shape, "width") else len(member.shape)
        word |= (int(value) & ((1 << width) - 1)) << member.offset
    return word


def encode_stimulus(config: TileConfig, steps: Sequence[StepStimulus]) -> list[int]:
    """The harness program: per step its writes, its events, a tick; then END."""
    words_layout, event_layout, prog_layout = stimulus_layout(config), event_body_layout(config), prog_body_layout(config)

    def word(kind, body=0):
        return _pack(words_layout, kind=kind, body=body)

    program = []
    for step in steps:
        for target, row, neuron, value in step.writes:
            program.append(word(StimulusKind.PROG, _pack(prog_layout, target=target, row=row,
                                                         neuron=neuron, data=value)))
        for address, payload in np.asarray(step.events, dtype=np.int64).reshape(-1, 2):
            program.append(word(StimulusKind.EVENT, _pack(event_layout, address=address, payload=payload)))
        program.append(word(StimulusKind.TICK))
    program.append(word(StimulusKind.END))
    return program


def _run_files(work_dir: Path, index: int) -> tuple[Path, Path, Path]:
    """Stimulus file, response file and recorded-state file of tile ``index`` in a run folder."""
    return (work_dir / f"tile{index}_stimulus.hex", work_dir / f"tile{index}_responses.hex",
            work_dir / f"tile{index}_run.npz")


def read_hex(path) -> list[int]:
    """Words of a hex file, one or more per line (comments and ``$writememh`` address markers
    skipped)."""
    words = []
    for line in Path(path).read_text().splitlines():
        line = line.split("//", 1)[0].strip()
        if line and not line.startswith("@"):
            words.extend(int(token, 16) for token in line.split())
    return words


def decode_responses(config: TileConfig, words, steps: int) -> list[np.ndarray]:
    """Recorded response words to per-step (K, 2) arrays of (neuron, signed payload)."""
    layout = response_layout(config)

    def field_of(name):
        member = layout[name]
        width = member.shape.width
        return np.array([(int(w) >> member.offset) & ((1 << width) - 1) for w in words], dtype=np.int64)

    step, neuron, payload = field_of("step"), field_of("neuron"), field_of("payload")
    payload = wrap(payload, config.payload_format)
    return split_by_step(step, neuron, payload, steps, layout["step"].shape.width)


def split_by_step(step, neuron, payload, steps: int, step_bits: int) -> list[np.ndarray]:
    """Per-step (K, 2) arrays of (neuron, payload) of recorded events in time order.

    The recorded step field has ``step_bits`` bits and wraps around in runs of more than
    ``2**step_bits`` steps; it is unwrapped by counting decreases (recorded steps never decrease),
    which is exact as long as two consecutive recorded events are less than ``2**step_bits``
    steps apart."""
    step = np.asarray(step, dtype=np.int64)
    if step.size:
        step = step + (np.cumsum(np.diff(step, prepend=step[0]) < 0) << step_bits)
    bounds = np.searchsorted(step, np.arange(steps + 1), side="left")
    events = np.stack([np.asarray(neuron, dtype=np.int64), np.asarray(payload, dtype=np.int64)], axis=1)
    return [events[bounds[s]:bounds[s + 1]] for s in range(steps)]


def state_signals(config: TileConfig) -> dict[str, list[str]]:
    """Names of the architectural state registers in the tile (docs/architecture.md)."""
    n, b = config.neurons, config.branches
    return {
        "acc": [f"acc_{i}_{j}" for i in range(n) for j in range(b)],
        "v": [f"v_{i}" for i in range(n)],
        "y_sent": [f"y_sent_{i}" for i in range(n)],
        "dirty": [f"dirty_{i}" for i in range(n)],
        "unmapped": ["unmapped"],
    }


@dataclass
class TileRun:
    """Outcome of :func:`simulate`."""

    passed: bool
    steps: int
    events_in: int
    events_out: int
    synaptic_ops: int
    cycles: int
    seconds: float
    build: runner.Build
    mismatch: str | None = None
    step_cycles: list[int] = field(default_factory=list)
    run_seconds: float = 0.0        # from start to the end of the program, inside the simulator
    toggles: dict[str, int] = field(default_factory=dict)   # bit flips per unit (TileProbes.data)
    pulses: dict[str, int] = field(default_factory=dict)    # gated clock pulses per gated unit
    coverage: Path | None = None    # Verilator toggle coverage of the run (TileBench(coverage=True))
    saif: Path | None = None        # SAIF of the run (TileBench(saif=True))
    waves: str | None = None        # the waves file, when the run recorded one

    def summary(self) -> dict:
        return {"pass": self.passed, "steps": self.steps, "events_in": self.events_in,
                "events_out": self.events_out, "synaptic_ops": self.synaptic_ops,
                "cycles": self.cycles, "seconds": round(self.seconds, 3),
                "cycles_per_second": round(self.cycles / self.seconds) if self.seconds else None,
                "run_seconds": round(self.run_seconds, 3),
                "build_cached": self.build.cached, "build_seconds": round(self.build.seconds, 3),
                "toggles": self.toggles, "clock_pulses": self.pulses,
                "mismatch": self.mismatch}


def _apply_writes(model: TileModel, config: TileConfig, writes, port: bool = False):
    """Apply programming-port writes to the golden model (decoded by the golden packing rule);
    with ``port``, as the hardware's port takes any value (``TileModel.write_port``)."""
    for target, row, neuron, value in writes:
        if port:
            model.write_port(target, row, neuron, value)
        elif target == 0:
            words = np.zeros(config.addresses, dtype=np.int64)
            words[row] = value
            entry = SynapseTable.decode(words, config)
            model.program_table(row, bool(entry.valid[row]), int(entry.branch[row]), int(entry.slot[row]))
        else:
            model.program_weight(row, neuron, int(wrap(value, config.weight_format)))


def compare_step(config, step_index, expected_events, got_events, expected_state, got_state) -> str | None:
    """First divergence within one step, described, or None."""
    expected_events = np.asarray(expected_events, dtype=np.int64).reshape(-1, 2)
    for index in range(max(len(expected_events), len(got_events))):
        exp = tuple(expected_events[index]) if index < len(expected_events) else None
        got = tuple(got_events[index]) if index < len(got_events) else None
        if exp != got:
            describe = lambda e: "none" if e is None else f"(neuron {e[0]}, payload {e[1]})"
            return (f"step {step_index}: output event {index}: expected {describe(exp)}, got {describe(got)} "
                    f"({len(expected_events)} expected, {len(got_events)} got in this step)")
    if got_state is None:
        return None
    n, b = config.neurons, config.branches
    checks = [("acc", expected_state.acc.reshape(n * b), lambda i: f"neuron {i // b} branch {i % b}"),
              ("v", expected_state.v, lambda i: f"neuron {i}"),
              ("y_sent", expected_state.y_sent, lambda i: f"neuron {i}"),
              ("dirty", expected_state.dirty.astype(np.int64), lambda i: f"neuron {i}"),
              ("unmapped", np.array([expected_state.unmapped % (1 << 32)]), lambda i: "tile")]
    for name, expected, where in checks:
        got = np.asarray(got_state[name], dtype=np.int64)
        bad = np.flatnonzero(got != expected)
        if bad.size:
            i = bad[0]
            return (f"step {step_index}: state {name} at {where(i)}: expected {expected[i]}, got {got[i]} "
                    f"({bad.size} of {len(expected)} differ)")
    return None


@dataclass
class TileCase:
    """One run on one tile of a :class:`TileBench`.

    ``idle`` and ``stall`` are probabilities (0..1) of an idle cycle before each input event and
    of output backpressure in each cycle, drawn by LFSRs in the harness from ``seed``.
    ``read_state`` compares the architectural state after every step. ``port_inputs`` lets the
    stimulus hold anything the ports can carry (addresses >= A, writes outside the memories,
    table entries naming no branch or slot), scored against the golden model's port mode
    (docs/architecture.md, "Out-of-range port inputs"); otherwise the golden model refuses them.
    ``spaced`` puts one idle cycle after every accepted input word, the spacing a router's local
    port gives a tile in a mesh (the harness otherwise takes one word per cycle).
    """

    stimulus: Sequence[StepStimulus]
    seed: int = 1
    idle: float = 0.0
    stall: float = 0.0
    read_state: bool = True
    port_inputs: bool = False
    spaced: bool = False

    def __post_init__(self):
        for name in ("idle", "stall"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: {value} is outside the allowed range [0, 1)")


class TileBench:
    """Tiles of one or more configurations side by side in one Verilator build.

    Parameters
    ----------
    configs : sequence of TileConfig
        One harness each (harness ``i`` holds ``configs[i]``).
    contents : sequence of (weights, table) or None
        Initial memory contents per tile; None draws them from each config's seed.
    stimulus_depth, response_depth : int or None
        Change nothing (kept for callers written for the earlier fixed-size buffers): programs
        and responses stream through files, any length.
    count_toggles : bool
        Count toggles inside the simulation (``TileRun.toggles``, ``TileRun.pulses``); False
        builds the plain simulation without counters.
    coverage, saif : bool
        Also record Verilator toggle coverage of every net (``TileRun.coverage``, a
        ``coverage.dat``; see :mod:`subtile.power.toggle_capture`) or a SAIF file of the whole
        run (``TileRun.saif``). Both are several times slower (``bench/toggle_overhead.py``): for
        calibration and power tools.
    assertions : bool
        Instantiate the SystemVerilog assertion checker of ``subtile export --sv`` on every tile
        and build with ``verilator --assert``: a stream-protocol or invariant violation then
        stops the simulation with the assertion's message.
    simulator : str
        ``"verilator"`` (default) or ``"icarus"`` (tens of times slower; without coverage, SAIF,
        assertions or waves, which are Verilator only).
    build_args : sequence of str
        More arguments for the simulator's build (Verilator: e.g. ``--threads 2``;
        ``bench/build_options.py`` measures what they change).
    """

    def __init__(self, configs: Sequence[TileConfig], *, contents=None, name: str = "tile_bench",
                 stimulus_depth: int | None = None, response_depth: int | None = None,
                 count_toggles: bool = True, coverage: bool = False, saif: bool = False,
                 assertions: bool = False, simulator: str = "verilator", build_args: Sequence[str] = ()):
        if simulator not in runner.SIMULATORS:
            raise ValueError(f"simulator: {simulator!r} is not one of {', '.join(runner.SIMULATORS)}")
        if simulator == "icarus" and (coverage or saif or assertions):
            raise ValueError("coverage, saif and assertions: Verilator only (not with simulator='icarus')")
        self.simulator = simulator
        from subtile.golden.tile import initial_contents
        self.configs = list(configs)
        self.contents = list(contents) if contents is not None else [initial_contents(c) for c in self.configs]
        self.name, self.stimulus_depth, self.response_depth = name, stimulus_depth, response_depth
        self.count_toggles, self.coverage, self.saif = count_toggles, coverage, saif
        self.assertions = assertions
        self.build_args = list(build_args)
        self._build = None

    def build(self, work_dir: Path) -> runner.Build:
        """Generate the Verilog into ``work_dir`` and build it (reused when unchanged)."""
        if self._build is None:
            # Toggle coverage needs every lane a module of its own (generate's share_lanes).
            design = generate_bench(self.configs, self.contents, top=self.name, count_toggles=self.count_toggles,
                                    checks=self.assertions, share_lanes=not self.coverage)
            verilog = design.write(Path(work_dir))
            self._verilog = verilog
            if self.simulator == "icarus":
                self._build = runner.build([verilog], design.top, simulator="icarus", build_args=self.build_args)
            else:
                self._build = runner.build([verilog], design.top, public=PUBLIC_SIGNALS,
                                           public_read=READ_SIGNALS,
                                           build_args=["--assert"] * self.assertions + self.build_args,
                                           coverage="toggle" if self.coverage else None, saif=self.saif)
        return self._build

    @staticmethod
    def counters() -> list[str]:
        """Names of each harness's toggle and clock-pulse counters (see hdl.tile.TileProbes)."""
        from subtile.hdl.tile import GATED_UNITS, PROBE_UNITS
        return [f"toggles_{unit}" for unit in PROBE_UNITS] + [f"pulses_{unit}" for unit in GATED_UNITS]

    def waves_build(self, work_dir: Path) -> tuple[runner.Build, str]:
        """A second build of the same Verilog that records waves: FST when the zlib and lz4
        headers are installed (Debian liblz4-dev, zlib1g-dev), else VCD. Returns it and the
        suffix of the file it writes."""
        from subtile.toolchain.verilator import fst_supported
        self.build(work_dir)
        verilog = getattr(self, "_verilog", None) or Path(work_dir) / f"{self.name}.v"
        fst = fst_supported()
        build = runner.build([verilog], self.name, public=PUBLIC_SIGNALS, public_read=READ_SIGNALS,
                             waves=True,
                             build_args=["--trace-fst"] if fst else [])
        return build, "fst" if fst else "vcd"

    def run(self, cases: dict[int, TileCase], *, work_dir: Path, plusargs: Sequence[str] = (),
            timeout_cycles: int | None = None, waves: Path | None = None) -> dict[int, "TileRun"]:
        """Run ``cases`` (harness index -> case) concurrently; compare each with the golden model.

        ``plusargs`` are passed to the simulator (e.g. the mutant selector of
        :mod:`subtile.mutate.mutation`); with ``timeout_cycles`` the run fails (AssertionError naming
        the timeout) when the programs have not finished after that many clock cycles. With
        ``waves``, the run uses a tracing build and its waves (FST, or VCD when FST cannot be
        built; see :meth:`waves_build`) are moved to that path, with the suffix of their format.
        """
        work_dir = Path(work_dir).absolute()      # the simulator runs in another folder
        work_dir.mkdir(parents=True, exist_ok=True)
        build = self.build(work_dir)
        if waves is not None:
            build, waves_format = self.waves_build(work_dir)
        extra_plusargs = list(plusargs)
        plan_cases, plusargs = [], []
        for index, config in enumerate(self.configs):
            case = cases.get(index)
            stimulus_file, response_file, output = _run_files(work_dir, index)
            response_file.unlink(missing_ok=True)
            if case is not None:
                program = encode_stimulus(config, case.stimulus)
                stimulus_file.write_text("".join(f"{word:x}\n" for word in program))
                plusargs += [f"+{stimulus_plusarg(index)}={stimulus_file}", f"+{response_plusarg(index)}={response_file}"]
            plan_cases.append({
                "enabled": case is not None, "steps": len(case.stimulus) if case else 0,
                "read_state": bool(case and case.read_state), "state_scope": "tile",
                "state_signals": state_signals(config), "signed_state": ["acc", "v", "y_sent"],
                "idle_threshold": round(case.idle * 256) if case else 0,
                "stall_threshold": round(case.stall * 256) if case else 0,
                "seed": (case.seed & 0xFFFF) if case else 0,
                "spaced": bool(case and case.spaced),
                "output": str(output), "counters": self.counters() if self.count_toggles else [],
            })
        plan_path = work_dir / "tile_plan.json"
        plan_path.write_text(json.dumps({"cases": plan_cases, "timeout_cycles": timeout_cycles}))
        start = time.perf_counter()
        test_run = runner.run(build, TB_MODULE, test_dir=work_dir, extra_env={"SUBTILE_TILE_PLAN": str(plan_path)},
                              seed=min(case.seed for case in cases.values()) if cases else None,
                              plusargs=[*plusargs, *extra_plusargs], waves=waves is not None,
                              saif=work_dir / "run.saif" if self.saif else None)
        if waves is not None:
            self.waves_file = Path(waves).with_suffix("." + waves_format)
            self.waves_file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work_dir / f"dump.{waves_format}", self.waves_file)
        test_run.raise_for_failures()
        sim_seconds = time.perf_counter() - start
        runs = {index: self.score(index, case, work_dir, sim_seconds=sim_seconds)
                for index, case in cases.items()}
        for tile_run in runs.values():
            tile_run.coverage, tile_run.saif = test_run.coverage, test_run.saif
        return runs

    def score(self, index: int, case: TileCase, work_dir: Path, *, sim_seconds: float = 0.0) -> "TileRun":
        """Compare the run of ``case`` on tile ``index`` recorded in ``work_dir`` with the golden
        model built from ``self.contents[index]`` (``run`` calls it; call it again to score a
        recorded run against other contents)."""
        config = self.configs[index]
        weights, table = self.contents[index]
        _stimulus_file, response_file, output = _run_files(Path(work_dir), index)
        with np.load(output) as recorded:
            recorded = dict(recorded)
        count = int(recorded["responses"][0])
        words = read_hex(response_file) if count else []
        if len(words) != count:
            raise RuntimeError(f"{response_file}: {len(words)} response words, {count} recorded")
        got_events = decode_responses(config, words, len(case.stimulus))
        model = TileModel(config, weights=weights, table=table)
        signals = state_signals(config)
        mismatch, events_in, events_out, synaptic_ops = None, 0, 0, 0
        for step_index, step in enumerate(case.stimulus):
            _apply_writes(model, config, step.writes, case.port_inputs)
            result = model.step(np.asarray(step.events, dtype=np.int64).reshape(-1, 2), port=case.port_inputs)
            events_in += result.events_in
            events_out += len(result.events_out)
            synaptic_ops += result.synaptic_ops
            got_state = ({name: recorded[f"state_{name}"][step_index] for name in signals}
                         if case.read_state else None)
            mismatch = compare_step(config, step_index, result.events_out, got_events[step_index],
                                    result.state, got_state)
            if mismatch:
                break
        if mismatch is None and sum(len(e) for e in got_events) != events_out:
            mismatch = f"{sum(len(e) for e in got_events)} output events recorded, {events_out} expected"
        return TileRun(passed=mismatch is None, steps=len(case.stimulus), events_in=events_in,
                       events_out=events_out, synaptic_ops=synaptic_ops,
                       cycles=int(recorded["cycles"][0]), seconds=sim_seconds, build=self._build,
                       mismatch=mismatch, step_cycles=[int(c) for c in recorded["step_cycles"]],
                       run_seconds=float(recorded["seconds"][0]),
                       toggles={k[len("counter_toggles_"):]: int(v[0]) for k, v in recorded.items()
                                if k.startswith("counter_toggles_")},
                       pulses={k[len("counter_pulses_"):]: int(v[0]) for k, v in recorded.items()
                               if k.startswith("counter_pulses_")})


def simulate(config: TileConfig, stimulus: Sequence[StepStimulus], *, work_dir: Path, seed: int = 1,
             idle: float = 0.0, stall: float = 0.0, read_state: bool = True, contents=None,
             waves: Path | None = None, simulator: str = "verilator") -> "TileRun":
    """Run one stimulus program on one tile (a bench of one) and compare with the golden model.

    With ``waves``, record waves of the run to that path (see :meth:`TileBench.run`); the path
    written is ``TileRun.waves``. ``simulator``: ``"verilator"`` or ``"icarus"``."""
    bench = TileBench([config], contents=[contents] if contents is not None else None, name=f"{config.name}_bench",
                      simulator=simulator)
    run = bench.run({0: TileCase(stimulus, seed=seed, idle=idle, stall=stall, read_state=read_state)},
                    work_dir=work_dir, waves=waves)[0]
    if waves is not None:
        run.waves = str(bench.waves_file)
    return run
