"""Drivers for a whole tile or mesh: its streams, its programming port and its time steps.

:class:`TileDriver` bundles an :class:`EventSource` on ``events_in``, an :class:`EventSink` on
``events_out``, a :class:`ProgDriver` on ``prog`` and the step handshake: ``await tile.tick()``
raises ``tick`` until it is taken, waits for ``done`` and returns the step's output events.
:class:`MeshDriver` does the same for a mesh's external ports (``input_<k>``, ``output_<k>``),
where the step ends when the mesh's barrier opens again (``tick_ready``: every tile done and the
network drained). Layouts come from the :class:`~subtile.kit.design.Design`.
"""

from __future__ import annotations

import logging

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from subtile.errors import ConfigError
from subtile.kit.bus import resolve_bit
from subtile.kit.design import Design
from subtile.kit.stream import StreamSink, StreamSource

__all__ = ["EventSource", "EventSink", "ProgDriver", "TileDriver", "MeshDriver", "start_clock", "memory_writes"]

#: Programming writes taken so far in this simulation, per tile (its handle's path). ``rst`` does not
#: clear the memories, so a later test of the same simulation starts from these contents; the
#: scoreboard replays them into its fresh model.
_MEMORY_WRITES: dict[str, list[dict]] = {}


def memory_writes(dut) -> list[dict]:
    """The programming writes ``dut`` has taken through a :class:`ProgDriver` in this simulation."""
    return _MEMORY_WRITES.setdefault(dut._path, [])


class EventSource(StreamSource):
    """Input events into ``events_in`` (or a mesh's ``input_<k>``): ``await src.send(address, payload)``.

    Keyword fields (``x``, ``y`` of a mesh packet) may be given as well; missing ones are 0.
    """

    async def send(self, address=None, payload=None, **fields) -> None:
        await super().send(self._frame(address, payload, fields))

    def send_nowait(self, address=None, payload=None, **fields) -> None:
        super().send_nowait(self._frame(address, payload, fields))

    @staticmethod
    def _frame(address, payload, fields) -> dict:
        if isinstance(address, dict):
            return dict(address, **fields)
        frame = dict(fields)
        if address is not None:
            frame["address"] = address
        if payload is not None:
            frame["payload"] = payload
        return frame


class EventSink(StreamSink):
    """Output events from ``events_out`` (or a mesh's ``output_<k>``): ``await sink.recv()`` gives
    ``{"neuron": n, "payload": p}``; backpressure from ``set_pause_generator``."""


class ProgDriver(StreamSource):
    """The programming port: synapse-table and weight writes, accepted while the tile is idle.

    ``await prog.write_table(address, valid, branch, slot)`` and
    ``await prog.write_weight(row, neuron, code)`` return once the tile has taken the write (the
    tile takes writes only while no input event is offered, so a write and the events sent after
    it keep their order); ``send_nowait`` queues raw frames. The word encodings are the tile's
    (``TileConfig.table_entry_width``).
    """

    def __init__(self, dut, design: Design, **kwargs):
        super().__init__(dut, "prog", design.prog(), **kwargs)
        self.config = design.config
        self.add_callback(memory_writes(dut).append)

    def table_frame(self, address: int, valid: bool = True, branch: int = 0, slot: int = 0) -> dict:
        cfg = self.config
        if not 0 <= branch < cfg.branches or not 0 <= slot < cfg.synapses:
            raise ConfigError(f"table entry: branch {branch} / slot {slot} outside "
                              f"0..{cfg.branches - 1} / 0..{cfg.synapses - 1}")
        data = int(bool(valid)) | branch << 1 | slot << (1 + cfg.branch_index_width)
        return {"target": 0, "row": address, "neuron": 0, "data": data}

    def weight_frame(self, row: int, neuron: int, code: int) -> dict:
        fmt = self.config.weight_format
        if not fmt.min_code <= code <= fmt.max_code:
            raise ConfigError(f"weight: {code} is outside {fmt} ({fmt.min_code}..{fmt.max_code})")
        return {"target": 1, "row": row, "neuron": neuron, "data": int(code) & ((1 << fmt.width) - 1)}

    async def write_table(self, address: int, valid: bool = True, branch: int = 0, slot: int = 0) -> None:
        await self.send(self.table_frame(address, valid, branch, slot))
        await self.wait()

    async def write_weight(self, row: int, neuron: int, code: int) -> None:
        await self.send(self.weight_frame(row, neuron, code))
        await self.wait()


