"""Hotspot saturation of the router network, checked inside the simulation.

Every tile of a :class:`~subtile.hdl.mesh.RouterMesh` injects a packet in every cycle the
network takes one, all addressed to one hotspot tile, each carrying its source and a 32-bit
sequence number (in the address and payload fields). Every tile's local output has a checker
that keeps, per source, the next expected sequence number: a packet with any other number (lost,
duplicated or reordered) counts as an error. The hotspot's output is held back with
pseudo-random stalls. Python only starts the run and reads the totals: packets sent and
received, errors, packets at the wrong tile, cycles to inject and cycles to drain, and the
routers' counters (maximum FIFO occupancy).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from subtile.hdl.mesh import RouterMesh
from subtile.hdl.router import packet_layout
from subtile.toolchain import runner
from subtile.sim.tile_harness import SIM_BUFFERS_VERILOG, HarnessArray, _Lfsr

__all__ = ["HotspotHarness", "HotspotBench", "HotspotCase", "HotspotResult", "round_robin_shares"]

TB_MODULE = "subtile.sim.tb_hotspot"
SEQUENCE_BITS = 32


class HotspotHarness(wiring.Component):
    """A ``width`` x ``height`` router mesh with traffic generators and order checkers.

    Members
    -------
    start : In(1)
    seed : In(16)
    stall_threshold : In(8)
        Probability (of 256) that the hotspot's local output is not ready in a cycle.
    packets_per_source : In(32)
    hot_x, hot_y : In
        The hotspot tile.
    finished : Out(1)
        Every generator done and the network drained.
    cycles, inject_cycles : Out(32)
        Cycles from start to finished, and to the last injection.
    received, errors, stray : Out(32)
        Packets received at the hotspot; out-of-sequence packets anywhere; packets received
        at another tile.
    complete : Out(1)
        At the hotspot, every source's next expected number equals ``packets_per_source``.
    window_cycles : Out(32)
        Cycles of the saturation window: from start while every generator is still injecting.
    window_received : Out(32 * tiles)
        Per source (32 bits each, tile index order), packets the hotspot received from it
        within the saturation window: the per-source throughput under saturation.
    counters : Out
        The routers' counters (:class:`~subtile.hdl.mesh.RouterMesh`).
    """

    def __init__(self, *, width: int, height: int, fifo_depth: int, gating: str = "icg"):
        self.width, self.height, self.fifo_depth, self.gating = width, height, fifo_depth, gating
        half = SEQUENCE_BITS // 2
        self.layout = packet_layout(width=width, height=height, address_width=half, payload_width=half,
                                    neuron_width=1)
        self.network = RouterMesh(layout=self.layout, width=width, height=height, fifo_depth=fifo_depth,
                                  gating=gating)
        super().__init__({
            "start": In(1), "seed": In(16), "stall_threshold": In(8), "packets_per_source": In(32),
            "hot_x": In(range(max(width, 2))), "hot_y": In(range(max(height, 2))),
            "finished": Out(1), "cycles": Out(32), "inject_cycles": Out(32),
            "received": Out(32), "errors": Out(32), "stray": Out(32), "complete": Out(1),
            "window_cycles": Out(32), "window_received": Out(32 * width * height),
            "counters": Out(len(self.network.counters)),
        })

    def elaborate(self, platform):
        m = Module()
        count = self.width * self.height
        half = SEQUENCE_BITS // 2
        m.submodules.network = network = self.network
        m.submodules.stall_lfsr = lfsr = _Lfsr()
        m.d.comb += [lfsr.seed.eq(self.seed), lfsr.load.eq(~self.start), self.counters.eq(network.counters)]
        done = []
        completes, receiveds, expecteds = [], [], []
        error_terms, stray_terms = [], []
        for i in range(count):
            x, y = i % self.width, i // self.width
            # Generator: sequence numbers 0, 1, ... to the hotspot, offered in every cycle.
            sent = Signal(SEQUENCE_BITS, name=f"sent_{i}")
            link = network.local_in[i]
            finished_sending = Signal(name=f"gen_done_{i}")
            m.d.comb += [
                finished_sending.eq(sent == self.packets_per_source),
                link.valid.eq(self.start & ~finished_sending),
                link.payload.x.eq(self.hot_x), link.payload.y.eq(self.hot_y),
                link.payload.address.eq(sent[:half]), link.payload.payload.eq(sent[half:]),
                link.payload.src_tile.eq(i), link.payload.src_neuron.eq(0),
            ]
            with m.If(link.valid & link.ready):
                m.d.sync += sent.eq(sent + 1)
            done.append(finished_sending)
            # Checker: the next expected sequence number per source.
            out = network.local_out[i]
            is_hot = Signal(name=f"is_hot_{i}")
            m.d.comb += [is_hot.eq((self.hot_x == x) & (self.hot_y == y)),
                         out.ready.eq(~is_hot | (lfsr.value[8:] >= self.stall_threshold))]
            expected = [Signal(SEQUENCE_BITS, name=f"expect_{i}_from_{s}") for s in range(count)]
            table = Array(expected)
            sequence = Cat(out.payload.address, out.payload.payload)
            fire = Signal(name=f"sink_fire_{i}")
            bad = Signal(name=f"sink_bad_{i}")
            received = Signal(32, name=f"received_{i}")
            m.d.comb += [fire.eq(out.valid & out.ready),
                         bad.eq(fire & (sequence != table[out.payload.src_tile]))]
            with m.If(fire):
                m.d.sync += [table[out.payload.src_tile].eq(sequence + 1), received.eq(received + 1)]
            error_terms.append(bad)
            stray_terms.append(fire & ~is_hot)
            complete = Signal(name=f"complete_{i}")
            m.d.comb += complete.eq(Cat(e == self.packets_per_source for e in expected).all())
            completes.append(complete)
            receiveds.append(received)
            expecteds.append(expected)

        all_sent = Signal(name="all_sent")
        m.d.comb += all_sent.eq(Cat(done).all())
        hot = self.hot_y * self.width + self.hot_x
        m.d.comb += [self.complete.eq(Array(completes)[hot]), self.received.eq(Array(receiveds)[hot])]
        # Saturation window: every source still injects. The hotspot's next expected number
        # per source is the count received from it so far.
        saturated = Signal(name="saturated")
        m.d.comb += saturated.eq(self.start & ~self.finished & ~Cat(done).any())
        with m.If(saturated):
            m.d.sync += self.window_cycles.eq(self.window_cycles + 1)
            for s in range(count):
                m.d.sync += self.window_received[32 * s:32 * (s + 1)].eq(
                    Array(expecteds[i][s] for i in range(count))[hot])
        with m.If(self.start & ~self.finished):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(~all_sent):
                m.d.sync += self.inject_cycles.eq(self.inject_cycles + 1)
            with m.If(all_sent & network.drained):
                m.d.sync += self.finished.eq(1)
            m.d.sync += [self.errors.eq(self.errors + sum(error_terms)),
                         self.stray.eq(self.stray + sum(stray_terms))]
        return m


def round_robin_shares(width: int, height: int, hotspot: tuple[int, int]) -> np.ndarray:
    """Per source tile (index order), its share of the hotspot's ejection port under
    saturation, if every output port shares its cycles equally among the input ports that
    request it (round robin, docs/architecture.md "Routers") and XY routing sets the paths.

    The ejection port's share (1) is split equally among the hotspot's contenders (its own
    local input and each neighbour whose packets pass through it); each neighbour's share again
    among its contenders, and so on down the routing tree."""
    count = width * height
    hx, hy = hotspot

    def next_hop(i):
        x, y = i % width, i // width
        if x != hx:
            return y * width + x + (1 if hx > x else -1)
        if y != hy:
            return (y + (1 if hy > y else -1)) * width + x
        return None

    children = {i: [j for j in range(count) if next_hop(j) == i] for i in range(count)}
    shares = np.zeros(count)

    def split(router, share):
        contenders = 1 + len(children[router])
        shares[router] += share / contenders
        for child in children[router]:
            split(child, share / contenders)

    split(hy * width + hx, 1.0)
    return shares


@dataclass
class HotspotCase:
    packets_per_source: int
    hotspot: tuple[int, int]
    stall: float = 0.0
    seed: int = 1


@dataclass
class HotspotResult:
    width: int
    height: int
    fifo_depth: int
    packets: int            # injected
    received: int
    errors: int
    stray: int
    complete: bool
    cycles: int
    inject_cycles: int
    max_fifo_occupancy: int
    stall_cycles: int
    seconds: float
    window_cycles: int = 0
    window_received: tuple = ()

    def shares(self) -> np.ndarray:
        """Per source, its fraction of the packets the hotspot took in the saturation window."""
        received = np.asarray(self.window_received, dtype=np.float64)
        return received / received.sum() if received.sum() else received

    @property
    def drain_cycles(self) -> int:
        return self.cycles - self.inject_cycles

    @property
    def buffer_capacity(self) -> int:
        """Packets the network can hold: every router's five input FIFOs."""
        return self.width * self.height * 5 * self.fifo_depth

    def to_dict(self) -> dict:
        return {"mesh": f"{self.width}x{self.height}", "fifo_depth": self.fifo_depth, "packets": self.packets,
                "received": self.received, "errors": self.errors, "stray": self.stray,
                "complete": self.complete, "cycles": self.cycles, "inject_cycles": self.inject_cycles,
                "drain_cycles": self.drain_cycles, "buffer_capacity": self.buffer_capacity,
                "max_fifo_occupancy": self.max_fifo_occupancy, "stall_cycles": self.stall_cycles,
                "window_cycles": self.window_cycles, "window_received": list(self.window_received),
                "seconds": round(self.seconds, 3),
                "cycles_per_second": round(self.cycles / self.seconds) if self.seconds else None}


