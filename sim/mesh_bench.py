"""Mesh RTL against the golden mesh model under Verilator: stimulus encoding, runs, scoreboard.

Several meshes share one Verilator build (a :class:`~subtile.sim.tile_harness.HarnessArray` of
:class:`~subtile.sim.mesh_harness.MeshHarness`); the stimulus reaches each harness as a file,
so new stimulus never rebuilds. The scoreboard compares, per step and per tile, every output
event with :class:`subtile.golden.mesh.MeshModel`, every event on every external output, and
the packets each router delivered to its tile over the run with the model's count.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from subtile.spec.config import MeshConfig
from subtile.golden.mesh import MeshModel
from subtile.hdl.router import PORT_NAMES, PORTS
from subtile.toolchain import runner
from subtile.sim.mesh_harness import (mesh_response_layout, mesh_stimulus_layout, mesh_stimulus_plusarg,
                           output_response_plusarg, tile_response_plusarg)
from subtile.sim.tile_bench import _pack, read_hex, split_by_step
from subtile.sim.tile_harness import StimulusKind

__all__ = ["MeshBench", "MeshCase", "MeshRun", "RouterCounters", "encode_mesh_stimulus", "simulate_mesh",
           "block_name"]

TB_MODULE = "subtile.sim.tb_mesh"
PUBLIC_SIGNALS = ("clk", "rst", "h*_*")


def _word_dtype(layout):
    """int64 for words that fit it, else Python integers (object arrays)."""
    return np.int64 if layout.size < 63 else object


def _field(layout, name: str, values, dtype) -> np.ndarray:
    """``values`` in the bits of member ``name`` of ``layout`` (as :func:`_pack`, elementwise)."""
    member = layout[name]
    width = member.shape.width if hasattr(member.shape, "width") else len(member.shape)
    return (np.asarray(values, dtype=np.int64).astype(dtype) & ((1 << width) - 1)) << member.offset


def encode_mesh_stimulus(config: MeshConfig, steps, *, seed: int = 0) -> tuple[list[int], int]:
    """The harness program and its event count. ``steps[s][i]`` is an (E, 2) array of
    (address, payload) for tile i in step s. A step's events are interleaved over the tiles in a
    seeded random order and spread over the external input ports round-robin."""
    layout = mesh_stimulus_layout(config)
    dtype = _word_dtype(layout)
    rng = np.random.default_rng(seed)
    positions = np.array([config.position(i) for i in range(config.count)], dtype=np.int64).reshape(-1, 2)
    event_kind = _field(layout, "kind", StimulusKind.EVENT, dtype)
    tick = np.array([_pack(layout, kind=StimulusKind.TICK)], dtype=dtype)
    chunks, events = [], 0
    for step in steps:
        arrays = [np.asarray(tile_events, dtype=np.int64).reshape(-1, 2) for tile_events in step]
        tiles = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
        flat = np.concatenate(arrays) if arrays else np.zeros((0, 2), dtype=np.int64)
        # The order of the tile-by-tile list of the step's events, shuffled.
        order = rng.permutation(len(flat))
        tile, flat = tiles[order], flat[order]
        chunks.append(event_kind | _field(layout, "port", np.arange(len(order)) % len(config.inputs), dtype)
                      | _field(layout, "x", positions[tile, 0], dtype) | _field(layout, "y", positions[tile, 1], dtype)
                      | _field(layout, "address", flat[:, 0], dtype) | _field(layout, "payload", flat[:, 1], dtype))
        chunks.append(tick)
        events += len(flat)
    chunks.append(np.array([_pack(layout, kind=StimulusKind.END)], dtype=dtype))
    return [int(word) for word in np.concatenate(chunks)], events


def decode_mesh_responses(config: MeshConfig, words, steps: int, payload_width: int) -> list[np.ndarray]:
    layout = mesh_response_layout(config)
    words = np.asarray(list(words), dtype=_word_dtype(layout))

    def field_of(name):
        member = layout[name]
        return ((words >> member.offset) & ((1 << member.shape.width) - 1)).astype(np.int64)

    step, neuron, payload = field_of("step"), field_of("neuron"), field_of("payload")
    payload = np.where(payload >= 1 << (payload_width - 1), payload - (1 << payload_width), payload)
    return split_by_step(step, neuron, payload, steps, layout["step"].shape.width)


@dataclass
class RouterCounters:
    """One router's counters: per port (local, north, east, south, west)."""

    x: int
    y: int
    forwarded: list[int]
    stalls: list[int]
    max_level: list[int]

    def to_dict(self) -> dict:
        return {"x": self.x, "y": self.y,
                "forwarded": dict(zip(PORT_NAMES, self.forwarded)),
                "stall_cycles": dict(zip(PORT_NAMES, self.stalls)),
                "max_fifo_occupancy": dict(zip(PORT_NAMES, self.max_level))}


