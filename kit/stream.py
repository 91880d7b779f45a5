"""Valid/ready stream drivers and monitors for cocotb, in the style of cocotbext-axi.

:class:`StreamSource` drives a stream into the design (``await src.send(frame)``,
``send_nowait``, ``idle``, ``await src.wait()``), :class:`StreamSink` takes a stream out of it
(``await sink.recv()``, ``recv_nowait``, ``empty``, ``count``), :class:`StreamMonitor` watches one
without driving it. Frames are dicts of the payload's fields (:class:`~subtile.kit.bus.Layout`).
Backpressure and idle cycles come from a pause generator (``set_pause_generator``): any iterator
of booleans, consulted once per clock cycle; ``True`` pauses the source (it offers no new frame;
a frame already offered stays valid until taken, as the protocol requires) or the sink (``ready``
low). Each unit logs to ``cocotb.<dut>.<port>``.

Timing. A transfer is decided from values sampled after the falling clock edge, once the design
has settled (``ReadOnly``): valid and ready then hold until the next rising edge, where the
transfer happens, and the drivers change their outputs only just after that rising edge. This is
exact on every simulator, whatever order it runs value-change callbacks in around the edge.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable, Iterable, Iterator

import cocotb
from cocotb.triggers import Event, FallingEdge, First, ReadOnly, RisingEdge

from subtile.kit.bus import STREAM, Layout, StreamProtocol, resolve_bit

__all__ = ["StreamMonitor", "StreamSource", "StreamSink"]


class _StreamBase:
    """Handles, logger, transfer callbacks and the pause generator of one stream port."""

    def __init__(self, dut, port: str, layout: Layout, *, clock=None, reset=None,
                 protocol: StreamProtocol = STREAM):
        self.dut, self.port, self.layout = dut, port, layout
        signals = protocol.handles(dut, port)
        self.valid, self.ready, self.payload = signals["valid"], signals["ready"], signals["payload"]
        self.clock = dut.clk if clock is None else clock
        self.reset = getattr(dut, "rst", None) if reset is None else reset
        self.log = logging.getLogger(f"cocotb.{dut._name}.{port}")
        self.count = 0                      # transfers so far
        self._callbacks: list[Callable[[dict], None]] = []
        self._pause: Iterator[bool] | None = None
        self._kick = Event()
        self._task = None

    def add_callback(self, callback: Callable[[dict], None]) -> None:
        """Call ``callback(frame)`` for every transfer, in order (scoreboards use this)."""
        self._callbacks.append(callback)

    def set_pause_generator(self, generator: Iterable[bool] | None = None) -> None:
        """Pause in every cycle for which ``generator`` yields True; None removes it."""
        self._pause = None if generator is None else iter(generator)
        self._kick.set()

    def clear_pause_generator(self) -> None:
        self._pause = None

    def _paused(self) -> bool:
        if self._pause is None:
            return False
        try:
            return bool(next(self._pause))
        except StopIteration:
            self._pause = None
            return False

    def _in_reset(self) -> bool:
        return self.reset is not None and resolve_bit(self.reset)

    def _transfer(self, frame: dict) -> None:
        self.count += 1
        self.log.debug("%s #%d: %s", self.port, self.count, frame)
        for callback in self._callbacks:
            callback(frame)

    def _start(self, coroutine):
        self._task = cocotb.start_soon(coroutine)

    def kill(self) -> None:
        """Stop the unit's coroutine."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


