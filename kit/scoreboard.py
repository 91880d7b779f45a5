"""The golden scoreboard: the bit-exact model beside the design, checked after every step.

Attach it in two lines::

    tile = TileDriver(dut)
    GoldenScoreboard(tile)

From then on every input event the tile accepts and every programming write goes to a
:class:`~subtile.golden.tile.TileModel`; each ``await tile.tick()`` steps the model and
compares the step's output events (the same events in the same order) and, with
``check_state`` (default), the architectural state read through the hierarchy names of
docs/architecture.md (``acc_<n>_<b>``, ``v_<n>``, ``y_sent_<n>``, ``dirty_<n>``, ``unmapped``).
The first mismatch raises :class:`Mismatch` (an AssertionError, so the cocotb test fails) with
the step, the neuron, what was expected and what the design did. For a mesh
(:class:`~subtile.kit.tile.MeshDriver`) the model is a :class:`~subtile.golden.mesh.MeshModel`;
the external output ports and each tile's state are checked.
"""

from __future__ import annotations

import logging

import numpy as np

from subtile.golden.mesh import MeshModel
from subtile.golden.tile import TileModel, TileState
from subtile.kit.tile import MeshDriver, TileDriver, memory_writes
from subtile.sim.tile_bench import state_signals

__all__ = ["GoldenScoreboard", "Mismatch", "event_mismatch", "read_state"]


class Mismatch(AssertionError):
    """The design and the golden model disagree (the message says where)."""


def event_mismatch(expected: np.ndarray, got: np.ndarray) -> str | None:
    """The first difference between two (K, 2) event lists of (neuron, payload), or None.

    Reported by neuron: ``"neuron 5: expected payload 12, got 10"``, ``"... got no event"``,
    ``"neuron 2: expected no event, got payload -3"``; equal sets in another order or duplicates
    are reported as such."""
    expected = [tuple(map(int, e)) for e in np.asarray(expected).reshape(-1, 2)]
    got = [tuple(map(int, e)) for e in np.asarray(got).reshape(-1, 2)]
    if expected == got:
        return None
    want, have = {}, {}
    for table, events, label in ((want, expected, "expected"), (have, got, "got")):
        for neuron, payload in events:
            if neuron in table:
                return f"neuron {neuron}: {label} two events in one step"
            table[neuron] = payload
    for neuron in sorted(set(want) | set(have)):
        if want.get(neuron) != have.get(neuron):
            exp = f"payload {want[neuron]}" if neuron in want else "no event"
            act = f"payload {have[neuron]}" if neuron in have else "no event"
            return f"neuron {neuron}: expected {exp}, got {act}"
    return f"events in another order: expected neurons {[n for n, _ in expected]}, got {[n for n, _ in got]}"


def _signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


def read_state(scope, config) -> TileState:
    """The architectural state of the tile at ``scope`` (the tile's top, or ``dut.tile_<i>`` of a
    mesh), read through its hierarchy names."""
    names = state_signals(config)
    widths = {"acc": config.accumulator_format.width, "v": config.membrane_format.width,
              "y_sent": config.payload_format.width}

    def values(name):
        out = []
        for signal in names[name]:
            raw = int(getattr(scope, signal).value)
            out.append(_signed(raw, widths[name]) if name in widths else raw)
        return np.array(out, dtype=np.int64)

    n, b = config.neurons, config.branches
    return TileState(values("acc").reshape(n, b), values("v"), values("y_sent"),
                     values("dirty").astype(bool), int(values("unmapped")[0]))


