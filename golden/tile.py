"""The tile golden model: the executable form of docs/architecture.md.

:class:`TileModel` is bit-exact: ``hdl/tile.py`` must produce the same output events and the
same architectural state (:class:`TileState`) at the end of every time step.
:class:`FloatTileModel` runs the same architecture in real arithmetic, as the reference for
quantization error. :func:`initial_contents` is the single source of the memories' initial
contents (the hardware embeds exactly these arrays), and :func:`random_stimulus` draws
sigma-delta input streams that respect the contract's level bounds.

All rounding and overflow comes from :mod:`subtile.spec.fixed`; activation codes come from
:meth:`subtile.spec.activation.ActivationPlan.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.spec.activation import ActivationSpec
from subtile.spec.contents import (SynapseTable, _check_codes, _check_index, _integer_array, _table_layout,
                                   initial_contents)
from subtile.spec.fixed import FixedFormat, Overflow, Rounding, resize, saturate, shift_right, wrap

__all__ = ["SynapseTable", "TileState", "StepResult", "TileModel", "FloatTileModel",
           "initial_contents", "random_stimulus", "reset_dirty", "UNMAPPED_FORMAT"]

#: The unmapped-event counter: 32 bits, wrapping.
UNMAPPED_FORMAT = FixedFormat(32, 32, signed=False)


@lru_cache(maxsize=64)
def _activation_table(spec: ActivationSpec) -> np.ndarray:
    """``plan().evaluate`` over every input code, indexed by ``code - min_code``.

    Planning is the slow part and a lookup is faster than re-evaluating the interpolator, so
    each spec is planned once per process; the table holds exactly the plan's codes."""
    codes = spec.input_format.all_codes()
    table = spec.plan().evaluate(codes)
    table.setflags(write=False)
    return table


# -- state and results -------------------------------------------------------------------------
@dataclass(eq=False)
class TileState:
    """The architectural state at the end of a step (the hardware exposes the same names).

    Attributes
    ----------
    acc : ndarray, shape (N, B)
        Branch accumulators, accumulator-format codes (int64) or reals (float model).
    v : ndarray, shape (N,)
        Membrane, membrane-format codes or reals.
    y_sent : ndarray, shape (N,)
        Last level sent, payload-format codes or reals.
    dirty : ndarray of bool, shape (N,)
        The neuron is updated at the next tick.
    unmapped : int
        Dropped events, modulo 2**32.
    """

    acc: np.ndarray
    v: np.ndarray
    y_sent: np.ndarray
    dirty: np.ndarray
    unmapped: int = 0

    @classmethod
    def reset(cls, config: TileConfig, dtype=np.int64, *, dirty: bool = True) -> "TileState":
        """The reset state: all zero, every neuron's dirty flag ``dirty`` (see :func:`reset_dirty`)."""
        n = config.neurons
        return cls(np.zeros((n, config.branches), dtype=dtype), np.zeros(n, dtype=dtype),
                   np.zeros(n, dtype=dtype), np.full(n, bool(dirty)), 0)

    def copy(self) -> "TileState":
        return TileState(self.acc.copy(), self.v.copy(), self.y_sent.copy(), self.dirty.copy(),
                         int(self.unmapped))

    def diff(self, other: "TileState", limit: int = 10) -> list[str]:
        """Differences, ``self`` being the expected state and ``other`` the one observed.

        Returns at most ``limit`` lines, tile-level first, then by neuron:
        ``"neuron 3: acc[1] expected 17, got 19"``. An empty list means equal."""
        lines = []
        if int(self.unmapped) != int(other.unmapped):
            lines.append(f"tile: unmapped expected {self.unmapped}, got {other.unmapped}")
        found = []          # (neuron, order, text) so that lines sort by neuron
        for order, name in enumerate(("acc", "v", "y_sent", "dirty")):
            mine, theirs = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            if mine.shape != theirs.shape:
                lines.append(f"tile: {name} shape expected {mine.shape}, got {theirs.shape}")
                continue
            for index in np.argwhere(mine != theirs)[:limit]:
                n, label = int(index[0]), name + "".join(f"[{int(i)}]" for i in index[1:])
                found.append((n, order, f"neuron {n}: {label} expected {mine[tuple(index)].item()}, "
                                        f"got {theirs[tuple(index)].item()}"))
        lines.extend(text for _, _, text in sorted(found))
        return lines[:limit]

    def __eq__(self, other):
        if not isinstance(other, TileState):
            return NotImplemented
        return not self.diff(other, limit=1)

    __hash__ = None


