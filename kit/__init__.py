"""A cocotb kit for users' own testbenches of subtile tiles and meshes.

Drivers and monitors in the style of cocotbext-axi (:mod:`subtile.kit.stream`,
:mod:`subtile.kit.tile`), the design's layouts from its manifest (:mod:`subtile.kit.design`) and
the golden scoreboard (:mod:`subtile.kit.scoreboard`). ``examples/cocotb/`` shows a user test.
"""

from subtile.kit.bus import STREAM, Field, Layout, StreamProtocol
from subtile.kit.design import Design
from subtile.kit.scoreboard import GoldenScoreboard, Mismatch
from subtile.kit.stream import StreamMonitor, StreamSink, StreamSource
from subtile.kit.tile import EventSink, EventSource, MeshDriver, ProgDriver, TileDriver, start_clock

__all__ = ["STREAM", "Field", "Layout", "StreamProtocol", "Design", "GoldenScoreboard", "Mismatch",
           "StreamMonitor", "StreamSink", "StreamSource", "EventSink", "EventSource", "MeshDriver",
           "ProgDriver", "TileDriver", "start_clock"]