#: Clock periods started by :func:`start_clock`, per clock handle's path (for cycle counts).
_PERIODS: dict[str, float] = {}


def start_clock(dut, period_ns: float = 10) -> None:
    """Start ``dut.clk`` as a simulator-side clock (no Python per edge)."""
    Clock(dut.clk, period_ns, unit="ns", impl="gpi").start(start_high=False)
    _PERIODS[dut.clk._path] = period_ns


class _StepDriver:
    """The tick handshake and the step bookkeeping shared by tiles and meshes."""

    def __init__(self, dut, design: Design):
        self.dut, self.design = dut, design
        self.log = logging.getLogger(f"cocotb.{dut._name}.step")
        self.step = 0                            # steps completed
        self.step_cycles: list[int] = []         # per step: clock cycles from the taken tick to its end
        self.period_ns = None
        self._step_callbacks = []
        dut.tick.value = 0

    async def _settled(self):
        await FallingEdge(self.dut.clk)
        await ReadOnly()

    def add_step_callback(self, callback) -> None:
        """Call ``callback(step, result)`` after every step (the scoreboard does)."""
        self._step_callbacks.append(callback)

    async def reset(self, cycles: int = 3) -> None:
        """Hold ``rst`` for ``cycles`` cycles, then one more cycle out of reset."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 1)

    async def _take_tick(self) -> None:
        """Raise ``tick`` until a cycle with ``tick_ready`` takes it."""
        dut = self.dut
        self.period_ns = _PERIODS.get(dut.clk._path)
        await RisingEdge(dut.clk)
        dut.tick.value = 1
        while True:
            await self._settled()
            taken = resolve_bit(dut.tick_ready)
            await RisingEdge(dut.clk)
            if taken:
                break
        dut.tick.value = 0
        self._tick_time = get_sim_time("ps")

    async def _wait_for(self, handle, *, limit: int, what: str) -> None:
        """Wait until ``handle`` is high in a settled cycle, then for the next rising edge."""
        failure = f"step {self.step}: no {what} within {limit} cycles of the tick"
        await self._settled()
        if self.period_ns:
            # Sleep until the signal rises (it is registered or a function of registers, so it
            # changes just after a rising edge), then check its settled value (a glitch is no rise).
            deadline = get_sim_time("ps") + limit * self.period_ns * 1000
            while not resolve_bit(handle):
                left = deadline - get_sim_time("ps")
                if left <= 0:
                    raise AssertionError(failure)
                try:
                    await with_timeout(RisingEdge(handle), left, "ps")
                except SimTimeoutError:
                    raise AssertionError(failure) from None
                await ReadOnly()
        else:
            for _ in range(limit):
                if resolve_bit(handle):
                    break
                await self._settled()
            else:
                raise AssertionError(failure)
        await RisingEdge(self.dut.clk)
        self._end_time = get_sim_time("ps")

    def _finish(self, result) -> None:
        if self.period_ns:
            self.step_cycles.append(round((self._end_time - self._tick_time) / (self.period_ns * 1000)))
        for callback in self._step_callbacks:
            callback(self.step, result)
        self.step += 1


class TileDriver(_StepDriver):
    """A tile under test: ``events_in``, ``events_out``, ``prog`` and the step handshake.

    Parameters
    ----------
    dut : cocotb handle
        The tile's top module (ports as in docs/architecture.md).
    design : Design, optional
        Default :meth:`Design.load` (``$SUBTILE_MANIFEST``).

    Attributes
    ----------
    events_in : EventSource
    events_out : EventSink
    prog : ProgDriver

    ``await tile.tick()`` waits until every queued event and write has been taken, raises
    ``tick`` until it is taken, waits for ``done`` and returns the step's output events as an
    (K, 2) array of (neuron, payload), in arrival order; ``tile.accepted`` holds the input events
    the tile took in the step (address, payload).
    """

    def __init__(self, dut, design: Design | None = None, *, timeout_cycles: int | None = None):
        design = Design.load() if design is None else design
        if design.kind != "tile":
            raise ConfigError("design: TileDriver needs a tile design (use MeshDriver for a mesh)")
        super().__init__(dut, design)
        self.config = design.config
        self.events_in = EventSource(dut, "events_in", design.event_in())
        self.events_out = EventSink(dut, "events_out", design.event_out(), keep=False)
        self.prog = ProgDriver(dut, design)
        cfg = self.config
        # Worst case tick to done: every group visited, every neuron's event stalled by the sink.
        self.timeout_cycles = timeout_cycles or 64 * (cfg.groups + cfg.neurons + 8)
        self.accepted: list[tuple[int, int]] = []
        self.writes: list[dict] = []
        self._out: list[tuple[int, int]] = []
        self.events_in.add_callback(lambda f: self.accepted.append((f["address"], f["payload"])))
        self.prog.add_callback(self.writes.append)
        self.events_out.add_callback(lambda f: self._out.append((f["neuron"], f["payload"])))

    async def tick(self) -> np.ndarray:
        await self.prog.wait()
        await self.events_in.wait()
        self._out = []
        await self._take_tick()
        await self._wait_for(self.dut.done, limit=self.timeout_cycles, what="done")
        events = np.array(self._out, dtype=np.int64).reshape(-1, 2)
        self.log.debug("step %d: %d events in, %d out", self.step, len(self.accepted), len(events))
        self._finish(events)
        self.accepted, self.writes = [], []
        return events


class MeshDriver(_StepDriver):
    """A mesh under test: one :class:`EventSource` per external input port (``inputs[k]``), one
    :class:`EventSink` per external output port (``outputs[k]``) and the global step.

    ``await mesh.send(tile, address, payload)`` queues an external event for tile ``tile`` (an
    index or (x, y)) on the first input port. ``await mesh.tick()`` waits until the sources are
    idle, raises ``tick`` until the barrier takes it and waits until it opens again; it returns,
    per output port, the step's output events (K, 2).
    """

    def __init__(self, dut, design: Design | None = None, *, timeout_cycles: int = 100_000):
        design = Design.load() if design is None else design
        if design.kind != "mesh":
            raise ConfigError("design: MeshDriver needs a mesh design (use TileDriver for a tile)")
        super().__init__(dut, design)
        self.config = cfg = design.config
        self.timeout_cycles = timeout_cycles
        packet, external = design.packet(), design.external_out()
        self.inputs = [EventSource(dut, f"input_{k}", packet) for k in range(len(cfg.inputs))]
        self.outputs = [EventSink(dut, f"output_{k}", external, keep=False) for k in range(len(cfg.outputs))]
        self.accepted: list[list[tuple[int, int]]] = [[] for _ in range(cfg.count)]
        self._out = [[] for _ in self.outputs]
        for source in self.inputs:
            source.add_callback(self._accept)
        for k, sink in enumerate(self.outputs):
            sink.add_callback(lambda f, k=k: self._out[k].append((f["neuron"], f["payload"])))

    def _accept(self, frame: dict) -> None:
        self.accepted[self.config.index(frame["x"], frame["y"])].append((frame["address"], frame["payload"]))

    def _position(self, tile) -> tuple[int, int]:
        cfg = self.config
        if isinstance(tile, (tuple, list)):
            x, y = tile
        else:
            if not 0 <= int(tile) < cfg.count:
                raise ConfigError(f"tile: {tile} is outside 0..{cfg.count - 1}")
            x, y = cfg.position(int(tile))
        return int(x), int(y)

    async def send(self, tile, address: int, payload: int, *, port: int = 0) -> None:
        x, y = self._position(tile)
        await self.inputs[port].send(address, payload, x=x, y=y)

    async def tick(self) -> list[np.ndarray]:
        for source in self.inputs:
            await source.wait()
        self._out = [[] for _ in self.outputs]
        await self._take_tick()
        await self._wait_for(self.dut.tick_ready, limit=self.timeout_cycles, what="open barrier")
        events = [np.array(out, dtype=np.int64).reshape(-1, 2) for out in self._out]
        self._finish(events)
        self.accepted = [[] for _ in range(self.config.count)]
        return events