class HotspotBench:
    """Several hotspot meshes (``shapes``: (width, height)) in one Verilator build, their routers
    clock-gated in ``gating`` (one mode for all, or one per shape)."""

    def __init__(self, shapes, *, fifo_depth: int = 4, name: str = "hotspot_bench", gating="icg"):
        self.shapes, self.fifo_depth, self.name = list(shapes), fifo_depth, name
        self.gating = [gating] * len(self.shapes) if isinstance(gating, str) else list(gating)
        if len(self.gating) != len(self.shapes):
            raise ValueError(f"gating: {len(self.gating)} modes for {len(self.shapes)} shapes")
        self._build = None

    def build(self, work_dir: Path) -> runner.Build:
        if self._build is None:
            from subtile.gen.verilog import generate
            from subtile.hdl.clock_gate import icg_verilog
            harnesses = [HotspotHarness(width=w, height=h, fifo_depth=self.fifo_depth, gating=g)
                         for (w, h), g in zip(self.shapes, self.gating)]
            extra = SIM_BUFFERS_VERILOG + ("\n" + icg_verilog() if "icg" in self.gating else "")
            design = generate(HarnessArray(harnesses), top=self.name, extra_verilog=extra,
                              kind="hotspot_bench", shapes=self.shapes, fifo_depth=self.fifo_depth,
                              gating=self.gating)
            self._build = runner.build([design.write(Path(work_dir))], design.top, public=("clk", "rst", "h*_*"))
        return self._build

    def run(self, cases: dict[int, HotspotCase], *, work_dir: Path, max_cycles: int = 100_000_000):
        from subtile.sim.mesh_bench import _routers
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        build = self.build(work_dir)
        plan = []
        for index in range(len(self.shapes)):
            case = cases.get(index)
            plan.append(None if case is None else {
                "packets_per_source": case.packets_per_source, "hot_x": case.hotspot[0], "hot_y": case.hotspot[1],
                "stall_threshold": round(case.stall * 256), "seed": case.seed & 0xFFFF, "max_cycles": max_cycles,
                "output": str(work_dir / f"hotspot{index}.npz")})
        plan_path = work_dir / "hotspot_plan.json"
        plan_path.write_text(json.dumps({"cases": plan}))
        start = time.perf_counter()
        runner.run(build, TB_MODULE, test_dir=work_dir, extra_env={"SUBTILE_HOTSPOT_PLAN": str(plan_path)},
                   seed=1).raise_for_failures()
        seconds = time.perf_counter() - start
        results = {}
        for index, case in cases.items():
            width, height = self.shapes[index]
            with np.load(plan[index]["output"]) as recorded:
                values = {k: recorded[k] for k in recorded.files}
            routers = _routers(_Shape(width, height), values["counters"])
            results[index] = HotspotResult(
                width, height, self.fifo_depth, packets=case.packets_per_source * width * height,
                received=int(values["received"][0]), errors=int(values["errors"][0]), stray=int(values["stray"][0]),
                complete=bool(values["complete"][0]), cycles=int(values["cycles"][0]),
                inject_cycles=int(values["inject_cycles"][0]),
                max_fifo_occupancy=max(max(r.max_level) for r in routers),
                stall_cycles=sum(sum(r.stalls) for r in routers), seconds=float(values["seconds"][0]) or seconds,
                window_cycles=int(values["window_cycles"][0]),
                window_received=tuple(int(v) for v in values["window_received"]))
        return results


@dataclass
class _Shape:
    """What ``sim.mesh._routers`` needs of a mesh config."""

    width: int
    height: int

    @property
    def count(self) -> int:
        return self.width * self.height

    def position(self, index: int) -> tuple[int, int]:
        return index % self.width, index // self.width