class GoldenScoreboard:
    """Check a :class:`TileDriver` or :class:`MeshDriver` against the golden model, step by step.

    Parameters
    ----------
    driver : TileDriver or MeshDriver
    model : TileModel or MeshModel, optional
        Default: the model of the driver's design with its initial contents (those the exported
        RTL holds after reset).
    check_state : bool
        Also compare the architectural state after every step.

    Attributes
    ----------
    steps : int
        Steps checked so far.
    events : int
        Output events compared so far.
    """

    def __init__(self, driver, model=None, *, check_state: bool = True):
        self.driver, self.check_state = driver, check_state
        self.mesh = isinstance(driver, MeshDriver)
        if not self.mesh and not isinstance(driver, TileDriver):
            raise TypeError(f"driver: expected a TileDriver or MeshDriver, got {type(driver).__name__}")
        config = driver.config
        self.model = model if model is not None else (MeshModel(config) if self.mesh else TileModel(config))
        self.log = logging.getLogger(f"cocotb.{driver.dut._name}.scoreboard")
        self.steps = self.events = 0
        self._order: list[str] = []            # kinds of transfers this step, to check writes come first
        self._unmodelled: str | None = None
        if not self.mesh:
            # The memories keep what earlier tests of this simulation wrote (rst does not clear them).
            for frame in memory_writes(driver.dut):
                self._apply(frame)
            driver.events_in.add_callback(lambda frame: self._order.append("event"))
            driver.prog.add_callback(self._write)
        driver.add_step_callback(self._check)
        driver.scoreboard = self

    def _write(self, frame: dict) -> None:
        cfg = self.driver.config
        if "event" in self._order and self._unmodelled is None:
            # Raised from the step check: this runs in the driver's coroutine, not the test's.
            self._unmodelled = (f"step {self.driver.step}: a programming write after an input event in the "
                                "same step; the golden model applies writes before the step's events")
        self._order.append("write")
        self._apply(frame)

    def _apply(self, frame: dict) -> None:
        cfg = self.driver.config
        if frame["target"] == 0:
            if frame["row"] < cfg.addresses:
                data = frame["data"]
                self.model.program_table(frame["row"], bool(data & 1), (data >> 1) & ((1 << cfg.branch_index_width) - 1),
                                         data >> (1 + cfg.branch_index_width))
        elif frame["row"] < cfg.rows and frame["neuron"] < cfg.neurons:
            width = cfg.weight_format.width
            self.model.program_weight(frame["row"], frame["neuron"],
                                      _signed(frame["data"] & ((1 << width) - 1), width))

    def _fail(self, step: int, where: str, text: str) -> None:
        message = f"golden mismatch at step {step}{where}: {text}"
        self.log.error(message)
        raise Mismatch(message)

    def _check(self, step: int, got) -> None:
        self._order = []
        if self._unmodelled:
            raise Mismatch(self._unmodelled)
        if self.mesh:
            self._check_mesh(step, got)
        else:
            self._check_tile(step, got)
        self.steps += 1

    def _check_tile(self, step: int, got: np.ndarray) -> None:
        accepted = np.array(self.driver.accepted, dtype=np.int64).reshape(-1, 2)
        result = self.model.step(accepted)
        problem = event_mismatch(result.events_out, got)
        if problem:
            self._fail(step, "", f"{problem} ({len(accepted)} input events in the step; expected "
                       f"{result.events_out.tolist()}, got {np.asarray(got).tolist()})")
        self.events += len(got)
        if self.check_state:
            self._compare_state(step, "", result.state, read_state(self.driver.dut, self.driver.config))

    def _check_mesh(self, step: int, got: list) -> None:
        cfg = self.driver.config
        external = [np.array(events, dtype=np.int64).reshape(-1, 2) for events in self.driver.accepted]
        result = self.model.step(external)
        for k, (expected, observed) in enumerate(zip(result.external_out, got)):
            problem = event_mismatch(expected, observed)
            if problem:
                x, y = cfg.outputs[k]
                self._fail(step, f", output port {k} (tile {cfg.index(x, y)})", problem)
            self.events += len(observed)
        if self.check_state:
            # When the barrier opens, the packets routed from this step's output events have
            # already reached their tiles' accumulators (and dirty flags, unmapped counters),
            # which the model applies in the next step: only v and y_sent are this step's.
            for i, tile in enumerate(result.tiles):
                got = read_state(getattr(self.driver.dut, f"tile_{i}"), cfg.tile_config(i))
                expected = TileState(got.acc, tile.state.v, tile.state.y_sent, got.dirty, got.unmapped)
                self._compare_state(step, f", tile {i}", expected, got)

    def _compare_state(self, step: int, where: str, expected: TileState, got: TileState) -> None:
        lines = expected.diff(got, limit=5)
        if lines:
            self._fail(step, where, "state " + "; ".join(lines))