def _routers(config: MeshConfig, words) -> list[RouterCounters]:
    words = [int(w) for w in words]
    out = []
    for i in range(config.count):
        chunk = words[i * 3 * PORTS:(i + 1) * 3 * PORTS]
        out.append(RouterCounters(*config.position(i), chunk[:PORTS], chunk[PORTS:2 * PORTS], chunk[2 * PORTS:]))
    return out


_BLOCKS = {"t": "tile", "r": "router", "i": "interface"}


def block_name(config: MeshConfig, prefix: str) -> str:
    """The block a harness counter prefix names: ``t3_`` -> ``tile_1_1`` in a 2-wide mesh (as
    ``r3_`` -> ``router_1_1``, the router's submodule name, and ``i3_`` -> ``interface_1_1``)."""
    x, y = config.position(int(prefix[1:-1]))
    return f"{_BLOCKS[prefix[0]]}_{x}_{y}"


def _block_counters(config: MeshConfig, recorded: dict, kind: str) -> dict[str, dict[str, int]]:
    """``{block: {unit: count}}`` from the recorded ``counter_<kind>_<prefix><unit>`` values."""
    out = {}
    head = f"counter_{kind}_"
    for key, value in recorded.items():
        if key.startswith(head):
            prefix, unit = key[len(head):].split("_", 1)
            out.setdefault(block_name(config, prefix + "_"), {})[unit] = int(value[0])
    return out


@dataclass
class MeshCase:
    """One run on one mesh of a :class:`MeshBench`: ``stimulus[s][i]`` external events of tile i
    in step s; ``idle`` and ``stall`` are probabilities (0..1) of an idle cycle before each
    injected event and of backpressure on each external output in each cycle."""

    stimulus: Sequence[Sequence[np.ndarray]]
    seed: int = 1
    idle: float = 0.0
    stall: float = 0.0

    def __post_init__(self):
        for name in ("idle", "stall"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: {value} is outside the allowed range [0, 1)")


@dataclass
class MeshRun:
    """Outcome of a mesh run."""

    passed: bool
    steps: int
    events_in: int                  # external input events
    events_out: int                 # output events of all tiles
    packets: int                    # packets the tiles' output events put into the network
    tile_events_in: int             # events applied by all tiles (external + routed)
    synaptic_ops: int
    cycles: int
    seconds: float
    build: runner.Build
    routers: list[RouterCounters] = field(default_factory=list)
    mismatch: str | None = None
    run_seconds: float = 0.0
    # Per block (``tile_<x>_<y>``, ``router_<x>_<y>``, ``interface_<x>_<y>``; see block_name):
    # bit flips per unit, and gated clock pulses per gated unit (tiles only).
    toggles: dict[str, dict[str, int]] = field(default_factory=dict)
    pulses: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"pass": self.passed, "steps": self.steps, "events_in": self.events_in,
                "events_out": self.events_out, "packets": self.packets,
                "tile_events_in": self.tile_events_in, "synaptic_ops": self.synaptic_ops,
                "cycles": self.cycles, "seconds": round(self.seconds, 3),
                "cycles_per_second": round(self.cycles / self.seconds) if self.seconds else None,
                "run_seconds": round(self.run_seconds, 3),
                "build_cached": self.build.cached, "build_seconds": round(self.build.seconds, 3),
                "toggles": self.toggles, "clock_pulses": self.pulses,
                "routers": [r.to_dict() for r in self.routers],
                "stall_cycles": sum(sum(r.stalls) for r in self.routers),
                "max_fifo_occupancy": max((max(r.max_level) for r in self.routers), default=0),
                "mismatch": self.mismatch}