class StreamMonitor(_StreamBase):
    """Watch a stream without driving it: every transfer goes to the queue and the callbacks.

    Parameters
    ----------
    dut : cocotb handle
        The module holding ``<port>__valid``, ``__ready`` and ``__payload``.
    port : str
        The stream's name, e.g. ``"events_in"``.
    layout : Layout
        Its payload fields.
    clock, reset : cocotb handles, optional
        Default ``dut.clk`` and ``dut.rst`` (active high).
    keep : bool
        Queue the frames for :meth:`recv` (default); False only calls the callbacks.
    """

    def __init__(self, dut, port: str, layout: Layout, *, clock=None, reset=None, keep: bool = True,
                 protocol: StreamProtocol = STREAM):
        super().__init__(dut, port, layout, clock=clock, reset=reset, protocol=protocol)
        self.keep = keep
        self.queue: deque[dict] = deque()
        self._arrived = Event()
        self._start(self._run())

    def empty(self) -> bool:
        return not self.queue

    def recv_nowait(self) -> dict:
        """The oldest frame; raises IndexError when none is queued."""
        return self.queue.popleft()

    async def recv(self) -> dict:
        """Wait for a frame and return it."""
        while not self.queue:
            self._arrived.clear()
            await self._arrived.wait()
        return self.queue.popleft()

    def _transfer(self, frame: dict) -> None:
        if self.keep:
            self.queue.append(frame)
            self._arrived.set()
        super()._transfer(frame)

    def _drive(self) -> None:
        """Called just after every rising edge: set this unit's outputs for the next cycle."""

    async def _run(self):
        falling, rising, settled = FallingEdge(self.clock), RisingEdge(self.clock), ReadOnly()
        valid_rises = RisingEdge(self.valid)
        while True:
            await falling
            await settled
            valid = resolve_bit(self.valid)
            if valid and not self._in_reset() and resolve_bit(self.ready):
                self._transfer(self.layout.unpack(int(self.payload.value)))
            await rising
            self._drive()
            if not valid and self._pause is None and not resolve_bit(self.valid):
                # Nothing to do per cycle until valid rises (it changes just after a rising edge;
                # read again just now, in case it already did): sleep instead of waking up every
                # cycle; a new pause generator wakes the unit.
                self._kick.clear()
                await First(valid_rises, self._kick.wait())


class StreamSink(StreamMonitor):
    """Take a stream out of the design: drives ``ready``, low in paused cycles (backpressure).

    ``await sink.recv()`` returns the next frame (a dict of fields); ``recv_nowait``,
    ``empty()`` and ``count`` as for a queue. Parameters as for :class:`StreamMonitor`.
    """

    def __init__(self, dut, port: str, layout: Layout, *, clock=None, reset=None, keep: bool = True,
                 protocol: StreamProtocol = STREAM):
        self._ready_now = None
        super().__init__(dut, port, layout, clock=clock, reset=reset, keep=keep, protocol=protocol)
        self.ready.value = 1

    def _drive(self) -> None:
        ready = 0 if self._paused() else 1
        if ready != self._ready_now:
            self.ready.value = ready
            self._ready_now = ready


class StreamSource(_StreamBase):
    """Drive a stream into the design from a queue of frames.

    ``await src.send(frame)`` (or ``send_nowait``) queues a frame, a dict of the layout's fields
    (missing fields are 0; a value outside its field's range is refused at once); ``idle()`` is
    True when nothing is queued or offered, ``await src.wait()`` waits for that. A paused cycle
    (:meth:`set_pause_generator`) offers no new frame. Parameters as for :class:`StreamMonitor`;
    ``max_queue`` (0: unbounded) makes ``send`` wait for room.
    """

    def __init__(self, dut, port: str, layout: Layout, *, clock=None, reset=None, max_queue: int = 0,
                 protocol: StreamProtocol = STREAM):
        super().__init__(dut, port, layout, clock=clock, reset=reset, protocol=protocol)
        self.queue: deque[tuple[int, dict]] = deque()
        self.max_queue = max_queue
        self._current: tuple[int, dict] | None = None
        self._wake, self._idle, self._room = Event(), Event(), Event()
        self._idle.set()
        self.valid.value = 0
        self._start(self._run())

    def idle(self) -> bool:
        return not self.queue and self._current is None

    def send_nowait(self, frame: dict | None = None, **fields) -> None:
        values = dict(frame or {}, **fields)
        self.queue.append((self.layout.pack(**values), values))
        self._idle.clear()
        self._wake.set()

    async def send(self, frame: dict | None = None, **fields) -> None:
        while self.max_queue and len(self.queue) >= self.max_queue:
            self._room.clear()
            await self._room.wait()
        self.send_nowait(frame, **fields)

    async def wait(self) -> None:
        """Wait until every queued frame has been taken."""
        await self._idle.wait()

    async def _run(self):
        falling, rising, settled = FallingEdge(self.clock), RisingEdge(self.clock), ReadOnly()
        while True:
            if self.idle():
                self.valid.value = 0
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                await rising            # offer from just after a rising edge, as always
            if self._current is None:
                if not self._in_reset() and self.queue and not self._paused():
                    self._current = self.queue.popleft()
                    self._room.set()
                    self.payload.value = self._current[0]
                    self.valid.value = 1
                else:
                    self.valid.value = 0
            await falling
            await settled
            taken = self._current is not None and not self._in_reset() and resolve_bit(self.ready)
            await rising
            if taken:
                self._transfer(self._current[1])
                self._current = None