@dataclass(frozen=True, eq=False)
class StepResult:
    """What one time step did.

    Attributes
    ----------
    events_out : ndarray, shape (K, 2)
        (neuron, payload) in ascending neuron order: int64 codes, or float64 with real payloads
        for :class:`FloatTileModel`.
    synaptic_ops : int
        Weight-non-zero (event, neuron) multiply-accumulates of the mapped events.
    events_in : int
        Events received, mapped or not.
    unmapped_in_step : int
        Events dropped because their address is unmapped.
    updated_neurons : int
        Dirty neurons updated in the update phase.
    visited_groups : int
        Groups of L neurons holding at least one dirty neuron (the others are skipped); it sets
        the update phase's duration in hardware, not the result.
    state : TileState
        A copy of the state at the end of the step.
    """

    events_out: np.ndarray
    synaptic_ops: int
    events_in: int
    unmapped_in_step: int
    updated_neurons: int
    visited_groups: int
    state: TileState


# -- the models --------------------------------------------------------------------------------
class _TileBase:
    """Memories, the programming port, input validation and event routing (shared by both
    models; only the arithmetic differs)."""

    def __init__(self, config: TileConfig, weights=None, table=None):
        if not isinstance(config, TileConfig):
            raise ConfigError(f"config: expected a TileConfig, got {type(config).__name__}")
        self.config = config
        if weights is None or table is None:
            default_weights, default_table = initial_contents(config)
            weights = default_weights if weights is None else weights
            table = default_table if table is None else table
        weights = _integer_array("weights", weights, (config.rows, config.neurons))
        _check_codes("weights", weights, config.weight_format, "weight")
        self._weights = weights
        if not isinstance(table, SynapseTable):
            table = SynapseTable.decode(table, config)
        else:
            if _table_layout(table.config) != _table_layout(config):
                raise ConfigError(f"table: built for (addresses, branches, synapses) = "
                                  f"{_table_layout(table.config)}, the config has {_table_layout(config)}")
        self._table = SynapseTable(table.valid, table.branch, table.slot, config)
        self.reset()

    # -- memories and the programming port ---------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """A copy of the weight memory, shape (rows, N)."""
        return self._weights.copy()

    @property
    def table(self) -> SynapseTable:
        """A copy of the synapse table."""
        return self._table.copy()

    def program_table(self, address: int, valid: bool, branch: int = 0, slot: int = 0) -> None:
        """Write ``table[address] = (valid, branch, slot)`` (between steps).

        Mapping two addresses to one (branch, slot) is allowed but voids the accumulator's
        no-overflow guarantee (the wrap-around arithmetic stays well defined)."""
        cfg = self.config
        address = _check_index("address", address, 0, cfg.addresses - 1)
        if not isinstance(valid, (bool, np.bool_, int, np.integer)) or valid not in (0, 1):
            raise ConfigError(f"valid: expected a bool, got {valid!r}")
        branch = _check_index("branch", branch, 0, cfg.branches - 1)
        slot = _check_index("slot", slot, 0, cfg.synapses - 1)
        self._table.valid[address] = bool(valid)
        self._table.branch[address] = branch
        self._table.slot[address] = slot

    def program_weight(self, row: int, neuron: int, value: int) -> None:
        """Write ``w[row][neuron] = value`` (a weight-format code, between steps)."""
        cfg, wf = self.config, self.config.weight_format
        row = _check_index("row", row, 0, cfg.rows - 1)
        neuron = _check_index("neuron", neuron, 0, cfg.neurons - 1)
        value = _check_index("value", value, wf.min_code, wf.max_code)
        self._weights[row, neuron] = value

    def write_port(self, target: int, row: int, neuron: int, data: int) -> None:
        """One programming-port write exactly as the hardware takes it (docs/architecture.md,
        "Out-of-range port inputs"), for any field values that fit the port's widths.

        ``target`` 0 writes ``table[row]`` from the low ``table_entry_width`` bits of ``data``;
        a mapped entry naming a branch >= B or a slot >= S is kept as an unmapped one (events
        to it are dropped and counted). ``target`` 1 writes ``w[row][neuron]`` from the low Ww
        bits (two's complement). Writes to a row or neuron the memory does not have are
        ignored. :meth:`program_table` and :meth:`program_weight` refuse such values instead.
        """
        cfg = self.config
        target = _check_index("target", target, 0, 1)
        row = _check_index("row", row, 0, (1 << cfg.row_width) - 1)
        neuron = _check_index("neuron", neuron, 0, (1 << cfg.neuron_width) - 1)
        data = _check_index("data", data, 0, (1 << cfg.prog_data_width) - 1)
        if target == 0:
            if row >= cfg.addresses:
                return
            word = data & ((1 << cfg.table_entry_width) - 1)
            branch = (word >> 1) & ((1 << cfg.branch_index_width) - 1)
            slot = word >> (1 + cfg.branch_index_width)
            self._table.valid[row] = bool(word & 1) and branch < cfg.branches and slot < cfg.synapses
            self._table.branch[row], self._table.slot[row] = branch, slot
        elif row < cfg.rows and neuron < cfg.neurons:
            self.program_weight(row, neuron, int(wrap(data, cfg.weight_format)))

    # -- stepping ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Return the state (not the memories) to reset values."""
        raise NotImplementedError

    def _events(self, events, payloads, port: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Validated (addresses, payloads) int64 arrays from an (E, 2) array or two arrays;
        with ``port``, any address of the port's width (those >= A are dropped later)."""
        cfg = self.config
        if payloads is None:
            array = np.asarray([] if events is None else events)
            if array.size == 0:
                array = np.zeros((0, 2), dtype=np.int64)
            array = _integer_array("events", array)
            if array.ndim != 2 or array.shape[1] != 2:
                raise ConfigError(f"events: expected an (E, 2) array of (address, payload), "
                                  f"got shape {array.shape}")
            addresses, payload = array[:, 0], array[:, 1]
        else:
            addresses = _integer_array("events", np.asarray(events).ravel() if np.size(events) else [])
            payload = _integer_array("events", np.asarray(payloads).ravel() if np.size(payloads) else [])
            if addresses.shape != payload.shape:
                raise ConfigError(f"events: {addresses.size} addresses but {payload.size} payloads")
        limit = (1 << cfg.address_width) if port else cfg.addresses
        bad = np.flatnonzero((addresses < 0) | (addresses >= limit))
        if bad.size:
            raise ConfigError(f"events: address {int(addresses[bad[0]])} at index {int(bad[0])} is "
                              f"outside the allowed range 0..{limit - 1}")
        _check_codes("events", payload, cfg.payload_format, "payload")
        return addresses, payload

    def _route(self, addresses, payload, to_value) -> "_Routed":
        """The event phase shared by both models, for one step's validated events.

        Accumulation is a sum, so a step's events are scattered at once instead of one after
        another: the exact model wraps the sum modulo 2**Wa, which equals wrapping after every
        event (wrapping commutes with addition), so the result does not depend on event order.
        ``to_value`` turns per-row payload-code sums into the model's numbers."""
        table, cfg = self._table, self.config
        # an address >= A (port mode only) is dropped like an unmapped one
        valid = table.valid[np.minimum(addresses, cfg.addresses - 1)] & (addresses < cfg.addresses)
        mapped = addresses[valid]
        rows = table.branch[mapped] * cfg.synapses + table.slot[mapped]
        hits = np.bincount(rows, minlength=cfg.rows)
        touched = np.flatnonzero(hits)
        # Sum the payloads per row first: w * p1 + w * p2 = w * (p1 + p2).
        summed = to_value(_sum_by_row(rows, payload[valid], cfg.rows)[touched])
        weights = self._weights[touched]
        nonzero = weights != 0
        return _Routed(
            rows=touched, branches=touched // cfg.synapses, weights=weights, summed=summed,
            # Any event with a non-zero weight marks its neuron dirty, even if payloads cancel;
            # a zero weight neither writes its accumulator nor marks the neuron.
            marked=nonzero.any(axis=0),
            synaptic_ops=int(hits[touched] @ nonzero.sum(axis=1)) if touched.size else 0,
            dropped=int(np.count_nonzero(~valid)))

    def step(self, events=None, payloads=None, *, port: bool = False) -> StepResult:
        """Apply one step's events in arrival order, then the tick's update phase.

        Invalid input raises :class:`ConfigError` before anything changes. The order of the
        events within a step does not change the result (see ``_route``). With ``port``, the
        events are what the hardware's input port can carry: any address below
        ``2**address_width``, those >= A dropped and counted as unmapped (docs/architecture.md,
        "Out-of-range port inputs").

        Parameters
        ----------
        events : array_like of int, shape (E, 2)
            (address, payload code) per event; or, with ``payloads`` given, the E addresses.
        payloads : array_like of int, shape (E,), optional
            Payload codes when ``events`` holds only the addresses.
        """
        raise NotImplementedError

    def run(self, steps) -> list[StepResult]:
        """:meth:`step` for each entry of ``steps`` (a list of event arrays)."""
        return [self.step(events) for events in steps]


class _Routed(NamedTuple):
    """One step's events, grouped by the weight rows they hit."""

    rows: np.ndarray            # touched rows b * S + s, ascending
    branches: np.ndarray        # their branch b
    weights: np.ndarray         # their weights, shape (len(rows), N), codes
    summed: np.ndarray          # sum of the payloads per touched row (model numbers)
    marked: np.ndarray          # neurons marked dirty, shape (N,)
    synaptic_ops: int
    dropped: int                # unmapped events


def _sum_by_row(rows: np.ndarray, payload: np.ndarray, count: int) -> np.ndarray:
    """Exact integer sum of payloads per row (np.bincount would go through float64)."""
    total = np.zeros(count, dtype=payload.dtype)
    np.add.at(total, rows, payload)
    return total


@lru_cache(maxsize=256)
def reset_dirty(config: TileConfig) -> bool:
    """``dirty[n]`` at reset: ``False`` when the all-zero state is already settled (an update
    at the first tick would change nothing and emit nothing, e.g. tanh with f(0) = 0), else
    ``True`` (e.g. sigmoid: every neuron settles towards f(0) = 0.5 at the first ticks). So an
    idle tile does no work from the first step on; the hardware takes its reset value from here.
    """
    return bool(TileModel(config).state.dirty[0])


class TileModel(_TileBase):
    """The bit-exact tile (docs/architecture.md).

    Parameters
    ----------
    config : TileConfig
    weights : array_like of int, shape (rows, N), optional
        Weight-memory contents; default from :func:`initial_contents`.
    table : SynapseTable or array_like of packed words, optional
        Synapse-table contents; default from :func:`initial_contents`.

    Notes
    -----
    The hardware visits neurons in groups of L lanes and skips groups without a dirty
    neuron; within a visited group only dirty neurons change. Each neuron's update reads only
    its own state, so the result equals updating every dirty neuron at once, which this model
    does (vectorized over neurons). Lanes and groups change the hardware's timing
    (:attr:`StepResult.visited_groups`), never the results.
    """

    def __init__(self, config: TileConfig, weights=None, table=None):
        cfg = config
        # the tables first: the base class resets the state, which needs them
        self._branch_table = None if cfg.branch_spec is None else _activation_table(cfg.branch_spec)
        self._soma_table = _activation_table(cfg.soma_spec)
        self._acc_format = cfg.accumulator_format
        super().__init__(config, weights, table)

    def reset(self) -> None:
        self.state = TileState.reset(self.config, dirty=not self._resting_update_is_idle())

    def _resting_update_is_idle(self) -> bool:
        """Whether updating a neuron in the all-zero state changes nothing and emits nothing."""
        saved, self.state = getattr(self, "state", None), TileState.reset(self.config)
        try:
            emitted = self._update(np.array([0]))
            return (emitted.size == 0 and self.state.v[0] == 0 and self.state.y_sent[0] == 0
                    and not self.state.dirty[0])
        finally:
            self.state = saved

    def step(self, events=None, payloads=None, *, port: bool = False) -> StepResult:
        cfg, state = self.config, self.state
        addresses, payload = self._events(events, payloads, port)

        # -- event phase --
        acc_format = self._acc_format
        # Wrapping the payload sums early keeps every product far inside int64.
        routed = self._route(addresses, payload, lambda codes: wrap(codes, acc_format))
        if routed.rows.size:
            increments = np.zeros((cfg.branches, cfg.neurons), dtype=np.int64)
            np.add.at(increments, routed.branches, routed.weights * routed.summed[:, None])
            # Zero weights add zero: their accumulators keep their value, as if not written.
            state.acc = wrap(state.acc + increments.T, acc_format)
            state.dirty |= routed.marked
        state.unmapped = int(wrap(state.unmapped + routed.dropped, UNMAPPED_FORMAT))

        # -- update phase (every dirty neuron; see the class notes on lanes) --
        index = np.flatnonzero(state.dirty)
        visited = int(np.count_nonzero(state.dirty.reshape(cfg.groups, cfg.lanes).any(axis=1)))
        out = np.zeros((0, 2), dtype=np.int64)
        if index.size:
            out = self._update(index)
        return StepResult(out, routed.synaptic_ops, int(addresses.size), routed.dropped,
                          int(index.size), visited, state.copy())

    def _update(self, index: np.ndarray) -> np.ndarray:
        cfg, state = self.config, self.state
        dendrite, membrane, payload = cfg.dendrite_format, cfg.membrane_format, cfg.payload_format
        ne, sat, floor, k = Rounding.NEAREST_EVEN, Overflow.SATURATE, Rounding.FLOOR, cfg.leak_shift

        a = resize(state.acc[index], cfg.accumulator_frac_bits, dendrite, ne, sat)
        d = a if self._branch_table is None else self._branch_table[a - dendrite.min_code]
        u = resize(d.sum(axis=1), dendrite.frac_bits, membrane, ne, sat)   # exact sum first
        v = state.v[index]
        v_new = v + shift_right(u - v, k, floor)
        y = self._soma_table[v_new - membrane.min_code]
        y_sent = state.y_sent[index]
        diff = y - y_sent
        emit = (diff != 0) & (np.abs(diff) >= cfg.delta)
        p_out = saturate(diff, payload)
        y_sent_new = np.where(emit, y_sent + p_out, y_sent)
        rest = y - y_sent_new
        dirty = (shift_right(u - v_new, k, floor) != 0) | ((rest != 0) & (np.abs(rest) >= cfg.delta))

        state.v[index] = v_new
        state.y_sent[index] = y_sent_new
        state.dirty[index] = dirty
        return np.stack([index[emit], p_out[emit]], axis=1).astype(np.int64)


class FloatTileModel(_TileBase):
    """The same tile in real (float64) arithmetic: the reference for quantization error.

    Weights and payloads are the real values of their codes (``code * lsb``); input events
    are still codes, so both models take the same stimulus. Nothing is rounded: the
    accumulators, u and v are real, the activations are the real functions
    (:meth:`ActivationSpec.real`), the leak is ``v + (u - v) / 2**k`` and the encoder sends the
    real change ``y - y_sent`` when ``|y - y_sent| >= delta * lsb`` (so ``delta = 0`` sends
    every non-zero change). The formats' *ranges* are kept, since saturation is part of the
    architecture rather than of its resolution: a_b, d_b and u are clipped to their formats,
    y and the output payload to the payload format.

    Real v approaches u only asymptotically (there is no fixed point short of u), so this
    model updates every neuron at every tick: for a neuron without new input that only
    continues the relaxation toward u. ``dirty`` is reported but does not gate anything, and
    ``updated_neurons`` is always N. ``events_out`` is float64, neuron indices in column 0.

    ``real_weights`` (shape (rows, N)) replaces the real values of the weight codes: the tile
    with the unquantized weights the codes were rounded from (``weights`` then only says which
    synapses exist for the synaptic-op count). :meth:`program_weight` writes a code again.
    """

    def __init__(self, config: TileConfig, weights=None, table=None, *, real_weights=None):
        super().__init__(config, weights, table)
        cfg = config
        self._weights_real = cfg.weight_format.to_real(self._weights)
        if real_weights is not None:
            # the unquantized weights the codes were rounded from (a sweep's reference)
            real = np.asarray(real_weights, dtype=np.float64)
            if real.shape != self._weights.shape or not np.all(np.isfinite(real)):
                raise ConfigError(f"real_weights: expected finite reals of shape {self._weights.shape}, "
                                  f"got shape {real.shape}")
            self._weights_real = real.copy()
        self._branch = cfg.branch_spec
        self._soma = cfg.soma_spec

    def program_weight(self, row: int, neuron: int, value: int) -> None:
        super().program_weight(row, neuron, value)
        self._weights_real = self.config.weight_format.to_real(self._weights)

    def reset(self) -> None:
        self.state = TileState.reset(self.config, dtype=np.float64)

    def step(self, events=None, payloads=None, *, port: bool = False) -> StepResult:
        cfg, state = self.config, self.state
        addresses, payload = self._events(events, payloads, port)
        pf = cfg.payload_format
        routed = self._route(addresses, payload, pf.to_real)
        if routed.rows.size:
            increments = np.zeros((cfg.branches, cfg.neurons), dtype=np.float64)
            np.add.at(increments, routed.branches, self._weights_real[routed.rows] * routed.summed[:, None])
            state.acc = state.acc + increments.T
        state.unmapped = int(wrap(state.unmapped + routed.dropped, UNMAPPED_FORMAT))

        def clip(x, fmt):
            return np.clip(x, fmt.min_value, fmt.max_value)

        a = clip(state.acc, cfg.dendrite_format)
        d = a if self._branch is None else clip(self._branch.real(a), cfg.dendrite_format)
        u = clip(d.sum(axis=1), cfg.membrane_format)
        state.v = state.v + (u - state.v) / (1 << cfg.leak_shift)
        y = clip(self._soma.real(state.v), pf)
        diff = y - state.y_sent
        emit = (diff != 0) & (np.abs(diff) >= cfg.delta * pf.lsb)
        p_out = clip(diff, pf)
        state.y_sent = np.where(emit, state.y_sent + p_out, state.y_sent)
        rest = y - state.y_sent
        state.dirty = (state.v != u) | ((rest != 0) & (np.abs(rest) >= cfg.delta * pf.lsb))
        neurons = np.flatnonzero(emit)
        out = np.stack([neurons.astype(np.float64), p_out[emit]], axis=1)
        return StepResult(out, routed.synaptic_ops, int(addresses.size), routed.dropped,
                          cfg.neurons, cfg.groups, state.copy())


# -- stimulus ----------------------------------------------------------------------------------
def random_stimulus(config: TileConfig, steps: int, activity: float, seed: int,
                    *, jump: float = 0.5) -> list[np.ndarray]:
    """Random sigma-delta input streams: each payload is the change of its address's level.

    Every address holds a level (the running sum of its payloads, starting at 0). In each step
    each address sends one event with probability ``activity``: it draws a target level
    uniformly over the payload format's codes and moves ``jump`` of the way there (rounded to
    the nearest code), so the level always stays inside the payload format, which is the
    condition under which the accumulators cannot overflow. Zero changes are not sent. A
    step's events come in random address order. All addresses take part, mapped or not.

    Parameters
    ----------
    config : TileConfig
    steps : int
        Number of time steps (>= 0).
    activity : float
        Probability (0..1) that an address sends an event in a step.
    seed : int
        Seed of the generator (>= 0): the same arguments give the same stimulus.
    jump : float
        Fraction (0..1] of the way to the target moved per event; smaller is smoother.

    Returns
    -------
    list of ndarray of int64, shape (E, 2)
        Per step, (address, payload code) per event.
    """
    _check_index("steps", steps, 0, 2**31 - 1)
    _check_index("seed", seed, 0, 2**63 - 1)
    for name, value, lo_open in (("activity", activity, False), ("jump", jump, True)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not (0 < value <= 1 if lo_open else 0 <= value <= 1):
            raise ConfigError(f"{name}: {value!r} is outside the allowed range "
                              f"{'(0, 1]' if lo_open else '0..1'}")
    rng = np.random.default_rng(seed)
    fmt, count = config.payload_format, config.addresses
    level = np.zeros(count, dtype=np.int64)
    stimulus = []
    for _ in range(steps):
        active = rng.random(count) < activity
        target = rng.integers(fmt.min_code, fmt.max_code + 1, size=count)
        # A rounded point between two codes lies between them, so the level stays in range; the
        # change itself must also fit a payload (a jump of up to 2**W - 1 would not), and
        # saturating it only moves the new level closer to the old one.
        change = saturate(Rounding.NEAREST_EVEN.round_real(jump * (target - level)), fmt)
        order = rng.permutation(np.flatnonzero(active & (change != 0)))
        level[order] += change[order]
        stimulus.append(np.stack([order, change[order]], axis=1).astype(np.int64))
    return stimulus