def _compare(where: str, expected, got) -> str | None:
    expected = np.asarray(expected, dtype=np.int64).reshape(-1, 2)
    if expected.shape == np.shape(got) and np.array_equal(expected, got):
        return None
    for index in range(max(len(expected), len(got))):
        exp = tuple(int(v) for v in expected[index]) if index < len(expected) else None
        obs = tuple(int(v) for v in got[index]) if index < len(got) else None
        if exp != obs:
            describe = lambda e: "none" if e is None else f"(neuron {e[0]}, payload {e[1]})"
            return (f"{where}: output event {index}: expected {describe(exp)}, got {describe(obs)} "
                    f"({len(expected)} expected, {len(got)} got)")
    return None


class MeshBench:
    """Meshes side by side in one Verilator build (harness ``i`` holds ``configs[i]`` with
    ``contents[i]`` and ``axons[i]``, None for its default contents and axon tables);
    ``simulator="icarus"`` builds with Icarus instead. Programs and responses stream through
    files, any length; ``stimulus_depth`` and ``response_depth`` change nothing (kept for callers
    written for the earlier fixed-size buffers). ``build_args``: more arguments for the
    simulator's build (Verilator: e.g. ``--threads 2``; ``bench/build_options.py`` measures them)."""

    def __init__(self, configs: Sequence[MeshConfig], *, name: str = "mesh_bench",
                 stimulus_depth: int | None = None, response_depth: int | None = None, contents=None, axons=None,
                 count_toggles: bool = True, simulator: str = "verilator", build_args: Sequence[str] = ()):
        if simulator not in runner.SIMULATORS:
            raise ValueError(f"simulator: {simulator!r} is not one of {', '.join(runner.SIMULATORS)}")
        self.simulator = simulator
        self.configs = list(configs)
        self.contents = list(contents) if contents is not None else [None] * len(self.configs)
        self.axons = list(axons) if axons is not None else [None] * len(self.configs)
        self.name, self.stimulus_depth, self.response_depth = name, stimulus_depth, response_depth
        self.count_toggles = count_toggles
        self.build_args = list(build_args)
        self._build = None
        self._counters = None

    def counters(self, index: int) -> list[str]:
        """Names of mesh ``index``'s toggle and clock-pulse counters (known once built; none
        without ``count_toggles``)."""
        return self._counters[index] if self._counters else []

    def build(self, work_dir: Path) -> runner.Build:
        if self._build is None:
            from subtile.sim.mesh_harness import generate_mesh_bench
            design = generate_mesh_bench(self.configs, top=self.name, contents=self.contents,
                                         axons=self.axons, count_toggles=self.count_toggles)
            verilog = design.write(Path(work_dir))
            self._counters = design.manifest_extra["counters"]
            self._build = (runner.build([verilog], design.top, simulator="icarus", build_args=self.build_args)
                           if self.simulator == "icarus"
                           else runner.build([verilog], design.top, public=PUBLIC_SIGNALS, build_args=self.build_args))
        return self._build

    def _files(self, work_dir: Path, index: int):
        config = self.configs[index]
        return (work_dir / f"mesh{index}_stimulus.hex",
                [work_dir / f"mesh{index}_tile{i}.hex" for i in range(config.count)],
                [work_dir / f"mesh{index}_out{k}.hex" for k in range(len(config.outputs))],
                work_dir / f"mesh{index}_run.npz")

    def run(self, cases: dict[int, MeshCase], *, work_dir: Path, max_cycles: int = 50_000_000,
            plusargs: Sequence[str] = (), progress_cycles: dict[int, int] | None = None) -> dict[int, MeshRun]:
        """Run ``cases`` (by harness index) on the one build and score them; ``plusargs`` are
        passed to the simulator too (the mutant selector of :mod:`subtile.mutate.mesh`).
        ``progress_cycles[i]``: harness i's run ends as a hang (an AssertionError, as at
        ``max_cycles``) when no tick is released within that many cycles."""
        work_dir = Path(work_dir).absolute()      # the simulator runs in another folder
        work_dir.mkdir(parents=True, exist_ok=True)
        build = self.build(work_dir)
        plan, plusargs = [], list(plusargs)
        for index, config in enumerate(self.configs):
            case = cases.get(index)
            stimulus_file, tile_files, out_files, output = self._files(work_dir, index)
            for path in (*tile_files, *out_files):
                path.unlink(missing_ok=True)
            if case is not None:
                program, _ = encode_mesh_stimulus(config, case.stimulus, seed=case.seed)
                stimulus_file.write_text("".join(f"{word:x}\n" for word in program))
                plusargs.append(f"+{mesh_stimulus_plusarg(index)}={stimulus_file}")
                plusargs += [f"+{tile_response_plusarg(index, i)}={p}" for i, p in enumerate(tile_files)]
                plusargs += [f"+{output_response_plusarg(index, k)}={p}" for k, p in enumerate(out_files)]
            plan.append({
                "enabled": case is not None, "output": str(output), "max_cycles": max_cycles,
                "progress_cycles": (progress_cycles or {}).get(index),
                "idle_threshold": round(case.idle * 256) if case else 0,
                "stall_threshold": round(case.stall * 256) if case else 0,
                "seed": (case.seed & 0xFFFF) if case else 0,
                "responses": [f"responses_t{i}" for i in range(config.count)]
                + [f"responses_o{k}" for k in range(len(config.outputs))],
                "toggle_counters": self.counters(index) if case is not None else [],
            })
        plan_path = work_dir / "mesh_plan.json"
        plan_path.write_text(json.dumps({"cases": plan}))
        # The golden model needs only the stimulus: it steps in a thread while the simulator
        # (another process) runs, instead of after it.
        with ThreadPoolExecutor(max_workers=1) as pool:
            expected = {index: pool.submit(self.expect, index, case) for index, case in cases.items()}
            start = time.perf_counter()
            test_run = runner.run(build, TB_MODULE, test_dir=work_dir,
                                  extra_env={"SUBTILE_MESH_PLAN": str(plan_path)}, seed=1, plusargs=plusargs)
            seconds = time.perf_counter() - start
            expected = {index: future.result() for index, future in expected.items()}
        test_run.raise_for_failures()
        return {index: self.score(index, case, work_dir, seconds=seconds, expected=expected[index])
                for index, case in cases.items()}

    def expect(self, index: int, case: MeshCase) -> list[dict]:
        """What the golden model does with ``case`` on mesh ``index``, per step: ``tiles`` (per
        tile its output events), ``outputs`` (per external output its events), ``events_in``,
        ``tile_events_in``, ``synaptic_ops``, ``packets`` and ``delivered`` (per tile, packets
        its router delivers to it in the step, external input events included)."""
        config = self.configs[index]
        model = MeshModel(config, contents=self.contents[index], axons=self.axons[index])
        steps = []
        for external in case.stimulus:
            arrived = np.array([len(np.asarray(e).reshape(-1, 2)) for e in external], dtype=np.int64)
            result = model.step(external)
            steps.append({"tiles": [tile.events_out for tile in result.tiles], "outputs": result.external_out,
                          "events_in": int(arrived.sum()), "packets": result.packets,
                          "delivered": arrived + result.delivered,
                          "tile_events_in": sum(tile.events_in for tile in result.tiles),
                          "synaptic_ops": sum(tile.synaptic_ops for tile in result.tiles)})
        return steps

    def score(self, index: int, case: MeshCase, work_dir: Path, *, seconds: float = 0.0,
              expected: list[dict] | None = None) -> MeshRun:
        """The recorded run of ``case`` on mesh ``index`` against the golden model (``expected``:
        :meth:`expect` of the case, computed here when None)."""
        config = self.configs[index]
        stimulus_file, tile_files, out_files, output = self._files(Path(work_dir), index)
        with np.load(output) as recorded:
            recorded = dict(recorded)
        counts = [int(c) for c in recorded["responses"]]
        steps = len(case.stimulus)
        width = config.payload_format.width

        def events_of(path, count):
            words = read_hex(path) if count else []
            if len(words) != count:
                raise RuntimeError(f"{path}: {len(words)} response words, {count} recorded")
            return decode_mesh_responses(config, words, steps, width)

        got_tiles = [events_of(p, counts[i]) for i, p in enumerate(tile_files)]
        got_outputs = [events_of(p, counts[config.count + k]) for k, p in enumerate(out_files)]
        if expected is None:
            expected = self.expect(index, case)
        mismatch = None
        events_in = events_out = packets = tile_events_in = synaptic_ops = 0
        delivered = np.zeros(config.count, dtype=np.int64)
        routers = _routers(config, recorded["counters"])
        for s, step in enumerate(expected):
            events_in += step["events_in"]
            delivered += step["delivered"]
            packets += step["packets"]
            tile_events_in += step["tile_events_in"]
            synaptic_ops += step["synaptic_ops"]
            for i, events in enumerate(step["tiles"]):
                events_out += len(events)
                mismatch = mismatch or _compare(f"step {s}, tile {i} {config.position(i)}", events, got_tiles[i][s])
            for k, events in enumerate(step["outputs"]):
                mismatch = mismatch or _compare(f"step {s}, external output {k} {config.outputs[k]}", events,
                                                got_outputs[k][s])
            if mismatch:
                break
        if mismatch is None:
            for i, router in enumerate(routers):
                if router.forwarded[0] != delivered[i]:
                    mismatch = (f"router {config.position(i)}: delivered {router.forwarded[0]} packets to its "
                                f"tile, the model {int(delivered[i])}")
                    break
        if mismatch is None and int(recorded["steps"][0]) != steps:
            mismatch = f"{int(recorded['steps'][0])} ticks released, {steps} expected"
        return MeshRun(passed=mismatch is None, steps=steps, events_in=events_in, events_out=events_out,
                       packets=packets, tile_events_in=tile_events_in, synaptic_ops=synaptic_ops,
                       cycles=int(recorded["cycles"][0]), seconds=seconds, build=self._build, routers=routers,
                       mismatch=mismatch, run_seconds=float(recorded["seconds"][0]),
                       toggles=_block_counters(config, recorded, "toggles"),
                       pulses=_block_counters(config, recorded, "pulses"))


def simulate_mesh(config: MeshConfig, stimulus, *, work_dir: Path, seed: int = 1, idle: float = 0.0,
                  stall: float = 0.0, contents=None, axons=None, simulator: str = "verilator") -> MeshRun:
    """Run one stimulus program on one mesh (its default contents and axon tables, or the given
    ones) and compare with the golden model, under ``simulator`` (``"verilator"`` or ``"icarus"``)."""
    bench = MeshBench([config], name=f"{config.name}_bench", contents=[contents], axons=[axons],
                      simulator=simulator)
    return bench.run({0: MeshCase(stimulus, seed=seed, idle=idle, stall=stall)}, work_dir=work_dir)[0]
